"""The per-process cache of compiled rule sets: calls that miss together share one compile."""

from __future__ import annotations

import asyncio

import pytest

from billing.app.rules import CompiledRuleSets
from billing.delivery.notice_templates import with_notice_templates
from billing.plugins.registry import load_engines
from billing.rules import RuleSetInvalid
from conftest import REPO_RULES, rule_files


def compiled_sets() -> CompiledRuleSets:
    return CompiledRuleSets(with_notice_templates(load_engines(), REPO_RULES / "templates"))


def test_thirty_two_calls_missing_together_compile_once():
    sets = compiled_sets()
    files = rule_files()

    async def burst() -> set[str]:
        results = await asyncio.gather(*(sets.compile(files) for _ in range(32)))
        return {r.content_hash for r in results}

    hashes = asyncio.run(burst())
    assert len(hashes) == 1
    assert sets.compiles == 1
    asyncio.run(sets.compile(files))  # cached now
    assert sets.compiles == 1


def test_a_bad_set_fails_every_waiter_and_is_compiled_again_next_time():
    sets = compiled_sets()
    files = rule_files(**{"pricing.yaml": "plans: [oops"})

    async def burst() -> list[object]:
        return await asyncio.gather(
            *(sets.compile(files) for _ in range(4)), return_exceptions=True
        )

    outcomes = asyncio.run(burst())
    assert all(isinstance(o, RuleSetInvalid) for o in outcomes)
    assert sets.compiles == 1
    with pytest.raises(RuleSetInvalid):
        asyncio.run(sets.compile(files))  # nothing cached for an invalid set
    assert sets.compiles == 2


def test_one_waiter_cancelled_does_not_cancel_the_others():
    sets = compiled_sets()
    files = rule_files()

    async def scenario() -> str:
        first = asyncio.ensure_future(sets.compile(files))
        second = asyncio.ensure_future(sets.compile(files))
        await asyncio.sleep(0)
        first.cancel()
        return (await second).content_hash

    assert asyncio.run(scenario())
    assert sets.compiles == 1

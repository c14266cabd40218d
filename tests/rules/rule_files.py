"""Helpers for the rule-set tests: rule files written inline, loaded, their problems read."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from textwrap import dedent

import pytest

from billing.delivery.notice_templates import NOTICE_TEMPLATE_KIND, notice_template_paths
from billing.plugins.registry import load_engines
from billing.rules import RuleSet, RuleSetInvalid, load_rule_set_from_files

# The built-in pricing models; plugins will add to this set.
BUILTIN_ENGINES: Mapping[str, set[str]] = {"pricing_model": {"per_unit", "graduated", "volume"}}
FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE_RULES = Path(__file__).parents[2] / "rules"
# The repository's rules/ with the tax and gateway engines installed and its notice templates
# (its files name them).
REPO_ENGINES: Mapping[str, set[str]] = {
    **BUILTIN_ENGINES,
    "tax_engine": load_engines().names()["tax_engine"],
    "payment_gateway": load_engines().names()["payment_gateway"],
    NOTICE_TEMPLATE_KIND: set(notice_template_paths(EXAMPLE_RULES / "templates")),
}


def encode(files: Mapping[str, str]) -> dict[str, bytes]:
    return {name: dedent(text).encode() for name, text in files.items()}


def load(files: Mapping[str, str], engines: Mapping[str, set[str]] = BUILTIN_ENGINES) -> RuleSet:
    return load_rule_set_from_files(encode(files), engines)


def problems(
    files: Mapping[str, str], engines: Mapping[str, set[str]] = BUILTIN_ENGINES
) -> list[str]:
    """Every error of a rule set that must not load, as the text an author would read."""
    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set_from_files(encode(files), engines)
    return [str(error) for error in raised.value.errors]

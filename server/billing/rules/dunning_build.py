"""Turn a validated `kind: dunning` file into `DunningRules` (ADR 0043). Runs only when both
passes found nothing, so it trusts shapes and references (steps in order, policies that
cases name, templates that exist)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import time
from types import MappingProxyType
from typing import Any

from billing.domain.dunning import (
    DEFAULT_HARD_DECLINES,
    EMAIL_CHANNEL,
    NO_DUNNING,
    Action,
    DeclineRules,
    DunningPolicy,
    DunningRules,
    DunningStep,
    PolicyCase,
    PolicyMatch,
    RetrySchedule,
)
from billing.rules.structure import ValidatedFile


def build_dunning_rules(files: Sequence[ValidatedFile]) -> DunningRules:
    """The dunning file (one at most); without it, no dunning."""
    dunning = next((f for f in files if f.kind == "dunning"), None)
    if dunning is None:
        return NO_DUNNING
    return DunningRules(
        policies=MappingProxyType(
            {item["name"]: _policy(item) for _, item in dunning.items("policies")}
        ),
        cases=tuple(
            _case(path[1] if isinstance(path[1], int) else 0, item)
            for path, item in dunning.items("cases")
        ),
        update_method_url=dunning.data.get("update_method_url", ""),
    )


def time_of_day(text: str) -> time:
    """'09:30' -> 09:30 (the structure pass made sure of the shape)."""
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _policy(data: Mapping[str, Any]) -> DunningPolicy:
    retries = data.get("retries") or {}
    declines = data.get("declines") or {}
    hard = (DEFAULT_HARD_DECLINES | frozenset(declines.get("hard") or ())) - frozenset(
        declines.get("soft") or ()
    )
    return DunningPolicy(
        name=data["name"],
        retries=RetrySchedule(
            after=tuple(retries.get("after") or ()),
            at=time_of_day(retries["at"]) if retries.get("at") else None,
            skip_weekends=bool(retries.get("skip_weekends", False)),
        ),
        grace=data.get("grace") or DunningPolicy("").grace,
        declines=DeclineRules(
            hard_codes=frozenset(hard),
            hard_notice=declines.get("hard_notice", ""),
            requires_action_notice=declines.get("requires_action_notice", ""),
        ),
        steps=tuple(
            DunningStep(
                after=step["after"],
                action=Action(step["action"]),
                template=step.get("template", ""),
                channel=step.get("channel", EMAIL_CHANNEL),
                name=step.get("name") or f"steps[{index}]",
            )
            for index, step in enumerate(data.get("steps") or ())
        ),
    )


def _case(index: int, data: Mapping[str, Any]) -> PolicyCase:
    when = data.get("when") or {}
    return PolicyCase(
        PolicyMatch(
            plans=tuple(when.get("plans") or ()),
            segments=tuple(when.get("segments") or ()),
            customers=tuple(when.get("customers") or ()),
            currencies=tuple(when.get("currencies") or ()),
        ),
        data["policy"],
        data.get("name") or f"cases[{index}]",
    )

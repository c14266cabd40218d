"""A dunning case as the API shows it (ADR 0043): the case, its next event resolved against
the policy of the rule set it started under, and the attempts of its timeline; and the codec
that keeps a pause's or a resumption's answer for replays of its request id."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from billing.app.ports import Transaction
from billing.app.rules import RuleUseCases
from billing.domain.dunning import (
    CaseStatus,
    DunningCase,
    DunningPolicy,
    EventKind,
    next_event,
    retry_name,
    step_name,
    timeline_from_json,
    timeline_to_json,
)


@dataclass(frozen=True, slots=True)
class NextEventView:
    at: datetime
    kind: EventKind
    what: str  # the step's name or `retries[i]`
    action: str  # a step's action; empty for a retry


@dataclass(frozen=True, slots=True)
class CaseView:
    case: DunningCase
    next_event: NextEventView | None  # None unless the case is active

    @property
    def attempts(self) -> tuple[str, ...]:
        """The payment attempt ids of the timeline, oldest first, each once."""
        return tuple(dict.fromkeys(e.attempt_id for e in self.case.timeline if e.attempt_id))


def view_of(case: DunningCase, policy: DunningPolicy | None) -> CaseView:
    """The case with its next event: only an active case has one (a paused or ended case
    does nothing until resumed, or ever)."""
    if case.status is not CaseStatus.ACTIVE or policy is None:
        return CaseView(case, None)
    event = next_event(policy, case)
    if event is None:
        return CaseView(case, None)
    if event.kind is EventKind.RETRY:
        return CaseView(case, NextEventView(event.at, event.kind, retry_name(event.index), ""))
    action = policy.steps[event.index].action.value
    what = step_name(policy, event.index)
    return CaseView(case, NextEventView(event.at, event.kind, what, action))


class CasePolicies:
    """The policies cases started under, looked up once per (rule set, policy) in a call:
    a list of cases of one rule set compiles (or finds in cache) that rule set once."""

    def __init__(self, rules: RuleUseCases, tx: Transaction, tenant_id: str) -> None:
        self._rules = rules
        self._tx = tx
        self._tenant_id = tenant_id
        self._found: dict[tuple[str, str], DunningPolicy | None] = {}

    async def of(self, case: DunningCase) -> DunningPolicy | None:
        return await self.named(case.rule_set, case.policy)

    async def named(self, rule_set: str, policy: str) -> DunningPolicy | None:
        """None only if the rule set is not stored or has no such policy (a case always
        starts under a stored rule set that has it)."""
        key = (rule_set, policy)
        if key not in self._found:
            rules = await self._rules.rules_of_version(self._tx, self._tenant_id, rule_set)
            self._found[key] = rules.rules.dunning.policies.get(policy) if rules else None
        return self._found[key]

    async def view(self, case: DunningCase) -> CaseView:
        """The case's view, its policy read only when it has a next event to show."""
        return view_of(case, await self.of(case) if case.status is CaseStatus.ACTIVE else None)


@dataclass(frozen=True, slots=True)
class HoldResult:
    """What PauseDunning and ResumeDunning answer."""

    customer: str  # customers/cus_<ULID>
    cases: tuple[CaseView, ...]


class _HoldCodec:
    def encode(self, result: HoldResult) -> bytes:
        return json.dumps(
            {"customer": result.customer, "cases": [_view_json(v) for v in result.cases]}
        ).encode()

    def decode(self, data: bytes) -> HoldResult:
        d = json.loads(data)
        return HoldResult(d["customer"], tuple(_view_from(v) for v in d["cases"]))


HOLD_CODEC = _HoldCodec()


def _view_json(view: CaseView) -> dict[str, Any]:
    c, e = view.case, view.next_event
    return {
        "id": c.id,
        "customer_id": c.customer_id,
        "invoice_id": c.invoice_id,
        "subscription_id": c.subscription_id,
        "clock_id": c.clock_id,
        "policy": c.policy,
        "rule_set": c.rule_set,
        "status": c.status.value,
        "started_at": c.started_at.isoformat(),
        "amount_minor": c.amount_minor,
        "currency": c.currency,
        "time_zone": c.time_zone,
        "retries_done": c.retries_done,
        "steps_done": c.steps_done,
        "retries_stopped": c.retries_stopped,
        "decline_code": c.decline_code,
        "first_decline_code": c.first_decline_code,
        "shift_us": c.shift // timedelta(microseconds=1),
        "paused_at": _iso(c.paused_at),
        "suspended": c.suspended,
        "next_at": _iso(c.next_at),
        "recovered_minor": c.recovered_minor,
        "ended_at": _iso(c.ended_at),
        "timeline": timeline_to_json(c.timeline),
        "created_at": _iso(c.created_at),
        "updated_at": _iso(c.updated_at),
        "version": c.version,
        "next": None if e is None else [e.at.isoformat(), e.kind.value, e.what, e.action],
    }


def _view_from(d: dict[str, Any]) -> CaseView:
    case = DunningCase(
        id=d["id"],
        customer_id=d["customer_id"],
        invoice_id=d["invoice_id"],
        subscription_id=d["subscription_id"],
        clock_id=d["clock_id"],
        policy=d["policy"],
        rule_set=d["rule_set"],
        status=CaseStatus(d["status"]),
        started_at=datetime.fromisoformat(d["started_at"]),
        amount_minor=d["amount_minor"],
        currency=d["currency"],
        time_zone=d["time_zone"],
        retries_done=d["retries_done"],
        steps_done=d["steps_done"],
        retries_stopped=d["retries_stopped"],
        decline_code=d["decline_code"],
        first_decline_code=d["first_decline_code"],
        shift=timedelta(microseconds=d["shift_us"]),
        paused_at=_instant(d["paused_at"]),
        suspended=d["suspended"],
        next_at=_instant(d["next_at"]),
        recovered_minor=d["recovered_minor"],
        ended_at=_instant(d["ended_at"]),
        timeline=timeline_from_json(d["timeline"]),
        created_at=_instant(d["created_at"]),
        updated_at=_instant(d["updated_at"]),
        version=d["version"],
    )
    n = d["next"]
    event = (
        None
        if n is None
        else NextEventView(datetime.fromisoformat(n[0]), EventKind(n[1]), n[2], n[3])
    )
    return CaseView(case, event)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None

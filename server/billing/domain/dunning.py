"""Dunning (ADR 0043): the rules (`kind: dunning`), a dunning case, and the pure timeline
that says what a case does next and when.

A case's timeline is never stored ahead: `next_event` computes the next retry or step from
the policy, the instant the case started (shifted by the time it spent paused), the
customer's time zone and how far the case has gone. Pausing, recovery and a rule push
therefore touch one row and one due item, never a list of scheduled steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from types import MappingProxyType
from zoneinfo import ZoneInfo


class Action(StrEnum):
    NOTICE = "notice"  # email the customer (a template of rules/templates/notices/)
    MARK_PAST_DUE = "mark_past_due"  # the subscription: active -> past_due
    MARK_UNPAID = "mark_unpaid"  # the subscription: -> unpaid (kept, no longer renewed)
    SUSPEND = "suspend"  # entitlements suspended: `subscription.suspended` for Operations
    CANCEL_NOW = "cancel_now"
    CANCEL_AT_PERIOD_END = "cancel_at_period_end"
    MARK_UNCOLLECTIBLE = "mark_uncollectible"  # the invoice: open -> uncollectible


# Actions by which the customer loses something: never earlier than the policy's grace.
LOSING_ACTIONS = frozenset(
    {
        Action.MARK_UNPAID,
        Action.SUSPEND,
        Action.CANCEL_NOW,
        Action.CANCEL_AT_PERIOD_END,
        Action.MARK_UNCOLLECTIBLE,
    }
)

EMAIL_CHANNEL = "email"

# Normalized decline codes no retry can cure (`billing.domain.payments.DECLINE_CODES` lists
# every code): retries stop and the customer is asked for a new method.
DEFAULT_HARD_DECLINES = frozenset(
    {"stolen_card", "lost_card", "pickup_card", "fraudulent", "invalid_account", "expired_card"}
)  # the server's own SMTP delivery; other channels come from plugins


@dataclass(frozen=True, slots=True)
class DunningStep:
    after: timedelta  # from the first failure (plus any time paused)
    action: Action
    template: str = ""  # NOTICE: the notice template's name
    channel: str = EMAIL_CHANNEL  # NOTICE: email, or a registered notification channel
    name: str = ""  # as reports and timelines show it; default `steps[i]`


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    # Offsets from the first failure, strictly increasing. With `at`, whole days only.
    after: tuple[timedelta, ...] = ()
    at: time | None = None  # the local time of day in the customer's zone; None: the offset
    skip_weekends: bool = False  # a retry landing on Saturday or Sunday moves to Monday


@dataclass(frozen=True, slots=True)
class DeclineRules:
    # Normalized decline codes no retry can cure: retries stop and `hard_notice` is sent.
    # The default, then the policy's `hard` codes added and its `soft` ones taken out.
    hard_codes: frozenset[str] = DEFAULT_HARD_DECLINES
    hard_notice: str = ""  # template asking for a new payment method; empty: none
    # A retry or the first charge needs the customer (3-D Secure): this template carries the
    # attempt's authentication link; the schedule goes on.
    requires_action_notice: str = ""

    def is_hard(self, decline_code: str) -> bool:
        return decline_code in self.hard_codes


@dataclass(frozen=True, slots=True)
class DunningPolicy:
    name: str
    retries: RetrySchedule = RetrySchedule()
    # Nothing of LOSING_ACTIONS happens before this (the load refuses a step that would).
    grace: timedelta = timedelta(0)
    declines: DeclineRules = DeclineRules()
    steps: tuple[DunningStep, ...] = ()  # ordered by `after` (the load refuses other orders)


@dataclass(frozen=True, slots=True)
class PolicyMatch:
    """Every listed condition must hold; an empty one holds for all."""

    plans: tuple[str, ...] = ()  # the invoice's subscription's plan code
    segments: tuple[str, ...] = ()  # the customer's metadata["segment"]
    customers: tuple[str, ...] = ()  # customer ids
    currencies: tuple[str, ...] = ()  # the invoice's currency

    def holds(self, plan: str, segment: str, customer_id: str, currency: str) -> bool:
        return (
            (not self.plans or plan in self.plans)
            and (not self.segments or segment in self.segments)
            and (not self.customers or customer_id in self.customers)
            and (not self.currencies or currency in self.currencies)
        )


@dataclass(frozen=True, slots=True)
class PolicyCase:
    when: PolicyMatch
    policy: str  # a policy's name
    name: str = ""  # default `cases[i]`


@dataclass(frozen=True, slots=True)
class DunningRules:
    policies: Mapping[str, DunningPolicy] = field(default_factory=lambda: MappingProxyType({}))
    cases: tuple[PolicyCase, ...] = ()  # the first that holds chooses; none: no dunning
    # Where a customer updates their payment method, for notices: `{customer}` and
    # `{invoice}` are replaced by the ids.
    update_method_url: str = ""

    def policy_for(
        self, plan: str, segment: str, customer_id: str, currency: str
    ) -> DunningPolicy | None:
        for case in self.cases:
            if case.when.holds(plan, segment, customer_id, currency):
                return self.policies[case.policy]
        return None


NO_DUNNING = DunningRules()  # without a dunning file no case is ever opened


# --- a case -------------------------------------------------------------------------------


class CaseStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"  # finance override: nothing happens until resumed
    RECOVERED = "recovered"  # the invoice was paid: nothing more happens
    EXHAUSTED = "exhausted"  # every retry and step done, still unpaid
    CLOSED = "closed"  # the invoice was voided (or the customer deleted): nothing to recover


OPEN_STATUSES = frozenset({CaseStatus.ACTIVE, CaseStatus.PAUSED})


class EntryKind(StrEnum):
    OPENED = "opened"
    RETRY = "retry"  # a retry was made (attempt_id) or skipped (detail says why)
    STEP = "step"  # a step's action was done
    DECLINE = "decline"  # an attempt of the case failed (detail: the decline code)
    RETRIES_STOPPED = "retries_stopped"  # a hard decline
    PAUSED = "paused"
    RESUMED = "resumed"
    RECOVERED = "recovered"
    EXHAUSTED = "exhausted"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    kind: EntryKind
    what: str = ""  # a step's name, `retries[i]`, a decline code
    detail: str = ""  # plain words
    attempt_id: str = ""


@dataclass(frozen=True, slots=True)
class DunningCase:
    id: str  # dun_<ULID>
    customer_id: str
    invoice_id: str  # one case per invoice, ever
    subscription_id: str | None
    clock_id: str | None  # the customer's simulation clock, if any (due items run on it)
    policy: str  # the policy's name in `rule_set`
    rule_set: str  # the content hash the case started under: it keeps that policy
    status: CaseStatus
    started_at: datetime  # the first failure
    amount_minor: int  # what the invoice still owed when the case opened
    currency: str
    time_zone: str  # the customer's, as of the start: retries' time of day
    retries_done: int = 0  # retries of the schedule made or skipped
    steps_done: int = 0  # steps done, in order
    retries_stopped: bool = False  # a hard decline stopped them
    decline_code: str = ""  # the latest
    first_decline_code: str = ""  # the one that opened the case (reports group by it)
    shift: timedelta = timedelta(0)  # time spent paused, added to every offset
    paused_at: datetime | None = None
    suspended: bool = False  # a `suspend` step ran and no recovery since
    next_at: datetime | None = None  # the scheduled due item's instant; None when none
    recovered_minor: int = 0  # paid while the case was open
    ended_at: datetime | None = None  # recovered, exhausted or closed
    timeline: tuple[TimelineEntry, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1

    @property
    def name(self) -> str:
        return f"dunningCases/{self.id}"

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def last_step(self) -> int:
        """Index of the last step done; -1 before the first."""
        return self.steps_done - 1


def timeline_to_json(timeline: tuple[TimelineEntry, ...]) -> list[dict[str, str]]:
    """A timeline as JSON (the case's row and a stored call result keep it so)."""
    return [
        {
            "at": e.at.isoformat(),
            "kind": e.kind.value,
            "what": e.what,
            "detail": e.detail,
            "attempt_id": e.attempt_id,
        }
        for e in timeline
    ]


def timeline_from_json(data: list[dict[str, str]]) -> tuple[TimelineEntry, ...]:
    return tuple(
        TimelineEntry(
            datetime.fromisoformat(e["at"]),
            EntryKind(e["kind"]),
            e.get("what", ""),
            e.get("detail", ""),
            e.get("attempt_id", ""),
        )
        for e in data
    )


class EventKind(StrEnum):
    RETRY = "retry"
    STEP = "step"


@dataclass(frozen=True, slots=True)
class NextEvent:
    at: datetime
    kind: EventKind
    index: int  # into policy.retries.after or policy.steps


def retry_instants(schedule: RetrySchedule, base: datetime, zone: ZoneInfo) -> tuple[datetime, ...]:
    """Every retry's instant for a case whose (shifted) start is `base`: `base + offset`,
    at `schedule.at` on that local day when given, moved past weekends when the rule says
    so, and always strictly after the retry before it (a retry that a weekend pushed onto
    the previous one's day moves to the next business day)."""
    instants: list[datetime] = []
    for offset in schedule.after:
        local = (base + offset).astimezone(zone)
        if schedule.at is not None:
            local = datetime.combine(local.date(), schedule.at, tzinfo=zone)
        local = _business_day(local, schedule.skip_weekends)
        while instants and local <= instants[-1]:
            local = _business_day(_next_day(local, schedule.at, zone), schedule.skip_weekends)
        instants.append(local)
    return tuple(instant.astimezone(base.tzinfo) for instant in instants)


def _next_day(local: datetime, at: time | None, zone: ZoneInfo) -> datetime:
    following = local.date() + timedelta(days=1)
    return datetime.combine(following, at or local.timetz().replace(tzinfo=None), tzinfo=zone)


def _business_day(local: datetime, skip_weekends: bool) -> datetime:
    if not skip_weekends:
        return local
    while local.weekday() >= 5:  # Saturday, Sunday
        local = datetime.combine(
            local.date() + timedelta(days=1), local.timetz().replace(tzinfo=None), local.tzinfo
        )
    return local


def next_event(policy: DunningPolicy, case: DunningCase) -> NextEvent | None:
    """What the case does next and when; None when its timeline is spent. Paused and ended
    cases are the caller's concern (they have no next event). At one instant a retry comes
    before a step, so a retry that recovers the invoice cancels the step."""
    base = case.started_at + case.shift
    candidates: list[NextEvent] = []
    if not case.retries_stopped and case.retries_done < len(policy.retries.after):
        instants = retry_instants(policy.retries, base, ZoneInfo(case.time_zone))
        candidates.append(
            NextEvent(instants[case.retries_done], EventKind.RETRY, case.retries_done)
        )
    if case.steps_done < len(policy.steps):
        step = policy.steps[case.steps_done]
        candidates.append(NextEvent(base + step.after, EventKind.STEP, case.steps_done))
    if not candidates:
        return None
    return min(candidates, key=lambda e: (e.at, 0 if e.kind is EventKind.RETRY else 1))


def step_name(policy: DunningPolicy, index: int) -> str:
    return policy.steps[index].name or f"steps[{index}]"


def retry_name(index: int) -> str:
    return f"retries[{index}]"

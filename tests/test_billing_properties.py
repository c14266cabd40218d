"""Random subscription histories on a simulation clock, over the real channel (hypothesis).

Each example is one customer on its own clock, subscribed on 2026-04-01 (monthly, UTC) to
Basic (30.00) or Pro (50.00), or to Team at 8.00 a seat, then a few steps: advance the clock,
maybe change plan or seats (previewed first, at the same instant), maybe cancel now. At the end the clock runs to the end of the
current period so pending prorations are invoiced. Whatever the history:

- the lines of every invoice sum to its total;
- the preview of a change equals the change committed at the same instant, line by line;
- no period's credits exceed what was charged for it;
- the total billed equals the oracle below, to the minor unit.

The oracle is the billing convention written out independently of the server's code: each
period is charged in full at its start under the plan in force; a prorated change at t charges
round(new x (end - t) / (end - start)) in whole days or seconds, and credits what was actually
paid for the rest of the period, for the part of its span still ahead:
round(paid x (end - t) / (end - paid from)). A change the rules do not prorate charges nothing
and leaves what was paid as it was; cancelling now credits like a change. Each rounding is
half up to the cent. (Crediting what was paid, not the list price again, keeps the roundings
from drifting: the total stays within a cent per change of the exact time-weighted price.)
"""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_client.v1 import subscriptions_pb2 as sp
from billing_fixtures import Billing, iso, rules

SEAT = 800  # team_monthly: 8.00 a seat
PRICES = {"basic_monthly": 3000, "pro_monthly": 5000}
START = datetime(2026, 4, 1, tzinfo=UTC)

# Downgrades from Pro to Basic change the plan at once but prorate nothing; the rest prorates.
DOWNGRADE_UNPRORATED = """kind: proration
cases:
  - when: {{from_product: pro, to_product: basic}}
    granularity: {granularity}
    behavior: none
    credit_unused: false
    credit_basis: billed
  - granularity: {granularity}
    behavior: {behavior}
    credit_unused: true
    credit_basis: billed
"""


@pytest.fixture
def billing(channel, tenant) -> Billing:
    return Billing(channel, tenant.metadata)


@dataclass(frozen=True)
class Step:
    advance: int  # whole days (day granularity) or seconds (second granularity)
    action: str  # "stay", "cancel", a plan code, or "seats:<n>"


def _steps(granularity: str, family: str) -> st.SearchStrategy[list[Step]]:
    advance = (
        st.integers(min_value=0, max_value=45)
        if granularity == "day"
        else st.integers(min_value=0, max_value=45 * 86400)
    )
    changes = (
        ["basic_monthly", "pro_monthly"]
        if family == "flat"
        else [f"seats:{n}" for n in range(0, 6)]
    )
    action = st.sampled_from(["stay", "cancel", *changes])
    return st.lists(st.builds(Step, advance, action), min_size=1, max_size=6)


def _period(at: datetime) -> tuple[datetime, datetime]:
    start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    days = calendar.monthrange(start.year, start.month)[1]
    return start, start + timedelta(days=days)


def _rounded(minor: int, numerator: int, denominator: int) -> int:
    exact = Decimal(minor) * Decimal(numerator) / Decimal(denominator)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _sum_lines(invoice) -> int:  # type: ignore[no-untyped-def]
    return sum(line.amount.amount_minor for line in invoice.lines)


def _billed(invoice) -> int:  # type: ignore[no-untyped-def]
    """What the invoice bills: its lines but the account credit moved to the balance."""
    return sum(x.amount.amount_minor for x in invoice.lines if x.kind != "account_credit")


@dataclass
class Oracle:
    """What the history should cost: the plan (or seats) in force, and what was actually paid
    for the rest of the current period and from when (the basis of any credit)."""

    plan: str
    seats: int
    unit: timedelta  # one day or one second: the granularity
    paid: int = 0
    paid_from: datetime = START
    period: tuple[datetime, datetime] = (START, START)
    total: int = 0
    rate: int = 0  # the full-period price being paid for now
    exact: Decimal = Decimal(0)  # the time-weighted price of what was paid for, unrounded
    roundings: int = 0  # prorated changes and cancellations so far

    def full(self, plan: str | None = None, seats: int | None = None) -> int:
        plan = plan or self.plan
        seats = self.seats if seats is None else seats
        return SEAT * seats if plan == "team_monthly" else PRICES[plan]

    def renew(self, period: tuple[datetime, datetime]) -> None:
        self.period = period
        self.paid, self.paid_from = self.full(), period[0]
        self.total += self.paid
        self.rate = self.paid
        self.exact += self.paid

    def _weighted(self, full: int, at: datetime) -> Decimal:
        return Decimal(full) * self._units(at) / self._units(self.period[0])

    def _units(self, start: datetime) -> int:
        return (self.period[1] - start) // self.unit

    def _credit(self, at: datetime) -> int:
        return _rounded(self.paid, self._units(at), self._units(self.paid_from))

    def change(self, plan: str, seats: int, at: datetime, prorated: bool) -> None:
        if prorated:
            charge = _rounded(self.full(plan, seats), self._units(at), self._units(self.period[0]))
            self.total += charge - self._credit(at)
            self.paid, self.paid_from = charge, at
            new = self.full(plan, seats)
            self.exact += self._weighted(new, at) - self._weighted(self.rate, at)
            self.rate, self.roundings = new, self.roundings + 1
        self.plan, self.seats = plan, seats

    def cancel(self, at: datetime) -> None:
        self.total -= self._credit(at)
        self.exact -= self._weighted(self.rate, at)
        self.roundings += 1

    def target(self, action: str) -> tuple[str, int] | None:
        """The plan and seats an action asks for; None when it changes nothing."""
        plan, seats = self.plan, self.seats
        if action.startswith("seats:"):
            seats = int(action.removeprefix("seats:"))
        elif action not in ("stay", "cancel"):
            plan = action
        return None if (plan, seats) == (self.plan, self.seats) else (plan, seats)


def _cancel_now(billing: Billing, sub: sp.Subscription) -> None:
    billing.subs.CancelSubscription(
        sp.CancelSubscriptionRequest(name=sub.name, immediately=True, request_id=uuid.uuid4().hex),
        metadata=billing.metadata,
    )


def _change(billing: Billing, sub: sp.Subscription, plan: str, seats: int) -> None:
    """Preview, then change at the previewed instant: both must give the same lines."""
    change = (
        {"quantities": {"prices/team_seat_usd": seats}}
        if plan == "team_monthly"
        else {"plan": plan}
    )
    preview = billing.preview(sub, **change)
    changed = billing.change(sub, at=iso(preview.proration_time), **change)
    assert [_line(x) for x in changed.lines] == [_line(x) for x in preview.lines]


def _history(
    billing: Billing, granularity: str, unprorated_downgrade: bool, first: str, steps: list[Step]
) -> None:
    clock = billing.clock(iso_of(START))
    unit = timedelta(days=1) if granularity == "day" else timedelta(seconds=1)
    oracle = Oracle(first, 3 if first == "team_monthly" else 0, unit)
    quantities = {"prices/team_seat_usd": oracle.seats} if oracle.seats else {}
    sub = billing.subscribe(billing.customer(clock), first, quantities=quantities)
    oracle.renew(_period(START))
    now = START
    for step in steps:
        target = now + step.advance * unit
        while oracle.period[1] <= target:  # each renewal charges the next period in full
            oracle.renew(_period(oracle.period[1]))
        if target != now:
            billing.advance(clock, iso_of(target))
            now = target
        if step.action == "cancel":
            _cancel_now(billing, billing.get(sub))
            oracle.cancel(now)
            break
        wanted = oracle.target(step.action)
        if wanted is None:
            continue
        _change(billing, billing.get(sub), *wanted)
        downgrade = (oracle.plan, wanted[0]) == ("pro_monthly", "basic_monthly")
        oracle.change(*wanted, now, prorated=not (unprorated_downgrade and downgrade))
    else:  # run to the period end: pending prorations are invoiced with the renewal
        billing.advance(clock, iso_of(oracle.period[1]))
        oracle.renew(_period(oracle.period[1]))
    invoices = billing.invoices_of(sub)
    for invoice in invoices:
        assert _sum_lines(invoice) == invoice.total.amount_minor, invoice
        assert all(line.amount.amount_minor != 0 for line in invoice.lines), invoice
    _check_credits_within_charges(invoices)
    assert sum(_billed(i) for i in invoices) == oracle.total
    # and within a cent per prorated change of the exact time-weighted price paid for
    assert abs(oracle.total - oracle.exact) <= oracle.roundings, (oracle.total, oracle.exact)


def _line(line) -> tuple[str, int, str]:  # type: ignore[no-untyped-def]
    return (line.description, line.amount.amount_minor, line.proration_factor)


def _check_credits_within_charges(invoices) -> None:  # type: ignore[no-untyped-def]
    charged: dict[datetime, int] = {}
    credited: dict[datetime, int] = {}
    for invoice in invoices:
        for line in invoice.lines:
            if line.kind == "account_credit":  # the excess credit kept for later invoices
                continue
            start = _period(line.period_start.ToDatetime(tzinfo=UTC))[0]
            amount = line.amount.amount_minor
            if line.kind == "repair":  # takes back the part of a credit not owed
                credited[start] = credited.get(start, 0) - amount
                continue
            book = charged if amount > 0 else credited
            book[start] = book.get(start, 0) + abs(amount)
    for start, credit in credited.items():
        assert credit <= charged.get(start, 0), (start, credit, charged)


def iso_of(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("family", ["flat", "seats"])
@pytest.mark.parametrize(
    ("behavior", "unprorated_downgrade"),
    [("create_prorations", False), ("always_invoice", False), ("create_prorations", True)],
)
@pytest.mark.parametrize("granularity", ["day", "second"])
def test_random_histories_bill_what_the_plans_in_force_cost(
    billing, granularity, behavior, unprorated_downgrade, family
):
    files = rules(granularity=granularity, behavior=behavior)
    if unprorated_downgrade:
        if family == "seats":
            pytest.skip("the unprorated downgrade is between flat plans")
        text = DOWNGRADE_UNPRORATED.format(granularity=granularity, behavior=behavior)
        files["proration.yaml"] = text.encode()
    billing.push(files)
    firsts = sorted(PRICES) if family == "flat" else ["team_monthly"]

    @settings(
        max_examples=10,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(first=st.sampled_from(firsts), steps=_steps(granularity, family))
    def history(first: str, steps: list[Step]) -> None:
        _history(billing, granularity, unprorated_downgrade, first, steps)

    history()


def test_a_credit_whose_unit_amount_does_not_terminate_is_stored(billing):
    """Found by the property above on PostgreSQL: cancelling 3 seats with 0.17 left to credit
    gave a unit amount of 0.17 / 3 in 38 digits, 41 characters for a String(40) column
    (SQLite does not enforce the length). The unit keeps 18 places; the amounts are unchanged."""
    billing.push(rules(granularity="second", behavior="always_invoice"))
    steps = [Step(0, "seats:0"), Step(2573101, "seats:3"), Step(0, "cancel")]
    _history(billing, "second", False, "team_monthly", steps)

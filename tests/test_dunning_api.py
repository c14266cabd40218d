"""DunningService (ADR 0043 "API") over a real gRPC channel on both databases: a case by its
name and by its invoice's, with the next event its own policy gives; lists; finance's pause
and resumption (every remaining event moves later by exactly the time paused, one due item
scheduled, idempotent replays, events, audit, the hold); the report's exact amounts per
currency, step and decline; other tenants' names and bad names.

Cases are written through the store beside customers and invoices made over gRPC: the engine
that opens and walks them is not what these tests are about."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import duration_pb2

from billing.app.ids import new_id
from billing.domain.dunning import (
    Action,
    CaseStatus,
    DunningCase,
    DunningPolicy,
    DunningStep,
    EntryKind,
    EventKind,
    RetrySchedule,
    TimelineEntry,
    next_event,
)
from billing.domain.dunning_pause import (
    PAUSE_ENTRIES_MAX,
    duration_words,
    pause_case,
    resume_case,
)
from billing.store import schema
from billing_client.v1 import customers_pb2 as cp
from billing_client.v1 import dunning_pb2 as dp
from billing_client.v1 import dunning_pb2_grpc, money_pb2
from billing_client.v1 import invoices_pb2 as ip
from billing_fixtures import Billing, ts
from conftest import Server, Tenant, auth, make_token
from dunning_fixtures import at, insert_cases, make_case, rid, with_dunning
from grpc_helpers import field_violations
from payments_fixtures import payment_rules

START = "2026-03-02T08:00:00Z"  # a Monday
DAY = timedelta(days=1)
# DUNNING_YAML's `standard`, as the rules build it: what the remaining events are walked by.
STANDARD = DunningPolicy(
    "standard",
    retries=RetrySchedule((DAY, 3 * DAY, 5 * DAY), time(10, 0), skip_weekends=True),
    grace=10 * DAY,
    steps=(
        DunningStep(timedelta(0), Action.NOTICE, "payment_failed", name="first_notice"),
        DunningStep(2 * DAY, Action.MARK_PAST_DUE, name="past_due"),
        DunningStep(7 * DAY, Action.NOTICE, "final_notice", name="final_notice"),
        DunningStep(14 * DAY, Action.SUSPEND, name="suspend"),
    ),
)


@dataclass
class Dunning:
    """One tenant with the dunning rules pushed, its stubs, and the database."""

    billing: Billing
    stub: Any
    rule_set: str
    tenant: Tenant
    server: Server

    @property
    def md(self) -> tuple[tuple[str, str], ...]:
        return self.tenant.metadata

    def customer(self, clock: Any = None, currency: str = "USD") -> cp.Customer:
        return self.billing.customers.CreateCustomer(
            cp.CreateCustomerRequest(
                customer=cp.Customer(
                    display_name="Acme",
                    currency_code=currency,
                    time_zone="UTC",
                    clock=clock.name if clock else "",
                ),
                request_id=rid(),
            ),
            metadata=self.md,
        )

    def invoice(self, customer: cp.Customer, amount: str = "100.00") -> ip.Invoice:
        invoices = self.billing.invoices
        draft = invoices.CreateInvoice(
            ip.CreateInvoiceRequest(customer=customer.name, request_id=rid()), metadata=self.md
        )
        invoices.AddInvoiceLine(
            ip.AddInvoiceLineRequest(
                invoice=draft.name,
                description="Setup",
                quantity="1",
                unit_amount=amount,
                request_id=rid(),
            ),
            metadata=self.md,
        )
        return invoices.FinalizeInvoice(
            ip.FinalizeInvoiceRequest(name=draft.name, request_id=rid()), metadata=self.md
        )

    def case(self, customer: cp.Customer, invoice: ip.Invoice, **fields: Any) -> DunningCase:
        """A case for the invoice, of its amount and currency, written to the database."""
        started = fields.pop("started_at", at(START))
        amount = invoice.total
        case = make_case(
            customer.name,
            invoice.name,
            self.rule_set,
            started,
            amount_minor=amount.amount_minor,
            currency=amount.currency_code,
            clock_id=customer.clock.removeprefix("clocks/") or None,
            **fields,
        )
        insert_cases(self.server.database.async_url, self.tenant.id, [case])
        return case

    def get(self, name: str) -> dp.DunningCase:
        return self.stub.GetDunningCase(dp.GetDunningCaseRequest(name=name), metadata=self.md)

    def pause(self, customer: cp.Customer, reason: str, request_id: str) -> Any:
        request = dp.PauseDunningRequest(
            customer=customer.name, reason=reason, request_id=request_id
        )
        return self.stub.PauseDunning(request, metadata=self.md)

    def resume(self, customer: cp.Customer, request_id: str) -> Any:
        request = dp.ResumeDunningRequest(customer=customer.name, request_id=request_id)
        return self.stub.ResumeDunning(request, metadata=self.md)

    def rows(self, table: sa.Table, *where: Any) -> list[Any]:
        engine = sa.create_engine(self.server.database.sync_url)
        try:
            with engine.connect() as conn:
                query = sa.select(table).where(table.c.tenant_id == self.tenant.id, *where)
                order = list(table.primary_key.columns)  # ids sort by creation
                return list(conn.execute(query.order_by(*order)).mappings())
        finally:
            engine.dispose()

    def events(self, resource: str) -> list[str]:
        o = schema.outbox_events
        return [r["event_type"] for r in self.rows(o, o.c.resource_name == resource)]

    def audit(self, resource: str) -> list[str]:
        a = schema.audit_log
        return [r["action"] for r in self.rows(a, a.c.resource_name == resource)]


@pytest.fixture
def dunning(channel: grpc.Channel, tenant: Tenant, server: Server) -> Dunning:
    return _dunning(channel, tenant, server)


def _dunning(channel: grpc.Channel, tenant: Tenant, server: Server) -> Dunning:
    billing = Billing(channel, tenant.metadata)
    rule_set = billing.push(with_dunning(payment_rules(), tenant.id)).name
    stub = dunning_pb2_grpc.DunningServiceStub(channel)
    return Dunning(billing, stub, rule_set, tenant, server)


def usd(minor: int, currency: str = "USD") -> money_pb2.Money:
    return money_pb2.Money(currency_code=currency, amount_minor=minor)


def days(n: float) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromTimedelta(timedelta(days=n))
    return duration


def entry(when: str, kind: str, what: str = "", detail: str = "", attempt: str = "") -> Any:
    return dp.DunningTimelineEntry(
        time=ts(when),
        kind=kind,
        what=what,
        detail=detail,
        payment_attempt=f"paymentAttempts/{attempt}" if attempt else "",
    )


def refused(call: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as failure:
        call()
    return failure.value


# --- GetDunningCase --------------------------------------------------------------------------


def test_a_case_by_its_name_and_by_its_invoice_with_the_next_event_of_its_policy(
    dunning: Dunning,
) -> None:
    clock = dunning.billing.clock(START)
    customer = dunning.customer(clock)
    invoice = dunning.invoice(customer, "250.00")
    first, retry = new_id("pay"), new_id("pay")
    timeline = (
        TimelineEntry(at(START), EntryKind.OPENED, "", "insufficient_funds", first),
        TimelineEntry(at(START), EntryKind.STEP, "first_notice", "payment_failed sent"),
        TimelineEntry(at("2026-03-03T10:00:00Z"), EntryKind.RETRY, "retries[0]", "", retry),
        TimelineEntry(
            at("2026-03-03T10:00:00Z"), EntryKind.DECLINE, "insufficient_funds", "", retry
        ),
        TimelineEntry(at("2026-03-04T08:00:00Z"), EntryKind.STEP, "past_due", "past_due"),
    )
    case = dunning.case(
        customer,
        invoice,
        retries_done=1,
        steps_done=2,
        timeline=timeline,
        next_at=at("2026-03-05T10:00:00Z"),
        version=4,
    )

    got = dunning.get(f"dunningCases/{case.id}")

    assert got == dp.DunningCase(
        name=f"dunningCases/{case.id}",
        customer=customer.name,
        invoice=invoice.name,
        subscription="",
        policy="standard",
        rule_set=dunning.rule_set,
        status=dp.DUNNING_CASE_STATUS_ACTIVE,
        start_time=ts(START),
        amount=usd(25_000),
        recovered=usd(0),
        first_decline_code="insufficient_funds",
        decline_code="insufficient_funds",
        retries_done=1,
        steps_done=2,
        # The second retry, at 10:00 three days after the start (a Thursday), before the
        # final notice of the 9th.
        next_event=dp.DunningNextEvent(
            time=ts("2026-03-05T10:00:00Z"), kind="retry", what="retries[1]", action=""
        ),
        timeline=[
            entry(START, "opened", "", "insufficient_funds", first),
            entry(START, "step", "first_notice", "payment_failed sent"),
            entry("2026-03-03T10:00:00Z", "retry", "retries[0]", "", retry),
            entry("2026-03-03T10:00:00Z", "decline", "insufficient_funds", "", retry),
            entry("2026-03-04T08:00:00Z", "step", "past_due", "past_due"),
        ],
        payment_attempts=[f"paymentAttempts/{first}", f"paymentAttempts/{retry}"],
        etag='W/"4"',
        paused_duration=days(0),
    )
    assert dunning.get(invoice.name) == got


def test_the_next_event_is_a_step_once_retries_stop_and_none_once_the_case_ended(
    dunning: Dunning,
) -> None:
    customer = dunning.customer()
    stopped = dunning.case(
        customer, dunning.invoice(customer), retries_done=1, steps_done=2, retries_stopped=True
    )
    gentle = dunning.case(customer, dunning.invoice(customer), policy="gentle", steps_done=1)
    ended = at("2026-03-06T09:00:00Z")
    recovered = dunning.case(
        customer,
        dunning.invoice(customer, "40.00"),
        status=CaseStatus.RECOVERED,
        recovered_minor=4000,
        ended_at=ended,
    )

    assert dunning.get(f"dunningCases/{stopped.id}").next_event == dp.DunningNextEvent(
        time=ts("2026-03-09T08:00:00Z"), kind="step", what="final_notice", action="notice"
    )
    assert dunning.get(f"dunningCases/{gentle.id}").next_event == dp.DunningNextEvent(
        time=ts("2026-03-22T08:00:00Z"), kind="step", what="steps[1]", action="mark_past_due"
    )
    got = dunning.get(f"dunningCases/{recovered.id}")
    assert not got.HasField("next_event")
    assert (got.status, got.recovered, got.end_time) == (
        dp.DUNNING_CASE_STATUS_RECOVERED,
        usd(4000),
        ts("2026-03-06T09:00:00Z"),
    )


@pytest.mark.parametrize(
    "name",
    [
        "",
        "dunningCases/",
        "dunningCases/dun_1",
        "dunningCases/inv_01J00000000000000000000000",
        "invoices/inv_1",
        "customers/cus_01J00000000000000000000000",
        "dun_01J00000000000000000000000",
    ],
)
def test_a_bad_name_is_invalid_argument_naming_it(dunning: Dunning, name: str) -> None:
    error = refused(lambda: dunning.get(name))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert list(field_violations(error)) == ["name"]


def test_another_tenants_case_and_invoice_are_not_found(
    channel: grpc.Channel, dunning: Dunning, other_tenant: Tenant, server: Server
) -> None:
    customer = dunning.customer()
    invoice = dunning.invoice(customer)
    case = dunning.case(customer, invoice)
    other = _dunning(channel, other_tenant, server)
    without_case = dunning.invoice(customer)
    for name, caller in [
        (f"dunningCases/{case.id}", other),
        (invoice.name, other),
        (without_case.name, dunning),
        (f"dunningCases/{new_id('dun')}", dunning),
    ]:
        error = refused(lambda n=name, c=caller: c.get(n))
        assert error.code() == grpc.StatusCode.NOT_FOUND, name


# --- ListDunningCases ------------------------------------------------------------------------


def _names(page: Any) -> list[str]:
    return [c.name for c in page.dunning_cases]


def test_lists_page_newest_first_by_customer_and_status(
    channel: grpc.Channel, dunning: Dunning, other_tenant: Tenant, server: Server
) -> None:
    a, b = dunning.customer(), dunning.customer()
    a_cases = [
        dunning.case(a, dunning.invoice(a)),
        dunning.case(a, dunning.invoice(a), status=CaseStatus.PAUSED, paused_at=at(START)),
        dunning.case(a, dunning.invoice(a), status=CaseStatus.RECOVERED, recovered_minor=10_000),
    ]
    b_cases = [dunning.case(b, dunning.invoice(b)) for _ in range(2)]
    every = sorted((f"dunningCases/{c.id}" for c in a_cases + b_cases), reverse=True)

    def page(**fields: Any) -> Any:
        request = dp.ListDunningCasesRequest(**fields)
        return dunning.stub.ListDunningCases(request, metadata=dunning.md)

    seen, token, pages = [], "", 0
    while True:
        reply = page(page_size=2, page_token=token)
        seen += _names(reply)
        pages += 1
        token = reply.next_page_token
        if not token:
            break
    assert (seen, pages) == (every, 3)
    a_names = sorted((f"dunningCases/{c.id}" for c in a_cases), reverse=True)
    assert _names(page(customer=a.name)) == a_names
    assert _names(page(status=dp.DUNNING_CASE_STATUS_PAUSED)) == [f"dunningCases/{a_cases[1].id}"]
    assert _names(page(customer=b.name, status=dp.DUNNING_CASE_STATUS_RECOVERED)) == []
    assert _names(page(customer=a.name, status=dp.DUNNING_CASE_STATUS_RECOVERED)) == [
        f"dunningCases/{a_cases[2].id}"
    ]
    # A listed case is shown as GetDunningCase shows it.
    [listed] = page(customer=a.name, status=dp.DUNNING_CASE_STATUS_ACTIVE).dunning_cases
    assert listed == dunning.get(listed.name)

    other = _dunning(channel, other_tenant, server)
    assert (
        _names(other.stub.ListDunningCases(dp.ListDunningCasesRequest(), metadata=other.md)) == []
    )
    error = refused(
        lambda: other.stub.ListDunningCases(
            dp.ListDunningCasesRequest(customer=a.name), metadata=other.md
        )
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    for fields, field in [
        ({"customer": "customers/nope"}, "customer"),
        ({"page_token": "not-a-token"}, "page_token"),
        ({"status": 99}, "status"),
        ({"page_size": -1}, "page_size"),
    ]:
        error = refused(lambda f=fields: page(**f))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, fields
        assert list(field_violations(error)) == [field]


# --- PauseDunning, ResumeDunning -------------------------------------------------------------


def remaining(shown: dp.DunningCase) -> list[tuple[str, int, datetime]]:
    """Every retry and step still to come for the case as the API shows it, walked by the
    policy: the whole timeline ahead, not only the next event."""
    case = DunningCase(
        id="dun_x",
        customer_id="cus_x",
        invoice_id="inv_x",
        subscription_id=None,
        clock_id=None,
        policy="standard",
        rule_set="x",
        status=CaseStatus.ACTIVE,
        started_at=shown.start_time.ToDatetime(tzinfo=UTC),
        amount_minor=0,
        currency="USD",
        time_zone="UTC",
        retries_done=shown.retries_done,
        steps_done=shown.steps_done,
        retries_stopped=shown.retries_stopped,
        shift=shown.paused_duration.ToTimedelta(),
    )
    found = []
    while (event := next_event(STANDARD, case)) is not None:
        found.append((event.kind.value, event.index, event.at))
        retry = event.kind is EventKind.RETRY
        case = replace(
            case,
            retries_done=case.retries_done + retry,
            steps_done=case.steps_done + (not retry),
        )
    return found


def utc(instant: datetime) -> datetime:
    """A datetime read from the database as an aware UTC instant (SQLite gives naive)."""
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def _dunning_items(dunning: Dunning) -> list[tuple[str, str | None, datetime, dict[str, Any]]]:
    d = schema.due_work
    return sorted(
        (r["subscription_id"], r["clock_id"], utc(r["due_at"]), json.loads(r["payload"]))
        for r in dunning.rows(d, d.c.kind == "dunning_step")
    )


def test_pause_then_resume_moves_every_remaining_event_by_the_time_paused(
    dunning: Dunning,
) -> None:
    clock = dunning.billing.clock(START)
    clock_id = clock.name.removeprefix("clocks/")
    customer = dunning.customer(clock)
    first = dunning.case(customer, dunning.invoice(customer), steps_done=1)
    second = dunning.case(customer, dunning.invoice(customer), retries_done=1, steps_done=2)
    recovered = dunning.case(
        customer, dunning.invoice(customer), status=CaseStatus.RECOVERED, recovered_minor=10_000
    )
    names = sorted(f"dunningCases/{c.id}" for c in (first, second))  # oldest first
    before = {n: dunning.get(n) for n in names}
    assert remaining(before[f"dunningCases/{first.id}"]) == [
        ("retry", 0, at("2026-03-03T10:00:00Z")),
        ("step", 1, at("2026-03-04T08:00:00Z")),
        ("retry", 1, at("2026-03-05T10:00:00Z")),
        ("step", 2, at("2026-03-09T08:00:00Z")),
        ("retry", 2, at("2026-03-09T10:00:00Z")),  # Saturday the 7th, moved to Monday
        ("step", 3, at("2026-03-16T08:00:00Z")),
    ]

    dunning.billing.advance(clock, "2026-03-02T12:00:00Z")
    reason = "customer disputes the charge"
    pause_id = rid()
    paused = dunning.pause(customer, reason, pause_id)

    assert paused.customer == customer.name
    assert [c.name for c in paused.dunning_cases] == names
    for shown in paused.dunning_cases:
        assert shown.status == dp.DUNNING_CASE_STATUS_PAUSED
        assert shown.pause_time == ts("2026-03-02T12:00:00Z")
        assert not shown.HasField("next_event")
        assert shown.timeline[-1] == entry("2026-03-02T12:00:00Z", "paused", "", reason)
        assert shown == dunning.get(shown.name)
    # The same request again: the first answer, nothing written twice.
    assert dunning.pause(customer, reason, pause_id) == paused
    error = refused(lambda: dunning.pause(customer, "another reason", pause_id))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    [hold] = dunning.rows(schema.dunning_holds)
    assert (hold["customer_id"], hold["reason"], hold["actor"]) == (
        customer.name.removeprefix("customers/"),
        reason,
        "test-user",
    )
    assert utc(hold["held_at"]) == at("2026-03-02T12:00:00Z")

    dunning.billing.advance(clock, "2026-03-09T12:00:00Z")  # seven days paused
    resume_id = rid()
    resumed = dunning.resume(customer, resume_id)

    assert [c.name for c in resumed.dunning_cases] == names
    for shown in resumed.dunning_cases:
        assert shown.status == dp.DUNNING_CASE_STATUS_ACTIVE
        assert shown.paused_duration == days(7)
        assert not shown.HasField("pause_time")
        assert shown.timeline[-1] == entry("2026-03-09T12:00:00Z", "resumed", "", "after 7 days")
        assert [e.kind for e in shown.timeline] == ["paused", "resumed"]
        assert shown == dunning.get(shown.name)
        week_later = [(k, i, t + 7 * DAY) for k, i, t in remaining(before[shown.name])]
        assert remaining(shown) == week_later
    assert remaining(resumed.dunning_cases[names.index(f"dunningCases/{first.id}")]) == [
        ("retry", 0, at("2026-03-10T10:00:00Z")),
        ("step", 1, at("2026-03-11T08:00:00Z")),
        ("retry", 1, at("2026-03-12T10:00:00Z")),
        ("step", 2, at("2026-03-16T08:00:00Z")),
        ("retry", 2, at("2026-03-16T10:00:00Z")),
        ("step", 3, at("2026-03-23T08:00:00Z")),
    ]
    next_events = {c.name: c.next_event for c in resumed.dunning_cases}
    assert next_events == {
        f"dunningCases/{first.id}": dp.DunningNextEvent(
            time=ts("2026-03-10T10:00:00Z"), kind="retry", what="retries[0]"
        ),
        f"dunningCases/{second.id}": dp.DunningNextEvent(
            time=ts("2026-03-12T10:00:00Z"), kind="retry", what="retries[1]"
        ),
    }
    # Exactly one dunning_step item per resumed case, on the customer's clock, at its next
    # event; none for the recovered case.
    assert _dunning_items(dunning) == sorted(
        [
            (
                first.id,
                clock_id,
                at("2026-03-10T10:00:00Z"),
                {"case_id": first.id, "kind": "retry", "index": 0},
            ),
            (
                second.id,
                clock_id,
                at("2026-03-12T10:00:00Z"),
                {"case_id": second.id, "kind": "retry", "index": 1},
            ),
        ]
    )
    assert dunning.resume(customer, resume_id) == resumed
    assert len(_dunning_items(dunning)) == 2
    assert dunning.rows(schema.dunning_holds) == []

    for name in names:
        assert dunning.events(name) == ["dunning.paused", "dunning.resumed"]
        assert dunning.audit(name) == ["paused", "resumed"]
    assert dunning.audit(customer.name) == ["create", "dunning_paused", "dunning_resumed"]
    untouched = dunning.get(f"dunningCases/{recovered.id}")
    assert (untouched.status, untouched.etag, dunning.events(untouched.name)) == (
        dp.DUNNING_CASE_STATUS_RECOVERED,
        'W/"1"',
        [],
    )


def test_a_pause_of_hours_and_minutes_moves_the_steps_by_exactly_that(dunning: Dunning) -> None:
    clock = dunning.billing.clock(START)
    customer = dunning.customer(clock)
    gentle = dunning.case(customer, dunning.invoice(customer), policy="gentle", steps_done=1)
    name = f"dunningCases/{gentle.id}"
    assert dunning.get(name).next_event.time == ts("2026-03-22T08:00:00Z")

    dunning.billing.advance(clock, "2026-03-02T12:00:00Z")
    dunning.pause(customer, "", rid())
    dunning.billing.advance(clock, "2026-03-05T16:30:00Z")
    [shown] = dunning.resume(customer, rid()).dunning_cases

    paused_for = timedelta(days=3, hours=4, minutes=30)
    assert shown.paused_duration.ToTimedelta() == paused_for
    assert shown.timeline[-2:] == [
        entry("2026-03-02T12:00:00Z", "paused", "", "paused"),
        entry("2026-03-05T16:30:00Z", "resumed", "", "after 3 days 4 hours 30 minutes"),
    ]
    assert shown.next_event == dp.DunningNextEvent(
        time=ts("2026-03-25T12:30:00Z"), kind="step", what="steps[1]", action="mark_past_due"
    )
    [(_, _, due_at, _)] = _dunning_items(dunning)
    assert due_at == at("2026-03-25T12:30:00Z")


def test_pause_and_resume_without_cases_and_with_bad_input(
    channel: grpc.Channel, dunning: Dunning, other_tenant: Tenant, server: Server
) -> None:
    customer = dunning.customer()
    paused = dunning.pause(customer, "audit of the account", rid())
    assert (paused.customer, list(paused.dunning_cases)) == (customer.name, [])
    assert len(dunning.rows(schema.dunning_holds)) == 1
    resumed = dunning.resume(customer, rid())
    assert (resumed.customer, list(resumed.dunning_cases)) == (customer.name, [])
    assert dunning.rows(schema.dunning_holds) == []

    other = _dunning(channel, other_tenant, server)
    for call in (
        lambda: other.pause(customer, "x", rid()),
        lambda: other.resume(customer, rid()),
    ):
        assert refused(call).code() == grpc.StatusCode.NOT_FOUND
    assert other.rows(schema.dunning_holds) == []
    bad = [
        (dp.PauseDunningRequest(customer="customers/x", request_id=rid()), "customer"),
        (dp.PauseDunningRequest(customer=customer.name), "request_id"),
        (
            dp.PauseDunningRequest(customer=customer.name, reason="r" * 501, request_id=rid()),
            "reason",
        ),
        (dp.ResumeDunningRequest(customer="", request_id=rid()), "customer"),
        (dp.ResumeDunningRequest(customer=customer.name), "request_id"),
    ]
    for request, field in bad:
        method = (
            dunning.stub.PauseDunning
            if isinstance(request, dp.PauseDunningRequest)
            else dunning.stub.ResumeDunning
        )
        error = refused(lambda m=method, r=request: m(r, metadata=dunning.md))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert list(field_violations(error)) == [field]
    assert dunning.rows(schema.dunning_holds) == []


# --- GetDunningReport ------------------------------------------------------------------------


def row(key: str, cases: int, currency: str, **amounts: int) -> dp.DunningReportRow:
    return dp.DunningReportRow(
        key=key,
        cases=cases,
        in_dunning=usd(amounts.get("in_dunning", 0), currency),
        recovered=usd(amounts.get("recovered", 0), currency),
        lost=usd(amounts.get("lost", 0), currency),
    )


@pytest.fixture
def report_cases(dunning: Dunning) -> Iterator[Dunning]:
    """Nine cases over two currencies, two policies, every status; case k started on
    March k."""
    us, eu = dunning.customer(), dunning.customer(currency="EUR")
    specs: list[tuple[cp.Customer, str, dict[str, Any]]] = [
        (us, "100.00", {"steps_done": 0}),
        (
            us,
            "200.00",
            {"steps_done": 2, "status": CaseStatus.PAUSED, "recovered_minor": 5_000},
        ),
        (
            us,
            "300.00",
            {
                "steps_done": 1,
                "status": CaseStatus.RECOVERED,
                "recovered_minor": 30_000,
                "first_decline_code": "do_not_honor",
            },
        ),
        (
            us,
            "400.00",
            {"steps_done": 4, "status": CaseStatus.EXHAUSTED, "first_decline_code": "expired_card"},
        ),
        (us, "50.00", {"steps_done": 1, "status": CaseStatus.CLOSED}),
        (eu, "70.00", {"steps_done": 1, "first_decline_code": "generic_decline"}),
        (
            eu,
            "90.00",
            {"steps_done": 3, "status": CaseStatus.EXHAUSTED, "recovered_minor": 1_000},
        ),
        (us, "15.00", {"steps_done": 1, "policy": "gentle"}),
        (
            us,
            "25.00",
            {"steps_done": 2, "policy": "gentle", "first_decline_code": "generic_decline"},
        ),
    ]
    for day, (customer, amount, fields) in enumerate(specs, start=1):
        started = at(f"2026-03-{day:02d}T08:00:00Z")
        dunning.case(customer, dunning.invoice(customer, amount), started_at=started, **fields)
    yield dunning


def test_the_report_sums_per_currency_by_step_and_by_decline(report_cases: Dunning) -> None:
    d = report_cases
    report = d.stub.GetDunningReport(dp.GetDunningReportRequest(), metadata=d.md)

    assert list(report.totals) == [
        row("", 2, "EUR", in_dunning=7_000, recovered=1_000, lost=8_000),
        row("", 7, "USD", in_dunning=29_000, recovered=35_000, lost=40_000),
    ]
    # In the order steps are reached; two policies' `first_notice` are one row.
    assert list(report.by_step) == [
        row("first_notice", 1, "EUR", in_dunning=7_000),
        row("final_notice", 1, "EUR", recovered=1_000, lost=8_000),
        row("opened", 1, "USD", in_dunning=10_000),
        row("first_notice", 3, "USD", in_dunning=1_500, recovered=30_000),
        row("past_due", 1, "USD", in_dunning=15_000, recovered=5_000),
        row("steps[1]", 1, "USD", in_dunning=2_500),
        row("suspend", 1, "USD", lost=40_000),
    ]
    assert list(report.by_decline) == [
        row("generic_decline", 1, "EUR", in_dunning=7_000),
        row("insufficient_funds", 1, "EUR", recovered=1_000, lost=8_000),
        row("do_not_honor", 1, "USD", recovered=30_000),
        row("expired_card", 1, "USD", lost=40_000),
        row("generic_decline", 1, "USD", in_dunning=2_500),
        row("insufficient_funds", 4, "USD", in_dunning=26_500, recovered=5_000),
    ]


def test_the_report_window_is_on_the_start_and_checked(report_cases: Dunning) -> None:
    d = report_cases

    def report(**window: str) -> Any:
        request = dp.GetDunningReportRequest(**{k: ts(v) for k, v in window.items()})
        return d.stub.GetDunningReport(request, metadata=d.md)

    # Cases 3 to 7: started on March 3 (inclusive) to March 8 (exclusive).
    windowed = report(start_time="2026-03-03T08:00:00Z", end_time="2026-03-08T08:00:00Z")
    assert list(windowed.totals) == [
        row("", 2, "EUR", in_dunning=7_000, recovered=1_000, lost=8_000),
        row("", 3, "USD", recovered=30_000, lost=40_000),
    ]
    assert [r.cases for r in report(start_time="2026-03-09T08:00:00Z").totals] == [1]
    assert list(report(end_time="2026-03-01T08:00:00Z").totals) == []
    error = refused(lambda: report(start_time="2026-03-05T00:00:00Z", end_time=START))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert list(field_violations(error)) == ["end_time"]


def test_another_tenants_report_shows_none_of_these_cases(
    channel: grpc.Channel, report_cases: Dunning, other_tenant: Tenant, server: Server
) -> None:
    other = _dunning(channel, other_tenant, server)
    report = other.stub.GetDunningReport(dp.GetDunningReportRequest(), metadata=other.md)
    assert report == dp.DunningReport()


# --- scopes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "request_message", "scope"),
    [
        ("GetDunningCase", dp.GetDunningCaseRequest(name="invoices/x"), "billing.write"),
        ("ListDunningCases", dp.ListDunningCasesRequest(), "billing.write"),
        ("GetDunningReport", dp.GetDunningReportRequest(), "billing.write"),
        ("PauseDunning", dp.PauseDunningRequest(request_id="r"), "billing.read"),
        ("ResumeDunning", dp.ResumeDunningRequest(request_id="r"), "billing.read"),
    ],
)
def test_each_rpc_needs_its_scope(
    channel: grpc.Channel, method: str, request_message: Any, scope: str
) -> None:
    """Reads need billing.read, pause and resume billing.write: a token with only the other
    is refused before the request is looked at."""
    stub = dunning_pb2_grpc.DunningServiceStub(channel)
    md = auth(make_token(f"t_{rid()[:16]}", scopes=(scope,)))
    error = refused(lambda: getattr(stub, method)(request_message, metadata=md))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_case_opened_paused_under_the_hold_resumes_from_when_it_was_paused(
    dunning: Dunning,
) -> None:
    clock = dunning.billing.clock(START)
    customer = dunning.customer(clock)
    assert list(dunning.pause(customer, "negotiating", rid()).dunning_cases) == []
    # The engine opens a case two hours later under the hold: paused from its opening.
    opened = at("2026-03-02T10:00:00Z")
    case = dunning.case(
        customer,
        dunning.invoice(customer),
        started_at=opened,
        status=CaseStatus.PAUSED,
        paused_at=opened,
        timeline=(TimelineEntry(opened, EntryKind.OPENED, "", "insufficient_funds"),),
    )
    dunning.billing.advance(clock, "2026-03-03T08:00:00Z")
    [again] = dunning.pause(customer, "still negotiating", rid()).dunning_cases
    assert (again.name, again.etag, again.pause_time) == (
        case.name,
        'W/"1"',
        ts(opened.isoformat()),
    )
    assert dunning.events(case.name) == []

    [resumed] = dunning.resume(customer, rid()).dunning_cases
    assert resumed.paused_duration.ToTimedelta() == timedelta(hours=22)
    assert resumed.next_event == dp.DunningNextEvent(
        time=ts("2026-03-03T08:00:00Z"), kind="step", what="first_notice", action="notice"
    )
    assert dunning.events(case.name) == ["dunning.resumed"]


def test_pausing_again_and_again_keeps_the_timeline_bounded() -> None:
    case = make_case("customers/cus_x", "invoices/inv_x", "ruleSets/x", at(START))
    now = at(START)
    for _ in range(PAUSE_ENTRIES_MAX):  # twice as many entries as are kept
        now += timedelta(hours=1)
        case = pause_case(case, now, "")
        now += timedelta(hours=2)
        case = resume_case(case, now)
    assert case.shift == timedelta(hours=2 * PAUSE_ENTRIES_MAX)
    assert len(case.timeline) == PAUSE_ENTRIES_MAX
    assert (case.timeline[0].kind, case.timeline[-1].at) == (EntryKind.PAUSED, now)
    assert case.version == 1 + 2 * PAUSE_ENTRIES_MAX
    assert [duration_words(timedelta(seconds=s)) for s in (0, 59, 60, 3600, 90061)] == [
        "0 minutes",
        "0 minutes",
        "1 minute",
        "1 hour",
        "1 day 1 hour 1 minute",
    ]

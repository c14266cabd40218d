"""Usage over a real channel, on SQLite and PostgreSQL: ingestion, metrics, billing in arrears."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from billing.app.usage import STREAM_CHUNK_EVENTS
from billing_client.v1 import subscriptions_pb2 as sp
from billing_client.v1 import usage_pb2 as up
from billing_client.v1 import usage_pb2_grpc
from billing_fixtures import Billing, iso, rules, ts

METERING = b"""kind: metering
max_lateness_hours: 240
draft_grace_hours: 24
metrics:
  - {code: api_calls, aggregation: count}
  - {code: data_gb, aggregation: sum, field: gb}
  - {code: storage_gb, aggregation: time_weighted_sum, field: gb}
  - {code: payments, aggregation: sum, field: amount}
  - {code: regional_calls, aggregation: count, group_by: [region]}
"""
PRICING = b"""kind: pricing
prices:
  - {code: team_seat_usd, name: Seat, model: per_unit, currency: USD, unit_amount: 8.00}
  - code: api_calls_usd
    name: API calls
    unit: calls
    model: graduated
    metric: api_calls
    currency: USD
    tiers:
      - {up_to: 100, unit_amount: 1.00, flat_amount: 10.00}
      - {up_to: 200, unit_amount: 0.50}
      - {up_to: null, unit_amount: 0.10}
  - {code: data_usd, name: Data, unit: GB, model: per_unit, metric: data_gb, currency: USD, unit_amount: 2.00}
  - {code: storage_usd, name: Storage, unit: GB-month, model: per_unit, metric: storage_gb, currency: USD, unit_amount: 0.10}
  - code: regional_calls_usd
    name: Regional calls
    model: graduated
    metric: regional_calls
    currency: USD
    tiers:
      - {up_to: 100, unit_amount: 1.00, flat_amount: 10.00}
      - {up_to: null, unit_amount: 0.50}
  - code: payment_fees_usd
    name: Payment fees
    model: percentage
    metric: payments
    currency: USD
    rate: 1.2
    fixed_fee: 0.30
    min_per_transaction: 0.50
    max_per_transaction: 5.00
"""
METERED_PLANS = """
  - code: metered_monthly
    name: Metered
    product: pro
    interval: month
    prices:
      - {currency: USD, amount: 30.00}
      - {currency: USD, price: api_calls_usd}
      - {currency: USD, price: data_usd}
      - {currency: USD, price: storage_usd}
      - {currency: USD, price: payment_fees_usd}
      - {currency: USD, price: regional_calls_usd}
plan_changes:"""


def rid() -> str:
    return uuid.uuid4().hex


def usage_rules() -> dict[str, bytes]:
    files = rules()
    files["catalog.yaml"] = (
        files["catalog.yaml"].decode().replace("plan_changes:", METERED_PLANS, 1).encode()
    )
    files["pricing.yaml"] = PRICING
    files["metering.yaml"] = METERING
    return files


@pytest.fixture
def billing(channel, tenant) -> Billing:
    b = Billing(channel, tenant.metadata)
    b.push(usage_rules())
    return b


@pytest.fixture
def usage(channel) -> usage_pb2_grpc.UsageServiceStub:
    return usage_pb2_grpc.UsageServiceStub(channel)


def event(sub, metric: str, at: str, event_id: str | None = None, **props: str) -> up.UsageEvent:  # type: ignore[no-untyped-def]
    return up.UsageEvent(
        id=event_id or uuid.uuid4().hex,
        subscription=sub.name,
        metric=metric,
        timestamp=ts(at),
        properties=props,
    )


def spread(start: str, count: int, hours: int = 1) -> list[str]:
    base = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(UTC)
    return [
        (base + timedelta(hours=hours * i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(count)
    ]


def ingest(usage, billing, events) -> up.IngestUsageResponse:  # type: ignore[no-untyped-def]
    return usage.IngestUsage(up.IngestUsageRequest(events=events), metadata=billing.metadata)


def test_a_clock_run_bills_usage_in_arrears_after_the_draft_grace(billing, usage):
    clock = billing.clock("2026-04-01T00:00:00Z")
    customer = billing.customer(clock)
    sub = billing.subscribe(customer, "metered_monthly")
    billing.advance(clock, "2026-04-30T12:00:00Z")
    april = [event(sub, "api_calls", at) for at in spread("2026-04-25T00:00:00Z", 250, hours=0)]
    assert ingest(usage, billing, april).accepted == 250
    billing.advance(clock, "2026-05-31T12:00:00Z")
    may = [event(sub, "api_calls", at) for at in spread("2026-05-28T00:00:00Z", 80)]
    assert ingest(usage, billing, may).accepted == 80
    billing.advance(clock, "2026-06-03T00:00:00Z")
    invoices = billing.invoices_of(sub)
    assert [iso(i.period_start)[:10] for i in invoices] == [
        "2026-04-01",
        "2026-05-01",
        "2026-06-01",
    ]
    assert [i.total.amount_minor for i in invoices] == [3000, 19500, 12000]
    may_invoice = invoices[1]
    assert iso(may_invoice.finalize_time) == "2026-05-02T00:00:00Z"  # a draft for one day
    usage_line = next(line for line in may_invoice.lines if line.price == "prices/api_calls_usd")
    assert usage_line.quantity == "250"
    assert (iso(usage_line.period_start), iso(usage_line.period_end)) == (
        "2026-04-01T00:00:00Z",
        "2026-05-01T00:00:00Z",
    )


def test_an_event_within_the_grace_still_counts(billing, usage):
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    billing.advance(clock, "2026-05-01T06:00:00Z")  # renewal draft exists, not yet final
    assert (
        ingest(usage, billing, [event(sub, "data_gb", "2026-04-30T23:00:00Z", gb="3")]).accepted
        == 1
    )
    billing.advance(clock, "2026-05-02T00:00:00Z")
    renewal = billing.invoices_of(sub)[1]
    data = next(line for line in renewal.lines if line.price == "prices/data_usd")
    assert data.amount.amount_minor == 600


def test_a_batch_sent_twice_counts_once(billing, usage):
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    billing.advance(clock, "2026-04-10T00:00:00Z")
    batch = [
        event(sub, "api_calls", at, f"evt-{i}")
        for i, at in enumerate(spread("2026-04-09T00:00:00Z", 3))
    ]
    first = ingest(usage, billing, batch)
    again = ingest(usage, billing, batch)
    assert (first.accepted, first.duplicates) == (3, 0)
    assert (again.accepted, again.duplicates) == (0, 3)
    assert [r.outcome for r in again.results] == [up.EventResult.DUPLICATE] * 3
    current = usage.GetCurrentUsage(
        up.GetCurrentUsageRequest(subscription=sub.name), metadata=billing.metadata
    )
    calls = next(m for m in current.metrics if m.metric == "api_calls")
    assert (calls.quantity, calls.amount.amount_minor) == ("3", 1300)  # 10.00 flat + 3 x 1.00


def test_a_bad_event_is_refused_by_index_and_the_rest_kept(billing, usage):
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    billing.advance(clock, "2026-04-10T00:00:00Z")
    batch = [
        event(sub, "api_calls", "2026-04-09T00:00:00Z", "ok-1"),
        event(sub, "bogus_metric", "2026-04-09T00:00:00Z", "bad-1"),
        event(sub, "api_calls", "2026-04-20T00:00:00Z", "future"),
        event(sub, "api_calls", "2026-03-20T00:00:00Z", "too-old"),
        event(sub, "data_gb", "2026-04-09T00:00:00Z", "nan", gb="lots"),
        event(sub, "api_calls", "2026-04-09T01:00:00Z", "ok-2"),
    ]
    result = ingest(usage, billing, batch)
    outcomes = [(r.index, r.id, r.outcome) for r in result.results]
    assert outcomes == [
        (0, "ok-1", up.EventResult.ACCEPTED),
        (1, "bad-1", up.EventResult.REFUSED),
        (2, "future", up.EventResult.REFUSED),
        (3, "too-old", up.EventResult.REFUSED),
        (4, "nan", up.EventResult.REFUSED),
        (5, "ok-2", up.EventResult.ACCEPTED),
    ]
    reasons = {r.id: r.reason for r in result.results}
    assert reasons["bad-1"] == "unknown metric 'bogus_metric'"
    assert "future" in reasons["future"]
    assert "max_lateness" in reasons["too-old"]
    assert "not a number" in reasons["nan"]
    changed = ingest(usage, billing, [event(sub, "api_calls", "2026-04-09T05:00:00Z", "ok-1")])
    assert changed.results[0].outcome == up.EventResult.REFUSED
    assert "another body" in changed.results[0].reason


def test_a_negative_amount_is_refused_only_where_it_is_priced_as_a_percentage(billing, usage):
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    billing.advance(clock, "2026-04-10T00:00:00Z")
    result = ingest(
        usage,
        billing,
        [
            event(sub, "payments", "2026-04-09T00:00:00Z", "refund", amount="-5.00"),
            event(sub, "data_gb", "2026-04-09T00:00:00Z", "credit", gb="-1"),
        ],
    )
    assert [(r.id, r.outcome) for r in result.results] == [
        ("refund", up.EventResult.REFUSED),
        ("credit", up.EventResult.ACCEPTED),
    ]
    assert "must not be negative" in result.results[0].reason
    assert "percentage" in result.results[0].reason
    current = usage.GetCurrentUsage(
        up.GetCurrentUsageRequest(subscription=sub.name), metadata=billing.metadata
    )  # reads fine: the refused event never reached the percentage pricing
    assert {m.metric: m.quantity for m in current.metrics}["data_gb"] == "-1"
    ingest(usage, billing, [event(sub, "payments", "2026-04-09T00:00:00Z", "sale", amount="9")])
    with pytest.raises(grpc.RpcError) as failure:
        usage.AmendEvent(
            up.AmendEventRequest(event_id="sale", properties={"amount": "-9"}, request_id="a1"),
            metadata=billing.metadata,
        )
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "must not be negative" in failure.value.details()


def test_events_by_customer_need_exactly_one_metering_subscription(billing, usage):
    clock = billing.clock("2026-04-01T00:00:00Z")
    customer = billing.customer(clock)
    billing.subscribe(customer, "metered_monthly")
    by_customer = up.UsageEvent(
        id="c1", customer=customer.name, metric="api_calls", timestamp=ts("2026-04-01T00:00:00Z")
    )
    assert ingest(usage, billing, [by_customer]).accepted == 1
    billing.subscribe(customer, "metered_monthly")
    by_customer.id = "c2"
    result = ingest(usage, billing, [by_customer])
    assert result.results[0].outcome == up.EventResult.REFUSED
    assert "2 subscriptions" in result.results[0].reason


def test_an_event_by_customer_finds_its_subscription_past_the_first_page(
    billing, usage, monkeypatch
):
    # The server runs in this process: a page of two makes the third subscription page two.
    monkeypatch.setattr("billing.app.usage_intake.CUSTOMER_PAGE", 2)
    clock = billing.clock("2026-04-01T00:00:00Z")
    customer = billing.customer(clock)
    billing.subscribe(customer, "basic_monthly")
    billing.subscribe(customer, "basic_monthly")
    metered = billing.subscribe(customer, "metered_monthly")
    by_customer = up.UsageEvent(
        id="p1", customer=customer.name, metric="api_calls", timestamp=ts("2026-04-01T00:00:00Z")
    )
    assert ingest(usage, billing, [by_customer]).accepted == 1
    current = usage.GetCurrentUsage(
        up.GetCurrentUsageRequest(subscription=metered.name), metadata=billing.metadata
    )
    assert [(m.metric, m.quantity) for m in current.metrics if m.metric == "api_calls"] == [
        ("api_calls", "1")
    ]
    billing.subscribe(customer, "metered_monthly")
    by_customer.id = "p2"
    refused = ingest(usage, billing, [by_customer]).results[0]
    assert (refused.outcome, "2 subscriptions" in refused.reason) == (up.EventResult.REFUSED, True)


def test_an_amended_event_after_invoicing_is_an_adjustment_on_the_next_invoice(billing, usage):
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    billing.advance(clock, "2026-04-29T00:00:00Z")
    ingest(usage, billing, [event(sub, "data_gb", "2026-04-28T00:00:00Z", "gb-1", gb="10")])
    billing.advance(clock, "2026-05-03T00:00:00Z")
    may = billing.invoices_of(sub)[1]
    assert (
        next(line for line in may.lines if line.price == "prices/data_usd").amount.amount_minor
        == 2000
    )
    amended = usage.AmendEvent(
        up.AmendEventRequest(event_id="gb-1", properties={"gb": "12"}, request_id="fix-1"),
        metadata=billing.metadata,
    )
    assert (amended.corrects, amended.correction) == ("gb-1", "amend")
    billing.advance(clock, "2026-06-02T00:00:00Z")
    june = billing.invoices_of(sub)[2]
    [adjustment] = [line for line in june.lines if line.description.startswith("Adjustment")]
    assert adjustment.amount.amount_minor == 400  # 2 GB more at 2.00
    assert "2026-04-01 to 2026-05-01" in adjustment.description
    assert "gb-1" in adjustment.description


def test_a_void_before_invoicing_changes_the_period_total(billing, usage):
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    billing.advance(clock, "2026-04-10T00:00:00Z")
    ingest(
        usage,
        billing,
        [
            event(sub, "data_gb", "2026-04-09T00:00:00Z", "v-1", gb="5"),
            event(sub, "data_gb", "2026-04-09T01:00:00Z", "v-2", gb="1"),
        ],
    )
    usage.VoidEvent(
        up.VoidEventRequest(event_id="v-1", request_id="void-1"), metadata=billing.metadata
    )
    current = usage.GetCurrentUsage(
        up.GetCurrentUsageRequest(subscription=sub.name), metadata=billing.metadata
    )
    data = next(m for m in current.metrics if m.metric == "data_gb")
    assert (data.quantity, data.amount.amount_minor) == ("1", 200)


def test_time_weighted_storage_in_gb_months(billing, usage):
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    first = ingest(usage, billing, [event(sub, "storage_gb", "2026-04-01T00:00:00Z", gb="10")])
    billing.advance(clock, "2026-04-16T00:00:00Z")
    second = ingest(usage, billing, [event(sub, "storage_gb", "2026-04-16T00:00:00Z", gb="30")])
    assert first.accepted == second.accepted == 1
    billing.advance(clock, "2026-05-02T00:00:00Z")
    may = billing.invoices_of(sub)[1]
    storage = next(line for line in may.lines if line.price == "prices/storage_usd")
    assert storage.quantity == "20"  # 10 GB for 15 days, 30 GB for 15 days
    assert storage.amount.amount_minor == 200


def test_streaming_ingestion(billing, usage):
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    billing.advance(clock, "2026-04-20T00:00:00Z")
    times = spread("2026-04-15T00:00:00Z", 2500, hours=0)
    chunks = [
        up.StreamUsageRequest(events=[event(sub, "api_calls", t) for t in times[i : i + 500]])
        for i in range(0, 2500, 500)
    ]
    result = usage.StreamUsage(iter(chunks), metadata=billing.metadata)
    assert (result.accepted, result.duplicates, result.refused) == (2500, 0, 0)
    assert list(result.results) == []  # a stream lists only its refused events


def test_usage_calls_need_a_token(usage):
    with pytest.raises(grpc.RpcError) as failure:
        usage.IngestUsage(up.IngestUsageRequest())
    assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    ("transactions", "fee_minor"),
    [(["10.00", "100.00", "1000.00"], 700), (["50.40", "50.40"], 181)],
)
def test_percentage_fees_on_transactions_round_once(billing, usage, transactions, fee_minor):
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    billing.advance(clock, "2026-04-10T00:00:00Z")
    events = [
        event(sub, "payments", at, amount=amount)
        for at, amount in zip(
            spread("2026-04-09T00:00:00Z", len(transactions)), transactions, strict=True
        )
    ]
    assert ingest(usage, billing, events).accepted == len(transactions)
    current = usage.GetCurrentUsage(
        up.GetCurrentUsageRequest(subscription=sub.name), metadata=billing.metadata
    )
    fees = next(m for m in current.metrics if m.metric == "payments")
    assert fees.amount.amount_minor == fee_minor


def test_a_grouped_metric_is_priced_and_billed_per_group(billing, usage):
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    billing.advance(clock, "2026-04-30T00:00:00Z")
    regions = ["eu", "eu", "eu", "us", "us"]
    events = [
        event(sub, "regional_calls", at, region=r)
        for at, r in zip(spread("2026-04-29T00:00:00Z", 5), regions, strict=True)
    ]
    assert ingest(usage, billing, events).accepted == 5
    current = usage.GetCurrentUsage(
        up.GetCurrentUsageRequest(subscription=sub.name), metadata=billing.metadata
    )
    regional = [
        (m.group, m.quantity, m.amount.amount_minor)
        for m in current.metrics
        if m.metric == "regional_calls"
    ]
    assert regional == [
        ("region=eu", "3", 1300),
        ("region=us", "2", 1200),
    ]  # each with its flat fee
    billing.advance(clock, "2026-05-02T00:00:00Z")
    may = billing.invoices_of(sub)[1]
    lines = [
        (line.description, line.amount.amount_minor)
        for line in may.lines
        if line.price == "prices/regional_calls_usd"
    ]
    assert lines == [
        ("Regional calls (region=eu): 3 units", 1300),
        ("Regional calls (region=us): 2 units", 1200),
    ]


def test_usage_before_a_pause_is_billed_on_resume(billing, usage):
    from billing_client.v1 import subscriptions_pb2 as sp

    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    billing.advance(clock, "2026-04-10T00:00:00Z")
    ingest(usage, billing, [event(sub, "data_gb", "2026-04-09T00:00:00Z", gb="4")])
    billing.subs.PauseSubscription(
        sp.PauseSubscriptionRequest(name=sub.name, request_id=rid()), metadata=billing.metadata
    )
    billing.advance(clock, "2026-05-20T00:00:00Z")
    billing.subs.ResumeSubscription(
        sp.ResumeSubscriptionRequest(name=sub.name, request_id=rid()), metadata=billing.metadata
    )
    resume = billing.invoices_of(sub)[-1]
    assert resume.billing_reason == "subscription_resume"
    data = next(line for line in resume.lines if line.price == "prices/data_usd")
    assert (data.amount.amount_minor, iso(data.period_start), iso(data.period_end)) == (
        800,
        "2026-04-01T00:00:00Z",
        "2026-04-10T00:00:00Z",
    )


def test_current_usage_from_the_database_matches_the_event_path(billing, usage, server):
    # api_calls (count) and data_gb (sum) come from the daily rollups, and an amendment in
    # the period changes data_gb's row by its difference: the event path's answers either way
    # (tests/test_usage_rollups.py goes further).
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    billing.advance(clock, "2026-04-10T00:00:00Z")
    ingest(
        usage,
        billing,
        [event(sub, "api_calls", t) for t in spread("2026-04-09T00:00:00Z", 150, hours=0)],
    )
    ingest(
        usage,
        billing,
        [
            event(sub, "data_gb", "2026-04-09T00:00:00Z", "d1", gb="1.25"),
            event(sub, "data_gb", "2026-04-09T01:00:00Z", "d2", gb="2.5"),
        ],
    )

    def current() -> dict[str, tuple[str, int]]:
        answer = usage.GetCurrentUsage(
            up.GetCurrentUsageRequest(subscription=sub.name), metadata=billing.metadata
        )
        return {
            m.metric: (m.quantity, m.amount.amount_minor) for m in answer.metrics if not m.group
        }

    before = current()
    assert before["api_calls"] == ("150", 13500)  # 10.00 + 100 x 1.00 + 50 x 0.50
    assert before["data_gb"][1] == 750  # 3.75 GB x 2.00
    assert before["data_gb"][0] in {"3.75", "3.750"}
    usage.AmendEvent(
        up.AmendEventRequest(event_id="d1", properties={"gb": "2.25"}, request_id=rid()),
        metadata=billing.metadata,
    )
    after = current()
    assert after["data_gb"] == ("4.75", 950)
    assert after["api_calls"] == before["api_calls"]


def test_awkward_ids_and_properties_are_stored_and_deduplicated_exactly(billing, usage):
    # The COPY text is written by hand on PostgreSQL: every character that format escapes.
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    billing.advance(clock, "2026-04-10T00:00:00Z")
    ids = ["tab\there", "back\\slash", "new\nline", "cr\rhere", "\\N", "ünïcødé ✓", 'quo"te']
    batch = [
        event(sub, "data_gb", "2026-04-09T00:00:00Z", event_id, gb="1.5", note=event_id)
        for event_id in ids
    ]
    first = ingest(usage, billing, batch)
    assert [(r.id, r.outcome) for r in first.results] == [
        (event_id, up.EventResult.ACCEPTED) for event_id in ids
    ]
    again = ingest(usage, billing, batch)  # the same bodies: duplicates, so stored exactly
    assert [r.outcome for r in again.results] == [up.EventResult.DUPLICATE] * len(ids)
    voided = usage.VoidEvent(
        up.VoidEventRequest(event_id="tab\there", request_id=rid()), metadata=billing.metadata
    )
    assert voided.corrects == "tab\there"
    current = usage.GetCurrentUsage(
        up.GetCurrentUsageRequest(subscription=sub.name), metadata=billing.metadata
    )
    data = next(m for m in current.metrics if m.metric == "data_gb")
    assert data.quantity == "9.0"  # 6 x 1.5: the rollup and the events agree


def test_a_stream_that_fails_midway_keeps_the_batches_before_and_reports_the_error(billing, usage):
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    billing.advance(clock, "2026-04-20T00:00:00Z")
    total = STREAM_CHUNK_EVENTS + STREAM_CHUNK_EVENTS // 2  # one whole batch and a half
    times = spread("2026-04-15T00:00:00Z", total, hours=0)
    good = [
        up.StreamUsageRequest(
            events=[
                event(sub, "api_calls", t, f"s-{i + k}") for k, t in enumerate(times[i : i + 500])
            ]
        )
        for i in range(0, total, 500)
    ]
    bad = up.StreamUsageRequest(
        events=[up.UsageEvent(id="x", subscription=sub.name, metric="api_calls")]
    )
    bad.events[0].timestamp.nanos = -1  # not a valid Timestamp: the call fails

    with pytest.raises(grpc.RpcError):
        usage.StreamUsage(iter([*good, bad]), metadata=billing.metadata)
    again = usage.StreamUsage(iter(good), metadata=billing.metadata)
    # The whole batch was written before the failure (even though the reading had gone
    # further ahead); the half batch after it was not.
    assert (again.duplicates, again.accepted) == (STREAM_CHUNK_EVENTS, total - STREAM_CHUNK_EVENTS)


def test_cancelling_at_the_first_instant_of_the_period_bills_no_usage(billing, usage):
    # A zero-second period: its time-weighted usage is 0 (it used to divide 0 by 0, INTERNAL).
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    canceled = billing.subs.CancelSubscription(
        sp.CancelSubscriptionRequest(name=sub.name, immediately=True, request_id=rid()),
        metadata=billing.metadata,
    )
    assert canceled.status == sp.CANCELED
    final = billing.invoices_of(sub)[-1]
    assert final.total.amount_minor == 0
    assert {(line.price, line.quantity, line.amount.amount_minor) for line in final.lines} >= {
        ("prices/storage_usd", "0", 0),
        ("prices/api_calls_usd", "0", 0),
    }
    current = usage.GetCurrentUsage(
        up.GetCurrentUsageRequest(subscription=sub.name), metadata=billing.metadata
    )
    assert {m.metric: (m.quantity, m.amount.amount_minor) for m in current.metrics}[
        "storage_gb"
    ] == ("0", 0)

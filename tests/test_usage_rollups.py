"""Current usage from the daily rollups, over a real channel on SQLite and PostgreSQL.

The oracle is the event path: the quantities `domain.metering` gives from every event the
test sent (corrections included), and the usage lines the renewal invoice bills from the
events once the period has closed. The period starts mid-day (10:30 UTC), so its first and
last days are partial and events sit on both sides of every edge.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

import grpc
import pytest
import sqlalchemy as sa

from billing.domain.metering import Event, MetricSpec, aggregate, groups
from billing.store.schema import usage_rollups
from billing_client.v1 import usage_pb2 as up
from billing_client.v1 import usage_pb2_grpc
from billing_fixtures import Billing, rules, ts

METERING = """kind: metering
max_lateness_hours: 240
draft_grace_hours: 24
metrics:
  - {code: api_calls, aggregation: count}
  - {code: data_gb, aggregation: sum, field: gb}
  - {code: peak_gb, aggregation: max, field: gb}
  - {code: regional_calls, aggregation: count, group_by: [region]}
  - {code: eu_gb, aggregation: sum, field: gb, filters: {region: eu}}
  - {code: storage_gb, aggregation: time_weighted_sum, field: gb}
  - {code: payments, aggregation: sum, field: gb}
"""
SPECS = {
    "api_calls": MetricSpec("api_calls", "count"),
    "data_gb": MetricSpec("data_gb", "sum", "gb"),
    "peak_gb": MetricSpec("peak_gb", "max", "gb"),
    "regional_calls": MetricSpec("regional_calls", "count", group_by=("region",)),
    "eu_gb": MetricSpec("eu_gb", "sum", "gb", {"region": "eu"}),
    "storage_gb": MetricSpec("storage_gb", "time_weighted_sum", "gb"),
    "payments": MetricSpec("payments", "sum", "gb"),
}
PRICING = b"""kind: pricing
prices:
  - {code: team_seat_usd, name: Seat, model: per_unit, currency: USD, unit_amount: 8.00}
  - code: api_calls_usd
    name: API calls
    metric: api_calls
    model: graduated
    currency: USD
    tiers:
      - {up_to: 3, unit_amount: 1.00, flat_amount: 10.00}
      - {up_to: null, unit_amount: 0.35}
  - {code: data_usd, name: Data, metric: data_gb, model: per_unit, currency: USD, unit_amount: 2.05}
  - {code: peak_usd, name: Peak, metric: peak_gb, model: per_unit, currency: USD, unit_amount: 0.15}
  - code: regional_usd
    name: Regional calls
    metric: regional_calls
    model: graduated
    currency: USD
    tiers:
      - {up_to: 2, unit_amount: 1.00, flat_amount: 5.00}
      - {up_to: null, unit_amount: 0.50}
  - {code: eu_usd, name: EU data, metric: eu_gb, model: per_unit, currency: USD, unit_amount: 1.10}
  - {code: storage_usd, name: Storage, metric: storage_gb, model: per_unit, currency: USD, unit_amount: 0.10}
  - {code: payment_fees_usd, name: Fees, metric: payments, model: percentage, currency: USD, rate: 1.5, fixed_fee: 0.30}
"""
PLAN = """
  - code: metered_monthly
    name: Metered
    product: pro
    interval: month
    prices:
      - {currency: USD, amount: 30.00}
      - {currency: USD, price: api_calls_usd}
      - {currency: USD, price: data_usd}
      - {currency: USD, price: peak_usd}
      - {currency: USD, price: regional_usd}
      - {currency: USD, price: eu_usd}
      - {currency: USD, price: storage_usd}
      - {currency: USD, price: payment_fees_usd}
plan_changes:"""
START = datetime(2026, 4, 1, 10, 30, tzinfo=UTC)  # the subscription's first period: a month
END = datetime(2026, 5, 1, 10, 30, tzinfo=UTC)
# On both sides of each edge: the period's start and end, and the UTC days in between.
BEFORE_START = "2026-04-01T10:29:59.999999Z"
FIRST_DAY = ["2026-04-01T10:30:00Z", "2026-04-01T17:00:00Z", "2026-04-01T23:59:59.999999Z"]
SECOND_DAY = ["2026-04-02T00:00:00Z", "2026-04-02T08:15:00.5Z"]
LAST_DAYS = ["2026-04-30T23:59:59.999999Z", "2026-05-01T00:00:00Z", "2026-05-01T10:29:59.999999Z"]
AFTER_END = "2026-05-01T10:30:00Z"


def usage_rules(metering: str = METERING) -> dict[str, bytes]:
    files = rules()
    files["catalog.yaml"] = files["catalog.yaml"].decode().replace("plan_changes:", PLAN).encode()
    files["pricing.yaml"] = PRICING
    files["metering.yaml"] = metering.encode()
    return files


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class Scenario:
    """One subscription on a clock, and every event it was sent, as the oracle sees them."""

    billing: Billing
    usage: usage_pb2_grpc.UsageServiceStub
    clock: object
    sub: object
    now: datetime = START
    events: list[Event] = field(default_factory=list)
    serial: int = 0

    def advance(self, to: str) -> None:
        self.billing.advance(self.clock, to)  # type: ignore[arg-type]
        self.now = instant(to)

    def send(self, at: str, **values: dict[str, str]) -> dict[str, str]:
        """One event per metric at `at`, each with its properties; their ids by metric."""
        ids = {metric: f"ev-{self.serial}-{metric}" for metric in values}
        self.serial += 1
        batch = [
            up.UsageEvent(
                id=ids[metric],
                subscription=self.sub.name,  # type: ignore[attr-defined]
                metric=metric,
                timestamp=ts(at),
                properties=props,
            )
            for metric, props in values.items()
        ]
        reply = self.ingest(batch)
        assert reply.accepted == len(batch), reply
        self.events += [
            Event(ids[m], "sub", m, instant(at), dict(p), received_at=self.now)
            for m, p in values.items()
        ]
        return ids

    def ingest(self, batch: list[up.UsageEvent]) -> up.IngestUsageResponse:
        return self.usage.IngestUsage(
            up.IngestUsageRequest(events=batch), metadata=self.billing.metadata
        )

    def void(self, event_id: str) -> None:
        done = self.usage.VoidEvent(
            up.VoidEventRequest(event_id=event_id, request_id=uuid.uuid4().hex),
            metadata=self.billing.metadata,
        )
        self._corrected(done, event_id, {})

    def amend(self, event_id: str, **properties: str) -> None:
        done = self.usage.AmendEvent(
            up.AmendEventRequest(
                event_id=event_id, properties=properties, request_id=uuid.uuid4().hex
            ),
            metadata=self.billing.metadata,
        )
        self._corrected(done, event_id, properties)

    def _corrected(self, done: up.UsageEvent, event_id: str, properties: dict[str, str]) -> None:
        original = next(e for e in self.events if e.id == event_id)
        self.events.append(
            replace(
                original,
                id=done.id,
                properties=properties,
                corrects=event_id,
                correction=done.correction,
                received_at=self.now,
            )
        )

    def current(self) -> up.CurrentUsage:
        return self.usage.GetCurrentUsage(
            up.GetCurrentUsageRequest(subscription=self.sub.name),  # type: ignore[attr-defined]
            metadata=self.billing.metadata,
        )


def expected(events: list[Event], specs: dict[str, MetricSpec]) -> set[tuple[str, str, Decimal]]:
    """(metric, group, quantity) of every metric as the event path aggregates them."""
    found: set[tuple[str, str, Decimal]] = set()
    for code, spec in specs.items():
        if not spec.group_by:
            found.add((code, "", aggregate(spec, events, START, END)))
            continue
        for values in groups(spec, events, START, END):
            chosen = dict(zip(spec.group_by, values, strict=True))
            narrowed = replace(spec, filters={**(spec.filters or {}), **chosen}, group_by=())
            label = ",".join(f"{k}={v}" for k, v in chosen.items())
            found.add((code, label, aggregate(narrowed, events, START, END)))
    return found


def quantities(current: up.CurrentUsage) -> set[tuple[str, str, Decimal]]:
    return {(m.metric, m.group, Decimal(m.quantity)) for m in current.metrics}


def priced(current: up.CurrentUsage) -> list[tuple[str, Decimal, int]]:
    return sorted((m.price, Decimal(m.quantity), m.amount.amount_minor) for m in current.metrics)


def billed_usage(billing: Billing, sub: object) -> list[tuple[str, Decimal, int]]:
    """The usage lines the renewal invoice billed for [START, END), from the events."""
    lines = [
        line
        for invoice in billing.invoices_of(sub)  # type: ignore[arg-type]
        for line in invoice.lines
        if line.price
        and line.period_end.ToDatetime(tzinfo=UTC) == END
        and not line.description.startswith("Adjustment")
    ]
    return sorted((line.price, Decimal(line.quantity), line.amount.amount_minor) for line in lines)


@pytest.fixture
def scenario(channel, tenant) -> Scenario:
    billing = Billing(channel, tenant.metadata)
    billing.push(usage_rules())
    clock = billing.clock("2026-04-01T10:30:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    return Scenario(billing, usage_pb2_grpc.UsageServiceStub(channel), clock, sub)


def every_metric(gb: str, region: str | None) -> dict[str, dict[str, str]]:
    regional = {"region": region} if region is not None else {}
    return {
        "api_calls": {},
        "data_gb": {"gb": gb},
        "peak_gb": {"gb": gb},
        "regional_calls": regional,
        "eu_gb": {"gb": gb, **regional},
        "storage_gb": {"gb": gb},
        "payments": {"gb": gb.lstrip("-")},  # a percentage refuses negative amounts
    }


def send_month(s: Scenario) -> dict[str, dict[str, str]]:
    """Events on both sides of every edge, a late one and a resent batch; ids by timestamp."""
    ids: dict[str, dict[str, str]] = {}
    values = iter(["1.25", "0.5", "2.125", "-1.5", "7", "0.001", "3.75", "12", "0.25", "4"])
    regions = iter(["eu", "us", "eu", None, "eu", "us", "", "eu", "us", "eu"])
    for at in [BEFORE_START, *FIRST_DAY]:
        if at > "2026-04-01T10:35":
            s.advance("2026-04-02T00:00:00Z")
        ids[at] = s.send(at, **every_metric(next(values), next(regions)))
    s.advance("2026-04-03T00:00:00Z")
    for at in SECOND_DAY:
        ids[at] = s.send(at, **every_metric(next(values), next(regions)))
    s.advance("2026-04-20T00:00:00Z")
    late = "2026-04-12T06:00:00Z"  # eight days late, within max_lateness
    ids[late] = s.send(late, **every_metric(next(values), next(regions)))
    resent = s.ingest(
        [
            up.UsageEvent(id=event_id, subscription=s.sub.name, metric=metric, timestamp=ts(late))  # type: ignore[attr-defined]
            for metric, event_id in ids[late].items()
            if metric == "api_calls"
        ]
    )
    assert (resent.accepted, resent.duplicates) == (0, 1)
    s.advance("2026-05-01T10:29:00Z")
    for at in [*LAST_DAYS, AFTER_END]:
        ids[at] = s.send(at, **every_metric(next(values, "9.5"), next(regions, "us")))
    return ids


def test_current_usage_at_the_edges_equals_the_event_path(scenario, server):
    s = scenario
    send_month(s)
    current = s.current()
    assert quantities(current) == expected(s.events, SPECS)
    # Spot checks by hand: 9 of the 11 events fall in [10:30 April 1, 10:30 May 1).
    assert ("api_calls", "", Decimal(9)) in quantities(current)
    assert ("data_gb", "", Decimal("28.126")) in quantities(current)
    calls = next(m for m in current.metrics if m.metric == "api_calls")
    assert calls.amount.amount_minor == 1510  # 10.00 + 3 x 1.00 + 6 x 0.35
    assert _rollup_rows(server, s) > 0  # answered by rollups, not only the events
    s.advance("2026-05-02T11:00:00Z")  # renewal, then the draft grace: usage is billed
    assert billed_usage(s.billing, s.sub) == priced(current)


def test_corrections_change_current_usage_as_they_change_the_events(scenario):
    s = scenario
    ids = send_month(s)
    s.advance("2026-05-01T10:29:10Z")
    mid = SECOND_DAY[0]  # a whole day
    s.void(ids[mid]["data_gb"])
    s.void(ids[mid]["peak_gb"])  # this day's max: read again from its events
    s.amend(ids[SECOND_DAY[1]]["peak_gb"], gb="30")  # a new max
    s.amend(ids[mid]["regional_calls"], region="us")  # moves to another group
    s.amend(ids[mid]["eu_gb"], region="us", gb="1")  # leaves the filter
    s.amend(ids["2026-04-12T06:00:00Z"]["eu_gb"], region="eu", gb="2")  # stays, changes
    s.amend(ids[FIRST_DAY[0]]["data_gb"], gb="100")  # an edge event
    s.advance("2026-05-01T10:29:20Z")
    s.amend(ids[FIRST_DAY[0]]["data_gb"], gb="200")  # the latest amendment wins
    s.void(ids[LAST_DAYS[1]]["api_calls"])
    s.advance("2026-05-01T10:29:30Z")
    s.amend(ids[LAST_DAYS[1]]["api_calls"], note="after the void: ignored")
    s.void(ids[SECOND_DAY[1]]["regional_calls"])
    assert quantities(s.current()) == expected(s.events, SPECS)
    s.advance("2026-05-01T10:29:40Z")
    s.amend(ids[SECOND_DAY[1]]["peak_gb"], gb="0")  # the max goes down again
    current = s.current()
    assert quantities(current) == expected(s.events, SPECS)
    s.advance("2026-05-02T11:00:00Z")
    assert billed_usage(s.billing, s.sub) == priced(current)


def test_a_metric_redefined_mid_period_is_read_from_the_events(scenario):
    s = scenario
    send_month(s)
    redefined = METERING.replace(
        "{code: data_gb, aggregation: sum, field: gb}",
        "{code: data_gb, aggregation: sum, field: gb, filters: {region: eu}}",
    )
    s.billing.push(usage_rules(redefined))
    s.send("2026-05-01T10:29:30Z", data_gb={"gb": "5", "region": "eu"})
    specs = {**SPECS, "data_gb": MetricSpec("data_gb", "sum", "gb", {"region": "eu"})}
    assert quantities(s.current()) == expected(s.events, specs)


def test_an_amendment_must_keep_the_field_a_number(scenario):
    s = scenario
    ids = s.send("2026-04-01T10:31:00Z", data_gb={"gb": "1"})
    with pytest.raises(grpc.RpcError) as failure:
        s.amend(ids["data_gb"], gb="lots")
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("data_gb", "", Decimal(1)) in quantities(s.current())


def test_current_usage_reads_the_rollup_rows(scenario, server):
    # White-box: a row changed behind the server's back shows in the answer, so the whole
    # days really are read from the rollups.
    s = scenario
    s.send("2026-04-01T10:31:00Z", api_calls={})  # first, partial day: read from the events
    s.advance("2026-04-03T00:00:00Z")
    s.send("2026-04-02T12:00:00Z", api_calls={})  # a whole day: read from its row
    engine = sa.create_engine(server.database.sync_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.update(usage_rollups)
                .where(
                    usage_rollups.c.subscription_id == s.sub.name.split("/")[1],
                    usage_rollups.c.metric == "api_calls",
                )
                .values(count=usage_rollups.c.count + 40)
            )
    finally:
        engine.dispose()
    assert ("api_calls", "", Decimal(42)) in quantities(s.current())


def _rollup_rows(server, s: Scenario) -> int:  # type: ignore[no-untyped-def]
    engine = sa.create_engine(server.database.sync_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.scalar(
                    sa.select(sa.func.count()).where(
                        usage_rollups.c.subscription_id == s.sub.name.split("/")[1]  # type: ignore[attr-defined]
                    )
                )
                or 0
            )
    finally:
        engine.dispose()


def test_voiding_the_max_reads_its_day_again(scenario):
    s = scenario
    s.advance("2026-04-04T00:00:00Z")
    day = s.send("2026-04-02T06:00:00Z", peak_gb={"gb": "5"})
    top = s.send("2026-04-02T07:00:00Z", peak_gb={"gb": "9"})
    s.send("2026-04-03T06:00:00Z", peak_gb={"gb": "4"})

    def peak() -> Decimal:
        found = {q for m, _, q in quantities(s.current()) if m == "peak_gb"}
        assert found == {q for m, _, q in expected(s.events, SPECS) if m == "peak_gb"}
        return found.pop()

    assert peak() == 9
    s.void(top["peak_gb"])
    assert peak() == 5  # the rest of April 2
    s.advance("2026-04-04T00:01:00Z")
    s.amend(day["peak_gb"], gb="3")
    assert peak() == 4  # April 3 now
    s.send("2026-04-02T08:00:00Z", peak_gb={"gb": "6"})
    assert peak() == 6

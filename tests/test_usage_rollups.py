"""Current usage from the daily rollups, over a real channel on SQLite and PostgreSQL.

The oracle is a literal scenario: the quantities of every aggregation worked out by hand from
the events the test sends (corrections included, `EXPECTED`), and the usage lines the renewal
invoice bills from the events once the period has closed. The period starts mid-day (10:30
UTC), so its first and last days are partial and events sit on both sides of every edge.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import grpc
import pytest
import sqlalchemy as sa

from billing.domain.money import MONEY_CONTEXT
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


@dataclass
class Scenario:
    """One subscription on a clock."""

    billing: Billing
    usage: usage_pb2_grpc.UsageServiceStub
    clock: object
    sub: object
    serial: int = 0

    def advance(self, to: str) -> None:
        self.billing.advance(self.clock, to)  # type: ignore[arg-type]

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
        assert (done.corrects, done.correction) == (event_id, "void")

    def amend(self, event_id: str, **properties: str) -> None:
        done = self.usage.AmendEvent(
            up.AmendEventRequest(
                event_id=event_id, properties=properties, request_id=uuid.uuid4().hex
            ),
            metadata=self.billing.metadata,
        )
        assert (done.corrects, done.correction) == (event_id, "amend")

    def current(self) -> up.CurrentUsage:
        return self.usage.GetCurrentUsage(
            up.GetCurrentUsageRequest(subscription=self.sub.name),  # type: ignore[attr-defined]
            metadata=self.billing.metadata,
        )


Quantities = set[tuple[str, str, Decimal]]  # (metric, group, quantity)

# The period of `send_month`, by hand. Its events, in time order (gb, region; regional_calls
# carries only the region, api_calls nothing; payments the gb without its sign):
#   e1 04-01 10:29:59.999999  1.25  eu   before the period: outside, but the level storage starts at
#   e2 04-01 10:30:00         0.5   us   at 0 s of the period
#   e3 04-01 17:00:00         2.125 eu   at 23,400 s
#   e4 04-01 23:59:59.999999  -1.5  -    (no region) at 48,599 s (whole seconds, floored)
#   e5 04-02 00:00:00         7     eu   at 48,600 s
#   e6 04-02 08:15:00.5       0.001 us   at 78,300 s
#   e7 04-12 06:00:00         3.75  ""   at 934,200 s (sent eight days late)
#   e8 04-30 23:59:59.999999  12    eu   at 2,554,199 s
#   e9 05-01 00:00:00         0.25  us   at 2,554,200 s
#   e10 05-01 10:29:59.999999 4     eu   at 2,591,999 s
#   e11 05-01 10:30:00        9.5   us   after the period
# of a 30-day period: 2,592,000 s. Time-weighted, the level times its seconds:
#   1.25*0 + 0.5*23,400 + 2.125*25,199 - 1.5*1 + 7*29,700 + 0.001*855,900 + 3.75*1,619,999
#   + 12*1 + 0.25*37,799 + 4*1 = 11,700 + 53,547.875 - 1.5 + 207,900 + 855.9 + 6,074,996.25
#   + 12 + 9,449.75 + 4 = 6,358,464.275 GB-seconds, over 2,592,000 s.
STORAGE = MONEY_CONTEXT.divide(Decimal("6358464.275"), Decimal(2_592_000))
EXPECTED: Quantities = {
    ("api_calls", "", Decimal(9)),  # e2..e10
    # 0.5 + 2.125 - 1.5 + 7 + 0.001 + 3.75 + 12 + 0.25 + 4
    ("data_gb", "", Decimal("28.126")),
    ("peak_gb", "", Decimal(12)),  # e8
    ("regional_calls", "region=eu", Decimal(4)),  # e3, e5, e8, e10
    ("regional_calls", "region=us", Decimal(3)),  # e2, e6, e9
    ("regional_calls", "region=", Decimal(2)),  # e4 (no region reads as ""), e7
    ("eu_gb", "", Decimal("25.125")),  # 2.125 + 7 + 12 + 4
    ("storage_gb", "", STORAGE),
    ("payments", "", Decimal("31.126")),  # 28.126 with e4 as +1.5: 3 more
}


def expecting(changes: Quantities) -> Quantities:
    """EXPECTED with the quantities of `changes` (by metric and group) replaced."""
    changed = {(metric, group) for metric, group, _ in changes}
    return {q for q in EXPECTED if (q[0], q[1]) not in changed} | changes


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
    assert quantities(current) == EXPECTED
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
    corrected = {
        ("api_calls", "", Decimal(8)),  # e9 voided
        # e5's 7 voided, e2's 0.5 now 200: 28.126 - 7 - 0.5 + 200
        ("data_gb", "", Decimal("220.626")),
        ("peak_gb", "", Decimal(30)),  # e6 amended to 30 (e5's 7 voided)
        ("regional_calls", "region=eu", Decimal(3)),  # e3, e8, e10: e5 moved to us
        ("regional_calls", "region=us", Decimal(3)),  # e2, e5, e9: e6 voided
        ("eu_gb", "", Decimal("20.125")),  # e5 left the filter, e7 joined: 2.125 + 2 + 12 + 4
    }
    assert quantities(s.current()) == expecting(corrected)
    s.advance("2026-05-01T10:29:40Z")
    s.amend(ids[SECOND_DAY[1]]["peak_gb"], gb="0")  # the max goes down again
    current = s.current()
    # 0.5, 2.125, -1.5, 0, 3.75, 12, 0.25, 4: e8's 12 again.
    peak_again = {q for q in corrected if q[0] != "peak_gb"} | {("peak_gb", "", Decimal(12))}
    assert quantities(current) == expecting(peak_again)
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
    # The month's data_gb events carry no region: only the new one passes the filter.
    assert quantities(s.current()) == expecting({("data_gb", "", Decimal(5))})


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
        [found] = [q for m, _, q in quantities(s.current()) if m == "peak_gb"]
        return found

    assert peak() == 9
    s.void(top["peak_gb"])
    assert peak() == 5  # the rest of April 2
    s.advance("2026-04-04T00:01:00Z")
    s.amend(day["peak_gb"], gb="3")
    assert peak() == 4  # April 3 now
    s.send("2026-04-02T08:00:00Z", peak_gb={"gb": "6"})
    assert peak() == 6


def test_group_values_of_any_text_round_trip_through_the_rollup_rows(scenario, server):
    # The rollup upsert sends its columns as array literals: quotes, backslashes, commas,
    # braces, the word NULL and non-ASCII text must come back as sent.
    s = scenario
    regions = ['e"u', "a\\b", "x,y", "{z}", "NULL", "", "ü ✓", "  spaced "]
    s.advance("2026-04-03T00:00:00Z")
    for n, region in enumerate(regions):
        for _ in range(n + 1):
            s.send("2026-04-02T12:00:00Z", regional_calls={"region": region})
    assert _rollup_rows(server, s) == len(regions)
    got = {(m, g, q) for m, g, q in quantities(s.current()) if m == "regional_calls"}
    assert got == {
        ("regional_calls", f"region={region}", Decimal(n + 1)) for n, region in enumerate(regions)
    }

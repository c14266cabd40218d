"""The usage example in rules/examples/usage (levels that carry: latest_ever seats and
time-weighted storage), over a real channel on SQLite and PostgreSQL, billing the figures its
README gives."""

from __future__ import annotations

import uuid

from billing.rules.json_schema import json_schemas
from billing_client.v1 import usage_pb2 as up
from billing_client.v1 import usage_pb2_grpc
from billing_fixtures import Billing, ts
from conftest import REPO_RULES, rule_files

EXAMPLE = REPO_RULES / "examples" / "usage"


def test_the_usage_example_bills_the_readme_figures(channel, tenant):
    billing = Billing(channel, tenant.metadata)
    pushed = billing.push(rule_files(EXAMPLE))
    assert list(pushed.warnings) == []
    usage = usage_pb2_grpc.UsageServiceStub(channel)
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "team_monthly")

    def report(at: str, metric: str, **props: str) -> None:
        billing.advance(clock, at)
        event = up.UsageEvent(
            id=uuid.uuid4().hex,
            subscription=sub.name,
            metric=metric,
            timestamp=ts(at),
            properties=props,
        )
        answer = usage.IngestUsage(up.IngestUsageRequest(events=[event]), metadata=billing.metadata)
        assert answer.accepted == 1, answer

    report("2026-04-10T00:00:00Z", "seats", count="3")
    report("2026-04-16T00:00:00Z", "storage_gb", gb="100")
    report("2026-06-20T00:00:00Z", "seats", count="5")
    billing.advance(clock, "2026-07-01T00:00:00Z")

    def lines(invoice) -> list[tuple[str, str, int]]:  # type: ignore[no-untyped-def]
        return [(ln.price, ln.quantity, ln.amount.amount_minor) for ln in invoice.lines]

    invoices = billing.invoices_of(sub)
    # The README's table: seats 3, 3, 5 at 5.00; storage 50, 100, 100 GB-months at 0.10;
    # 20.00 for the plan each month.
    assert [lines(i)[1:] for i in invoices[1:]] == [
        [("prices/seats_usd", "3", 1500), ("prices/storage_usd", "50", 500)],
        [("prices/seats_usd", "3", 1500), ("prices/storage_usd", "100", 1000)],
        [("prices/seats_usd", "5", 2500), ("prices/storage_usd", "100", 1000)],
    ]
    assert [i.total.amount_minor for i in invoices] == [2000, 4000, 4500, 5500]


def test_the_metering_json_schema_offers_every_aggregation():
    # What editors validate against: the aggregations the rules accept, latest_ever included.
    metric = json_schemas()["metering"]["properties"]["metrics"]["items"]
    assert metric["properties"]["aggregation"]["enum"] == [
        "count",
        "sum",
        "max",
        "unique_count",
        "latest",
        "latest_ever",
        "time_weighted_sum",
    ]
    assert (
        "latest_ever (the period's last value, else"
        in (metric["properties"]["aggregation"]["description"])
    )

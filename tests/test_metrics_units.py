"""The metrics' pieces without a server (ADR 0061): business counters from committed outbox
events and usage outcomes, bounded labels, the metrics setting, each worker's port."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from billing.app.records import OutboxEvent
from billing.app.usage_intake import Outcome
from billing.config import Settings, SettingsError
from billing.observability.metrics import worker_listen
from billing.observability.metrics.backlog import id_time
from billing.observability.metrics.business import LABEL_VALUES_MAX, BusinessMetrics

AT = datetime(2026, 1, 1, tzinfo=UTC)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def event(kind: str, **payload: object) -> OutboxEvent:
    return OutboxEvent("evt_1", "t1", kind, "x/1", dict(payload), AT)


def test_finalized_invoices_and_payment_attempts_are_counted_by_bounded_labels() -> None:
    registry = CollectorRegistry()
    metrics = BusinessMetrics(registry)
    metrics.committed(
        [
            event("invoice.finalized", currency="USD", total_minor=3000),
            event("invoice.finalized", currency="USD", total_minor=1250),
            event("invoice.finalized", currency="JPY", total_minor=500),
            event("invoice.finalized", currency="EUR", total_minor=0),  # counted, adds nothing
            event("invoice.finalized", currency="usd; drop", total_minor=7),  # not a code
            event("invoice.payment_due", currency="USD", amount_due_minor=3000),  # not counted
            event("payment_attempt.succeeded", gateway="stripe"),
            event("payment_attempt.failed", gateway="stripe"),
            event("payment_attempt.failed", gateway="adyen"),
            event("payment_attempt.weird", gateway="adyen"),
            event("payment_attempt.unknown", gateway={"not": "a name"}),
        ]
    )
    finalized, minor = (
        "billing_invoices_finalized_total",
        "billing_invoices_finalized_amount_minor_total",
    )
    assert sample(registry, finalized, currency="USD") == 2
    assert sample(registry, minor, currency="USD") == 4250
    assert sample(registry, finalized, currency="JPY") == 1
    assert sample(registry, minor, currency="JPY") == 500
    assert sample(registry, finalized, currency="EUR") == 1
    assert sample(registry, minor, currency="EUR") is None
    assert sample(registry, finalized, currency="other") == 1
    attempts = "billing_payment_attempts_total"
    assert sample(registry, attempts, gateway="stripe", outcome="succeeded") == 1
    assert sample(registry, attempts, gateway="stripe", outcome="failed") == 1
    assert sample(registry, attempts, gateway="adyen", outcome="failed") == 1
    assert sample(registry, attempts, gateway="adyen", outcome="other") == 1
    assert sample(registry, attempts, gateway="other", outcome="unknown") == 1


def test_a_label_keeps_at_most_its_bound_of_values() -> None:
    registry = CollectorRegistry()
    metrics = BusinessMetrics(registry)
    codes = [f"{chr(65 + i // 26)}{chr(65 + i % 26)}X" for i in range(LABEL_VALUES_MAX + 10)]
    metrics.committed([event("invoice.finalized", currency=c, total_minor=1) for c in codes])
    text = generate_latest(registry).decode()
    series = [
        line for line in text.splitlines() if line.startswith("billing_invoices_finalized_total{")
    ]
    assert len(series) == LABEL_VALUES_MAX + 1  # the first 64, then "other" for the rest
    assert sample(registry, "billing_invoices_finalized_total", currency="other") == 10


def test_a_bad_event_never_raises_into_the_write() -> None:
    registry = CollectorRegistry()
    metrics = BusinessMetrics(registry)
    broken = OutboxEvent("evt_1", "t1", "invoice.finalized", "x", None, AT)  # type: ignore[arg-type]
    metrics.committed([broken, event("invoice.finalized", currency="USD", total_minor=5)])
    assert sample(registry, "billing_invoices_finalized_total", currency="USD") == 1


def test_usage_outcomes_are_counted_per_batch() -> None:
    registry = CollectorRegistry()
    metrics = BusinessMetrics(registry)
    events = "billing_usage_events_total"
    assert [sample(registry, events, outcome=o) for o in ("accepted", "duplicate", "refused")] == [
        0,
        0,
        0,
    ]
    metrics.ingested(
        [
            Outcome(0, "a", "accepted"),
            Outcome(1, "b", "accepted"),
            Outcome(2, "a", "duplicate"),
            Outcome(3, "c", "refused", "unknown metric"),
        ]
    )
    metrics.ingested([])
    assert [sample(registry, events, outcome=o) for o in ("accepted", "duplicate", "refused")] == [
        2,
        1,
        1,
    ]


def test_event_ids_carry_the_wall_time_they_were_made() -> None:
    assert id_time("evt_01KBT3V4W0Z7Q8Y9X6V5T4S3R2") == datetime(
        2025, 12, 6, 15, 17, 47, 520000, tzinfo=UTC
    )
    assert id_time("evt_not-a-ulid") is None


@pytest.mark.parametrize(
    ("listen", "worker", "expected"),
    [
        ("0.0.0.0:9464", 0, "0.0.0.0:9464"),
        ("0.0.0.0:9464", 3, "0.0.0.0:9467"),
        ("127.0.0.1:0", 2, "127.0.0.1:0"),
        ("[::1]:9464", 1, "[::1]:9465"),
        ("", 1, ""),
    ],
)
def test_each_worker_has_a_metrics_port_of_its_own(listen: str, worker: int, expected: str) -> None:
    assert worker_listen(listen, worker) == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"metrics_listen": "9464"}, "BILLING_METRICS_LISTEN must be host:port"),
        ({"metrics_listen": "0.0.0.0:x"}, "BILLING_METRICS_LISTEN must be host:port"),
        (
            {"metrics_listen": "0.0.0.0:65535", "workers": 2, "database_url": "postgresql://x/y"},
            "port + processes - 1 at most 65535",
        ),
        (
            {"metrics_listen": "127.0.0.1:50051", "listen": "127.0.0.1:50051"},
            "must differ from BILLING_LISTEN",
        ),
    ],
)
def test_the_metrics_setting_is_checked(values: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("+", r"\+")):
        Settings(**values).check()  # type: ignore[arg-type]


def test_metrics_are_off_by_default() -> None:
    assert Settings.from_env({}).metrics_listen == ""
    assert Settings.from_env({"BILLING_METRICS_LISTEN": "0.0.0.0:9464"}).metrics_listen == (
        "0.0.0.0:9464"
    )

"""The per-event steps of ingestion that are written out by hand for speed."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf import timestamp_pb2

from billing.api.usage import incoming, utc_instant
from billing.app.usage_intake import BodyHasher, IncomingEvent, MeteringTerms
from billing.bench.usage_setup import METERING, METERING_FILE, USAGE_FILES
from billing.domain.errors import InvalidArgument
from billing.domain.subscriptions import MeteredSubscription, Status
from billing.rules import load_rule_set_from_files
from billing.rules.model import RuleSet
from billing_client.v1 import usage_pb2


def reference_hash(e: IncomingEvent) -> bytes:
    """How body hashes were made (and stored) before: json.dumps with sorted keys."""
    body = {
        "subscription": e.subscription,
        "customer": e.customer,
        "metric": e.metric,
        "timestamp": e.timestamp.isoformat() if e.timestamp else None,
        "properties": dict(sorted(e.properties.items())),
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).digest()


@pytest.mark.parametrize(
    "event",
    [
        IncomingEvent("e1", "subscriptions/sub_1", "", "api_calls", None),
        IncomingEvent(
            "e2", "", "customers/cus_1", "data_gb", datetime(2026, 4, 1, 12, 30, 1, 5, tzinfo=UTC)
        ),
        IncomingEvent(
            "e3",
            'subscriptions/"quoted"\\',
            "ünï\n\tcødé ✓ \U0001f600",
            "m",
            datetime(2026, 4, 1, tzinfo=timezone(timedelta(hours=2))),
            {"z": "1", "a": 'x"y\\z', "ü": "\x00\x1f", "": ""},
        ),
    ],
)
def test_the_body_hash_is_the_one_json_dumps_gave(event: IncomingEvent) -> None:
    assert event.body_hash() == reference_hash(event)


def test_a_batchs_body_hashes_are_the_ones_json_dumps_gave() -> None:
    """BodyHasher keeps the head of each (customer, metric, subscription) within a batch:
    events sharing it, with and without properties and timestamps, hash as before."""
    at = datetime(2026, 4, 1, 12, 30, 1, 5, tzinfo=UTC)
    events = [
        IncomingEvent("e1", "subscriptions/sub_1", "", "api_calls", at),
        IncomingEvent("e2", "subscriptions/sub_1", "", "api_calls", at + timedelta(seconds=1)),
        IncomingEvent("e3", "subscriptions/sub_1", "", "api_calls", None),
        IncomingEvent("e4", "subscriptions/sub_1", "", "api_calls", at, {"region": "eu"}),
        IncomingEvent("e5", "subscriptions/sub_2", "", "api_calls", at),
        IncomingEvent("e6", "", "customers/cus_1", "api_calls", at),
        IncomingEvent("e7", "subscriptions/sub_1", "", "data_gb", at),
        IncomingEvent("e8", 'subscriptions/"ü"\\', "", "api_calls", at),
        IncomingEvent("e9", 'subscriptions/"ü"\\', "", "api_calls", at),
    ]
    hashed = BodyHasher()
    for event in events:
        digest, at_text = hashed(event)
        assert digest == reference_hash(event), event.id
        assert at_text == (event.timestamp.isoformat() if event.timestamp else "")


@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [(0, 0), (1_776_000_000, 999_999_999), (-62_135_596_800, 0), (253_402_300_799, 1_500)],
)
def test_timestamps_read_as_protobuf_reads_them(seconds: int, nanos: int) -> None:
    stamp = timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)
    message = usage_pb2.UsageEvent(id="e", metric="m", timestamp=stamp)
    assert incoming(message).timestamp == stamp.ToDatetime(tzinfo=UTC)


def test_the_edges_instant_and_text_are_protobufs_and_isoformats() -> None:
    """utc_instant keeps each minute's start and text: over random instants (clustered, so
    minutes are found kept, and spread over the whole range), with and without micros, and
    past the point where the kept minutes are dropped."""
    rng = random.Random(12)
    base = 1_776_000_000
    cases = [(base + rng.randrange(0, 600), 0) for _ in range(2_000)]
    cases += [(base + rng.randrange(0, 600), rng.randrange(1, 1_000_000)) for _ in range(2_000)]
    cases += [(rng.randrange(-62_135_596_800, 253_402_300_800), 0) for _ in range(6_000)]
    cases += [(-62_135_596_800, 0), (253_402_300_799, 999_999), (-1, 1), (0, 0), (59, 0)]
    for seconds, micros in cases:
        at, text = utc_instant(seconds, micros)
        stamp = timestamp_pb2.Timestamp(seconds=seconds, nanos=micros * 1000)
        assert at == stamp.ToDatetime(tzinfo=UTC), (seconds, micros)
        assert text == at.isoformat(), (seconds, micros)
        assert at.tzinfo is UTC


def test_events_read_at_the_edge_hash_as_json_dumps_gave() -> None:
    hashed = BodyHasher()
    for seconds, nanos in [(1_776_000_000, 0), (1_776_000_061, 5_000), (0, 999_999_999)]:
        message = usage_pb2.UsageEvent(
            id="e",
            subscription="subscriptions/sub_1",
            metric="m",
            timestamp=timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos),
        )
        event = incoming(message)
        assert event.timestamp_text == event.timestamp.isoformat()
        assert hashed(event) == (reference_hash(event), event.timestamp_text)
        assert event.body_hash() == reference_hash(event)


def test_an_invalid_timestamp_is_invalid_argument() -> None:
    # The edge refuses it first (test_request_limits); the converter stands guard as well.
    message = usage_pb2.UsageEvent(id="e", metric="m")
    message.timestamp.nanos = -1
    with pytest.raises(InvalidArgument, match="nanos must be in"):
        incoming(message)


def test_an_event_without_a_timestamp_has_none() -> None:
    assert incoming(usage_pb2.UsageEvent(id="e", metric="m")).timestamp is None


def _usage_rules(metering: bytes = METERING) -> RuleSet:
    files = {**USAGE_FILES, METERING_FILE: metering}
    return load_rule_set_from_files(files, {"pricing_model": {"graduated", "per_unit"}})


def _metered(plan: str, currency: str = "USD") -> MeteredSubscription:
    start = datetime(2026, 4, 1, tzinfo=UTC)
    return MeteredSubscription("sub_1", Status.ACTIVE, None, plan, currency, start, None)


def test_metering_terms_are_the_rules_own_and_kept_per_compiled_rule_set() -> None:
    terms = MeteringTerms()
    rules = _usage_rules()
    calls = terms.metric(rules, "api_calls")
    assert (calls.field, calls.plain) == (None, True)
    assert terms.metric(rules, "api_calls") is calls  # kept
    assert terms.metric(rules, "data_gb").field == "gb"
    priced, by_amounts = terms.priced(rules, _metered("metered_monthly"))
    assert priced == {"api_calls", "data_gb", "storage_gb"} and by_amounts == frozenset()
    assert terms.priced(rules, _metered("metered_monthly", "EUR")) == (frozenset(), frozenset())
    # Other rules (another compiled object): their own answers, not the ones kept.
    counted_by_field = METERING.replace(
        b"{code: api_calls, aggregation: count}", b"{code: api_calls, aggregation: sum, field: n}"
    )
    changed = _usage_rules(counted_by_field)
    assert terms.metric(changed, "api_calls").field == "n"
    assert terms.metric(rules, "api_calls") is calls

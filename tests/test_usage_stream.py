"""StreamUsage stays bounded (ADR 0022): a small answer however long the stream, a cap on
events per stream and per message, and refused events with bad fields answered briefly."""

from __future__ import annotations

import grpc
import pytest

import billing.app.usage as usage_module
from billing.app.usage_intake import Outcome
from billing.app.usage_tally import REFUSED_LISTED_MAX, echoed
from billing_client.v1 import usage_pb2 as up
from billing_client.v1 import usage_pb2_grpc
from billing_fixtures import Billing, ts
from grpc_helpers import error_info
from test_usage_api import event, spread, usage_rules

CHUNK = 500


@pytest.fixture
def billing(channel, tenant) -> Billing:  # type: ignore[no-untyped-def]
    b = Billing(channel, tenant.metadata)
    b.push(usage_rules())
    return b


@pytest.fixture
def usage(channel) -> usage_pb2_grpc.UsageServiceStub:  # type: ignore[no-untyped-def]
    return usage_pb2_grpc.UsageServiceStub(channel)


def metered(billing):  # type: ignore[no-untyped-def]
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    billing.advance(clock, "2026-04-20T00:00:00Z")
    return sub


def messages(events: list[up.UsageEvent]) -> list[up.StreamUsageRequest]:
    return [
        up.StreamUsageRequest(events=events[i : i + CHUNK]) for i in range(0, len(events), CHUNK)
    ]


def test_a_long_stream_is_answered_with_counts_and_the_first_refused_events(
    billing,
    usage,
):
    """Was: one EventResult per event for the whole stream (memory and reply grew with it)."""
    sub = metered(billing)
    total = 20_000
    times = spread("2026-04-15T00:00:00Z", total, hours=0)
    events = [
        event(sub, "bogus" if i % 13 == 0 else "api_calls", t, f"long-{i}")
        for i, t in enumerate(times)
    ]
    refused = list(range(0, total, 13))  # 1,539 events

    reply = usage.StreamUsage(iter(messages(events)), metadata=billing.metadata)

    assert (reply.accepted, reply.duplicates, reply.refused) == (total - 1539, 0, 1539)
    assert reply.refused_unlisted == 1539 - REFUSED_LISTED_MAX == 539
    assert [r.index for r in reply.results] == refused[:REFUSED_LISTED_MAX]
    assert {r.outcome for r in reply.results} == {up.EventResult.REFUSED}
    assert reply.results[1].id == "long-13"
    assert reply.results[1].reason == "unknown metric 'bogus'"
    assert reply.ByteSize() < 100_000  # ~1,000 short results, not 20,000

    again = usage.StreamUsage(iter(messages(events)), metadata=billing.metadata)
    assert (again.accepted, again.duplicates, again.refused) == (0, total - 1539, 1539)
    assert [r.index for r in again.results] == refused[:REFUSED_LISTED_MAX]


def test_refused_events_with_bad_fields_are_answered_by_index(billing, usage):
    sub = metered(billing)
    at = "2026-04-15T00:00:00Z"
    no_time = up.UsageEvent(id="no-time", subscription=sub.name, metric="api_calls")
    bad_sub = up.UsageEvent(
        id="bad-sub", subscription="subscriptions/nope", metric="api_calls", timestamp=ts(at)
    )
    events = [
        event(sub, "api_calls", at, "ok-0"),
        event(sub, "m" * 128, at, "long-metric"),
        no_time,
        bad_sub,
        event(sub, "data_gb", at, "nan", gb="lots"),
        up.UsageEvent(id="", subscription=sub.name, metric="api_calls", timestamp=ts(at)),
        event(sub, "api_calls", at, "ok-6"),
    ]

    reply = usage.StreamUsage(iter(messages(events)), metadata=billing.metadata)

    counts = (reply.accepted, reply.duplicates, reply.refused, reply.refused_unlisted)
    assert counts == (2, 0, 5, 0)
    got = [(r.index, r.id, r.reason) for r in reply.results]
    assert got[3][2].startswith("property 'gb' of event nan is not a number")
    assert got == [
        (1, "long-metric", "unknown metric '" + "m" * 128 + "'"),
        (2, "no-time", "timestamp is required"),
        (3, "bad-sub", "subscription 'subscriptions/nope' is not subscriptions/sub_<ULID>"),
        (4, "nan", got[3][2]),
        (5, "", "id must be 1 to 128 characters"),
    ]


def test_an_answer_cuts_long_ids_and_reasons() -> None:
    """The edge refuses such ids and metrics today; the answer does not rely on it."""
    long = Outcome(3, "x" * 5_000, "refused", "unknown metric '" + "m" * 10_000 + "'")
    cut = echoed(long)
    assert (cut.position, cut.id, cut.outcome) == (3, "x" * 128 + "…", "refused")
    assert cut.reason == ("unknown metric '" + "m" * 10_000)[:255] + "…"
    short = Outcome(4, "ok", "refused", "why")
    assert echoed(short) is short


@pytest.fixture
def stream_cap(monkeypatch: pytest.MonkeyPatch) -> int:
    cap = 2_500
    monkeypatch.setattr(usage_module, "STREAM_EVENTS_MAX", cap)
    return cap


def test_a_stream_past_its_cap_ends_after_keeping_the_events_before(
    billing,
    usage,
    stream_cap,
):
    sub = metered(billing)
    times = spread("2026-04-15T00:00:00Z", 3_000, hours=0)
    events = [event(sub, "api_calls", t, f"cap-{i}") for i, t in enumerate(times)]
    events[7].metric = "bogus"

    with pytest.raises(grpc.RpcError) as failed:
        usage.StreamUsage(iter(messages(events)), metadata=billing.metadata)

    assert failed.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert failed.value.details() == (
        "a stream takes at most 2,500 events; the first 2,500 were processed and are kept"
        " (2,499 accepted, 0 duplicates, 1 refused); send the rest on a new stream"
    )
    info = error_info(failed.value)
    assert info.reason == "STREAM_TOO_LONG"
    assert dict(info.metadata) == {
        "max_events": "2500",
        "accepted": "2499",
        "duplicates": "0",
        "refused": "1",
    }
    # The events before the cap were committed; the ones after were not read.
    rest = usage.StreamUsage(iter(messages(events[2_000:])), metadata=billing.metadata)
    assert (rest.accepted, rest.duplicates, rest.refused) == (500, 500, 0)
    # A stream of exactly the cap is answered as usual.
    exact = usage.StreamUsage(iter(messages(events[:stream_cap])), metadata=billing.metadata)
    assert (exact.accepted, exact.duplicates, exact.refused) == (0, 2_499, 1)
    assert [(r.index, r.id) for r in exact.results] == [(7, "cap-7")]


def test_a_message_of_too_many_events_is_refused(billing, usage):
    sub = metered(billing)
    big = up.StreamUsageRequest(
        events=[event(sub, "api_calls", "2026-04-15T00:00:00Z", f"big-{i}") for i in range(10_001)]
    )

    with pytest.raises(grpc.RpcError) as failed:
        usage.StreamUsage(iter([big]), metadata=billing.metadata)

    assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert failed.value.details() == (
        "invalid request: [0].events: must have at most 10000 entries (got 10001)"
    )

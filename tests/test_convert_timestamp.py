"""`convert.timestamp` gives what protobuf's `Timestamp.FromDatetime` gives, for any instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from google.protobuf import timestamp_pb2
from hypothesis import given
from hypothesis import strategies as st

from billing.api.convert import timestamp


def _protobufs(instant: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(instant)
    return ts


offsets = st.integers(min_value=-23 * 60, max_value=23 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets)
)
def test_an_aware_instant_converts_as_protobuf_converts_it(instant):
    assert timestamp(instant) == _protobufs(instant)


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
def test_a_naive_instant_is_read_as_utc_as_protobuf_reads_it(instant):
    assert timestamp(instant) == _protobufs(instant)


def test_before_the_epoch_nanos_stay_positive():
    ts = timestamp(datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC))
    assert (ts.seconds, ts.nanos) == (-1, 500_000_000)

"""The `clock 24 months` scenario: a timed run, not load under concurrency.

One clock carries S subscriptions, all started at 2026-04-01. One AdvanceClock call moves it
to 2028-04-01, which renews each of them 24 times; the call streams progress until all of
that is done. The wall time of the whole call (request sent to stream ended) is measured,
the final message must say finished with done == 24 x S, and the row reports renewals/s.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc

from billing.bench.load import CLOCK_RUN
from billing.bench.report import Row
from billing.bench.subscription_load import CLOCK_START, timestamp
from billing_client.v1 import clocks_pb2, clocks_pb2_grpc

MONTHS = 24
CLOCK_END = datetime(2028, 4, 1, tzinfo=UTC)
TIMEOUT_BASE_S = 60.0
TIMEOUT_PER_RENEWAL_S = 0.25  # generous: bounds a stuck run, never a slow one


@dataclass(frozen=True)
class ClockRun:
    subscriptions: int
    seconds: float  # wall time of the AdvanceClock call
    messages: int  # progress messages received
    done: int  # `done` of the last message (0 if none came)
    finished: bool  # `finished` of the last message
    error_code: str = ""  # the status code when the call itself failed
    error_message: str = ""

    @property
    def expected(self) -> int:
        return MONTHS * self.subscriptions

    @property
    def verified(self) -> bool:
        return not self.error_code and self.finished and self.done == self.expected


def advance(target: str, metadata: tuple[tuple[str, str], ...], clock: str, subs: int) -> ClockRun:
    """Advance `clock` from CLOCK_START to CLOCK_END, reading the stream to its end."""
    request = clocks_pb2.AdvanceClockRequest(
        name=clock, to=timestamp(CLOCK_END), request_id=uuid.uuid4().hex
    )
    timeout = TIMEOUT_BASE_S + TIMEOUT_PER_RENEWAL_S * MONTHS * subs
    messages, done, finished = 0, 0, False
    code, details = "", ""
    with grpc.insecure_channel(target) as channel:
        stub = clocks_pb2_grpc.ClockServiceStub(channel)
        start = time.perf_counter()
        try:
            for progress in stub.AdvanceClock(request, metadata=metadata, timeout=timeout):
                messages += 1
                done, finished = int(progress.done), bool(progress.finished)
        except grpc.RpcError as exc:
            code = exc.code().name if isinstance(exc, grpc.Call) else type(exc).__name__
            details = str(exc.details()) if isinstance(exc, grpc.Call) else str(exc)
        seconds = time.perf_counter() - start
    return ClockRun(subs, seconds, messages, done, finished, code, details)


def to_row(run: ClockRun, *, db: str, server_processes: int, tracing: bool) -> Row:
    errors: dict[str, str] = {}
    if run.error_code:
        errors[run.error_code] = run.error_message
    elif not run.verified:
        errors["UNVERIFIED"] = (
            f"final message finished={str(run.finished).lower()} done={run.done}"
            f" after {run.messages} message(s); expected finished=true done={run.expected}"
        )
    span = f"{CLOCK_START:%Y-%m-%d} -> {CLOCK_END:%Y-%m-%d}"
    return Row(
        scenario=CLOCK_RUN,
        db=db,
        server_processes=server_processes,
        load_processes=1,
        concurrency=1,
        tracing=tracing,
        seconds=run.seconds,
        calls=run.done,
        calls_per_s=run.done / run.seconds if run.seconds > 0 else 0.0,
        p50_ms=None,
        p95_ms=None,
        p99_ms=None,
        errors=len(errors),
        error_codes=dict.fromkeys(errors, 1),
        error_messages=errors,
        timed=True,
        note=(
            f"one AdvanceClock {span} over {run.subscriptions} subscriptions:"
            f" {run.done:,} of {run.expected:,} renewals in {run.seconds:.2f} s total"
            f" ({run.messages} progress messages); calls/s = renewals/s"
        ),
    )

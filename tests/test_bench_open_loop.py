"""The bench's open loop keeps its schedule: a slow server shows as latency, not as fewer calls."""

from __future__ import annotations

import asyncio
import time

from billing.bench import open_loop


def run(service_s: float, rate: float, max_in_flight: int, window_s: float) -> open_loop.Paced:
    async def call(_n: int) -> None:
        await asyncio.sleep(service_s)

    async def main() -> open_loop.Paced:
        start = time.perf_counter_ns()
        return await open_loop.run(
            call,
            rate_per_s=rate,
            start_ns=start,
            measure_start_ns=start,
            end_ns=start + int(window_s * 1e9),
            max_in_flight=max_in_flight,
            max_calls=10_000,
            classify=open_loop.classify,
        )

    return asyncio.run(main())


def test_calls_are_sent_on_schedule_while_earlier_ones_run() -> None:
    paced = run(service_s=0.05, rate=100, max_in_flight=50, window_s=0.3)
    assert paced.issued == 30  # 100/s for 0.3 s, whatever the 50 ms each call takes
    assert not paced.errors and paced.cap_waits == 0
    assert min(paced.latencies) >= 50_000_000


def test_a_server_that_falls_behind_shows_as_latency_and_unsent_calls() -> None:
    paced = run(service_s=0.05, rate=100, max_in_flight=1, window_s=0.3)
    assert paced.cap_waits > 0
    assert paced.errors[open_loop.UNSENT] > 0
    assert paced.issued + paced.errors[open_loop.UNSENT] == 30  # every call due is accounted
    # Latency runs from each call's due time: the queue behind the cap shows.
    assert max(paced.latencies) > 2 * 50_000_000

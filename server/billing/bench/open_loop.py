"""Open-loop load: calls sent on a fixed schedule, whether or not earlier ones have ended.

Closed-loop load (load.py) only ever measures latency at saturation: a slow call holds back
the next one, so the queue it would have met is never seen (coordinated omission). Here call k
is due at start + k / rate, and its latency runs from that due time, not from when it could
actually be sent: a server that falls behind shows it as latency, however the client fares.

The calls in flight are capped (a bounded client, and a bounded load on a server that cannot
keep up): a call due while the cap is reached waits for a slot, and its wait counts in its
latency; the waits are counted and reported. Calls due in the window that could not be sent
before the window ended are counted as errors (UNSENT), so an overloaded server cannot look
good by having fewer calls sent to it.
"""

from __future__ import annotations

import asyncio
import math
import time
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

MESSAGE_CHARS = 200
UNSENT = "UNSENT"


@dataclass
class Paced:
    """What one load process saw in the window (calls due at or after its start)."""

    latencies: array[int] = field(default_factory=lambda: array("q"))  # due time to end
    errors: Counter[str] = field(default_factory=Counter)
    messages: dict[str, str] = field(default_factory=dict)
    issued: int = 0  # calls sent, warm-up included
    cap_waits: int = 0  # calls of the window that waited for a slot under the cap
    last_done_ns: int = 0
    completed: int = 0  # calls that succeeded inside the window, whenever they were due

    def record(self, due: int, done: int, code: str | None, message: str) -> None:
        self.last_done_ns = max(self.last_done_ns, done)
        if code is None:
            self.latencies.append(done - due)
        else:
            self.errors[code] += 1
            self.messages.setdefault(code, message[:MESSAGE_CHARS])


async def run(
    call: Callable[[int], Awaitable[Any]],
    *,
    rate_per_s: float,
    start_ns: int,
    measure_start_ns: int,
    end_ns: int,
    max_in_flight: int,
    max_calls: int,
    classify: Callable[[BaseException], tuple[str, str]],
) -> Paced:
    """Send `call(n)` at `rate_per_s` from `start_ns` until `end_ns` (perf_counter_ns), at
    most `max_in_flight` at a time; record the calls due from `measure_start_ns` on.
    `classify` names a failure (code, message)."""
    paced = Paced()
    interval_ns = 1e9 / rate_per_s
    slots = asyncio.Semaphore(max_in_flight)
    tasks: set[asyncio.Task[None]] = set()

    async def one(n: int, due: int) -> None:
        code: str | None = None
        message = ""
        try:
            await call(n)
        except Exception as exc:  # counted, never hidden
            code, message = classify(exc)
        finally:
            slots.release()
        done = time.perf_counter_ns()
        if code is None and measure_start_ns <= done < end_ns:
            paced.completed += 1  # the achieved rate: what the server got done in the window
        if due >= measure_start_ns:  # not warm-up
            paced.record(due, done, code, message)

    cut_short = False  # the window ended with calls still due and the cap reached
    while paced.issued < max_calls:
        due = start_ns + int(paced.issued * interval_ns)  # call n is due at start + n / rate
        if due >= end_ns:
            break
        now = time.perf_counter_ns()
        if due > now:
            await asyncio.sleep((due - now) / 1e9)  # late wake-ups send the backlog at once
        if slots.locked():
            if due >= measure_start_ns:
                paced.cap_waits += 1
            try:
                await asyncio.wait_for(slots.acquire(), (end_ns - time.perf_counter_ns()) / 1e9)
            except TimeoutError:
                cut_short = True
                break
        else:
            await slots.acquire()  # free: returns at once
        task = asyncio.ensure_future(one(paced.issued, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        paced.issued += 1
    if cut_short:
        _count_unsent(
            paced, paced.issued, start_ns, measure_start_ns, end_ns, interval_ns, max_in_flight
        )
    if tasks:
        await asyncio.gather(*tasks)
    return paced


def _count_unsent(
    paced: Paced,
    k: int,
    start_ns: int,
    measure_start_ns: int,
    end_ns: int,
    interval_ns: float,
    max_in_flight: int,
) -> None:
    """Calls k... were due in the window but never sent: the offered rate was not kept."""
    first = max(k, math.ceil((measure_start_ns - start_ns) / interval_ns))
    last = math.ceil((end_ns - start_ns) / interval_ns) - 1
    unsent = max(last - first + 1, 0)
    if unsent:
        paced.errors[UNSENT] += unsent
        paced.messages.setdefault(
            UNSENT,
            "calls due in the window but not sent before its end: the in-flight cap"
            f" ({max_in_flight} per load process) was reached",
        )


def classify(exc: BaseException) -> tuple[str, str]:
    """A failed call's (code, message), as the closed loop names them."""
    if isinstance(exc, grpc.aio.AioRpcError):
        return exc.code().name, str(exc.details())
    return type(exc).__name__, str(exc)

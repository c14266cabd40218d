"""Bulk work gives way to interactive calls on the same event loop (ADR 0022).

A stream's ingestion is CPU work in slices (decoding, checking, COPY text) between its
round trips. Between slices it calls `give_way()`: one turn for whatever else is ready, and,
while unary calls are in flight in this process (counted by the API's interceptor through
`interactive()`), a pause until they are done, at most GIVE_WAY_MAX_S per slice, so a
steady stream of calls slows bulk work down to a share of the loop but never stops it.

While calls have started within CALLS_RECENT_S, bulk work also takes at most BULK_SHARE of
the wall clock: after each stretch (its CPU slice, or a round trip its database statement
took) it rests as long again. Giving way only reorders the process's own work; on a loaded
host a call's steps outside the loop (gRPC's I/O threads, its database backend, the
caller's own process) wait for a CPU that the stream and its PostgreSQL backend keep busy.
Resting leaves one free (issue 13; measured in docs/performance.md).
State is per event loop: the tests run more than one server, each on a loop of its own.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress

GIVE_WAY_MAX_S = 0.010  # a slice of bulk work is ~1 ms: bulk keeps at least a third
CALLS_RECENT_S = 0.100  # a call started this recently: interactive traffic is present
BULK_SHARE = 0.5  # of the wall clock bulk work takes meanwhile


class _Turns:
    def __init__(self) -> None:
        self.in_flight = 0
        self.waiters: list[asyncio.Future[None]] = []
        self.last_call = -1e9  # loop time a call last started
        self.bulk_resumed = 0.0  # loop time bulk work last got the loop back

    def enter(self) -> None:
        self.in_flight += 1
        self.last_call = asyncio.get_running_loop().time()

    def leave(self) -> None:
        self.in_flight -= 1
        if not self.in_flight:
            self.wake()

    def wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Turns] = weakref.WeakKeyDictionary()


def current_turns() -> _Turns:
    """This event loop's count of interactive calls; `enter()`/`leave()` around a call is
    `interactive()` without the context manager's generator (the API's per-call path)."""
    loop = asyncio.get_running_loop()
    found = _by_loop.get(loop)
    if found is None:
        found = _by_loop[loop] = _Turns()
    return found


_turns = current_turns  # the tests' name for it


@contextmanager
def interactive() -> Iterator[None]:
    """Around a call that someone is waiting on (a unary call)."""
    turns = current_turns()
    turns.enter()
    try:
        yield
    finally:
        turns.leave()


async def give_way() -> None:
    """Between slices of bulk work."""
    turns = current_turns()
    loop = asyncio.get_running_loop()
    now = loop.time()
    if now - turns.last_call < CALLS_RECENT_S:
        ran = min(now - turns.bulk_resumed, GIVE_WAY_MAX_S)
        await asyncio.sleep(ran * (1 / BULK_SHARE - 1))  # rest: a CPU free for the calls
    else:
        await asyncio.sleep(0)
    try:
        await _wait_for_calls(turns, loop)
    finally:
        turns.bulk_resumed = loop.time()


async def _wait_for_calls(turns: _Turns, loop: asyncio.AbstractEventLoop) -> None:
    if not turns.in_flight:
        return
    waiter: asyncio.Future[None] = loop.create_future()
    turns.waiters.append(waiter)
    timer = loop.call_later(GIVE_WAY_MAX_S, _done, waiter)
    try:
        await waiter
    finally:
        timer.cancel()
        with suppress(ValueError):  # woken: already taken off the list
            turns.waiters.remove(waiter)


def _done(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)

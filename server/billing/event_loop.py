"""The event loop a server process runs on (ADR 0077): uvloop by default, the standard
library's on request (`BILLING_EVENT_LOOP=asyncio`).

grpc.aio, psycopg and the rest only use the loop's public interface, so either runs them. On
uvloop the loop's own work per call (scheduling handles, running callbacks, watching sockets)
is C instead of Python: 10-20% less server CPU a call here (health checks and GetCustomer from
h2load, alternated; docs/performance.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

LOOPS = ("uvloop", "asyncio")
DEFAULT_LOOP = "uvloop"

T = TypeVar("T")


def new_event_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind == "uvloop":
        import uvloop  # imported here: `asyncio` must work where uvloop cannot be installed

        return uvloop.new_event_loop()
    if kind == "asyncio":
        return asyncio.new_event_loop()
    raise ValueError(f"unknown event loop {kind!r}: one of {', '.join(LOOPS)}")


def run(main: Coroutine[Any, Any, T], kind: str) -> T:
    """`asyncio.run(main)` on a new loop of `kind`."""
    with asyncio.Runner(loop_factory=lambda: new_event_loop(kind)) as runner:
        return runner.run(main)

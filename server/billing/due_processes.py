"""Due work in processes of its own under `billing serve` (ADR 0067).

With several workers, the supervisor starts BILLING_DUE_WORK_PROCESSES more processes that
serve no calls and run every round of due work at a lower OS priority (niceness
BILLING_DUE_WORK_NICE), and the serving processes run none: a bill run's CPU stretches
(a batch's handlers, its arrays, its result rows) no longer hold the event loop the calls
are answered on, and the kernel gives the calls' processes the CPU first. There is still no
leader: any number of due-work processes share the work through leases, as every process did
before, and with one worker (or BILLING_DUE_WORK_PROCESSES=0) each process runs its own.

A serving process tells the due-work processes that work was added (an AdvanceClock, a new
subscription) through a `multiprocessing.Event` the supervisor shares; each due-work process
has a thread that waits on it and wakes its worker, so nobody waits for the next poll.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal as signal_module
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

WAKE_WAIT_S = 1.0  # the forwarding thread looks up this often whether it should stop
WAKE_COALESCE_S = 0.002  # a serving process sets the shared wake at most this often


class Role(StrEnum):
    ALL = "all"  # serves calls and runs due work (one worker, or no due-work processes)
    CALLS = "calls"  # serves calls; its due work runs in the due-work processes
    DUE = "due"  # serves no calls; runs due work


class WakeSignal(Protocol):
    """A `multiprocessing.Event`, shared by the supervisor's children."""

    def set(self) -> None: ...

    def clear(self) -> None: ...

    def wait(self, timeout: float | None = None) -> bool: ...


def lower_priority(nice: int) -> None:
    """This process and the threads it starts from now on run at niceness `nice` (raising
    niceness needs no privilege; it cannot be lowered again without one)."""
    if nice > 0:
        os.setpriority(os.PRIO_PROCESS, 0, nice)


class CoalescedWake:
    """`signal.set()` at most once per `interval_s`; the calls in between are folded into one
    set at the interval's end, so none is lost and none waits longer than the interval.

    Setting a `multiprocessing.Event` takes its condition's semaphores and notifies its
    waiters: 3.5% of a serving process's CPU under CreateSubscription load, where every call
    set it. The due-work process claims a batch per wake, so one wake per interval serves
    all the calls made in it."""

    def __init__(
        self,
        signal: WakeSignal,
        interval_s: float = WAKE_COALESCE_S,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._signal = signal
        self._interval_s = interval_s
        self._now = now
        self._last = float("-inf")
        self._trailing: asyncio.TimerHandle | None = None

    def __call__(self) -> None:
        if self._trailing is not None:
            return  # a set is already on its way
        wait = self._last + self._interval_s - self._now()
        if wait <= 0:
            self._set()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on an event loop: nothing to fold into
            self._set()
            return
        self._trailing = loop.call_later(wait, self._set)

    def _set(self) -> None:
        self._trailing = None
        self._last = self._now()
        self._signal.set()


def forward_wakes(
    signal: WakeSignal, wake: asyncio.Event, loop: asyncio.AbstractEventLoop
) -> threading.Event:
    """Set `wake` on `loop` whenever another process sets `signal`; returns the event that
    stops the forwarding thread."""
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            if signal.wait(WAKE_WAIT_S):
                signal.clear()  # a set after this wakes us again; one before is served now
                if not loop.is_closed():
                    loop.call_soon_threadsafe(wake.set)

    threading.Thread(target=run, name="due-work-wake", daemon=True).start()
    return stop


def stop_with_parent(loop: asyncio.AbstractEventLoop) -> None:
    """Once the supervisor is gone (SIGKILLed), stop as on SIGTERM: a due-work process must
    not bill on, orphaned, nor a serving one hold the port. The parent's sentinel becomes
    readable then. Nothing for a process that no supervisor started."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        loop.add_reader(parent.sentinel, os.kill, os.getpid(), signal_module.SIGTERM)

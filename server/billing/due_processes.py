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
    """Sets `signal` from a thread of its own, at most once per `interval_s`: the calls made
    meanwhile are folded into the next set, so none is lost and none waits much longer.

    `multiprocessing.Event.set()` notifies through the condition's semaphores and then
    waits until each sleeping process has woken and said so: made on the event loop, every
    CreateSubscription stalled its process for a context switch to the due-work process
    (5% of a serving process's samples). The caller only sets a `threading.Event`."""

    def __init__(self, signal: WakeSignal, interval_s: float = WAKE_COALESCE_S) -> None:
        self._signal = signal
        self._interval_s = interval_s
        self._asked = threading.Event()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def __call__(self) -> None:
        if self._thread is None:
            with self._start:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="due-work-wake-out", daemon=True
                    )
                    self._thread.start()
        self._asked.set()

    def _run(self) -> None:
        while True:
            self._asked.wait()
            self._asked.clear()  # a call after this is served by the next set
            self._signal.set()
            time.sleep(self._interval_s)


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

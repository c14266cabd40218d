"""Due work in processes of its own (ADR 0067): with several workers, `billing serve` starts a
due-work process at a lower OS priority that runs every round, the serving processes run
none, and a bill run started by a call to a serving process is worked by it."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from billing.app.clock import SystemClock
from billing.app.due_work import DueWorkWorker
from billing.config import Settings, SettingsError
from billing.due_processes import CoalescedWake
from billing_client.v1 import invoices_pb2
from billing_fixtures import Billing, rules
from test_process_lifecycle import READY_TIMEOUT_S, _children, new_tenant, server_process


def _nice(pid: int) -> int:
    # /proc/PID/stat: field 19 is the niceness; fields counted after the ")" of the name.
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def _spawned(pid: int, count: int) -> list[int]:
    """The supervisor's `count` children, once one of them has niced itself (it does so as it
    starts, a moment after it shows up)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    found: list[int] = []
    while time.monotonic() < deadline:
        time.sleep(0.2)
        found = [
            child
            for child in _children(pid)
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
        ]
        if len(found) >= count and any(_nice(child) for child in found):
            break
    return sorted(found)


@pytest.mark.slow
def test_a_niced_due_work_process_runs_the_bill_run_of_a_serving_process(
    make_database: Any, tmp_path: Path
) -> None:
    database = make_database("postgresql")  # several processes need PostgreSQL
    tenant = new_tenant()
    with server_process(database, tmp_path, workers=2) as (proc, port):
        children = _spawned(proc.pid, 3)
        assert sorted(_nice(pid) for pid in children) == [0, 0, 10]  # two serve, one bills
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            billing = Billing(channel, tenant.metadata)
            billing.push(rules())
            clock = billing.clock("2026-01-01T00:00:00Z")
            for _ in range(3):
                billing.subscribe(billing.customer(clock), "basic_monthly")
            began = time.monotonic()
            progress = billing.advance(clock, "2026-03-01T00:00:00Z")
            took = time.monotonic() - began
            # Two renewals and two months recognized each; the serving process ran none of
            # them and counted the due-work process's items as they were done.
            assert (progress[-1].done, progress[-1].remaining, progress[-1].finished) == (
                12,
                0,
                True,
            )
            assert took < 10  # woken at once, not at its next poll (and seen within 0.2 s)
            listed = billing.invoices.ListInvoices(
                invoices_pb2.ListInvoicesRequest(page_size=50), metadata=tenant.metadata
            )
            assert len(listed.invoices) == 9  # 3 first invoices + 3 x 2 renewals
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    for pid in children:  # the due-work process stops with the rest
        assert not Path(f"/proc/{pid}").exists() or _state(pid) == "Z"


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@pytest.mark.slow
def test_the_processes_stop_when_their_supervisor_is_killed(
    make_database: Any, tmp_path: Path
) -> None:
    database = make_database("postgresql")
    with server_process(database, tmp_path, workers=2) as (proc, _port):
        children = _spawned(proc.pid, 3)
        assert len([pid for pid in children if _nice(pid) == 10]) == 1
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 20
        for pid in children:  # none bills on, or holds the port, orphaned
            while Path(f"/proc/{pid}").exists() and _state(pid) != "Z":
                assert time.monotonic() < deadline, "an orphaned process kept running"
                time.sleep(0.2)


def test_a_serving_process_that_leaves_due_work_to_others_claims_nothing() -> None:
    class _NoStore:
        def write(self, _key: object) -> Any:
            raise AssertionError("a serving process must not claim due work")

    woken: list[bool] = []
    worker = DueWorkWorker(
        _NoStore(),  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        SystemClock(),
        "test",
        runs_rounds=False,
        on_wake=lambda: woken.append(True),
    )

    async def round_() -> int:
        worker.notify()
        assert worker.wake.is_set()
        return await worker.run_once("t")

    assert asyncio.run(round_()) == 0
    assert woken == [True]


def test_due_work_process_settings() -> None:
    pg = "postgresql+psycopg://u@h/db"
    assert Settings(database_url=pg, workers=2).dedicated_due_processes == 1
    assert Settings(database_url=pg, workers=2).processes == 3
    assert Settings(database_url=pg, workers=1).dedicated_due_processes == 0  # no supervisor
    assert Settings(database_url=pg, workers=2, due_work_processes=0).processes == 2
    with pytest.raises(SettingsError, match="BILLING_DUE_WORK_NICE"):
        Settings(database_url=pg, due_work_nice=20).check()
    with pytest.raises(SettingsError, match="BILLING_DUE_WORK_PROCESSES"):
        Settings(database_url=pg, due_work_processes=-1).check()
    with pytest.raises(SettingsError, match="port \\+ processes - 1"):
        Settings(database_url=pg, workers=2, metrics_listen="127.0.0.1:65534").check()


class _CountedSignal:
    def __init__(self) -> None:
        self.sets: list[float] = []

    def set(self) -> None:
        self.sets.append(time.monotonic())

    def clear(self) -> None:
        pass

    def wait(self, timeout: float | None = None) -> bool:
        return bool(self.sets)


def _until(done: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        time.sleep(0.005)


def test_a_burst_of_wakes_is_one_set_now_and_at_most_one_after_it() -> None:
    signal = _CountedSignal()
    wake = CoalescedWake(signal, interval_s=0.05)
    for _ in range(100):
        wake()
    _until(lambda: len(signal.sets) >= 1)
    time.sleep(0.2)  # the interval is over: the folded calls' set, if they were folded
    burst = len(signal.sets)
    wake()  # long after: served at once
    _until(lambda: len(signal.sets) > burst)
    time.sleep(0.2)
    assert burst in (1, 2)
    assert len(signal.sets) == burst + 1


class _BlockingSignal(_CountedSignal):
    """A set that waits, as multiprocessing's waits for the woken process."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def set(self) -> None:
        self.release.wait(5)
        super().set()


def test_a_wake_never_waits_for_the_set_it_asks_for() -> None:
    signal = _BlockingSignal()
    wake = CoalescedWake(signal, interval_s=0.01)
    started = time.monotonic()
    for _ in range(10):
        wake()
    returned_after_s = time.monotonic() - started
    signal.release.set()
    _until(lambda: len(signal.sets) >= 1)
    assert returned_after_s < 1  # the first set blocks 5 s: the callers did not wait for it
    assert len(signal.sets) >= 1

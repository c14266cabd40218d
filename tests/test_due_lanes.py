"""The worker's lanes run in a task group: a lane that fails cancels its siblings and its
error surfaces (no lane is left running, orphaned, after the round gave up); and the retry
delays are exponential, capped, and fully jittered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from billing.app.backoff import backoff_bound, full_jitter
from billing.app.clock import SystemClock
from billing.app.due_work import DueWorkWorker, RoundReport, error_text

DUE = datetime(2026, 1, 1, tzinfo=UTC)


class _DueWork:
    async def claim(self, *_args: Any, **_kwargs: Any) -> list[Any]:
        from billing.app.ports import DueItem

        # Two kinds run one to a transaction, for two subscriptions: two lanes side by side.
        return [DueItem("t", f"due_{n}", "trial_end", f"sub_{n}", None, DUE, "", 1) for n in (1, 2)]


class _Store:
    @asynccontextmanager
    async def write(self, _key: object) -> AsyncIterator[Any]:
        class _Tx:
            due_work = _DueWork()

        yield _Tx()


def test_a_failing_lane_cancels_the_others_and_its_error_surfaces() -> None:
    worker = DueWorkWorker(_Store(), None, SystemClock(), "test", concurrency=2)  # type: ignore[arg-type]
    cancelled: list[str] = []

    async def run(item: Any, _report: RoundReport) -> int:
        if item.id == "due_1":
            await asyncio.sleep(0.01)
            raise OSError("the database went away")
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(item.id)
            raise
        return 1

    worker._run = run  # type: ignore[method-assign]

    async def round_then_settle() -> None:
        try:
            await worker.run_once()
        finally:
            await asyncio.sleep(0.05)  # a lane left running would still be asleep here
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            assert others == []

    with pytest.raises(OSError, match="the database went away"):
        asyncio.run(round_then_settle())
    assert cancelled == ["due_2"]


def test_backoff_doubles_up_to_its_cap_and_draws_below_it() -> None:
    assert [backoff_bound(n, 1.0, 300.0) for n in (1, 2, 3, 9, 10, 1000)] == [
        1.0,
        2.0,
        4.0,
        256.0,
        300.0,
        300.0,
    ]
    assert full_jitter(3, 1.0, 300.0, draw=lambda: 0.5) == 2.0
    assert full_jitter(3, 1.0, 300.0, draw=lambda: 0.0) == 0.0
    draws = [full_jitter(4, 0.005, 0.1) for _ in range(200)]
    assert all(0 <= d < 0.04 for d in draws) and len(set(draws)) > 100


def test_an_items_error_is_its_first_line_truncated() -> None:
    assert error_text(RuntimeError("boom\n[SQL: SELECT secret]")) == "RuntimeError: boom"
    long = error_text(ValueError("x" * 2000))
    assert len(long) == 500 and long.endswith("…")
    assert timedelta(0) < timedelta(seconds=full_jitter(1, 1.0, 2.0, draw=lambda: 0.1))

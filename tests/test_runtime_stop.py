"""Stopping a background task survives a lost cancellation: the task is cancelled again while
it runs on (a lost cancel once left a due-work process serving on after SIGTERM)."""

from __future__ import annotations

import asyncio

import pytest

from billing.runtime import _cancelled


def test_a_task_that_swallowed_one_cancel_is_cancelled_again():
    async def scenario() -> int:
        cancels = 0

        async def stubborn() -> None:
            nonlocal cancels
            while True:
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    cancels += 1
                    if cancels > 1:
                        raise  # the second one is taken

        task = asyncio.ensure_future(stubborn())
        await asyncio.sleep(0)
        await asyncio.wait_for(_cancelled(task), 5)
        return cancels

    assert asyncio.run(scenario()) == 2


def test_a_task_that_failed_raises_its_own_error():
    async def scenario() -> None:
        async def failing() -> None:
            raise ValueError("boom")

        task = asyncio.ensure_future(failing())
        await asyncio.sleep(0)
        await _cancelled(task)

    with pytest.raises(ValueError, match="boom"):
        asyncio.run(scenario())

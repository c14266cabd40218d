"""Bulk work gives way to unary calls in flight (app/turns.py, ADR 0022): ordering only."""

from __future__ import annotations

import asyncio

from billing.app import turns


def test_bulk_waits_for_a_call_in_flight_then_goes_on() -> None:
    async def run() -> list[str]:
        order: list[str] = []
        release = asyncio.Event()

        async def call() -> None:
            with turns.interactive():
                order.append("call starts")
                await release.wait()
                order.append("call ends")

        async def bulk() -> None:
            await turns.give_way()
            order.append("bulk goes on")

        task = asyncio.create_task(call())
        await asyncio.sleep(0)
        waiting = asyncio.create_task(bulk())
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert order == ["call starts"]  # the slice waits while the call is in flight
        release.set()
        await asyncio.gather(task, waiting)
        return order

    assert asyncio.run(run()) == ["call starts", "call ends", "bulk goes on"]


def test_a_call_that_never_ends_holds_bulk_back_for_one_pause_per_slice() -> None:
    async def run() -> int:
        with turns.interactive():
            for _ in range(3):
                await turns.give_way()  # each returns after GIVE_WAY_MAX_S
            return len(turns._turns().waiters)

    assert asyncio.run(run()) == 0  # timed-out waiters do not pile up

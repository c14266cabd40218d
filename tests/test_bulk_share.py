"""While interactive calls are recent, bulk work takes at most half the wall clock
(app/turns.py): after each stretch it rests as long again, at most GIVE_WAY_MAX_S; with no
call in the last CALLS_RECENT_S it only yields one turn. The rests asked for are recorded
(asyncio.sleep replaced), so nothing here depends on the machine's speed."""

from __future__ import annotations

import asyncio

import pytest

from billing.app import turns


@pytest.fixture
def rests(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    asked: list[float] = []
    real_sleep = asyncio.sleep

    async def recorded(delay: float) -> None:
        asked.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(turns.asyncio, "sleep", recorded)
    return asked


def _give_way_after(*, call_ago: float | None, bulk_ran: float) -> float:
    """One give_way() when the last call started `call_ago` s before (None: never) and bulk
    work got the loop back `bulk_ran` s before; returns how long ago bulk got it back after."""

    async def run() -> float:
        state = turns.current_turns()
        loop = asyncio.get_running_loop()
        now = loop.time()
        if call_ago is not None:
            state.last_call = now - call_ago
        state.bulk_resumed = now - bulk_ran
        await turns.give_way()
        return loop.time() - state.bulk_resumed

    return asyncio.run(run())


def test_with_a_recent_call_bulk_rests_as_long_as_it_ran(rests: list[float]) -> None:
    _give_way_after(call_ago=0.050, bulk_ran=0.003)
    assert len(rests) == 1
    assert 0.003 <= rests[0] < 0.004  # the slice's 3 ms (and the microseconds since)


def test_a_long_stretch_rests_at_most_the_pause_cap(rests: list[float]) -> None:
    _give_way_after(call_ago=0.001, bulk_ran=0.030)  # a round trip of its own, say
    assert rests == [turns.GIVE_WAY_MAX_S]


def test_without_a_recent_call_bulk_only_yields_a_turn(rests: list[float]) -> None:
    _give_way_after(call_ago=turns.CALLS_RECENT_S + 0.050, bulk_ran=0.003)
    _give_way_after(call_ago=None, bulk_ran=0.003)
    assert rests == [0, 0]


def test_the_next_stretch_is_measured_from_the_end_of_the_rest(rests: list[float]) -> None:
    since = _give_way_after(call_ago=0.010, bulk_ran=0.005)
    assert since < 0.001
    assert len(rests) == 1 and 0.005 <= rests[0] < 0.006


def test_a_call_marks_interactive_traffic_as_recent(rests: list[float]) -> None:
    async def run() -> None:
        with turns.interactive():
            pass
        state = turns.current_turns()
        state.bulk_resumed = asyncio.get_running_loop().time() - 0.002
        await turns.give_way()

    asyncio.run(run())
    assert len(rests) == 1 and 0.002 <= rests[0] < 0.003

"""The servers' event loop (ADR 0077): uvloop by default, asyncio on request."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from billing import event_loop
from billing.config import Settings, SettingsError


async def _loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_uvloop_is_the_default_and_asyncio_can_be_chosen():
    assert Settings().event_loop == "uvloop"
    assert event_loop.run(_loop_type(), "uvloop") is uvloop.Loop
    chosen = Settings.from_env({"BILLING_EVENT_LOOP": "asyncio"}).event_loop
    ran_on = event_loop.run(_loop_type(), chosen)
    assert ran_on is not uvloop.Loop and issubclass(ran_on, asyncio.BaseEventLoop)


def test_an_unknown_event_loop_is_refused_by_name():
    with pytest.raises(SettingsError, match="BILLING_EVENT_LOOP must be one of uvloop, asyncio"):
        Settings.from_env({"BILLING_EVENT_LOOP": "trio"})
    with pytest.raises(ValueError, match="unknown event loop 'trio'"):
        event_loop.new_event_loop("trio")

"""A test plugin with external fraud scorers, registered through the real hook
(`billing_register_fraud_checks`) into a plugin manager of its own (`engines_with_scorers`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from billing.plugins.engines import FraudCheck, FraudRequest, FraudVerdict
from billing.plugins.hookspecs import hookimpl
from billing.plugins.registry import Engines, collect, make_manager


class BlockList:
    """Blocks customers listed in its settings; checks those settings at load."""

    def __init__(self) -> None:
        self.seen: list[FraudRequest] = []

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        blocked = settings.get("customers")
        if not isinstance(blocked, list) or not all(isinstance(c, str) for c in blocked):
            return ["customers must be a list of customer ids"]
        return []

    async def assess(self, request: FraudRequest) -> FraudVerdict:
        self.seen.append(request)
        if request.customer_id in request.settings.get("customers", ()):
            return FraudVerdict("block", (f"customer {request.customer_id} is on the block list",))
        return FraudVerdict("allow", ("not listed",))


class Sleepy:
    async def assess(self, request: FraudRequest) -> FraudVerdict:
        await asyncio.sleep(10)
        return FraudVerdict("allow")


class Broken:
    async def assess(self, request: FraudRequest) -> FraudVerdict:
        raise ConnectionError("scoring service refused the connection")


class Confused:
    async def assess(self, request: FraudRequest) -> FraudVerdict:
        return FraudVerdict("maybe", ("who knows",))


class ScorerPlugin:
    def __init__(self) -> None:
        self.block_list = BlockList()

    @hookimpl
    def billing_register_fraud_checks(self, register: Callable[[str, FraudCheck], None]) -> None:
        register("block_list", self.block_list)
        register("sleepy", Sleepy())
        register("broken", Broken())
        register("confused", Confused())


def engines_with_scorers() -> tuple[Engines, ScorerPlugin]:
    plugin = ScorerPlugin()
    return collect(make_manager([plugin])), plugin

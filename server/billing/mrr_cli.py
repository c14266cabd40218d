"""`billing mrr rebuild --tenant T`: recompute the tenant's MRR state from its subscriptions
(ADR 0055). Prints one JSON object with what it changed; a second run prints zeros."""

from __future__ import annotations

import asyncio
import dataclasses
import json

from billing.app.clock import SystemClock
from billing.app.mrr_rebuild import Rebuilt, rebuild
from billing.config import Settings
from billing.store.engine import create_engine
from billing.store.sql_store import SqlStore


def rebuild_tenant(settings: Settings, tenant_id: str) -> int:
    result = asyncio.run(_rebuild(settings, tenant_id))
    print(json.dumps({"tenant": tenant_id, **dataclasses.asdict(result)}, sort_keys=True))
    return 0


async def _rebuild(settings: Settings, tenant_id: str) -> Rebuilt:
    engine = create_engine(settings.database_url)
    try:
        return await rebuild(SqlStore(engine), SystemClock(), tenant_id)
    finally:
        await engine.dispose()

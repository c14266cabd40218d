"""`billing ledger verify --tenant T`: seal what is old enough and recompute the tenant's hash
chain over the stored journal (ADR 0053). Prints one JSON object; exit 0 when it verifies,
1 when an entry changed after sealing."""

from __future__ import annotations

import asyncio
import json

from billing.app.clock import SystemClock
from billing.app.ledger import JournalChain, Verification
from billing.config import Settings
from billing.runtime import journal_seal_horizon
from billing.store.engine import create_engine
from billing.store.sql_store import SqlStore


def verify(settings: Settings, tenant_id: str) -> int:
    result = asyncio.run(_verify(settings, tenant_id))
    print(json.dumps({"tenant": tenant_id, **result.__dict__}, sort_keys=True))
    return 0 if result.ok else 1


async def _verify(settings: Settings, tenant_id: str) -> Verification:
    engine = create_engine(settings.database_url)
    try:
        chain = JournalChain(SqlStore(engine), SystemClock(), journal_seal_horizon(settings))
        return await chain.verify(tenant_id)
    finally:
        await engine.dispose()

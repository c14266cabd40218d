"""`billing due-work`: see parked due work and run it again, straight on the database.

An operator's tool beside `billing migrate` (it reads BILLING_DATABASE_URL): a parked item
is one whose handler failed its last attempt (ADR 0021); once the cause is fixed, `retry`
makes it claimable again with its attempts from zero, and the next worker round runs it.
"""

from __future__ import annotations

import asyncio
import json

from billing.app.ports import ParkedItem
from billing.config import Settings
from billing.store.engine import create_engine
from billing.store.sql_store import SqlStore

LIST_MAX = 1000  # items printed by one `list`; the count says how many there are


def list_parked(settings: Settings, tenant_id: str | None) -> int:
    count, items = asyncio.run(_list(settings, tenant_id))
    for item in items:
        print(
            json.dumps(
                {
                    "tenant": item.tenant_id,
                    "id": item.id,
                    "kind": item.kind,
                    "subscription": f"subscriptions/{item.subscription_id}",
                    "due_time": item.due_at.isoformat(),
                    "attempts": item.attempts,
                    "last_error": item.last_error,
                    "park_time": item.parked_at.isoformat(),
                }
            )
        )
    print(
        f"billing: {count} parked item(s)"
        + (f", first {LIST_MAX} shown" if count > LIST_MAX else "")
    )
    return 0


def retry(settings: Settings, tenant_id: str, item_id: str) -> int:
    if asyncio.run(_unpark(settings, tenant_id, item_id)):
        print(f"billing: {item_id} will run again")
        return 0
    print(f"billing: no parked item {item_id} in tenant {tenant_id}")
    return 1


async def _list(settings: Settings, tenant_id: str | None) -> tuple[int, list[ParkedItem]]:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with SqlStore(engine).read() as tx:
            return await tx.due_work.parked(tenant_id, limit=LIST_MAX)
    finally:
        await engine.dispose()


async def _unpark(settings: Settings, tenant_id: str, item_id: str) -> bool:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with SqlStore(engine).write(None) as tx:
            return await tx.due_work.unpark(tenant_id, item_id)
    finally:
        await engine.dispose()

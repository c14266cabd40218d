"""`billing due-work` on the database (no --target): see due work, park it, make a parked
item claimable again, straight on the database like `billing migrate` (BILLING_DATABASE_URL).

For when the server is down or unreachable. With a running server, `--target` does the same
over gRPC (`due_work_remote.py`, ADR 0058), where `retry` also runs the item at once. Here a
parked item (ADR 0021) is made claimable again with its attempts from zero (`retry` and
`unpark` alike), and the next worker round runs it.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from billing.app.due_work_admin import STUCK_AFTER, DueView, view_of
from billing.app.due_work_ports import DueFilter
from billing.config import Settings
from billing.store.engine import create_engine
from billing.store.sql_store import SqlStore

LIST_MAX = 1000  # items printed by one `list`; the count says when there are more


def list_items(settings: Settings, tenant_id: str | None, which: str, kind: str | None) -> int:
    filter_ = DueFilter(which) if which else DueFilter.ALL
    views = asyncio.run(_list(settings, tenant_id, filter_, kind or ""))
    for view in views[:LIST_MAX]:
        print(json.dumps(_shown(view)))
    label = f"{which} " if which else ""
    print(
        f"billing: {min(len(views), LIST_MAX)} {label}item(s)"
        + (f", first {LIST_MAX} shown" if len(views) > LIST_MAX else "")
    )
    return 0


def retry(settings: Settings, tenant_id: str, item_id: str) -> int:
    if asyncio.run(_unpark(settings, tenant_id, item_id)):
        print(f"billing: {item_id} will run again")
        return 0
    print(f"billing: no parked item {item_id} in tenant {tenant_id}")
    return 1


def park(settings: Settings, tenant_id: str, item_id: str) -> int:
    if asyncio.run(_park(settings, tenant_id, item_id)):
        print(f"billing: {item_id} parked")
        return 0
    print(f"billing: no unfinished, unparked item {item_id} free of a worker in tenant {tenant_id}")
    return 1


def _shown(view: DueView) -> dict[str, object]:
    row = view.row
    return {
        "tenant": row.tenant_id,
        "id": row.id,
        "kind": row.kind,
        "subject": view.subject,
        "subscription": f"subscriptions/{row.subject_id}",  # as printed before ADR 0058
        "state": view.state.value,
        "due_time": row.due_at.isoformat(),
        "attempts": row.attempts,
        "last_error": row.last_error,
        "next_attempt_time": view.next_attempt_at.isoformat() if view.next_attempt_at else None,
        "park_time": row.parked_at.isoformat() if row.parked_at else None,
    }


async def _list(
    settings: Settings, tenant_id: str | None, which: DueFilter, kind: str
) -> list[DueView]:
    engine = create_engine(settings.database_url, pool_size=1)
    wall = datetime.now(UTC)
    try:
        async with SqlStore(engine).read() as tx:
            rows = await tx.due_work_admin.list_after(
                tenant_id, which, kind, None, LIST_MAX + 1, wall, wall - STUCK_AFTER
            )
        return [view_of(row, wall) for row in rows]
    finally:
        await engine.dispose()


async def _unpark(settings: Settings, tenant_id: str, item_id: str) -> bool:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with SqlStore(engine).write(None) as tx:
            return await tx.due_work.unpark(tenant_id, item_id)
    finally:
        await engine.dispose()


async def _park(settings: Settings, tenant_id: str, item_id: str) -> bool:
    engine = create_engine(settings.database_url, pool_size=1)
    wall = datetime.now(UTC)
    try:
        async with SqlStore(engine).write(None) as tx:
            return await tx.due_work_admin.park(tenant_id, item_id, wall, wall)
    finally:
        await engine.dispose()

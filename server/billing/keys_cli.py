"""`billing keys rotate|check`: re-encrypt stored secrets under the current key, or prove that
every one decrypts, straight on the database (ADR 0034, ADR 0039).

An operator's tool beside `billing migrate` (it reads BILLING_DATABASE_URL and the key ring
settings). To rotate: add the new key to BILLING_ENCRYPTION_KEYS, make it
BILLING_ENCRYPTION_KEY_ID on every server (they then encrypt under it and still decrypt
under the old one), run `billing keys rotate`, then `billing keys check`; once it reports no
row under the old key, the old key may leave the ring.

Rotation is online: each batch is one short transaction, and each row is updated by a
compare-and-set on the ciphertext it read, so a server writing the row meanwhile (a new
token, new credentials) wins and its value is kept. The row's version is left alone: the
plaintext did not change, so a writer's compare-and-set on the version still succeeds.
Running it again re-encrypts only what is not yet under the current key.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.config import Settings
from billing.store import schema
from billing.store.crypto import (
    ENCRYPTED_COLUMNS,
    ROW_ID_COLUMNS,
    DecryptionError,
    KeyRing,
    key_ring,
    row_aad,
)
from billing.store.engine import create_engine

BATCH_ROWS_DEFAULT = 500  # rows per transaction: short enough not to hold writers up
BATCH_ROWS_MAX = 10_000
UNREADABLE_NAMED_MAX = 100  # rows named in the report; the count says how many there are


@dataclass
class TableReport:
    table: str
    rotated: int = 0  # re-encrypted under the current key
    already_current: int = 0
    changed_meanwhile: int = 0  # another writer changed the row first; its value is kept
    unreadable: int = 0  # no key of the ring opens it (named below, never its content)
    unreadable_rows: list[str] | None = None
    by_key: dict[str, int] | None = None  # check: rows per key id

    def name_unreadable(self, tenant_id: str, row_id: str) -> None:
        self.unreadable += 1
        named = self.unreadable_rows = self.unreadable_rows or []
        if len(named) < UNREADABLE_NAMED_MAX:
            named.append(f"{tenant_id}/{row_id}")


def rotate(settings: Settings, batch_rows: int = BATCH_ROWS_DEFAULT) -> int:
    ring = key_ring(settings)
    reports = asyncio.run(_with_engine(settings, lambda e: rotate_all(e, ring, batch_rows)))
    return _print(reports, f"re-encrypted under key {ring.current_id!r}")


def check(settings: Settings) -> int:
    ring = key_ring(settings)
    reports = asyncio.run(_with_engine(settings, lambda e: check_all(e, ring)))
    return _print(reports, "every row decrypts" if not any(r.unreadable for r in reports) else "")


async def rotate_all(engine: AsyncEngine, ring: KeyRing, batch_rows: int) -> list[TableReport]:
    if not 1 <= batch_rows <= BATCH_ROWS_MAX:
        raise ValueError(f"batch rows must be between 1 and {BATCH_ROWS_MAX}")
    return [await _rotate_table(engine, ring, spec, batch_rows) for spec in ENCRYPTED_COLUMNS]


async def check_all(engine: AsyncEngine, ring: KeyRing) -> list[TableReport]:
    return [await _check_table(engine, ring, spec) for spec in ENCRYPTED_COLUMNS]


async def _rotate_table(
    engine: AsyncEngine, ring: KeyRing, spec: tuple[str, str, str], batch_rows: int
) -> TableReport:
    table_name, column, key_column = spec
    table = schema.metadata.tables[table_name]
    row_id = table.c[ROW_ID_COLUMNS[table_name]]
    sealed, key_id = table.c[column], table.c[key_column]
    report = TableReport(table_name)
    async with engine.connect() as conn:
        report.already_current = int(
            (
                await conn.execute(
                    sa.select(sa.func.count()).select_from(table).where(key_id == ring.current_id)
                )
            ).scalar_one()
        )
    after: tuple[str, str] = ("", "")
    while True:
        async with engine.begin() as conn:
            rows = (
                await conn.execute(
                    sa.select(table.c.tenant_id, row_id, sealed)
                    .where(
                        key_id != ring.current_id,
                        sa.tuple_(table.c.tenant_id, row_id) > sa.tuple_(*after),
                    )
                    .order_by(table.c.tenant_id, row_id)
                    .limit(batch_rows)
                )
            ).all()
            for tenant_id, rid, old in rows:
                aad = row_aad(tenant_id, table_name, rid)
                try:
                    plaintext = ring.decrypt(old, aad)
                except DecryptionError:
                    report.name_unreadable(tenant_id, rid)
                    continue
                done = await conn.execute(
                    table.update()
                    .where(table.c.tenant_id == tenant_id, row_id == rid, sealed == old)
                    .values({column: ring.encrypt(plaintext, aad), key_column: ring.current_id})
                )
                if done.rowcount == 1:
                    report.rotated += 1
                else:
                    report.changed_meanwhile += 1
        if len(rows) < batch_rows:
            return report
        after = (rows[-1][0], rows[-1][1])


async def _check_table(
    engine: AsyncEngine, ring: KeyRing, spec: tuple[str, str, str]
) -> TableReport:
    table_name, column, key_column = spec
    table = schema.metadata.tables[table_name]
    row_id = table.c[ROW_ID_COLUMNS[table_name]]
    report = TableReport(table_name, by_key={})
    async with engine.connect() as conn:
        result = await conn.stream(
            sa.select(table.c.tenant_id, row_id, table.c[column], table.c[key_column]).order_by(
                table.c.tenant_id, row_id
            )
        )
        async for tenant_id, rid, sealed, kid in result:
            assert report.by_key is not None
            report.by_key[kid] = report.by_key.get(kid, 0) + 1
            try:
                ring.decrypt(sealed, row_aad(tenant_id, table_name, rid))
                if KeyRing.key_id_of(sealed) != kid:
                    raise DecryptionError("the key id column disagrees with the envelope")
            except DecryptionError:
                report.name_unreadable(tenant_id, rid)
    return report


async def _with_engine(settings: Settings, work):  # type: ignore[no-untyped-def]
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        return await work(engine)
    finally:
        await engine.dispose()


def _print(reports: list[TableReport], summary: str) -> int:
    for report in reports:
        print(json.dumps({k: v for k, v in asdict(report).items() if v is not None}))
    unreadable = sum(r.unreadable for r in reports)
    if unreadable:
        print(f"billing: {unreadable} row(s) no key of the ring decrypts (named above)")
        return 1
    print(f"billing: {summary}")
    return 0

"""Customer rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from billing.domain.customers import (
    Customer,
    CustomerFields,
    PostalAddress,
    TaxId,
    exemption_from_dict,
    exemption_to_dict,
)
from billing.domain.tax import CustomerType
from billing.store.batch import BatchedConnection
from billing.store.lean_reads import LeanConnection
from billing.store.schema import customers as t

_INSERT = insert(t)
GET = select(t).where(t.c.tenant_id == bindparam("tenant_id"), t.c.id == bindparam("id"))
# The same read for the lean path (libpq through psycopg, PostgreSQL): every column, by name.
COLUMNS = tuple(c.name for c in t.columns)
LEAN_GET = f"SELECT {', '.join(COLUMNS)} FROM customers WHERE tenant_id = $1 AND id = $2"
_LEAN_GET_NAME = b"billing_customers_get"
_LEAN_GET_SQL = LEAN_GET.encode()


async def lean_get(conn: LeanConnection, tenant_id: str, customer_id: str) -> Customer | None:
    """`SqlCustomers.get` on a connection of the lean pool: psycopg's own loaders (jsonb as
    Python objects, timestamptz as aware datetimes, converted to UTC as `UTCDateTime` does),
    no SQLAlchemy result processing."""
    row = await conn.fetch_one(
        _LEAN_GET_NAME, _LEAN_GET_SQL, [tenant_id.encode(), customer_id.encode()]
    )
    return None if row is None else _from_tuple(row)


def _from_tuple(row: Sequence[Any]) -> Customer:
    """A row of every column in table order, as psycopg or SQLAlchemy loads it."""
    values = dict(zip(COLUMNS, row, strict=True))
    values["create_time"] = values["create_time"].astimezone(UTC)
    values["update_time"] = values["update_time"].astimezone(UTC)
    return _from_row(values)


class SqlCustomers:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def insert(self, tenant_id: str, customer: Customer) -> None:
        self._conn.defer(_INSERT, {"tenant_id": tenant_id, **_to_row(customer)})

    async def get(self, tenant_id: str, customer_id: str) -> Customer | None:
        rows = await self._conn.fetch(GET, {"tenant_id": tenant_id, "id": customer_id})
        return _from_tuple(rows[0]) if rows else None

    async def get_many(self, tenant_id: str, customer_ids: Sequence[str]) -> dict[str, Customer]:
        if not customer_ids:
            return {}
        query = select(t).where(t.c.tenant_id == tenant_id, t.c.id.in_(list(customer_ids)))
        result = await self._conn.execute(query)
        return {row["id"]: _from_row(row) for row in result.mappings()}

    async def list_after(self, tenant_id: str, after_id: str | None, limit: int) -> list[Customer]:
        query = select(t).where(t.c.tenant_id == tenant_id).order_by(t.c.id).limit(limit)
        if after_id is not None:
            query = query.where(t.c.id > after_id)
        result = await self._conn.execute(query)
        return [_from_row(row) for row in result.mappings()]

    async def update(self, tenant_id: str, customer: Customer, expected_version: int) -> bool:
        result = await self._conn.execute(
            update(t)
            .where(
                t.c.tenant_id == tenant_id,
                t.c.id == customer.id,
                t.c.version == expected_version,
            )
            .values(**_to_row(customer))
        )
        return result.rowcount == 1


def _to_row(customer: Customer) -> dict[str, Any]:
    f = customer.fields
    return {
        "id": customer.id,
        "display_name": f.display_name,
        "email": f.email,
        "currency_code": f.currency_code,
        "time_zone": f.time_zone,
        "locale": f.locale,
        "billing_address": f.billing_address.to_dict(),
        "tax_ids": [x.to_dict() for x in f.tax_ids],
        "metadata": dict(f.metadata),
        "bill_cycle_day": f.bill_cycle_day,
        "customer_type": f.customer_type.value,
        "tax_exemptions": [exemption_to_dict(e) for e in f.tax_exemptions],
        "version": customer.version,
        "create_time": customer.create_time,
        "update_time": customer.update_time,
        "clock_id": customer.clock_id,
    }


def _from_row(row: Mapping[Any, Any]) -> Customer:
    fields = CustomerFields(
        display_name=row["display_name"],
        currency_code=row["currency_code"],
        email=row["email"],
        time_zone=row["time_zone"],
        locale=row["locale"],
        billing_address=PostalAddress.from_dict(row["billing_address"]),
        tax_ids=tuple(TaxId.from_dict(x) for x in row["tax_ids"]),
        metadata=dict(row["metadata"]),
        bill_cycle_day=row["bill_cycle_day"],
        customer_type=CustomerType(row["customer_type"]),
        tax_exemptions=tuple(exemption_from_dict(e) for e in row["tax_exemptions"]),
    )
    return Customer(
        row["id"], fields, row["version"], row["create_time"], row["update_time"], row["clock_id"]
    )

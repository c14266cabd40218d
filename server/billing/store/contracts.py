"""Sales contracts as last applied (issue 18)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from billing.domain.contracts import Contract, contract_from_terms, contract_terms
from billing.store.batch import BatchedConnection
from billing.store.dialect import insert_or_ignore
from billing.store.schema import contracts

c = contracts


def _contract(row: Any) -> Contract:
    return contract_from_terms(
        row.deal_id, row.customer_id, int(row.revision), row.terms, row.body_hash, row.updated_at
    )


# Built once per dialect, not per transaction: every write transaction makes a SqlContracts,
# and building the insert was a tenth of a CreateCustomer's CPU.
_INSERTS = {
    name: insert_or_ignore(name, c, ["tenant_id", "deal_id"]).returning(c.c.deal_id)
    for name in ("postgresql", "sqlite")
}


class SqlContracts:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn
        self._insert = _INSERTS[conn.dialect.name]

    async def get(
        self, tenant_id: str, deal_id: str, *, for_update: bool = False
    ) -> Contract | None:
        query = select(c).where(c.c.tenant_id == tenant_id, c.c.deal_id == deal_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return _contract(row) if row is not None else None

    async def insert(self, tenant_id: str, contract: Contract) -> bool:
        """False when the deal was applied concurrently (its row exists)."""
        # RETURNING, not rowcount: on PostgreSQL, through the batched connection, the count
        # of this INSERT ... ON CONFLICT did not come back as 1 (seen in tests/test_contracts).
        result = await self._conn.execute(self._insert, self._row(tenant_id, contract))
        return result.first() is not None

    async def update(self, tenant_id: str, contract: Contract, expected_revision: int) -> bool:
        row = self._row(tenant_id, contract)
        result = await self._conn.execute(
            update(c)
            .where(
                c.c.tenant_id == tenant_id,
                c.c.deal_id == contract.deal_id,
                c.c.revision == expected_revision,
            )
            .values(
                revision=row["revision"],
                body_hash=row["body_hash"],
                terms=row["terms"],
                updated_at=row["updated_at"],
            )
        )
        return result.rowcount == 1

    @staticmethod
    def _row(tenant_id: str, contract: Contract) -> dict[str, Any]:
        return {
            "tenant_id": tenant_id,
            "deal_id": contract.deal_id,
            "customer_id": contract.customer_id,
            "revision": contract.revision,
            "body_hash": contract.body_hash,
            "terms": contract_terms(contract),
            "updated_at": contract.updated_at,
        }

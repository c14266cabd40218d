"""Rows of payment methods, attempts, payments (with allocations) and gateway credentials
(ADR 0034). Tokens and credentials are encrypted here, on the way in, and decrypted on the
way out: no caller handles ciphertext and no table holds a secret in the clear. The additional
data binds each envelope to its row (tenant, table, row id).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, literal, select, union_all, update
from sqlalchemy.engine import RowMapping

from billing.app.payment_ports import StoredCredentials
from billing.domain.payments import (
    Allocation,
    AttemptStatus,
    FraudOutcome,
    MethodType,
    Payment,
    PaymentAttempt,
    PaymentMethod,
    PaymentSource,
)
from billing.store.batch import BatchedConnection
from billing.store.crypto import KeyRing, row_aad
from billing.store.dialect import upsert
from billing.store.schema import (
    gateway_credentials,
    payment_allocations,
    payment_attempts,
    payment_methods,
    payments,
    subscription_payment_methods,
)

pm, spm = payment_methods, subscription_payment_methods
pa, py, al, gc = payment_attempts, payments, payment_allocations, gateway_credentials

_INSERT_ATTEMPT = insert(pa)
_INSERT_PAYMENT = insert(py)
_LINK_ATTEMPT = update(pa).where(
    pa.c.tenant_id == bindparam("b_tenant"), pa.c.id == bindparam("b_id")
)
_INSERT_ALLOCATION = insert(al)
_SET_SUBSCRIPTION_DEFAULT = {
    name: upsert(name, spm, ["tenant_id", "subscription_id"], ["payment_method_id", "updated_at"])
    for name in ("postgresql", "sqlite")
}
_PUT_CREDENTIALS = {
    name: upsert(
        name, gc, ["tenant_id", "gateway"], ["ciphertext", "key_id", "names", "updated_at"]
    )
    for name in ("postgresql", "sqlite")
}


HAS_ATTACHED = (
    select(pm.c.id)
    .where(
        pm.c.tenant_id == bindparam("t"),
        pm.c.customer_id == bindparam("customer"),
        pm.c.detached_at.is_(None),
    )
    .limit(1)
)


class NoKeyRing(RuntimeError):
    """A secret was to be encrypted or decrypted by a store built without a key ring."""


def _ring(keys: KeyRing | None) -> KeyRing:
    if keys is None:
        raise NoKeyRing("this store has no encryption key ring (runtime: key_ring(settings))")
    return keys


# --- payment methods ------------------------------------------------------------------------


class SqlPaymentMethods:
    def __init__(self, conn: BatchedConnection, keys: KeyRing | None) -> None:
        self._conn = conn
        self._keys = keys

    def _method(self, tenant_id: str, row: RowMapping) -> PaymentMethod:
        token = _ring(self._keys).decrypt(
            row["token_ciphertext"], row_aad(tenant_id, "payment_methods", row["id"])
        )
        return PaymentMethod(
            id=row["id"],
            customer_id=row["customer_id"],
            gateway=row["gateway"],
            token=token,
            type=MethodType(row["type"]),
            created_at=row["created_at"],
            fingerprint=row["fingerprint"],
            brand=row["brand"],
            last4=row["last4"],
            exp_month=row["exp_month"],
            exp_year=row["exp_year"],
            country=row["country"],
            billing_country=row["billing_country"],
            detached_at=row["detached_at"],
            version=row["version"],
        )

    async def insert(self, tenant_id: str, method: PaymentMethod, *, is_default: bool) -> None:
        if is_default:
            await self._clear_default(tenant_id, method.customer_id)
        envelope = _ring(self._keys).encrypt(
            method.token, row_aad(tenant_id, "payment_methods", method.id)
        )
        await self._conn.execute(
            insert(pm),
            {
                "tenant_id": tenant_id,
                "id": method.id,
                "customer_id": method.customer_id,
                "gateway": method.gateway,
                "token_ciphertext": envelope,
                "key_id": KeyRing.key_id_of(envelope),
                "type": method.type.value,
                "fingerprint": method.fingerprint,
                "brand": method.brand,
                "last4": method.last4,
                "exp_month": method.exp_month,
                "exp_year": method.exp_year,
                "country": method.country,
                "billing_country": method.billing_country,
                "is_default": is_default,
                "created_at": method.created_at,
                "detached_at": method.detached_at,
                "version": method.version,
            },
        )

    async def _clear_default(self, tenant_id: str, customer_id: str) -> None:
        await self._conn.execute(
            update(pm)
            .where(pm.c.tenant_id == tenant_id, pm.c.customer_id == customer_id, pm.c.is_default)
            .values(is_default=False)
        )

    async def get(self, tenant_id: str, method_id: str) -> PaymentMethod | None:
        row = (
            (
                await self._conn.execute(
                    select(pm).where(pm.c.tenant_id == tenant_id, pm.c.id == method_id)
                )
            )
            .mappings()
            .first()
        )
        return self._method(tenant_id, row) if row is not None else None

    async def default_for(
        self, tenant_id: str, customer_id: str, subscription_id: str | None
    ) -> PaymentMethod | None:
        """The subscription's own method if it has one attached, else the customer's default:
        one statement (each of its halves on its own index), not one per place looked."""
        customer_default = select(pm, literal(1).label("rank")).where(
            pm.c.tenant_id == tenant_id,
            pm.c.customer_id == customer_id,
            pm.c.is_default,
            pm.c.detached_at.is_(None),
        )
        query: Any = customer_default
        if subscription_id is not None:
            own = (
                select(pm, literal(0).label("rank"))
                .join(
                    spm,
                    (spm.c.tenant_id == pm.c.tenant_id) & (spm.c.payment_method_id == pm.c.id),
                )
                .where(
                    spm.c.tenant_id == tenant_id,
                    spm.c.subscription_id == subscription_id,
                    pm.c.detached_at.is_(None),
                )
            )
            query = union_all(own, customer_default)
        row = (await self._conn.execute(query.order_by("rank").limit(1))).mappings().first()
        return self._method(tenant_id, row) if row is not None else None

    async def is_default(self, tenant_id: str, method: PaymentMethod) -> bool:
        value = await self._conn.scalar(
            select(pm.c.is_default).where(pm.c.tenant_id == tenant_id, pm.c.id == method.id)
        )
        return bool(value)

    async def set_default(
        self, tenant_id: str, method: PaymentMethod, subscription_id: str | None, at: datetime
    ) -> None:
        if subscription_id is not None:
            await self._conn.execute(
                _SET_SUBSCRIPTION_DEFAULT[self._conn.dialect.name],
                {
                    "tenant_id": tenant_id,
                    "subscription_id": subscription_id,
                    "payment_method_id": method.id,
                    "updated_at": at,
                },
            )
            return
        await self._clear_default(tenant_id, method.customer_id)
        await self._conn.execute(
            update(pm)
            .where(pm.c.tenant_id == tenant_id, pm.c.id == method.id)
            .values(is_default=True, version=pm.c.version + 1)
        )

    async def detach(self, tenant_id: str, method: PaymentMethod, at: datetime) -> bool:
        result = await self._conn.execute(
            update(pm)
            .where(
                pm.c.tenant_id == tenant_id,
                pm.c.id == method.id,
                pm.c.version == method.version,
                pm.c.detached_at.is_(None),
            )
            .values(detached_at=at, is_default=False, version=method.version + 1)
        )
        if result.rowcount != 1:
            return False
        await self._conn.execute(
            delete(spm).where(spm.c.tenant_id == tenant_id, spm.c.payment_method_id == method.id)
        )
        return True

    async def list_after(
        self,
        tenant_id: str,
        customer_id: str,
        include_detached: bool,
        after_id: str | None,
        limit: int,
    ) -> list[PaymentMethod]:
        query = (
            select(pm)
            .where(pm.c.tenant_id == tenant_id, pm.c.customer_id == customer_id)
            .order_by(pm.c.id.desc())
            .limit(limit)
        )
        if not include_detached:
            query = query.where(pm.c.detached_at.is_(None))
        if after_id is not None:
            query = query.where(pm.c.id < after_id)
        rows = (await self._conn.execute(query)).mappings().all()
        return [self._method(tenant_id, row) for row in rows]

    async def has_attached(self, tenant_id: str, customer_id: str) -> bool:
        params = {"t": tenant_id, "customer": customer_id}
        return bool(await self._conn.fetch(HAS_ATTACHED, params))

    async def attached_among(self, tenant_id: str, customer_ids: Sequence[str]) -> set[str]:
        if not customer_ids:
            return set()
        rows = await self._conn.execute(
            select(pm.c.customer_id)
            .distinct()
            .where(
                pm.c.tenant_id == tenant_id,
                pm.c.customer_id.in_(list(customer_ids)),
                pm.c.detached_at.is_(None),
            )
        )
        return {row.customer_id for row in rows}


# --- attempts -------------------------------------------------------------------------------


def _attempt_row(attempt: PaymentAttempt) -> dict[str, Any]:
    return {
        "customer_id": attempt.customer_id,
        "invoice_id": attempt.invoice_id,
        "payment_method_id": attempt.payment_method_id,
        "gateway": attempt.gateway,
        "amount_minor": attempt.amount_minor,
        "currency": attempt.currency,
        "status": attempt.status.value,
        "idempotency_key": attempt.idempotency_key,
        "gateway_reference": attempt.gateway_reference,
        "decline_code": attempt.decline_code,
        "failure_message": attempt.failure_message,
        "action_url": attempt.action_url,
        "fraud_outcome": attempt.fraud_outcome.value,
        "fraud_reasons": list(attempt.fraud_reasons),
        "source": attempt.source,
        "lookups": attempt.lookups,
        "request_id": attempt.request_id,
        "created_at": attempt.created_at,
        "updated_at": attempt.updated_at,
        "version": attempt.version,
    }


def _attempt(row: RowMapping) -> PaymentAttempt:
    return PaymentAttempt(
        id=row["id"],
        customer_id=row["customer_id"],
        invoice_id=row["invoice_id"],
        payment_method_id=row["payment_method_id"],
        gateway=row["gateway"],
        amount_minor=row["amount_minor"],
        currency=row["currency"],
        status=AttemptStatus(row["status"]),
        idempotency_key=row["idempotency_key"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        gateway_reference=row["gateway_reference"],
        decline_code=row["decline_code"],
        failure_message=row["failure_message"],
        action_url=row["action_url"],
        fraud_outcome=FraudOutcome(row["fraud_outcome"]),
        fraud_reasons=tuple(row["fraud_reasons"] or ()),
        source=row["source"],
        lookups=row["lookups"],
        request_id=row["request_id"],
        version=row["version"],
        payment_id=row["payment_id"],
    )


_UNSETTLED_STATUSES = [
    AttemptStatus.PENDING.value,
    AttemptStatus.UNKNOWN.value,
    AttemptStatus.REQUIRES_ACTION.value,
]


class SqlPaymentAttempts:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def insert(self, tenant_id: str, attempt: PaymentAttempt) -> None:
        self._conn.defer(
            _INSERT_ATTEMPT,
            {"tenant_id": tenant_id, "id": attempt.id, "payment_id": None, **_attempt_row(attempt)},
        )

    async def get(
        self, tenant_id: str, attempt_id: str, *, lock: bool = False
    ) -> PaymentAttempt | None:
        query = select(pa).where(pa.c.tenant_id == tenant_id, pa.c.id == attempt_id)
        if lock:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).mappings().first()
        return _attempt(row) if row is not None else None

    async def by_reference(
        self, tenant_id: str, gateway: str, reference: str
    ) -> PaymentAttempt | None:
        if not reference:
            return None
        row = (
            (
                await self._conn.execute(
                    select(pa).where(
                        pa.c.tenant_id == tenant_id,
                        pa.c.gateway == gateway,
                        pa.c.gateway_reference == reference,
                    )
                )
            )
            .mappings()
            .first()
        )
        return _attempt(row) if row is not None else None

    async def by_key(self, tenant_id: str, idempotency_key: str) -> PaymentAttempt | None:
        row = (
            (
                await self._conn.execute(
                    select(pa).where(
                        pa.c.tenant_id == tenant_id, pa.c.idempotency_key == idempotency_key
                    )
                )
            )
            .mappings()
            .first()
        )
        return _attempt(row) if row is not None else None

    async def update(
        self, tenant_id: str, attempt: PaymentAttempt, expected: AttemptStatus, version: int
    ) -> bool:
        row = _attempt_row(attempt)
        result = await self._conn.execute(
            update(pa)
            .where(
                pa.c.tenant_id == tenant_id,
                pa.c.id == attempt.id,
                pa.c.status == expected.value,
                pa.c.version == version,
            )
            .values(**row)
        )
        return result.rowcount == 1

    async def unsettled_for_invoice(self, tenant_id: str, invoice_id: str) -> list[PaymentAttempt]:
        rows = await self._conn.execute(
            select(pa)
            .where(
                pa.c.tenant_id == tenant_id,
                pa.c.invoice_id == invoice_id,
                pa.c.status.in_(_UNSETTLED_STATUSES),
            )
            .order_by(pa.c.id)
        )
        return [_attempt(row) for row in rows.mappings()]

    async def count_since(
        self,
        tenant_id: str,
        since: datetime,
        *,
        payment_method_id: str | None = None,
        customer_id: str | None = None,
        country: str | None = None,
    ) -> int:
        query = (
            select(func.count())
            .select_from(pa)
            .where(pa.c.tenant_id == tenant_id, pa.c.created_at >= since)
        )
        if payment_method_id is not None:
            query = query.where(pa.c.payment_method_id == payment_method_id)
        if customer_id is not None:
            query = query.where(pa.c.customer_id == customer_id)
        if country is not None:
            # The attempt's country is its method's (else its billing country).
            query = query.join(
                pm, (pm.c.tenant_id == pa.c.tenant_id) & (pm.c.id == pa.c.payment_method_id)
            ).where(func.coalesce(func.nullif(pm.c.country, ""), pm.c.billing_country) == country)
        return int(await self._conn.scalar(query) or 0)

    async def list_after(
        self,
        tenant_id: str,
        customer_id: str | None,
        invoice_id: str | None,
        after_id: str | None,
        limit: int,
    ) -> list[PaymentAttempt]:
        query = select(pa).where(pa.c.tenant_id == tenant_id).order_by(pa.c.id.desc()).limit(limit)
        if customer_id is not None:
            query = query.where(pa.c.customer_id == customer_id)
        if invoice_id is not None:
            query = query.where(pa.c.invoice_id == invoice_id)
        if after_id is not None:
            query = query.where(pa.c.id < after_id)
        return [_attempt(row) for row in (await self._conn.execute(query)).mappings()]


# --- payments -------------------------------------------------------------------------------


class SqlPayments:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def insert(self, tenant_id: str, payment: Payment) -> None:
        self._conn.defer(
            _INSERT_PAYMENT,
            {
                "tenant_id": tenant_id,
                "id": payment.id,
                "customer_id": payment.customer_id,
                "amount_minor": payment.amount_minor,
                "currency": payment.currency,
                "source": payment.source.value,
                "attempt_id": payment.attempt_id,
                "reference": payment.reference,
                "method": payment.method,
                "to_credit_minor": payment.to_credit_minor,
                "refunded_minor": payment.refunded_minor,
                "disputed_minor": payment.disputed_minor,
                "received_at": payment.received_at,
                "version": 1,
            },
        )
        if payment.allocations:
            self._conn.defer(
                _INSERT_ALLOCATION,
                [
                    {
                        "tenant_id": tenant_id,
                        "payment_id": payment.id,
                        "invoice_id": a.invoice_id,
                        "amount_minor": a.amount_minor,
                    }
                    for a in payment.allocations
                ],
            )
        if payment.attempt_id is not None:
            # A blind write: it travels with the transaction's last batch (no round trip).
            self._conn.defer(
                _LINK_ATTEMPT,
                {"payment_id": payment.id, "b_tenant": tenant_id, "b_id": payment.attempt_id},
            )

    async def _with_allocations(self, tenant_id: str, rows: Sequence[RowMapping]) -> list[Payment]:
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        found = await self._conn.execute(
            select(al)
            .where(al.c.tenant_id == tenant_id, al.c.payment_id.in_(ids))
            .order_by(al.c.payment_id, al.c.invoice_id)
        )
        by_payment: dict[str, list[Allocation]] = {}
        for a in found.mappings():
            by_payment.setdefault(a["payment_id"], []).append(
                Allocation(a["invoice_id"], a["amount_minor"])
            )
        return [
            Payment(
                id=row["id"],
                customer_id=row["customer_id"],
                amount_minor=row["amount_minor"],
                currency=row["currency"],
                source=PaymentSource(row["source"]),
                received_at=row["received_at"],
                allocations=tuple(by_payment.get(row["id"], ())),
                to_credit_minor=row["to_credit_minor"],
                attempt_id=row["attempt_id"],
                reference=row["reference"],
                method=row["method"],
                refunded_minor=row["refunded_minor"],
                disputed_minor=row["disputed_minor"],
            )
            for row in rows
        ]

    async def get(self, tenant_id: str, payment_id: str, *, lock: bool = False) -> Payment | None:
        query = select(py).where(py.c.tenant_id == tenant_id, py.c.id == payment_id)
        if lock:
            query = query.with_for_update()
        rows = (await self._conn.execute(query)).mappings().all()
        found = await self._with_allocations(tenant_id, rows)
        return found[0] if found else None

    async def for_attempt(self, tenant_id: str, attempt_id: str) -> Payment | None:
        rows = (
            (
                await self._conn.execute(
                    select(py).where(py.c.tenant_id == tenant_id, py.c.attempt_id == attempt_id)
                )
            )
            .mappings()
            .all()
        )
        found = await self._with_allocations(tenant_id, rows)
        return found[0] if found else None

    async def update_amounts(
        self, tenant_id: str, payment_id: str, refunded_minor: int, disputed_minor: int
    ) -> None:
        await self._conn.execute(
            update(py)
            .where(py.c.tenant_id == tenant_id, py.c.id == payment_id)
            .values(
                refunded_minor=refunded_minor,
                disputed_minor=disputed_minor,
                version=py.c.version + 1,
            )
        )

    async def list_after(
        self,
        tenant_id: str,
        customer_id: str | None,
        invoice_id: str | None,
        after_id: str | None,
        limit: int,
    ) -> list[Payment]:
        query = select(py).where(py.c.tenant_id == tenant_id).order_by(py.c.id.desc()).limit(limit)
        if customer_id is not None:
            query = query.where(py.c.customer_id == customer_id)
        if invoice_id is not None:
            applied = select(al.c.payment_id).where(
                al.c.tenant_id == tenant_id, al.c.invoice_id == invoice_id
            )
            query = query.where(py.c.id.in_(applied))
        if after_id is not None:
            query = query.where(py.c.id < after_id)
        rows = (await self._conn.execute(query)).mappings().all()
        return await self._with_allocations(tenant_id, rows)


# --- gateway credentials --------------------------------------------------------------------


class SqlGatewayCredentials:
    def __init__(self, conn: BatchedConnection, keys: KeyRing | None) -> None:
        self._conn = conn
        self._keys = keys

    async def put(
        self, tenant_id: str, gateway: str, values: Mapping[str, str], at: datetime
    ) -> StoredCredentials:
        envelope = _ring(self._keys).encrypt(
            json.dumps(dict(values), sort_keys=True),
            row_aad(tenant_id, "gateway_credentials", gateway),
        )
        key_id = KeyRing.key_id_of(envelope)
        await self._conn.execute(
            _PUT_CREDENTIALS[self._conn.dialect.name],
            {
                "tenant_id": tenant_id,
                "gateway": gateway,
                "ciphertext": envelope,
                "key_id": key_id,
                "names": sorted(values),
                "updated_at": at,
                "version": 1,
            },
        )
        return StoredCredentials(gateway, dict(values), key_id, at)

    async def get(self, tenant_id: str, gateway: str) -> StoredCredentials | None:
        row = (
            (
                await self._conn.execute(
                    select(gc).where(gc.c.tenant_id == tenant_id, gc.c.gateway == gateway)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        plain = _ring(self._keys).decrypt(
            row["ciphertext"], row_aad(tenant_id, "gateway_credentials", gateway)
        )
        return StoredCredentials(gateway, json.loads(plain), row["key_id"], row["updated_at"])

    async def names(self, tenant_id: str) -> Sequence[str]:
        rows = await self._conn.execute(
            select(gc.c.gateway).where(gc.c.tenant_id == tenant_id).order_by(gc.c.gateway)
        )
        return [row.gateway for row in rows]

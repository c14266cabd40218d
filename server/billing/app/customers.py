"""Customer use cases: create, get, list, update.

Raises: InvalidArgument (bad fields, bad page token), NotFound (no such customer for this
tenant), EtagMismatch (update against a stale read), IdempotencyKeyReused, RequestInProgress.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from billing.app.audit_records import audit_of
from billing.app.context import CallContext, Write
from billing.app.ids import new_id
from billing.app.paging import decode_page_token, encode_page_token, page_limit
from billing.app.ports import Store, Transaction
from billing.app.records import OutboxEvent
from billing.app.tax_id_checks import TaxIdChecks
from billing.app.writes import WriteRunner
from billing.domain import customers as domain
from billing.domain.customers import (
    Customer,
    CustomerFields,
    PostalAddress,
    TaxId,
    exemption_from_dict,
    exemption_to_dict,
)
from billing.domain.errors import EtagMismatch, NotFound
from billing.domain.names import parse_name
from billing.domain.tax import CustomerType


@dataclass(frozen=True)
class CustomerUpdate:
    name: str
    fields: CustomerFields
    mask: tuple[str, ...]
    etag: str  # empty: no etag check


@dataclass(frozen=True)
class Page:
    customers: list[Customer]
    next_page_token: str


class CustomerUseCases:
    def __init__(
        self,
        store: Store,
        writes: WriteRunner,
        tax_id_checks: TaxIdChecks | None = None,
        work_added: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._writes = writes
        self._checks = tax_id_checks
        self._work_added = work_added or (lambda: None)

    @property
    def _verified_types(self) -> frozenset[str]:
        return self._checks.types if self._checks is not None else frozenset()

    async def _schedule_checks(
        self, tx: Transaction, ctx: CallContext, customer: Customer, before: tuple[TaxId, ...]
    ) -> None:
        """An online check of new or changed tax ids, as due work after this commit."""
        if self._checks is not None:
            await self._checks.schedule(tx, ctx.tenant_id, customer, before)

    async def create(
        self, ctx: CallContext, write: Write[CustomerFields], clock: str = ""
    ) -> Customer:
        """`clock`: `clocks/<id>` to live on a simulation clock (fixed for good)."""
        fields = domain.require_valid_new(write.input, self._verified_types)
        clock_id = parse_name(clock, "clocks", "customer.clock") if clock else None

        async def work(tx: Transaction, now: datetime) -> Customer:
            created = now
            if clock_id is not None:
                sim = await tx.clocks.get(ctx.tenant_id, clock_id)
                if sim is None:
                    raise NotFound(clock)
                # On the customer's own clock, like its invoices: a simulated customer ages
                # with its simulation (fraud rules ask how new a customer is).
                created = sim.now
            customer = Customer(new_id("cus"), fields, 1, created, created, clock_id)
            await tx.customers.insert(ctx.tenant_id, customer)
            await self._schedule_checks(tx, ctx, customer, ())
            snapshot = customer_to_dict(customer)
            await _record(
                tx,
                ctx,
                write=write,
                customer=customer,
                event_type="customer.created",
                action="create",
                changes=snapshot,
                now=now,
            )
            return customer

        created = await self._writes.run(ctx, write, CUSTOMER_CODEC, work)
        self._work_added()  # wakes the worker for a tax id check, if one was scheduled
        return created

    async def get(self, ctx: CallContext, name: str) -> Customer:
        customer_id = parse_name(name, "customers")
        customer = await self._store.customer(ctx.tenant_id, customer_id)
        if customer is None:
            raise NotFound(name)
        return customer

    async def list(self, ctx: CallContext, page_size: int, page_token: str) -> Page:
        limit = page_limit(page_size)
        after = decode_page_token(page_token)
        async with self._store.read() as tx:
            rows = await tx.customers.list_after(ctx.tenant_id, after, limit + 1)
        page, more = rows[:limit], len(rows) > limit
        return Page(page, encode_page_token(page[-1].id) if more else "")

    async def update(self, ctx: CallContext, write: Write[CustomerUpdate]) -> Customer:
        update = write.input
        customer_id = parse_name(update.name, "customers", "customer.name")
        mask = domain.check_update_mask(list(update.mask))

        async def work(tx: Transaction, now: datetime) -> Customer:
            current = await tx.customers.get(ctx.tenant_id, customer_id)
            if current is None:
                raise NotFound(update.name)
            if update.etag and update.etag != current.etag:
                raise EtagMismatch(current.name, update.etag, current.etag)
            fields = domain.apply_update(current.fields, update.fields, mask, self._verified_types)
            changes = domain.describe_changes(current.fields, fields)
            if not changes:
                return current  # nothing to change: no new version, no event
            updated = replace(
                current,
                fields=fields,
                version=current.version + 1,
                update_time=await _clock_now(tx, ctx.tenant_id, current, now),
            )
            if not await tx.customers.update(ctx.tenant_id, updated, current.version):
                # A concurrent writer won between our read and our write.
                raise EtagMismatch(current.name, current.etag, "changed concurrently")
            await self._schedule_checks(tx, ctx, updated, current.fields.tax_ids)
            await _record(
                tx,
                ctx,
                write=write,
                customer=updated,
                event_type="customer.updated",
                action="update",
                changes=changes,
                now=now,
            )
            return updated

        updated = await self._writes.run(ctx, write, CUSTOMER_CODEC, work)
        self._work_added()
        return updated


async def _record(
    tx: Transaction,
    ctx: CallContext,
    *,
    write: Write[Any],
    customer: Customer,
    event_type: str,
    action: str,
    changes: dict[str, Any],
    now: datetime,
) -> None:
    """The outbox event and the audit record of a change, in the change's transaction."""
    await tx.outbox.add(
        OutboxEvent(
            id=new_id("evt"),
            tenant_id=ctx.tenant_id,
            type=event_type,
            resource_name=customer.name,
            payload={"customer": customer_to_dict(customer), "changes": changes},
            occurred_at=now,
        )
    )
    await tx.audit.add(audit_of(ctx, write, customer.name, action, changes, now))


# --- plain-data form, used for stored replies, events and JSON columns -----------------------


def customer_to_dict(customer: Customer) -> dict[str, Any]:
    f = customer.fields
    return {
        "id": customer.id,
        "display_name": f.display_name,
        "email": f.email,
        "currency_code": f.currency_code,
        "time_zone": f.time_zone,
        "locale": f.locale,
        "billing_address": f.billing_address.to_dict(),
        "tax_ids": [t.to_dict() for t in f.tax_ids],
        "metadata": dict(f.metadata),
        "bill_cycle_day": f.bill_cycle_day,
        "customer_type": f.customer_type.value,
        "tax_exemptions": [exemption_to_dict(e) for e in f.tax_exemptions],
        "version": customer.version,
        "create_time": customer.create_time.isoformat(),
        "update_time": customer.update_time.isoformat(),
        "clock_id": customer.clock_id,
    }


def customer_from_dict(data: dict[str, Any]) -> Customer:
    fields = CustomerFields(
        display_name=data["display_name"],
        currency_code=data["currency_code"],
        email=data["email"],
        time_zone=data["time_zone"],
        locale=data["locale"],
        billing_address=PostalAddress.from_dict(data["billing_address"]),
        tax_ids=tuple(TaxId.from_dict(t) for t in data["tax_ids"]),
        metadata=dict(data["metadata"]),
        bill_cycle_day=data.get("bill_cycle_day", 0),
        customer_type=CustomerType(data.get("customer_type", CustomerType.CONSUMER.value)),
        tax_exemptions=tuple(exemption_from_dict(e) for e in data.get("tax_exemptions", ())),
    )
    return Customer(
        id=data["id"],
        fields=fields,
        version=data["version"],
        create_time=datetime.fromisoformat(data["create_time"]),
        update_time=datetime.fromisoformat(data["update_time"]),
        clock_id=data.get("clock_id"),
    )


class _CustomerCodec:
    def encode(self, result: Customer) -> bytes:
        return json.dumps(customer_to_dict(result), separators=(",", ":")).encode()

    def decode(self, data: bytes) -> Customer:
        return customer_from_dict(json.loads(data))


CUSTOMER_CODEC = _CustomerCodec()


async def _clock_now(
    tx: Transaction, tenant_id: str, customer: Customer, now: datetime
) -> datetime:
    """Now on the customer's clock: its simulation clock's time, else `now`."""
    if customer.clock_id is None:
        return now
    sim = await tx.clocks.get(tenant_id, customer.clock_id)
    return now if sim is None else sim.now

"""Payment methods (ADR 0034): attach a gateway token, list, make default (the customer's or a
subscription's own), detach. Each change commits with its event and audit record. Raises
InvalidArgument, NotFound, InvalidState.

A customer's first attached method becomes its default: collection then has a method to use
without a second call; `set_default` moves it later.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from billing.app.audit_records import audit_of
from billing.app.billing_time import BillingTime
from billing.app.context import CallContext, Write
from billing.app.ids import new_id
from billing.app.paging import decode_page_token, encode_page_token, page_limit
from billing.app.ports import RetryableConflict, Store, Transaction
from billing.app.records import OutboxEvent
from billing.app.rules import RuleUseCases
from billing.app.writes import WriteRunner
from billing.domain.errors import InvalidArgument, InvalidState, NotFound, Violations
from billing.domain.names import parse_name
from billing.domain.payments import MethodType, PaymentMethod

COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
LAST4_RE = re.compile(r"^[0-9]{4}$")
TOKEN_MAX = 255
EXP_YEAR_MIN, EXP_YEAR_MAX = 2000, 2100


@dataclass(frozen=True)
class NewMethod:
    customer: str
    gateway: str
    token: str
    type: str  # a MethodType value, "" when unset
    fingerprint: str = ""
    brand: str = ""
    last4: str = ""
    exp_month: int = 0
    exp_year: int = 0
    country: str = ""
    billing_country: str = ""
    set_default: bool = False


@dataclass(frozen=True)
class MethodView:
    """A method as answered: never with its token (replays are decoded from the stored
    result, which must not hold it either)."""

    method: PaymentMethod
    is_default: bool


@dataclass(frozen=True)
class MethodPage:
    methods: list[MethodView]
    next_page_token: str


class PaymentMethods:
    def __init__(
        self, store: Store, writes: WriteRunner, rules: RuleUseCases, time: BillingTime
    ) -> None:
        self._store = store
        self._writes = writes
        self._rules = rules
        self._time = time

    async def attach(self, ctx: CallContext, write: Write[NewMethod]) -> MethodView:
        new = write.input
        customer_id = parse_name(new.customer, "customers", "customer")
        _check(new)

        async def work(tx: Transaction, now: datetime) -> MethodView:
            customer = await tx.customers.get(ctx.tenant_id, customer_id)
            if customer is None:
                raise NotFound(new.customer)
            active = await self._rules.active_rules_in(tx, ctx.tenant_id)
            if active.rules.payments.gateway(new.gateway) is None:
                raise InvalidArgument.single(
                    "gateway", f"{new.gateway!r} is not a gateway of the payment rules"
                )
            at = await self._time.now(tx, ctx.tenant_id, customer.clock_id)
            has_default = (
                await tx.payment_methods.default_for(ctx.tenant_id, customer_id, None) is not None
            )
            is_default = new.set_default or not has_default
            method = PaymentMethod(
                id=new_id("pm"),
                customer_id=customer_id,
                gateway=new.gateway,
                token=new.token,
                type=MethodType(new.type),
                created_at=at,
                fingerprint=new.fingerprint,
                brand=new.brand,
                last4=new.last4,
                exp_month=new.exp_month,
                exp_year=new.exp_year,
                country=new.country,
                billing_country=new.billing_country,
            )
            await tx.payment_methods.insert(ctx.tenant_id, method, is_default=is_default)
            await self._record(
                tx, ctx, write, method, "attached", {"is_default": is_default}, now, at
            )
            return MethodView(replace(method, token=""), is_default)

        return await self._writes.run(ctx, write, METHOD_CODEC, work)

    async def set_default(self, ctx: CallContext, write: Write[tuple[str, str]]) -> MethodView:
        """`write.input`: (method name, subscription name or "")."""
        name, subscription = write.input
        method_id = parse_name(name, "paymentMethods", "payment_method")
        subscription_id = (
            parse_name(subscription, "subscriptions", "subscription") if subscription else None
        )

        async def work(tx: Transaction, now: datetime) -> MethodView:
            method = await self._attached(tx, ctx.tenant_id, method_id, name)
            if subscription_id is not None:
                sub = await tx.subscriptions.get(ctx.tenant_id, subscription_id)
                if sub is None:
                    raise NotFound(subscription)
                if sub.customer_id != method.customer_id:
                    raise InvalidArgument.single(
                        "subscription", f"belongs to another customer than {name}"
                    )
            at = await self._time.now(tx, ctx.tenant_id, await self._clock(tx, ctx, method))
            await tx.payment_methods.set_default(ctx.tenant_id, method, subscription_id, at)
            changes: dict[str, Any] = {"subscription": subscription or None}
            await self._record(tx, ctx, write, method, "default_changed", changes, now, at)
            is_default = await tx.payment_methods.is_default(ctx.tenant_id, method)
            return MethodView(replace(method, token=""), is_default)

        return await self._writes.run(ctx, write, METHOD_CODEC, work)

    async def detach(self, ctx: CallContext, write: Write[str]) -> MethodView:
        name = write.input
        method_id = parse_name(name, "paymentMethods")

        async def work(tx: Transaction, now: datetime) -> MethodView:
            method = await self._attached(tx, ctx.tenant_id, method_id, name)
            at = await self._time.now(tx, ctx.tenant_id, await self._clock(tx, ctx, method))
            if not await tx.payment_methods.detach(ctx.tenant_id, method, at):
                raise RetryableConflict(f"{name} changed while it was detached")
            detached = replace(method, detached_at=at, version=method.version + 1, token="")
            await self._record(tx, ctx, write, detached, "detached", {}, now, at)
            return MethodView(detached, False)

        return await self._writes.run(ctx, write, METHOD_CODEC, work)

    async def list(
        self,
        ctx: CallContext,
        customer: str,
        include_detached: bool,
        page_size: int,
        page_token: str,
    ) -> MethodPage:
        customer_id = parse_name(customer, "customers", "customer")
        limit = page_limit(page_size)
        after = decode_page_token(page_token)
        async with self._store.read() as tx:
            if await tx.customers.get(ctx.tenant_id, customer_id) is None:
                raise NotFound(customer)
            rows = await tx.payment_methods.list_after(
                ctx.tenant_id, customer_id, include_detached, after, limit + 1
            )
            page = rows[:limit]
            views = [
                MethodView(
                    replace(m, token=""), await tx.payment_methods.is_default(ctx.tenant_id, m)
                )
                for m in page
            ]
        return MethodPage(views, encode_page_token(page[-1].id) if len(rows) > limit else "")

    async def _attached(
        self, tx: Transaction, tenant_id: str, method_id: str, name: str
    ) -> PaymentMethod:
        method = await tx.payment_methods.get(tenant_id, method_id)
        if method is None:
            raise NotFound(name)
        if not method.attached:
            raise InvalidState(f"{name} is detached", "METHOD_DETACHED")
        return method

    async def _clock(self, tx: Transaction, ctx: CallContext, method: PaymentMethod) -> str | None:
        customer = await tx.customers.get(ctx.tenant_id, method.customer_id)
        return customer.clock_id if customer is not None else None

    async def _record(
        self,
        tx: Transaction,
        ctx: CallContext,
        write: Write[Any],
        method: PaymentMethod,
        what: str,
        changes: dict[str, Any],
        now: datetime,
        at: datetime,
    ) -> None:
        shown = {
            "customer": f"customers/{method.customer_id}",
            "gateway": method.gateway,
            "type": method.type.value,
            "brand": method.brand,
            "last4": method.last4,
            **changes,
        }
        await tx.outbox.add(
            OutboxEvent(
                new_id("evt"), ctx.tenant_id, f"payment_method.{what}", method.name, shown, at
            )
        )
        await tx.audit.add(
            audit_of(
                ctx,
                write,
                method.name,
                what,
                shown,
                now,
            )
        )


def _check(new: NewMethod) -> None:
    v = Violations()
    if not new.gateway:
        v.add("gateway", "is required")
    if not new.token.strip():
        v.add("token", "is required")
    elif len(new.token) > TOKEN_MAX:
        v.add("token", f"must be at most {TOKEN_MAX} characters")
    if new.type not in {t.value for t in MethodType}:
        v.add("type", "is required: CARD, SEPA_DEBIT, ACH_DEBIT, BACS_DEBIT or WALLET")
    if new.last4 and not LAST4_RE.match(new.last4):
        v.add("last4", "must be exactly four digits")
    if not 0 <= new.exp_month <= 12:
        v.add("exp_month", "must be 1-12, or 0 for none")
    if new.exp_year and not EXP_YEAR_MIN <= new.exp_year <= EXP_YEAR_MAX:
        v.add("exp_year", f"must be {EXP_YEAR_MIN}-{EXP_YEAR_MAX}, or 0 for none")
    for field in ("country", "billing_country"):
        value = getattr(new, field)
        if value and not COUNTRY_RE.match(value):
            v.add(field, "must be an ISO 3166-1 alpha-2 code in capitals, or empty")
    v.raise_if_any()


class _MethodCodec:
    def encode(self, result: MethodView) -> bytes:
        m = result.method
        return json.dumps(
            {
                "id": m.id,
                "customer_id": m.customer_id,
                "gateway": m.gateway,
                "type": m.type.value,
                "created_at": m.created_at.isoformat(),
                "fingerprint": m.fingerprint,
                "brand": m.brand,
                "last4": m.last4,
                "exp_month": m.exp_month,
                "exp_year": m.exp_year,
                "country": m.country,
                "billing_country": m.billing_country,
                "detached_at": m.detached_at.isoformat() if m.detached_at else None,
                "version": m.version,
                "is_default": result.is_default,
            }
        ).encode()

    def decode(self, data: bytes) -> MethodView:
        d = json.loads(data)
        method = PaymentMethod(
            id=d["id"],
            customer_id=d["customer_id"],
            gateway=d["gateway"],
            token="",
            type=MethodType(d["type"]),
            created_at=datetime.fromisoformat(d["created_at"]),
            fingerprint=d["fingerprint"],
            brand=d["brand"],
            last4=d["last4"],
            exp_month=d["exp_month"],
            exp_year=d["exp_year"],
            country=d["country"],
            billing_country=d["billing_country"],
            detached_at=datetime.fromisoformat(d["detached_at"]) if d["detached_at"] else None,
            version=d["version"],
        )
        return MethodView(method, d["is_default"])


METHOD_CODEC = _MethodCodec()

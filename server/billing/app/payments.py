"""PayInvoice and the payment reads: attempts and payments (get, list), the tenant's gateways
with their breakers, and gateway credentials (stored encrypted). Raises InvalidArgument,
NotFound, InvalidState."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

from billing.app.audit_records import audit_of
from billing.app.circuit_breakers import BreakerState, CircuitBreakers
from billing.app.clock import Clock
from billing.app.context import CallContext, Write
from billing.app.gateway_directory import GatewayDirectory
from billing.app.paging import decode_page_token, encode_page_token, page_limit
from billing.app.payment_charges import ChargeOrder, Charges
from billing.app.payment_ports import StoredCredentials
from billing.app.ports import Store, Transaction
from billing.app.rules import RuleUseCases
from billing.app.writes import WriteRunner
from billing.domain.errors import InvalidArgument, NotFound, Violations
from billing.domain.money import Money
from billing.domain.names import parse_name
from billing.domain.payments import Payment, PaymentAttempt
from billing.domain.text import check_text

CREDENTIAL_NAME_MAX = 64
CREDENTIAL_NAME_RE = re.compile(rf"^[A-Za-z0-9_.-]{{1,{CREDENTIAL_NAME_MAX}}}$")
CREDENTIAL_VALUE_MAX = 4096


@dataclass(frozen=True)
class PayOrder:
    invoice: str
    payment_method: str  # "" for the default
    amount: Money | None
    request_country: str


@dataclass(frozen=True)
class AttemptView:
    attempt: PaymentAttempt
    payment_id: str | None  # once succeeded


@dataclass(frozen=True)
class AttemptPage:
    attempts: list[AttemptView]
    next_page_token: str


@dataclass(frozen=True)
class PaymentPage:
    payments: list[Payment]
    next_page_token: str


@dataclass(frozen=True)
class GatewayView:
    name: str
    engine: str
    breaker: BreakerState
    has_credentials: bool


class PaymentUseCases:
    def __init__(
        self,
        store: Store,
        writes: WriteRunner,
        rules: RuleUseCases,
        charges: Charges,
        directory: GatewayDirectory,
        breakers: CircuitBreakers,
        wall: Clock,
    ) -> None:
        self._store = store
        self._writes = writes
        self._rules = rules
        self._charges = charges
        self._directory = directory
        self._breakers = breakers
        self._wall = wall

    async def pay_invoice(self, ctx: CallContext, write: Write[PayOrder]) -> AttemptView:
        order = write.input
        invoice_id = parse_name(order.invoice, "invoices", "invoice")
        method_id = (
            parse_name(order.payment_method, "paymentMethods", "payment_method")
            if order.payment_method
            else None
        )
        if order.request_country and not (
            len(order.request_country) == 2 and order.request_country.isupper()
        ):
            raise InvalidArgument.single(
                "request_country", "must be an ISO 3166-1 alpha-2 code in capitals"
            )
        charge = ChargeOrder(invoice_id, method_id, order.amount, order.request_country)
        attempt = await self._charges.charge(ctx, Write(write.request_id, write.body_hash, charge))
        if attempt is None:  # pay_invoice orders always make an attempt or refuse
            raise NotFound(order.invoice)
        return await self._view(ctx.tenant_id, attempt)

    async def get_attempt(self, ctx: CallContext, name: str) -> AttemptView:
        attempt_id = parse_name(name, "paymentAttempts")
        async with self._store.read() as tx:
            attempt = await tx.payment_attempts.get(ctx.tenant_id, attempt_id)
        if attempt is None:
            raise NotFound(name)
        return await self._view(ctx.tenant_id, attempt)

    async def list_attempts(
        self, ctx: CallContext, customer: str, invoice: str, page_size: int, page_token: str
    ) -> AttemptPage:
        customer_id, invoice_id = _filters(customer, invoice)
        limit = page_limit(page_size)
        after = decode_page_token(page_token)
        async with self._store.read() as tx:
            await _filters_exist(tx, ctx.tenant_id, customer, customer_id, invoice, invoice_id)
            rows = await tx.payment_attempts.list_after(
                ctx.tenant_id, customer_id, invoice_id, after, limit + 1
            )
            page = rows[:limit]
            views = [await _view_in(tx, ctx.tenant_id, a) for a in page]
        return AttemptPage(views, encode_page_token(page[-1].id) if len(rows) > limit else "")

    async def get_payment(self, ctx: CallContext, name: str) -> Payment:
        payment_id = parse_name(name, "payments")
        async with self._store.read() as tx:
            payment = await tx.payments.get(ctx.tenant_id, payment_id)
        if payment is None:
            raise NotFound(name)
        return payment

    async def list_payments(
        self, ctx: CallContext, customer: str, invoice: str, page_size: int, page_token: str
    ) -> PaymentPage:
        customer_id, invoice_id = _filters(customer, invoice)
        limit = page_limit(page_size)
        after = decode_page_token(page_token)
        async with self._store.read() as tx:
            await _filters_exist(tx, ctx.tenant_id, customer, customer_id, invoice, invoice_id)
            rows = await tx.payments.list_after(
                ctx.tenant_id, customer_id, invoice_id, after, limit + 1
            )
        page = rows[:limit]
        return PaymentPage(page, encode_page_token(page[-1].id) if len(rows) > limit else "")

    async def list_gateways(self, ctx: CallContext) -> list[GatewayView]:
        async with self._store.read() as tx:
            active = await self._rules.active_rules_in(tx, ctx.tenant_id)
            stored = set(await tx.gateway_credentials.names(ctx.tenant_id))
        now = self._wall.now()
        return [
            GatewayView(
                g.name,
                g.engine,
                self._breakers.state(ctx.tenant_id, g.name, now),
                g.name in stored,
            )
            for g in active.rules.payments.gateways
        ]

    async def set_credentials(
        self, ctx: CallContext, write: Write[tuple[str, dict[str, str]]]
    ) -> StoredCredentials:
        gateway, values = write.input
        v = Violations()
        if not gateway:
            v.add("gateway", "is required")
        if not values:
            v.add("credentials", "give at least one credential")
        for key, value in values.items():
            if not CREDENTIAL_NAME_RE.match(key):
                v.add(
                    "credentials",
                    f"names are 1 to {CREDENTIAL_NAME_MAX} letters, digits, '_', '-' or '.'",
                )
                continue
            if not value:
                v.add(f"credentials[{key}]", "must not be empty")
            check_text(f"credentials[{key}]", value, CREDENTIAL_VALUE_MAX)
        v.raise_if_any()

        async def work(tx: Transaction, now: datetime) -> StoredCredentials:
            active = await self._rules.active_rules_in(tx, ctx.tenant_id)
            rule = active.rules.payments.gateway(gateway)
            if rule is None:
                raise InvalidArgument.single(
                    "gateway", f"{gateway!r} is not a gateway of the payment rules"
                )
            engine = self._directory.engine(rule.engine)
            if engine is not None:
                needed = set(engine.credential_names())
                unknown = sorted(set(values) - needed) if needed else []
                if unknown:
                    raise InvalidArgument.single(
                        "credentials",
                        f"{rule.engine} takes {', '.join(sorted(needed))}; not"
                        f" {', '.join(unknown)}",
                    )
            stored = await tx.gateway_credentials.put(ctx.tenant_id, gateway, values, now)
            await tx.audit.add(
                audit_of(
                    ctx,
                    write,
                    f"gateways/{gateway}",
                    "set_credentials",
                    {"names": sorted(values), "key_id": stored.key_id},  # never the values
                    now,
                )
            )
            return stored

        return await self._writes.run(ctx, write, CREDENTIALS_CODEC, work)

    async def _view(self, tenant_id: str, attempt: PaymentAttempt) -> AttemptView:
        if attempt.payment_id is not None or attempt.status.value != "succeeded":
            return AttemptView(attempt, attempt.payment_id)  # nothing to read
        async with self._store.read() as tx:
            return await _view_in(tx, tenant_id, attempt)


async def _view_in(tx: Transaction, tenant_id: str, attempt: PaymentAttempt) -> AttemptView:
    if attempt.payment_id is not None:
        return AttemptView(attempt, attempt.payment_id)
    payment = (
        await tx.payments.for_attempt(tenant_id, attempt.id)
        if attempt.status.value == "succeeded"
        else None
    )
    return AttemptView(attempt, payment.id if payment is not None else None)


def _filters(customer: str, invoice: str) -> tuple[str | None, str | None]:
    if not customer and not invoice:
        raise InvalidArgument.single("customer", "give a customer or an invoice")
    customer_id = parse_name(customer, "customers", "customer") if customer else None
    invoice_id = parse_name(invoice, "invoices", "invoice") if invoice else None
    return customer_id, invoice_id


async def _filters_exist(
    tx: Transaction,
    tenant_id: str,
    customer: str,
    customer_id: str | None,
    invoice: str,
    invoice_id: str | None,
) -> None:
    """Another tenant's (or a made-up) filter is NOT_FOUND, not an empty page."""
    if customer_id is not None and await tx.customers.get(tenant_id, customer_id) is None:
        raise NotFound(customer)
    if invoice_id is not None and await tx.invoices.get(tenant_id, invoice_id) is None:
        raise NotFound(invoice)


class _CredentialsCodec:
    """The stored result names the credentials, never their values."""

    def encode(self, result: StoredCredentials) -> bytes:
        return json.dumps(
            {
                "gateway": result.gateway,
                "names": sorted(result.values),
                "key_id": result.key_id,
                "updated_at": result.updated_at.isoformat(),
            }
        ).encode()

    def decode(self, data: bytes) -> StoredCredentials:
        d = json.loads(data)
        return StoredCredentials(
            d["gateway"],
            dict.fromkeys(d["names"], ""),
            d["key_id"],
            datetime.fromisoformat(d["updated_at"]),
        )


CREDENTIALS_CODEC = _CredentialsCodec()

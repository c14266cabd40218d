"""The world the fuzzer calls into: a tenant with every scope and real resources (customers,
a clock, subscriptions, invoices in each state, a coupon, usage events), another tenant's
resources to borrow names from, raw calls that send any bytes, and row counts that show a
write a refused call left behind."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import random
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import sqlalchemy as sa
from google.protobuf import json_format
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from billing.store import schema
from billing_client.v1 import (
    coupons_pb2,
    coupons_pb2_grpc,
    invoices_pb2,
    invoices_pb2_grpc,
    usage_pb2,
    usage_pb2_grpc,
)
from billing_fixtures import Billing, ts
from conftest import Tenant, auth, make_token
from fuzz_schema import Rpc, ServedApi
from test_usage_api import usage_rules

CALL_TIMEOUT_S = 30.0
# A watch waits for events until shortly before its deadline and then ends OK (ADR 0059): a
# short deadline keeps a fuzzed call that does not ask to stop when caught up short.
CALL_TIMEOUTS_S = {"WatchEvents": 2.0}
CLOCK_START = "2026-01-01T00:00:00Z"
METERED_PLAN = "metered_monthly"
SEAT_PLAN = "team_monthly"


def rid() -> str:
    return uuid.uuid4().hex


TOKEN_LIFETIME_S = 6 * 3600  # a large run takes longer than a test token's 10 minutes


def new_tenant() -> Tenant:
    tenant_id = f"t_{uuid.uuid4().hex[:16]}"
    return Tenant(tenant_id, auth(make_token(tenant_id, lifetime_s=TOKEN_LIFETIME_S)))


@dataclass
class Resources:
    """One tenant's resources, created through the API."""

    tenant: Tenant
    billing: Billing
    rule_set: str
    clock: str
    customer: str  # real time
    clock_customer: str  # on the clock
    subscription: str  # seats, real time
    metered_subscription: str  # on the clock
    draft_invoice: str
    open_invoice: str
    coupon: str
    event_id: str
    extra: dict[str, str] = field(default_factory=dict)
    # The sandbox's identifiers of this tenant's charges and disputes, for signed webhooks.
    gateway_refs: dict[str, str] = field(default_factory=dict)

    def names(self) -> list[str]:
        """Every resource name, also as a bare id (what a careless caller might send)."""
        full = [
            self.rule_set,
            self.clock,
            self.customer,
            self.clock_customer,
            self.subscription,
            self.metered_subscription,
            self.draft_invoice,
            self.open_invoice,
            self.coupon,
            *self.extra.values(),
        ]
        return [*full, *(n.split("/", 1)[1] for n in full), self.event_id]

    def ids(self) -> set[str]:
        """The strings that identify this tenant's data: what no other tenant may be shown."""
        return {n.split("/", 1)[-1] for n in self.names()} | {self.tenant.id}


def create_resources(channel: grpc.Channel, tenant: Tenant, marker: str = "") -> Resources:
    """Rules, a clock, two customers, a seat and a metered subscription, a draft and an open
    invoice, a coupon and a usage event. `marker` makes the rule set's hash the tenant's own."""
    b = Billing(channel, tenant.metadata)
    files = usage_rules()
    files["money.yaml"] += f"# {marker}\n".encode()
    rule_set = b.push(files).name
    clock = b.clock(CLOCK_START)
    customer = b.customer()
    clock_customer = b.customer(clock)
    seats = b.subs.CreateSubscription(
        _sub_request(customer.name, SEAT_PLAN, {"prices/team_seat_usd": 2}),
        metadata=tenant.metadata,
    )
    metered = b.subscribe(clock_customer, METERED_PLAN)
    invoices = invoices_pb2_grpc.InvoiceServiceStub(channel)
    draft = _draft(invoices, tenant, customer.name)
    open_invoice = invoices.FinalizeInvoice(
        invoices_pb2.FinalizeInvoiceRequest(
            name=_draft(invoices, tenant, customer.name), request_id=rid()
        ),
        metadata=tenant.metadata,
    )
    coupon = coupons_pb2_grpc.CouponServiceStub(channel).CreateCoupon(
        coupons_pb2.CreateCouponRequest(
            coupon=coupons_pb2.Coupon(
                name=f"coupons/FUZZ{uuid.uuid4().hex[:8].upper()}",
                percent_off="10",
                duration=coupons_pb2.ONCE,
            ),
            request_id=rid(),
        ),
        metadata=tenant.metadata,
    )
    event_id = f"evt-{uuid.uuid4().hex[:12]}"
    usage_pb2_grpc.UsageServiceStub(channel).IngestUsage(
        usage_pb2.IngestUsageRequest(
            events=[
                usage_pb2.UsageEvent(
                    id=event_id,
                    subscription=metered.name,
                    metric="api_calls",
                    timestamp=ts("2026-01-02T00:00:00Z"),
                )
            ]
        ),
        metadata=tenant.metadata,
    )
    return Resources(
        tenant=tenant,
        billing=b,
        rule_set=rule_set,
        clock=clock.name,
        customer=customer.name,
        clock_customer=clock_customer.name,
        subscription=seats.name,
        metered_subscription=metered.name,
        draft_invoice=draft,
        open_invoice=open_invoice.name,
        coupon=coupon.name,
        event_id=event_id,
        **payment_resources(channel, tenant, customer.name),
    )


def _sub_request(customer: str, plan: str, quantities: dict[str, int]) -> Any:
    from billing_client.v1 import subscriptions_pb2

    return subscriptions_pb2.CreateSubscriptionRequest(
        customer=customer, plan=f"plans/{plan}", quantities=quantities, request_id=rid()
    )


def _draft(invoices: Any, tenant: Tenant, customer: str) -> str:
    draft = invoices.CreateInvoice(
        invoices_pb2.CreateInvoiceRequest(customer=customer, memo="fuzz", request_id=rid()),
        metadata=tenant.metadata,
    )
    invoices.AddInvoiceLine(
        invoices_pb2.AddInvoiceLineRequest(
            invoice=draft.name,
            description="Setup",
            quantity="1",
            unit_amount="12.50",
            request_id=rid(),
        ),
        metadata=tenant.metadata,
    )
    return str(draft.name)


# --- raw calls ------------------------------------------------------------------------------


@dataclass
class Outcome:
    code: grpc.StatusCode
    details: str
    replies: list[bytes]

    @property
    def ok(self) -> bool:
        return self.code == grpc.StatusCode.OK


class RawCaller:
    """Calls any RPC with request bytes as given: what a client with its own encoder (or a
    broken one) sends."""

    def __init__(self, channel: grpc.Channel, metadata: tuple[tuple[str, str], ...]) -> None:
        self.channel = channel
        self.metadata = metadata
        self.sent = 0

    def call(self, rpc: Rpc, requests: list[bytes]) -> Outcome:
        """One call; a client-streaming RPC sends every request, the others the first."""
        self.sent += 1
        try:
            if rpc.client_streaming:
                stream_unary = self.channel.stream_unary(rpc.path)
                return _ok([stream_unary(iter(requests), **self._options())])
            if rpc.server_streaming:
                unary_stream = self.channel.unary_stream(rpc.path)
                replies: list[bytes] = []
                try:
                    replies.extend(unary_stream(requests[0], **self._options(rpc)))
                except grpc.RpcError as error:
                    return Outcome(error.code(), error.details() or "", replies)
                return _ok(replies)
            unary = self.channel.unary_unary(rpc.path)
            return _ok([unary(requests[0], **self._options())])
        except grpc.RpcError as error:
            return Outcome(error.code(), error.details() or "", [])

    def _options(self, rpc: Rpc | None = None) -> dict[str, Any]:
        timeout = CALL_TIMEOUTS_S.get(rpc.name, CALL_TIMEOUT_S) if rpc else CALL_TIMEOUT_S
        return {"metadata": self.metadata, "timeout": timeout}


def _ok(replies: list[bytes]) -> Outcome:
    return Outcome(grpc.StatusCode.OK, "", replies)


def serving(channel: grpc.Channel) -> bool:
    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=10
        )
    except grpc.RpcError:
        return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


class CrashLog(logging.Handler):
    """Keeps the server's unexpected-error records by correlation id, so a finding names the
    exception and where it was raised, not only the id the caller sees."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.by_id: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        correlation_id = getattr(record, "correlation_id", "")
        if record.exc_info and correlation_id:
            _, error, tb = record.exc_info
            frames = traceback.extract_tb(tb)
            where = (
                f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
            )
            self.by_id[correlation_id] = f"{type(error).__name__}: {str(error)[:200]} at {where}"

    def explain(self, details: str) -> str:
        for correlation_id, cause in self.by_id.items():
            if correlation_id in details:
                return cause
        return ""


# --- rows -----------------------------------------------------------------------------------


class RowCounter:
    """Row counts of every tenant-keyed table for one tenant, in one query."""

    def __init__(self, sync_url: str, tenant_id: str) -> None:
        self.engine = sa.create_engine(sync_url, poolclass=sa.pool.NullPool)
        self.tenant_id = tenant_id
        self._backlog = False
        tables = [t for t in schema.metadata.sorted_tables if "tenant_id" in t.c]
        self.names = [t.name for t in tables]
        self.query = sa.select(
            *(
                sa.select(sa.func.count())
                .select_from(t)
                .where(t.c.tenant_id == tenant_id)
                .scalar_subquery()
                .label(t.name)
                for t in tables
            )
        )
        due = schema.due_work
        self.pending_query = (
            sa.select(sa.func.count())
            .select_from(due)
            .where(
                due.c.tenant_id == tenant_id,
                due.c.clock_id.is_(None),
                due.c.done_at.is_(None),
                due.c.due_at <= sa.bindparam("until"),
            )
        )

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            row = conn.execute(self.query).one()
        return dict(zip(self.names, row, strict=True))

    def background_pending(self) -> int:
        """Real-time due work the worker may run any moment (it writes on its own)."""
        from datetime import UTC, datetime, timedelta

        until = datetime.now(UTC) + timedelta(seconds=5)
        with self.engine.connect() as conn:
            return int(conn.execute(self.pending_query, {"until": until}).scalar_one())

    def settle(self, timeout_s: float = 3.0) -> bool:
        """Waits (bounded) for the worker to finish due work; False if some is still due.
        After a wait that ran out, looks once without waiting until the backlog is gone (a
        subscription started decades ago renews for minutes; each call must not wait)."""
        if self._backlog:
            timeout_s = 0.0
        deadline = time.monotonic() + timeout_s
        while self.background_pending():
            if time.monotonic() >= deadline:
                self._backlog = True
                return False
            time.sleep(0.05)
        self._backlog = False
        return True

    def close(self) -> None:
        self.engine.dispose()


def diff(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in before if after[k] != before[k]}


# --- templates: a valid request per RPC, the fuzzer's starting point ------------------------

Template = Callable[["World"], dict[str, Any]]


def _files_json(files: dict[str, bytes]) -> dict[str, str]:
    return {k: base64.b64encode(v).decode() for k, v in files.items()}


def _events(w: World, n: int = 2) -> list[dict[str, Any]]:
    return [
        {
            "id": f"fz-{rid()}",
            "subscription": w.own.metered_subscription,
            "metric": "api_calls",
            "timestamp": "2026-01-03T00:00:00Z",
            "properties": {"region": "eu"},
        }
        for _ in range(n)
    ]


TEMPLATES: dict[str, Template] = {
    # AuditService
    "ListAuditRecords": lambda w: {
        "page_size": 5,
        "resource": w.own.customer,
        "start_time": "2026-01-01T00:00:00Z",
    },
    # CatalogService
    "ListProducts": lambda w: {"as_of": "2026-06-01T00:00:00Z"},
    "ListPlans": lambda w: {},
    "GetPlan": lambda w: {"name": f"plans/{SEAT_PLAN}"},
    "GetPrice": lambda w: {"name": "prices/api_calls_usd"},
    "PreviewPrice": lambda w: {"price": "prices/api_calls_usd", "quantity": "150"},
    # ClockService
    "CreateClock": lambda w: {
        "clock": {"now": CLOCK_START, "display_name": "fuzz"},
        "request_id": rid(),
    },
    "GetClock": lambda w: {"name": w.own.clock},
    "AdvanceClock": lambda w: {
        "name": w.fresh_clock(),
        "to": "2026-02-15T00:00:00Z",
        "request_id": rid(),
    },
    # CouponService
    "CreateCoupon": lambda w: {
        "coupon": {
            "name": f"coupons/F{rid()[:10]}",
            "percent_off": "10",
            "duration": "REPEATING",
            "duration_periods": 3,
            "applies_to_plans": [f"plans/{SEAT_PLAN}"],
        },
        "request_id": rid(),
    },
    "GetCoupon": lambda w: {"name": w.own.coupon},
    # CustomerService
    "CreateCustomer": lambda w: {
        "customer": {
            "display_name": "Fuzz Inc.",
            "email": "billing@example.com",
            "currency_code": "USD",
            "time_zone": "Europe/Paris",
            "locale": "fr-FR",
            "billing_address": {"region_code": "FR", "address_lines": ["1 rue"]},
            "tax_ids": [{"type": "eu_vat", "value": "FR40303265045"}],
            "metadata": {"k": "v"},
            "bill_cycle_day": 15,
            "customer_type": "BUSINESS",
            "tax_exemptions": [
                {
                    "jurisdiction": "FR",
                    "reason": "resale",
                    "certificate_id": "C-1",
                    "valid_from": {"year": 2026, "month": 1, "day": 1},
                }
            ],
        },
        "request_id": rid(),
    },
    "GetCustomer": lambda w: {"name": w.own.customer},
    "ListCustomers": lambda w: {"page_size": 5},
    "UpdateCustomer": lambda w: {
        "customer": {"name": w.own.customer, "display_name": "Renamed", "email": "x@example.com"},
        "update_mask": "displayName,email",
        "request_id": rid(),
    },
    # InvoiceService
    "GetInvoice": lambda w: {"name": w.own.open_invoice},
    "ListInvoices": lambda w: {"customer": w.own.customer, "page_size": 5},
    "CreateInvoice": lambda w: {"customer": w.own.customer, "memo": "m", "request_id": rid()},
    "AddInvoiceLine": lambda w: {
        "invoice": w.fresh_draft(),
        "description": "Consulting",
        "quantity": "3",
        "unit_amount": "150.00",
        "request_id": rid(),
    },
    "UpdateInvoice": lambda w: {
        "invoice": {"name": w.fresh_draft(), "memo": "new memo"},
        "update_mask": "memo",
        "request_id": rid(),
    },
    "ApplyCoupon": lambda w: {
        "invoice": w.fresh_draft(),
        "coupon": w.own.coupon,
        "request_id": rid(),
    },
    "DeleteInvoice": lambda w: {"name": w.fresh_draft(), "request_id": rid()},
    "FinalizeInvoice": lambda w: {"name": w.fresh_draft(), "request_id": rid()},
    "VoidInvoice": lambda w: {"name": w.fresh_open(), "request_id": rid()},
    "MarkUncollectible": lambda w: {"name": w.fresh_open(), "request_id": rid()},
    "MarkPaid": lambda w: {
        "name": w.fresh_open(),
        "payment_reference": "ch_123",
        "request_id": rid(),
    },
    "CreateCreditNote": lambda w: {
        "invoice": w.fresh_open(),
        "amount": {"currency_code": "USD", "amount_minor": "250"},
        "reason": "goodwill",
        "request_id": rid(),
    },
    "ExplainInvoice": lambda w: {"name": w.own.open_invoice},
    "RunBilling": lambda w: {"customer": w.own.customer, "request_id": rid()},
    "PreviewUpcomingInvoice": lambda w: {"subscription": w.own.subscription},
    # RuleService
    "ValidateRuleSet": lambda w: {"files": _files_json(usage_rules())},
    "PushRuleSet": lambda w: {"files": _files_json(w.rule_files), "request_id": rid()},
    "GetRuleSet": lambda w: {"name": w.own.rule_set},
    "GetActiveRuleSet": lambda w: {},
    # SubscriptionService
    "CreateSubscription": lambda w: {
        "customer": w.own.customer,
        "plan": f"plans/{SEAT_PLAN}",
        "quantities": {"prices/team_seat_usd": "3"},
        "price_overrides": {"prices/team_seat_usd": "9.00"},
        "trial_days": 0,
        "term_periods": 12,
        "auto_renew": True,
        "phases": [{"start_period": 2, "plan": f"plans/{SEAT_PLAN}"}],
        "coupon": w.own.coupon,
        "request_id": rid(),
    },
    "GetSubscription": lambda w: {"name": w.own.subscription},
    "ListSubscriptions": lambda w: {"customer": w.own.customer, "page_size": 5},
    "PreviewChange": lambda w: {
        "change": {"subscription": w.own.subscription, "quantities": {"prices/team_seat_usd": "5"}}
    },
    "ChangeSubscription": lambda w: _change(w),  # noqa: PLW0108 (defined below)
    "CancelSubscription": lambda w: {
        "name": w.fresh_subscription()[0],
        "at_period_end": True,
        "request_id": rid(),
        "reason_code": "too_expensive",
        "feedback": "We outgrew the plan.",
    },
    "ReactivateSubscription": lambda w: {"name": w.fresh_subscription()[0], "request_id": rid()},
    "PauseSubscription": lambda w: {"name": w.fresh_subscription()[0], "request_id": rid()},
    "ResumeSubscription": lambda w: {"name": w.fresh_subscription()[0], "request_id": rid()},
    "ListEntitlements": lambda w: {"subscription": w.own.subscription},
    "GetEntitlements": lambda w: {"customer": w.own.customer},
    "ListCancellations": lambda w: {"reason_code": "too_expensive", "page_size": 5},
    # UsageService
    "IngestUsage": lambda w: {"events": _events(w)},
    "StreamUsage": lambda w: {"events": _events(w)},
    "VoidEvent": lambda w: {"event_id": w.own.event_id, "request_id": rid()},
    "AmendEvent": lambda w: {
        "event_id": w.own.event_id,
        "properties": {"region": "us"},
        "request_id": rid(),
    },
    "GetCurrentUsage": lambda w: {"subscription": w.own.metered_subscription},
}


def _change(w: World) -> dict[str, Any]:
    name, etag = w.fresh_subscription()
    return {
        "change": {
            "subscription": name,
            "plan": "plans/team_monthly",
            "quantities": {"prices/team_seat_usd": "7"},
        },
        "etag": etag,
        "request_id": rid(),
    }


class World:
    """The fuzzing tenant, its resources, another tenant's, and helpers that make fresh
    resources for the RPCs that use one up (finalize, void, cancel...)."""

    def __init__(self, channel: grpc.Channel, api: ServedApi, sync_url: str) -> None:
        self.channel = channel
        self.api = api
        self.own = create_resources(channel, new_tenant(), marker="own")
        self.other = create_resources(channel, new_tenant(), marker="other")
        for resources, marker in ((self.own, "own"), (self.other, "other")):
            resources.extra["dunning_case"] = dunning_case(resources, marker, sync_url)
            resources.extra["due_work"] = _first_due_work(channel, resources)  # ADR 0058
            resources.extra["contract"] = _first_contract(channel, resources, marker)
        self.rule_files = usage_rules()
        self.rule_files["money.yaml"] += b"# own\n"
        self.caller = RawCaller(channel, self.own.tenant.metadata)
        self.rows = RowCounter(sync_url, self.own.tenant.id)
        self._invoices = invoices_pb2_grpc.InvoiceServiceStub(channel)
        self.crashes = CrashLog()
        self._sequences: Counter[str] = Counter()
        self.last_webhook_id = ""

    def sequence(self, name: str) -> int:
        """0, 1, 2... per name: a template's reproducible variety (Hypothesis reseeds the
        global `random` for every example, so it would repeat one choice)."""
        self._sequences[name] += 1
        return self._sequences[name] - 1

    def record_payment(self) -> str:
        from billing_client.v1 import money_pb2, payments_pb2, payments_pb2_grpc

        payment = payments_pb2_grpc.PaymentServiceStub(self.channel).RecordPayment(
            payments_pb2.RecordPaymentRequest(
                customer=self.own.customer,
                amount=money_pb2.Money(currency_code="USD", amount_minor=100),
                method="bank_transfer",
                reference="wire-fuzz",
                request_id=rid(),
            ),
            metadata=self.metadata,
        )
        return str(payment.name)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return self.own.tenant.metadata

    def request(self, rpc: Rpc) -> Message:
        cls = self.api.message_class(rpc.input)
        return json_format.ParseDict(TEMPLATES[rpc.name](self), cls())

    def fresh_draft(self) -> str:
        return _draft(self._invoices, self.own.tenant, self.own.customer)

    def fresh_open(self) -> str:
        reply = self._invoices.FinalizeInvoice(
            invoices_pb2.FinalizeInvoiceRequest(name=self.fresh_draft(), request_id=rid()),
            metadata=self.metadata,
        )
        return str(reply.name)

    def fresh_subscription(self) -> tuple[str, str]:
        reply = self.own.billing.subs.CreateSubscription(
            _sub_request(self.own.customer, SEAT_PLAN, {"prices/team_seat_usd": 1}),
            metadata=self.metadata,
        )
        return str(reply.name), str(reply.etag)

    def fresh_clock(self) -> str:
        """A clock with one customer and subscription: advancing it does real work, and a
        far leap stays bounded by what this one subscription renews."""
        clock = self.own.billing.clock(CLOCK_START)
        customer = self.own.billing.customer(clock)
        self.own.billing.subscribe(customer, SEAT_PLAN, quantities={"prices/team_seat_usd": 1})
        return str(clock.name)

    def restore_rules(self) -> None:
        """A fuzzed push that succeeded may have swapped the catalog; put the world's back."""
        self.own.billing.push(self.rule_files)

    def close(self) -> None:
        self.rows.close()


# Reply fields that carry identifiers (free text such as a memo may echo what a caller wrote).
ID_FIELDS = frozenset(
    {
        "name",
        "customer",
        "subscription",
        "invoice",
        "coupon",
        "clock",
        "base_subscription",
        "id",
        "last_item",
        "applied_to",
        "corrects",
        "correction",
        "rule_set",
        "number",
        "payment_method",
        "payment",
        "payment_attempt",
        "credit_note",
    }
)


def strings_in(message: Message, only: frozenset[str] | None = None) -> Iterator[str]:
    """Every string (and decoded bytes) anywhere in a message, map keys included; with
    `only`, the strings of fields so named (at any depth)."""
    for descriptor, value in message.ListFields():
        if descriptor.message_type is not None and descriptor.message_type.GetOptions().map_entry:
            for k, v in value.items():
                if isinstance(v, Message):
                    yield from strings_in(v, only)
                elif only is None:
                    yield str(k)
                    yield v.decode(errors="replace") if isinstance(v, bytes) else str(v)
            continue
        values: Iterable[Any] = value if descriptor.is_repeated else [value]
        for item in values:
            if isinstance(item, Message):
                yield from strings_in(item, only)
            elif only is not None and descriptor.name not in only:
                continue
            elif isinstance(item, bytes):
                yield item.decode(errors="replace")
            elif isinstance(item, str):
                yield item


# TaxService (issue 14): a cart of a bare amount, a unit price and a catalog plan.
TEMPLATES["QuoteTax"] = lambda w: {
    "customer": w.own.clock_customer,
    "lines": [
        {"amount": {"currency_code": "USD", "amount_minor": "1999"}, "tax_code": "saas"},
        {"unit_amount": "9.99", "quantity": "3", "inclusive": True},
        {"plan": f"plans/{SEAT_PLAN}", "quantity": "2"},
    ],
    "date": {"year": 2026, "month": 3, "day": 1},
}


# TaxService.GetTaxReport (ADR 0033)
TEMPLATES["GetTaxReport"] = lambda w: {
    "start_date": {"year": 2026, "month": 1, "day": 1},
    "end_date": {"year": 2026, "month": 4, "day": 1},
    "jurisdiction": "DE",
    "currency_code": "EUR",
}


# PaymentService (issue 15): a declining default method (automatic collection of the fuzz
# invoices then fails, settled, instead of paying them), a succeeding one, an attempt and a
# manual payment.
def _attach(channel: grpc.Channel, tenant: Tenant, customer: str, token: str) -> str:
    from billing_client.v1 import payments_pb2, payments_pb2_grpc

    method = payments_pb2_grpc.PaymentServiceStub(channel).AttachPaymentMethod(
        payments_pb2.AttachPaymentMethodRequest(
            customer=customer,
            gateway="sandbox",
            token=token,
            type=payments_pb2.CARD,
            last4="4242",
            set_default=token == "tok_decline",
            request_id=rid(),
        ),
        metadata=tenant.metadata,
    )
    return str(method.name)


def payment_resources(
    channel: grpc.Channel, tenant: Tenant, customer: str
) -> dict[str, dict[str, str]]:
    """`extra`: the payment resources' names; `gateway_refs`: the sandbox's references of a
    declined and a succeeded charge and the disputed charge's dispute id."""
    from billing_client.v1 import money_pb2, payments_pb2, payments_pb2_grpc

    stub = payments_pb2_grpc.PaymentServiceStub(channel)
    declining = _attach(channel, tenant, customer, "tok_decline")
    visa = _attach(channel, tenant, customer, "tok_visa")
    invoices = invoices_pb2_grpc.InvoiceServiceStub(channel)
    attempt = payments_pb2.PaymentAttempt()
    for _ in range(50):  # a collection of the same invoice may be unsettled for a moment
        invoice = invoices.FinalizeInvoice(
            invoices_pb2.FinalizeInvoiceRequest(
                name=_draft(invoices, tenant, customer), request_id=rid()
            ),
            metadata=tenant.metadata,
        )
        try:
            attempt = stub.PayInvoice(
                payments_pb2.PayInvoiceRequest(
                    invoice=invoice.name, payment_method=declining, request_id=rid()
                ),
                metadata=tenant.metadata,
            )
            break
        except grpc.RpcError:
            time.sleep(0.1)
    payment = stub.RecordPayment(
        payments_pb2.RecordPaymentRequest(
            customer=customer,
            amount=money_pb2.Money(currency_code="USD", amount_minor=100),
            method="bank_transfer",
            reference="wire-fuzz",
            request_id=rid(),
        ),
        metadata=tenant.metadata,
    )
    dispute, disputed = _dispute(channel, tenant, customer, visa)
    charged = card_payment(channel, tenant, customer, visa)
    refund = stub.CreateRefund(
        payments_pb2.CreateRefundRequest(
            payment=payment.name,
            amount=money_pb2.Money(currency_code="USD", amount_minor=10),
            reason="wire back, ref fuzz",
            request_id=rid(),
        ),
        metadata=tenant.metadata,
    )
    extra = {
        "payment_method": declining,
        "visa_method": visa,
        "payment_attempt": attempt.name,
        "payment": payment.name,
        "card_payment": charged.payment,
        "refund": refund.name,
        "dispute": dispute,
    }
    refs = {
        "declined": attempt.gateway_reference,
        "charged": charged.gateway_reference,
        "disputed": disputed.gateway_reference,
        "dispute_id": disputed.dispute_id,
    }
    return {"extra": extra, "gateway_refs": refs}


@dataclass(frozen=True)
class _Charge:
    payment: str = ""
    gateway_reference: str = ""
    dispute_id: str = ""


def card_payment(channel: grpc.Channel, tenant: Tenant, customer: str, method: str) -> _Charge:
    """A fresh open invoice paid by card (`tok_visa` succeeds at once): a card payment, whose
    refund goes through the gateway, unlike a manual one's."""
    from billing_client.v1 import payments_pb2, payments_pb2_grpc

    invoices = invoices_pb2_grpc.InvoiceServiceStub(channel)
    stub = payments_pb2_grpc.PaymentServiceStub(channel)
    for _ in range(50):  # its automatic collection may hold the invoice for a moment
        invoice = invoices.FinalizeInvoice(
            invoices_pb2.FinalizeInvoiceRequest(
                name=_draft(invoices, tenant, customer), request_id=rid()
            ),
            metadata=tenant.metadata,
        )
        try:
            attempt = stub.PayInvoice(
                payments_pb2.PayInvoiceRequest(
                    invoice=invoice.name, payment_method=method, request_id=rid()
                ),
                metadata=tenant.metadata,
            )
        except grpc.RpcError:
            time.sleep(0.1)
            continue
        return _Charge(attempt.payment, attempt.gateway_reference)
    raise LookupError("no invoice could be charged")


WEBHOOK_SECRET = "whsec_fuzz"  # the world's sandbox webhook secret (its stored credential)


def signed_webhook(kind: str, **data: object) -> tuple[dict[str, str], bytes]:
    """A sandbox webhook (ADR 0036's format) signed with the world's secret."""
    body = json.dumps(
        {"id": f"evt_{rid()}", "type": kind, "created": 1767225600, "data": data}
    ).encode()
    signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"x-sandbox-signature": signature}, body


def _dispute(
    channel: grpc.Channel, tenant: Tenant, customer: str, method: str
) -> tuple[str, _Charge]:
    """A dispute of a charge, opened by the sandbox's webhook (ADR 0041). A sandbox that sends
    no webhooks leaves a name nobody has."""
    from billing_client.v1 import payments_pb2, payments_pb2_grpc

    stub = payments_pb2_grpc.PaymentServiceStub(channel)
    invoices = invoices_pb2_grpc.InvoiceServiceStub(channel)
    try:
        stub.SetGatewayCredentials(
            payments_pb2.SetGatewayCredentialsRequest(
                gateway="sandbox", credentials={"webhook_secret": WEBHOOK_SECRET}, request_id=rid()
            ),
            metadata=tenant.metadata,
        )
        attempt = None
        for _ in range(50):  # its collection may hold the invoice unsettled for a moment
            invoice = invoices.FinalizeInvoice(
                invoices_pb2.FinalizeInvoiceRequest(
                    name=_draft(invoices, tenant, customer), request_id=rid()
                ),
                metadata=tenant.metadata,
            )
            try:
                attempt = stub.PayInvoice(
                    payments_pb2.PayInvoiceRequest(
                        invoice=invoice.name, payment_method=method, request_id=rid()
                    ),
                    metadata=tenant.metadata,
                )
                break
            except grpc.RpcError:
                time.sleep(0.1)
        if attempt is None:
            raise LookupError("no invoice could be charged")
        dispute_id = f"du_{rid()}"
        headers, body = signed_webhook(
            "dispute.opened", reference=attempt.gateway_reference, dispute_id=dispute_id
        )
        stub.HandleGatewayEvent(
            payments_pb2.HandleGatewayEventRequest(
                gateway="sandbox", headers=headers, payload=body
            ),
            metadata=tenant.metadata,
        )
        disputes = stub.ListDisputes(
            payments_pb2.ListDisputesRequest(customer=customer), metadata=tenant.metadata
        ).disputes
        return str(disputes[0].name), _Charge(
            attempt.payment, attempt.gateway_reference, dispute_id
        )
    except (grpc.RpcError, IndexError, LookupError):
        logging.getLogger("fuzz").warning(
            "no dispute in the fuzz world: the sandbox sent no webhook"
        )
        return "disputes/dp_01J00000000000000000000000", _Charge()


# DunningService (issue 16): a case written through the store (the fuzz world's rules have
# no dunning, so none opens by itself), under a stored rule set that has a policy, starting a
# year ahead so a resumption schedules nothing that runs while the fuzzer does.
def dunning_case(resources: Resources, marker: str, sync_url: str) -> str:
    from datetime import UTC, datetime, timedelta

    from dunning_fixtures import insert_cases, make_case, with_dunning

    files = usage_rules()
    files["money.yaml"] += f"# {marker}\n".encode()
    rule_set = resources.billing.push(with_dunning(files, marker)).name
    resources.billing.push(files)  # the world's own rules active again
    started = datetime.now(UTC) + timedelta(days=365)
    case = make_case(resources.customer, resources.open_invoice, rule_set, started)
    insert_cases(sync_url, resources.tenant.id, [case])
    return case.name


TEMPLATES.update(
    {
        "GetDunningCase": lambda w: {"name": w.own.extra["dunning_case"]},
        "ListDunningCases": lambda w: {
            "customer": w.own.customer,
            "status": "DUNNING_CASE_STATUS_ACTIVE",
            "page_size": 5,
        },
        "PauseDunning": lambda w: {
            "customer": w.own.customer,
            "reason": "customer disputes the charge",
            "request_id": rid(),
        },
        "ResumeDunning": lambda w: {"customer": w.own.customer, "request_id": rid()},
        "GetDunningReport": lambda w: {
            "start_time": "2026-01-01T00:00:00Z",
            "end_time": "2030-01-01T00:00:00Z",
        },
    }
)


def _webhook_request(w: World) -> dict[str, object]:
    """A signed sandbox event, a different one each call (chosen by a counter-seeded
    generator, so a run is reproducible). Mutating the payload field breaks its signature, so
    without these the fuzz would stop at the signature check: every kind and one the sandbox
    ignores; the references of this tenant's and the other tenant's charges and disputes;
    amounts and instants past what the store and `datetime` hold; long and NUL-bearing text; a
    replayed event id; and bodies that are not the expected shape."""
    rng = random.Random(w.sequence("webhook"))
    if rng.random() < 0.2:
        body = rng.choice(_MALFORMED_WEBHOOKS)
    else:
        refs = [*w.own.gateway_refs.values(), *w.other.gateway_refs.values()]
        data = {
            "reference": rng.choice([*refs, "ch_unknown", "", "r" * 300, "ch_\x00"]),
            "idempotency_key": rng.choice(["", rid(), "k" * 300]),
            "amount_minor": rng.choice([0, 1, 50, 1250, 2**31, 2**63 - 1, 2**63, 10**30]),
            "currency": rng.choice(["USD", "EUR", "usd", "", "XXXXXXXXXX", "\x00"]),
            "decline_code": rng.choice(["insufficient_funds", "", "made_up", "d" * 500]),
            "dispute_id": rng.choice([*refs, "du_unknown", "", "\x00", "u" * 300]),
            "fee_minor": rng.choice([0, 15, 2**63, 10**30]),
            "reason": rng.choice(["fraudulent", "", "why " * 2000, "\x00", "ñ"]),
        }
        if w.last_webhook_id and rng.random() < 0.1:
            event_id = w.last_webhook_id  # a replay, the same body or another
        else:
            event_id = rng.choice([f"evt_{rid()}", "e" * 1000, "evt_\x00", f"evt_{rid()}"])
        w.last_webhook_id = event_id
        event = {
            "id": event_id,
            "type": rng.choice([*SANDBOX_EVENT_KINDS, "customer.updated"]),
            "created": rng.choice([0, 1767225600, 253402300799, 253402300800, 10**12, 2**63]),
            "data": data,
        }
        body = json.dumps(event).encode()
    signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {
        "gateway": "sandbox",
        "headers": {"x-sandbox-signature": signature},
        "payload": base64.b64encode(body).decode(),
    }


SANDBOX_EVENT_KINDS = (
    "charge.succeeded",
    "charge.failed",
    "charge.requires_action",
    "refund.succeeded",
    "refund.failed",
    "dispute.opened",
    "dispute.won",
    "dispute.lost",
)
_MALFORMED_WEBHOOKS = (
    b"[]",
    b"null",
    b"\xff\xfe not utf-8",
    b"[" * 20_000 + b"]" * 20_000,  # nesting past the JSON parser's recursion limit
    b'{"id": "evt_1", "type": "charge.succeeded", "created": "yesterday"}',
    b'{"id": "evt_2", "type": "charge.failed", "created": 1, "data": {"amount_minor": -1}}',
    b'{"id": "evt_3", "type": "refund.failed", "created": 1, "data": {"reference": 5}}',
    b'{"id": "evt_4", "type": "dispute.lost", "created": 1, "data": []}',
    b'{"id": "evt_5", "type": "charge.succeeded", "created": 1e400}',
    b'{"id": 7, "type": "charge.succeeded", "created": 1}',
)


def _refund_request(w: World) -> dict[str, object]:
    """A refund of a fresh payment, in turn manual (recorded at once, ADR 0041) and by card
    (through the gateway): a payment refunded once is nearly used up."""
    if w.sequence("refund") % 2:
        payment = card_payment(w.channel, w.own.tenant, w.own.customer, w.own.extra["visa_method"])
        name = payment.payment
    else:
        name = w.record_payment()
    return {
        "payment": name,
        "amount": {**_USD_100, "amount_minor": "50"},
        "reason": "goodwill",
        "request_id": rid(),
    }


def _fresh_method(w: World) -> str:
    return _attach(w.channel, w.own.tenant, w.own.customer, "tok_visa")


_USD_100 = {"currency_code": "USD", "amount_minor": "100"}
TEMPLATES.update(
    {
        "AttachPaymentMethod": lambda w: {
            "customer": w.own.customer,
            "gateway": "sandbox",
            "token": "tok_visa",
            "type": "CARD",
            "brand": "visa",
            "last4": "4242",
            "exp_month": 12,
            "exp_year": 2030,
            "country": "US",
            "billing_country": "US",
            "request_id": rid(),
        },
        "ListPaymentMethods": lambda w: {"customer": w.own.customer, "page_size": 5},
        "SetDefaultPaymentMethod": lambda w: {
            "payment_method": w.own.extra["payment_method"],
            "subscription": w.own.subscription,
            "request_id": rid(),
        },
        "DetachPaymentMethod": lambda w: {"name": _fresh_method(w), "request_id": rid()},
        "PayInvoice": lambda w: {
            "invoice": w.fresh_open(),
            "payment_method": w.own.extra["visa_method"],
            "amount": _USD_100,
            "request_country": "US",
            "request_id": rid(),
        },
        "GetPaymentAttempt": lambda w: {"name": w.own.extra["payment_attempt"]},
        "ListPaymentAttempts": lambda w: {"customer": w.own.customer, "page_size": 5},
        "RecordPayment": lambda w: {
            "customer": w.own.customer,
            "amount": _USD_100,
            "method": "bank_transfer",
            "reference": "wire-1",
            "allocations": [
                {"invoice": w.fresh_open(), "amount": {**_USD_100, "amount_minor": "50"}}
            ],
            "request_id": rid(),
        },
        "GetPayment": lambda w: {"name": w.own.extra["payment"]},
        "ListPayments": lambda w: {"customer": w.own.customer, "page_size": 5},
        "ListGateways": lambda w: {},
        "SetGatewayCredentials": lambda w: {
            "gateway": "sandbox",
            "credentials": {"webhook_secret": "whsec_fuzz"},
            "request_id": rid(),
        },
        "CreateRefund": lambda w: _refund_request(w),  # noqa: PLW0108 (defined above)
        "GetRefund": lambda w: {"name": w.own.extra["refund"]},
        "GetDispute": lambda w: {"name": w.own.extra["dispute"]},
        "ListDisputes": lambda w: {"customer": w.own.customer, "page_size": 5},
        "HandleGatewayEvent": lambda w: _webhook_request(w),  # noqa: PLW0108
    }
)


# ReceivablesService (issue 17, ADR 0052)
TEMPLATES.update(
    {
        "GetArAging": lambda w: {
            "as_of_time": "2026-06-01T00:00:00Z",
            "currency_code": "USD",
            "page_size": 5,
        },
        "ExportJournal": lambda w: {"period": "2026-03"},
    }
)


# LedgerService (issue 17, ADR 0053)
TEMPLATES.update(
    {
        "GetTrialBalance": lambda w: {"as_of_time": "2026-06-01T00:00:00Z", "currency_code": "USD"},
        "ListJournalEntries": lambda w: {"period": "2026-03", "kind": "payment", "page_size": 5},
        "VerifyJournal": lambda w: {},
        "ClosePeriod": lambda w: {"period": "2026-01", "request_id": rid()},
        "GetBooks": lambda w: {},
        "GetRevenueByProduct": lambda w: {"start_period": "2026-01", "end_period": "2026-06"},
        "GetDeferredRevenueRollforward": lambda w: {
            "start_period": "2026-01",
            "end_period": "2026-06",
        },
        "GetDeferredRevenueWaterfall": lambda w: {"months": 6},
    }
)


# MetricsService (issue 17, ADR 0055)
TEMPLATES.update(
    {
        "GetMrr": lambda w: {"as_of_time": "2026-06-01T00:00:00Z"},
        "GetMrrMovements": lambda w: {
            "start_time": "2026-05-01T00:00:00Z",
            "end_time": "2026-06-01T00:00:00Z",
        },
        "GetChurn": lambda w: {
            "start_time": "2026-05-01T00:00:00Z",
            "end_time": "2026-06-01T00:00:00Z",
        },
    }
)


# ContractService (issue 18)
TEMPLATES.update(
    {
        "ApplyContract": lambda w: {
            "contract": {
                "deal_id": f"deal-{rid()[:12]}",
                "customer": w.own.customer,
                "revision": 1,
                "lines": [{"line_id": "l1", "plan": f"plans/{SEAT_PLAN}"}],
            },
            "request_id": rid(),
        },
        "GetContract": lambda w: {"name": w.own.extra["contract"]},
    }
)


# DueWorkService (issue 19, ADR 0058): the world's own items, by the operator's view.
def _first_contract(channel: grpc.Channel, resources: Resources, marker: str) -> str:
    """A Sales deal applied for the tenant (issue 18): one line on the seat plan."""
    from billing_client.v1 import contracts_pb2, contracts_pb2_grpc

    applied = contracts_pb2_grpc.ContractServiceStub(channel).ApplyContract(
        contracts_pb2.ApplyContractRequest(
            contract=contracts_pb2.Contract(
                deal_id=f"deal-{marker}-{rid()[:8]}",
                customer=resources.customer,
                revision=1,
                lines=[contracts_pb2.ContractLine(line_id="l1", plan=f"plans/{SEAT_PLAN}")],
            ),
            request_id=rid(),
        ),
        metadata=resources.tenant.metadata,
    )
    return str(applied.name)


def _first_due_work(channel: grpc.Channel, resources: Resources) -> str:
    from billing_client.v1 import due_work_pb2, due_work_pb2_grpc

    listed = due_work_pb2_grpc.DueWorkServiceStub(channel).ListDueWork(
        due_work_pb2.ListDueWorkRequest(page_size=1), metadata=resources.tenant.metadata
    )
    return str(listed.due_work[0].name)


def _due_work_name(w: World) -> str:
    from billing_client.v1 import due_work_pb2, due_work_pb2_grpc

    listed = due_work_pb2_grpc.DueWorkServiceStub(w.channel).ListDueWork(
        due_work_pb2.ListDueWorkRequest(page_size=50), metadata=w.metadata
    )
    names = [item.name for item in listed.due_work]
    return names[w.sequence("due_work") % len(names)] if names else "dueWork/due_" + "0" * 26


def _retryable_due_work(w: World) -> str:
    """A renewal parked before its time, then due on its advanced clock: RetryDueWork runs it
    (the world's worker never claims it first, as every due item of real time it would)."""
    from billing_client.v1 import due_work_pb2, due_work_pb2_grpc

    stub = due_work_pb2_grpc.DueWorkServiceStub(w.channel)
    billing = w.own.billing
    clock = billing.clock(CLOCK_START)
    sub = billing.subscribe(
        billing.customer(clock), SEAT_PLAN, quantities={"prices/team_seat_usd": 1}
    )
    token, found = "", ""
    while not found:  # the newest items are on the last page
        page = stub.ListDueWork(
            due_work_pb2.ListDueWorkRequest(kind="renew", page_size=1000, page_token=token),
            metadata=w.metadata,
        )
        found = next((i.name for i in page.due_work if i.subject == sub.name), "")
        token = page.next_page_token
        if not token:
            break
    if not found:
        return "dueWork/due_" + "0" * 26
    stub.ParkDueWork(
        due_work_pb2.ParkDueWorkRequest(name=found, request_id=rid()), metadata=w.metadata
    )
    billing.advance(clock, "2026-02-15T00:00:00Z")
    return found


def _parked_due_work(w: World) -> str:
    """An item parked first (parking a parked one changes nothing), so unparking it works."""
    from billing_client.v1 import due_work_pb2, due_work_pb2_grpc

    name = _due_work_name(w)
    with contextlib.suppress(grpc.RpcError):  # done or running meanwhile: unpark refuses it
        due_work_pb2_grpc.DueWorkServiceStub(w.channel).ParkDueWork(
            due_work_pb2.ParkDueWorkRequest(name=name, request_id=rid()), metadata=w.metadata
        )
    return name


TEMPLATES.update(
    {
        "ListDueWork": lambda w: {"filter": "DUE_WORK_FILTER_STUCK", "kind": "renew"},
        "RetryDueWork": lambda w: {"name": _retryable_due_work(w), "request_id": rid()},
        "ParkDueWork": lambda w: {
            "name": _due_work_name(w),
            "reason": "fuzz",
            "request_id": rid(),
        },
        "UnparkDueWork": lambda w: {"name": _parked_due_work(w), "request_id": rid()},
    }
)

# EventService.WatchEvents (ADR 0059)
TEMPLATES["WatchEvents"] = lambda w: {
    "event_types": ["customer.created"],
    "resource": w.own.customer,
    "stop_when_caught_up": True,
}

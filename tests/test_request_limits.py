"""Every request is checked at the edge against the contract's limits (docs/limits.md): an
over-long string, a NUL byte, too many entries, an instant out of range, undecodable bytes
are INVALID_ARGUMENT naming the field, on unary and streaming methods, and leave no write.
Error details stay bounded whatever the request held."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import timestamp_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from google.type import date_pb2 as dt
from grpc_status import rpc_status

from billing.api import validation
from billing.api.convert import instant
from billing.api.errors import rich_status
from billing.api.server import API_FILES
from billing.domain import limits
from billing.domain.errors import FieldViolation, InvalidArgument
from billing.store.schema import metadata as schema
from billing_client.v1 import audit_pb2 as au
from billing_client.v1 import (
    catalog_pb2 as cat,
)
from billing_client.v1 import (
    clocks_pb2 as cl,
)
from billing_client.v1 import contracts_pb2 as ct
from billing_client.v1 import (
    coupons_pb2 as co,
)
from billing_client.v1 import (
    coupons_pb2_grpc,
    usage_pb2_grpc,
)
from billing_client.v1 import (
    customers_pb2 as cu,
)
from billing_client.v1 import due_work_pb2 as due
from billing_client.v1 import dunning_pb2 as dun
from billing_client.v1 import event_stream_pb2 as evs
from billing_client.v1 import (
    invoices_pb2 as inv,
)
from billing_client.v1 import ledger_pb2 as led
from billing_client.v1 import metrics_pb2 as met
from billing_client.v1 import (
    money_pb2 as mo,
)
from billing_client.v1 import payments_pb2 as pay
from billing_client.v1 import receivables_pb2 as recv
from billing_client.v1 import (
    rules_pb2 as ru,
)
from billing_client.v1 import (
    subscriptions_pb2 as sp,
)
from billing_client.v1 import (
    tax_pb2 as tx,
)
from billing_client.v1 import (
    tax_reports_pb2 as tr,
)
from billing_client.v1 import (
    usage_pb2 as us,
)
from billing_fixtures import Billing, rules, ts
from grpc_helpers import field_violations


def rid() -> str:
    return uuid.uuid4().hex


def stamp(seconds: int, nanos: int = 0) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


YEAR_1 = stamp(-62_135_596_800)  # 0001-01-01
NEAR_9999 = stamp(253_402_214_400)  # 9999-12-31
YEAR_3000 = stamp(limits.INSTANT_SECONDS_MAX)  # the first instant refused
CUSTOMER = "customers/cus_01JXXXXXXXXXXXXXXXXXXXXXXX"
SUB = "subscriptions/sub_01JXXXXXXXXXXXXXXXXXXXXXXX"
INVOICE = "invoices/inv_01JXXXXXXXXXXXXXXXXXXXXXXX"
LONG_ID = "x" * (limits.STRING_CHARS_DEFAULT + 1)


def customer(**fields: Any) -> cu.CreateCustomerRequest:
    base: dict[str, Any] = {"display_name": "Acme", "currency_code": "USD"}
    return cu.CreateCustomerRequest(customer=cu.Customer(**{**base, **fields}), request_id=rid())


def with_address_lines(n: int) -> cu.CreateCustomerRequest:
    request = customer()
    request.customer.billing_address.address_lines.extend(["Main St"] * n)
    return request


def subscription(**fields: Any) -> sp.CreateSubscriptionRequest:
    base: dict[str, Any] = {"customer": CUSTOMER, "plan": "plans/basic_monthly"}
    return sp.CreateSubscriptionRequest(**{**base, **fields}, request_id=rid())


def phases(n: int, bad_at: int = -1) -> list[sp.SubscriptionPhase]:
    return [
        sp.SubscriptionPhase(start_period=i + 1, plan="plans/a\x00" if i == bad_at else "plans/a")
        for i in range(n)
    ]


def change(**fields: Any) -> sp.SubscriptionChange:
    return sp.SubscriptionChange(subscription=SUB, **fields)


def event(i: int, **fields: Any) -> us.UsageEvent:
    base: dict[str, Any] = {
        "id": f"ev_{i}",
        "subscription": SUB,
        "metric": "api_calls",
        "timestamp": stamp(1_775_000_000),
    }
    return us.UsageEvent(**{**base, **fields})


# (service, method, request, the field path refused). One or more per RPC; each kind of limit
# appears on unary and streaming methods.
CASES: list[tuple[str, str, Message, str]] = [
    (
        "CustomerService",
        "CreateCustomer",
        customer(display_name="x" * 257),
        "customer.display_name",
    ),
    ("CustomerService", "CreateCustomer", customer(email="a\x00@b.c"), "customer.email"),
    ("CustomerService", "CreateCustomer", customer(time_zone="Z" * 65), "customer.time_zone"),
    (
        "CustomerService",
        "CreateCustomer",
        customer(metadata={f"k{i}": "v" for i in range(51)}),
        "customer.metadata",
    ),
    (
        "CustomerService",
        "CreateCustomer",
        customer(metadata={"k" * 41: "v"}),
        'customer.metadata["' + "k" * 41 + '"]',
    ),
    (
        "CustomerService",
        "CreateCustomer",
        customer(tax_ids=[cu.TaxId(type="eu_vat", value="DE1")] * 11),
        "customer.tax_ids",
    ),
    (
        "CustomerService",
        "CreateCustomer",
        customer(tax_ids=[cu.TaxId(type="eu_vat", value="DE\x001")]),
        "customer.tax_ids[0].value",
    ),
    (
        "CustomerService",
        "CreateCustomer",
        with_address_lines(6),
        "customer.billing_address.address_lines",
    ),
    ("CustomerService", "GetCustomer", cu.GetCustomerRequest(name=LONG_ID), "name"),
    ("CustomerService", "ListCustomers", cu.ListCustomersRequest(page_token="\x00"), "page_token"),
    (
        "CustomerService",
        "UpdateCustomer",
        cu.UpdateCustomerRequest(
            customer=cu.Customer(name=CUSTOMER, locale="x" * 36), request_id=rid()
        ),
        "customer.locale",
    ),
    ("SubscriptionService", "CreateSubscription", subscription(start_time=YEAR_1), "start_time"),
    ("SubscriptionService", "CreateSubscription", subscription(start_time=NEAR_9999), "start_time"),
    (
        "SubscriptionService",
        "CreateSubscription",
        subscription(start_time=stamp(1_775_000_000, -1)),
        "start_time",
    ),
    ("SubscriptionService", "CreateSubscription", subscription(phases=phases(25)), "phases"),
    (
        "SubscriptionService",
        "CreateSubscription",
        subscription(phases=phases(4, 3)),
        "phases[3].plan",
    ),
    (
        "SubscriptionService",
        "CreateSubscription",
        subscription(quantities={"prices/seat": 10**15 + 1}),
        'quantities["prices/seat"]',
    ),
    (
        "SubscriptionService",
        "CreateSubscription",
        subscription(price_overrides={"prices/seat": "1" * 41}),
        'price_overrides["prices/seat"]',
    ),
    ("SubscriptionService", "GetSubscription", sp.GetSubscriptionRequest(name="\x00"), "name"),
    (
        "SubscriptionService",
        "ListSubscriptions",
        sp.ListSubscriptionsRequest(customer=LONG_ID),
        "customer",
    ),
    (
        "SubscriptionService",
        "PreviewChange",
        sp.PreviewChangeRequest(change=change(proration_time=YEAR_3000)),
        "change.proration_time",
    ),
    (
        "SubscriptionService",
        "ChangeSubscription",
        sp.ChangeSubscriptionRequest(change=change(), etag="\x00", request_id=rid()),
        "etag",
    ),
    (
        "SubscriptionService",
        "CancelSubscription",
        sp.CancelSubscriptionRequest(name=SUB, at=YEAR_1, request_id=rid()),
        "at",
    ),
    (
        "SubscriptionService",
        "ReactivateSubscription",
        sp.ReactivateSubscriptionRequest(name=SUB, request_id="r" * 129),
        "request_id",
    ),
    (
        "SubscriptionService",
        "PauseSubscription",
        sp.PauseSubscriptionRequest(name=LONG_ID, request_id=rid()),
        "name",
    ),
    (
        "SubscriptionService",
        "ResumeSubscription",
        sp.ResumeSubscriptionRequest(name=SUB, etag="\x00", request_id=rid()),
        "etag",
    ),
    (
        "SubscriptionService",
        "ListEntitlements",
        sp.ListEntitlementsRequest(subscription=LONG_ID),
        "subscription",
    ),
    (
        "SubscriptionService",
        "GetEntitlements",
        sp.GetEntitlementsRequest(customer=LONG_ID),
        "customer",
    ),
    (
        "SubscriptionService",
        "ListCancellations",
        sp.ListCancellationsRequest(reason_code="r" * 65),
        "reason_code",
    ),
    ("InvoiceService", "GetInvoice", inv.GetInvoiceRequest(name="\x00"), "name"),
    (
        "InvoiceService",
        "ListInvoices",
        inv.ListInvoicesRequest(subscription=LONG_ID),
        "subscription",
    ),
    (
        "InvoiceService",
        "CreateInvoice",
        inv.CreateInvoiceRequest(customer=CUSTOMER, memo="m" * 1025, request_id=rid()),
        "memo",
    ),
    (
        "InvoiceService",
        "AddInvoiceLine",
        inv.AddInvoiceLineRequest(
            invoice=INVOICE, description="d" * 513, unit_amount="1", request_id=rid()
        ),
        "description",
    ),
    (
        "InvoiceService",
        "AddInvoiceLine",
        inv.AddInvoiceLineRequest(
            invoice=INVOICE, description="d", unit_amount="1" * 41, request_id=rid()
        ),
        "unit_amount",
    ),
    (
        "InvoiceService",
        "UpdateInvoice",
        inv.UpdateInvoiceRequest(invoice=inv.Invoice(name=INVOICE, memo="m\x00"), request_id=rid()),
        "invoice.memo",
    ),
    (
        "InvoiceService",
        "ApplyCoupon",
        inv.ApplyCouponRequest(invoice=INVOICE, coupon="\x00", request_id=rid()),
        "coupon",
    ),
    (
        "InvoiceService",
        "DeleteInvoice",
        inv.DeleteInvoiceRequest(name=LONG_ID, request_id=rid()),
        "name",
    ),
    (
        "InvoiceService",
        "FinalizeInvoice",
        inv.FinalizeInvoiceRequest(name="\x00", request_id=rid()),
        "name",
    ),
    (
        "InvoiceService",
        "VoidInvoice",
        inv.VoidInvoiceRequest(name=INVOICE, request_id="\x00"),
        "request_id",
    ),
    (
        "InvoiceService",
        "MarkUncollectible",
        inv.MarkUncollectibleRequest(name=LONG_ID, request_id=rid()),
        "name",
    ),
    (
        "InvoiceService",
        "MarkPaid",
        inv.MarkPaidRequest(name=INVOICE, payment_reference="p" * 257, request_id=rid()),
        "payment_reference",
    ),
    (
        "InvoiceService",
        "CreateCreditNote",
        inv.CreateCreditNoteRequest(
            invoice=INVOICE,
            amount=mo.Money(currency_code="USD", amount_minor=-(10**15) - 1),
            request_id=rid(),
        ),
        "amount.amount_minor",
    ),
    ("InvoiceService", "ExplainInvoice", inv.ExplainInvoiceRequest(name="\x00"), "name"),
    (
        "InvoiceService",
        "PreviewUpcomingInvoice",
        inv.PreviewUpcomingInvoiceRequest(subscription=LONG_ID),
        "subscription",
    ),
    (
        "InvoiceService",
        "RunBilling",
        inv.RunBillingRequest(subscription="s\x00", request_id=rid()),
        "subscription",
    ),
    (
        "ClockService",
        "CreateClock",
        cl.CreateClockRequest(clock=cl.Clock(now=stamp(0, 10**9)), request_id=rid()),
        "clock.now",
    ),
    (
        "ClockService",
        "CreateClock",
        cl.CreateClockRequest(
            clock=cl.Clock(now=stamp(0), display_name="c" * 257), request_id=rid()
        ),
        "clock.display_name",
    ),
    ("ClockService", "GetClock", cl.GetClockRequest(name=LONG_ID), "name"),
    (
        "ClockService",
        "AdvanceClock",
        cl.AdvanceClockRequest(name="clocks/x", to=YEAR_3000, request_id=rid()),
        "to",
    ),
    ("UsageService", "IngestUsage", us.IngestUsageRequest(events=[event(0)] * 10_001), "events"),
    (
        "UsageService",
        "IngestUsage",
        us.IngestUsageRequest(events=[event(0), event(1, metric="m\x00")]),
        "events[1].metric",
    ),
    (
        "UsageService",
        "IngestUsage",
        us.IngestUsageRequest(events=[event(0, timestamp=YEAR_1)]),
        "events[0].timestamp",
    ),
    (
        "UsageService",
        "AmendEvent",
        us.AmendEventRequest(
            event_id="e", properties={str(i): "1" for i in range(51)}, request_id=rid()
        ),
        "properties",
    ),
    (
        "UsageService",
        "VoidEvent",
        us.VoidEventRequest(event_id="e" * 129, request_id=rid()),
        "event_id",
    ),
    (
        "UsageService",
        "GetCurrentUsage",
        us.GetCurrentUsageRequest(subscription="\x00"),
        "subscription",
    ),
    (
        "CouponService",
        "CreateCoupon",
        co.CreateCouponRequest(
            coupon=co.Coupon(name="coupons/c", percent_off="1" * 17), request_id=rid()
        ),
        "coupon.percent_off",
    ),
    (
        "CouponService",
        "CreateCoupon",
        co.CreateCouponRequest(
            coupon=co.Coupon(name="coupons/c", applies_to_plans=["plans/a"] * 101), request_id=rid()
        ),
        "coupon.applies_to_plans",
    ),
    ("CouponService", "GetCoupon", co.GetCouponRequest(name="\x00"), "name"),
    ("CatalogService", "ListProducts", cat.ListProductsRequest(as_of=YEAR_1), "as_of"),
    ("CatalogService", "ListPlans", cat.ListPlansRequest(as_of=stamp(0, -5)), "as_of"),
    (
        "CatalogService",
        "GetPlan",
        cat.GetPlanRequest(name="plans/basic_monthly", as_of=YEAR_3000),
        "as_of",
    ),
    ("CatalogService", "GetPrice", cat.GetPriceRequest(name=LONG_ID), "name"),
    (
        "CatalogService",
        "PreviewPrice",
        cat.PreviewPriceRequest(price="prices/p", quantity="9" * 41),
        "quantity",
    ),
    (
        "RuleService",
        "ValidateRuleSet",
        ru.ValidateRuleSetRequest(files={f"f{i}.yaml": b"kind: money\n" for i in range(257)}),
        "files",
    ),
    (
        "RuleService",
        "PushRuleSet",
        ru.PushRuleSetRequest(
            files={"money.yaml": b"#" * (limits.RULE_FILE_BYTES_MAX + 1)}, request_id=rid()
        ),
        'files["money.yaml"]',
    ),
    ("RuleService", "GetRuleSet", ru.GetRuleSetRequest(name=LONG_ID), "name"),
    (
        "AuditService",
        "ListAuditRecords",
        au.ListAuditRecordsRequest(start_time=YEAR_1),
        "start_time",
    ),
    ("AuditService", "ListAuditRecords", au.ListAuditRecordsRequest(actor="a" * 257), "actor"),
]

# TaxService (issue 14)
_QUOTE_LINE = tx.QuoteLine(amount=mo.Money(currency_code="EUR", amount_minor=1))
CASES += [
    ("TaxService", "QuoteTax", tx.QuoteTaxRequest(lines=[_QUOTE_LINE] * 101), "lines"),
    (
        "TaxService",
        "QuoteTax",
        tx.QuoteTaxRequest(buyer=tx.QuoteBuyer(country="DEU"), lines=[_QUOTE_LINE]),
        "buyer.country",
    ),
    (
        "TaxService",
        "QuoteTax",
        tx.QuoteTaxRequest(customer=CUSTOMER, lines=[tx.QuoteLine(tax_code="t" * 65)]),
        "lines[0].tax_code",
    ),
]
# TaxService.GetTaxReport (ADR 0033)
_MARCH = {
    "start_date": dt.Date(year=2026, month=3, day=1),
    "end_date": dt.Date(year=2026, month=4, day=1),
}
CASES += [
    (
        "TaxService",
        "GetTaxReport",
        tr.GetTaxReportRequest(**_MARCH, jurisdiction="D" * 33),
        "jurisdiction",
    ),
    (
        "TaxService",
        "GetTaxReport",
        tr.GetTaxReportRequest(**_MARCH, currency_code="EURO"),
        "currency_code",
    ),
]

# PaymentService (issue 15, ADR 0034)
CASES += [
    ("PaymentService", m, request, field)
    for m, request, field in [
        ("AttachPaymentMethod", pay.AttachPaymentMethodRequest(gateway="g" * 65), "gateway"),
        ("ListPaymentMethods", pay.ListPaymentMethodsRequest(page_token="\x00"), "page_token"),
        (
            "SetDefaultPaymentMethod",
            pay.SetDefaultPaymentMethodRequest(payment_method="\x00", request_id=rid()),
            "payment_method",
        ),
        ("DetachPaymentMethod", pay.DetachPaymentMethodRequest(name="\x00"), "name"),
        ("PayInvoice", pay.PayInvoiceRequest(request_country="USA"), "request_country"),
        ("GetPaymentAttempt", pay.GetPaymentAttemptRequest(name="\x00"), "name"),
        ("ListPaymentAttempts", pay.ListPaymentAttemptsRequest(page_token="\x00"), "page_token"),
        ("RecordPayment", pay.RecordPaymentRequest(method="m" * 33), "method"),
        ("GetPayment", pay.GetPaymentRequest(name="\x00"), "name"),
        ("ListPayments", pay.ListPaymentsRequest(page_token="\x00"), "page_token"),
        ("CreateRefund", pay.CreateRefundRequest(reason="r" * 257), "reason"),
        ("GetRefund", pay.GetRefundRequest(name="\x00"), "name"),
        ("GetDispute", pay.GetDisputeRequest(name="\x00"), "name"),
        ("ListDisputes", pay.ListDisputesRequest(page_token="\x00"), "page_token"),
        ("HandleGatewayEvent", pay.HandleGatewayEventRequest(gateway="g" * 65), "gateway"),
        (
            "SetGatewayCredentials",
            pay.SetGatewayCredentialsRequest(gateway="g" * 65, request_id=rid()),
            "gateway",
        ),
    ]
]

# DunningService (issue 16, ADR 0043)
CASES += [
    ("DunningService", m, request, field)
    for m, request, field in [
        ("GetDunningCase", dun.GetDunningCaseRequest(name="\x00"), "name"),
        ("ListDunningCases", dun.ListDunningCasesRequest(page_token="\x00"), "page_token"),
        ("PauseDunning", dun.PauseDunningRequest(reason="r" * 501, request_id=rid()), "reason"),
        ("ResumeDunning", dun.ResumeDunningRequest(customer="\x00", request_id=rid()), "customer"),
        (
            "GetDunningReport",
            dun.GetDunningReportRequest(start_time=timestamp_pb2.Timestamp(seconds=-1)),
            "start_time",
        ),
    ]
]

# ReceivablesService (issue 17, ADR 0052)
CASES += [
    (
        "ReceivablesService",
        "GetArAging",
        recv.GetArAgingRequest(currency_code="USDX"),
        "currency_code",
    ),
    ("ReceivablesService", "ExportJournal", recv.ExportJournalRequest(period="2026-001"), "period"),
]

# LedgerService (issue 17, ADR 0053)
CASES += [
    ("LedgerService", m, request, field)
    for m, request, field in [
        ("GetTrialBalance", led.GetTrialBalanceRequest(currency_code="EURO"), "currency_code"),
        ("ListJournalEntries", led.ListJournalEntriesRequest(kind="k" * 33), "kind"),
        ("ClosePeriod", led.ClosePeriodRequest(period="2026-001", request_id=rid()), "period"),
        (
            "GetRevenueByProduct",
            led.GetRevenueByProductRequest(start_period="x" * 8),
            "start_period",
        ),
        (
            "GetDeferredRevenueRollforward",
            led.GetDeferredRevenueRollforwardRequest(end_period="x" * 8),
            "end_period",
        ),
        (
            "GetDeferredRevenueWaterfall",
            led.GetDeferredRevenueWaterfallRequest(months=61),
            "months",
        ),
    ]
]

# MetricsService (issue 17, ADR 0055)
_YEAR_3000 = timestamp_pb2.Timestamp(seconds=32503680000)
CASES += [
    ("MetricsService", "GetMrr", met.GetMrrRequest(as_of_time=_YEAR_3000), "as_of_time"),
    ("MetricsService", "GetMrrMovements", met.GetMrrMovementsRequest(start_time=_YEAR_3000),
     "start_time"),
    ("MetricsService", "GetChurn", met.GetChurnRequest(end_time=_YEAR_3000), "end_time"),
]  # fmt: skip
# EventService.WatchEvents (ADR 0059): refused at the edge, before the stream's handler.
CASES += [
    ("EventService", "WatchEvents", evs.WatchEventsRequest(cursor="c" * 65), "cursor"),
    ("EventService", "WatchEvents", evs.WatchEventsRequest(event_types=["t"] * 21), "event_types"),
    (
        "EventService",
        "WatchEvents",
        evs.WatchEventsRequest(event_types=["t" * 65]),
        "event_types[0]",
    ),
    ("EventService", "WatchEvents", evs.WatchEventsRequest(resource="r" * 129), "resource"),
    ("EventService", "WatchEvents", evs.WatchEventsRequest(resource="a\x00b"), "resource"),
]

# ContractService (issue 18)
CASES += [
    ("ContractService", "GetContract", ct.GetContractRequest(name=LONG_ID), "name"),
    (
        "ContractService",
        "ApplyContract",
        ct.ApplyContractRequest(
            contract=ct.Contract(deal_id="d" * 129, customer=f"customers/cus_{'0' * 26}"),
            request_id=rid(),
        ),
        "contract.deal_id",
    ),
    (
        "ContractService",
        "ApplyContract",
        ct.ApplyContractRequest(
            contract=ct.Contract(
                deal_id="d1",
                lines=[ct.ContractLine(line_id=str(i), plan="plans/p") for i in range(51)],
            ),
            request_id=rid(),
        ),
        "contract.lines",
    ),
]


# DueWorkService (issue 19, ADR 0058)
CASES += [
    ("DueWorkService", m, request, field)
    for m, request, field in [
        ("ListDueWork", due.ListDueWorkRequest(kind="k" * 33), "kind"),
        ("RetryDueWork", due.RetryDueWorkRequest(name="\x00", request_id=rid()), "name"),
        ("ParkDueWork", due.ParkDueWorkRequest(reason="r" * 501, request_id=rid()), "reason"),
        ("UnparkDueWork", due.UnparkDueWorkRequest(name="d" * 300, request_id=rid()), "name"),
    ]
]


def served_methods() -> dict[str, tuple[str, bool, bool]]:
    """Every RPC served: name -> (full path, client streams, server streams)."""
    found = {}
    for file in API_FILES:
        for service in file.services_by_name.values():
            for method in service.methods:
                path = f"/{service.full_name}/{method.name}"
                streams = (method.client_streaming, method.server_streaming)
                found[f"{service.name}.{method.name}"] = (path, *streams)
    return found


def call(channel: grpc.Channel, service: str, method: str, request: Message, md: Any) -> None:
    path, client_streams, server_streams = served_methods()[f"{service}.{method}"]
    raw = {"request_serializer": type(request).SerializeToString, "response_deserializer": None}
    if server_streams:
        list(channel.unary_stream(path, **raw)(request, metadata=md, timeout=30))
    elif client_streams:
        channel.stream_unary(path, **raw)(iter([request]), metadata=md, timeout=30)
    else:
        channel.unary_unary(path, **raw)(request, metadata=md, timeout=30)


def rows_of(database_url: str, tenant_id: str) -> dict[str, int]:
    """How many rows each tenant table holds for this tenant."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return {
                table.name: conn.execute(
                    sa.select(sa.func.count())
                    .select_from(table)
                    .where(table.c.tenant_id == tenant_id)
                ).scalar_one()
                for table in schema.sorted_tables
                if "tenant_id" in table.c
            }
    finally:
        engine.dispose()


@pytest.fixture
def rows(server, tenant) -> Iterator[Callable[[], dict[str, int]]]:  # type: ignore[no-untyped-def]
    yield lambda: rows_of(server.database.sync_url, tenant.id)


def test_every_rpc_has_a_case() -> None:
    covered = {f"{service}.{method}" for service, method, _, _ in CASES} | {
        "UsageService.StreamUsage",  # its own test below: a bad message mid-stream
        "RuleService.GetActiveRuleSet",  # an empty request: nothing to bound
        "PaymentService.ListGateways",  # an empty request: nothing to bound
        "LedgerService.VerifyJournal",  # an empty request: nothing to bound
        "LedgerService.GetBooks",  # an empty request: nothing to bound
    }
    assert covered == set(served_methods())


@pytest.mark.parametrize(
    ("service", "method", "request_message", "field"),
    CASES,
    ids=[f"{m}-{f}"[:60] for _, m, _, f in CASES],
)
def test_a_request_past_a_limit_is_invalid_argument_naming_the_field(  # type: ignore[no-untyped-def]
    channel, tenant, rows, service, method, request_message, field
) -> None:
    before = rows()
    with pytest.raises(grpc.RpcError) as failure:
        call(channel, service, method, request_message, tenant.metadata)
    error = failure.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert field in field_violations(error), field_violations(error)
    assert rows() == before  # nothing written


def test_a_bad_message_in_a_stream_is_refused_naming_it(channel, tenant, rows) -> None:  # type: ignore[no-untyped-def]
    stub = usage_pb2_grpc.UsageServiceStub(channel)
    before = rows()
    messages = [
        us.StreamUsageRequest(events=[event(0, subscription="subscriptions/none")]),
        us.StreamUsageRequest(events=[event(1, id="i" * 129)]),
    ]
    with pytest.raises(grpc.RpcError) as failure:
        stub.StreamUsage(iter(messages), metadata=tenant.metadata, timeout=30)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "[1].events[0].id" in field_violations(failure.value)
    assert rows() == before


# --- the defects the issue names ----------------------------------------------------------


@pytest.fixture
def billing(channel, tenant) -> Billing:  # type: ignore[no-untyped-def]
    b = Billing(channel, tenant.metadata)
    b.push(rules())
    return b


@pytest.mark.parametrize("start", [YEAR_1, NEAR_9999], ids=["year-1", "year-9999"])
def test_create_subscription_refuses_a_start_outside_the_valid_instants(
    billing, rows, start
) -> None:  # type: ignore[no-untyped-def]
    # Year 1 used to be accepted (its renewal then overflowed forever); 9999 was INTERNAL.
    owner = billing.customer()
    before = rows()
    with pytest.raises(grpc.RpcError) as failure:
        billing.subscribe(owner, "basic_monthly", start_time=start)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(failure.value) == {
        "start_time": "must lie in [1970-01-01T00:00:00Z, 3000-01-01T00:00:00Z)"
    }
    assert rows() == before


def test_a_start_backdated_more_than_366_days_is_refused(billing, rows) -> None:  # type: ignore[no-untyped-def]
    # A start decades back used to be accepted: due work then billed every period since.
    clock = billing.clock("2026-04-01T00:00:00Z")
    owner = billing.customer(clock)
    before = rows()
    with pytest.raises(grpc.RpcError) as failure:
        billing.subscribe(owner, "basic_monthly", start_time=ts("2025-03-30T23:59:59Z"))
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(failure.value) == {
        "start_time": "may be at most 366 days before the customer's clock"
        " (2026-04-01T00:00:00+00:00); every period in between would be billed"
    }
    assert rows() == before
    sub = billing.subscribe(owner, "basic_monthly", start_time=ts("2025-03-31T00:00:00Z"))
    assert sub.current_period_start.seconds == ts("2025-03-31T00:00:00Z").seconds


def test_the_last_valid_instant_is_accepted(billing) -> None:  # type: ignore[no-untyped-def]
    sub = billing.subscribe(
        billing.customer(), "basic_monthly", start_time=ts("2999-12-01T00:00:00Z")
    )
    assert sub.current_period_start.seconds == ts("2999-12-01T00:00:00Z").seconds


@pytest.mark.parametrize(
    ("field", "size"),
    [("email", 1 << 20), ("display_name", 10 * 1024)],
    ids=["1MB-email", "10KB-name"],
)
def test_a_huge_value_is_invalid_argument_not_resource_exhausted(  # type: ignore[no-untyped-def]
    customers, tenant, field, size
) -> None:
    with pytest.raises(grpc.RpcError) as failure:
        customers.CreateCustomer(customer(**{field: "a" * size}), metadata=tenant.metadata)
    error = failure.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    violations = field_violations(error)
    assert list(violations) == [f"customer.{field}"]
    assert len(error.details()) < 1024


def test_many_violations_are_capped_and_counted(customers, tenant) -> None:  # type: ignore[no-untyped-def]
    request = customer(metadata={f"key{i}": "v\x00" for i in range(40)})
    with pytest.raises(grpc.RpcError) as failure:
        customers.CreateCustomer(request, metadata=tenant.metadata)
    violations = field_violations(failure.value)
    assert len(violations) == limits.VIOLATIONS_MAX + 1
    assert violations[""] == f"and {40 - limits.VIOLATIONS_MAX} more"


def test_status_details_stay_bounded_whatever_the_violations() -> None:
    long = "x" * 100_000
    error = InvalidArgument([FieldViolation(long, long) for _ in range(1000)])
    status = rich_status(error, grpc.StatusCode.INVALID_ARGUMENT)
    assert status.ByteSize() <= limits.STATUS_DETAILS_BYTES_MAX
    assert len(status.message.encode()) <= limits.STATUS_MESSAGE_BYTES_MAX
    bad = error_details_pb2.BadRequest()
    status.details[1].Unpack(bad)
    last = bad.field_violations[-1]
    assert last.field == "" and last.description.startswith("and ")
    shown = len(bad.field_violations) - 1
    assert last.description == f"and {1000 - shown} more"
    assert all(len(v.field) <= limits.VIOLATION_FIELD_CHARS_MAX + 1 for v in bad.field_violations)


# --- undecodable bytes -------------------------------------------------------------------------

GARBAGE = b"\xff\xff\xff\xff\x0f"  # a field with wire type 7: no valid message
BAD_UTF8 = b"\x0a\x02\xff\xfe"  # field 1 (a string in every request below) with invalid UTF-8


@pytest.mark.parametrize("payload", [GARBAGE, BAD_UTF8], ids=["wire", "utf8"])
def test_undecodable_bytes_are_invalid_argument_on_unary_calls(channel, tenant, payload) -> None:  # type: ignore[no-untyped-def]
    method = channel.unary_unary("/billing.v1.CustomerService/GetCustomer")
    with pytest.raises(grpc.RpcError) as failure:
        method(payload, metadata=tenant.metadata, timeout=10)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (
        failure.value.details()
        == "the request is not a valid billing.v1.GetCustomerRequest message"
    )


def test_undecodable_bytes_are_invalid_argument_on_server_streaming_calls(channel, tenant) -> None:  # type: ignore[no-untyped-def]
    method = channel.unary_stream("/billing.v1.ClockService/AdvanceClock")
    with pytest.raises(grpc.RpcError) as failure:
        list(method(GARBAGE, metadata=tenant.metadata, timeout=10))
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "billing.v1.AdvanceClockRequest" in failure.value.details()


def test_undecodable_bytes_are_invalid_argument_on_client_streaming_calls(
    channel, tenant, rows
) -> None:  # type: ignore[no-untyped-def]
    method = channel.stream_unary("/billing.v1.UsageService/StreamUsage")
    good = us.StreamUsageRequest(events=[event(0)]).SerializeToString()
    before = rows()
    with pytest.raises(grpc.RpcError) as failure:
        method(iter([good, BAD_UTF8]), metadata=tenant.metadata, timeout=10)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "billing.v1.StreamUsageRequest" in failure.value.details()
    assert rows() == before


def test_undecodable_bytes_without_a_token_are_unauthenticated(channel) -> None:  # type: ignore[no-untyped-def]
    method = channel.unary_unary("/billing.v1.CustomerService/GetCustomer")
    with pytest.raises(grpc.RpcError) as failure:
        method(GARBAGE, timeout=10)
    assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED


# --- rule file names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("rules.txt", "rules.txt"),
        ("sub/money.yaml", "sub/money.yaml"),
        ("sub\\money.yaml", "sub\\money.yaml"),
        ("..money.yaml", "..money.yaml"),
        ("mo\x00ney.yaml", "mo\\0ney.yaml"),
        ("", ""),
        ("m" * 124 + ".yaml", "m" * 64 + "…"),
    ],
    ids=["suffix", "slash", "backslash", "dots", "nul", "empty", "long"],
)
@pytest.mark.parametrize("rpc", ["ValidateRuleSet", "PushRuleSet"])
def test_a_bad_rule_file_name_is_invalid_argument_naming_it(
    rules_api, tenant, rows, rpc, name, shown
) -> None:  # type: ignore[no-untyped-def]
    files = {**rules(), name: b"kind: money\n"}
    before = rows()
    with pytest.raises(grpc.RpcError) as failure:
        if rpc == "ValidateRuleSet":
            rules_api.ValidateRuleSet(
                ru.ValidateRuleSetRequest(files=files), metadata=tenant.metadata
            )
        else:
            rules_api.PushRuleSet(
                ru.PushRuleSetRequest(files=files, request_id=rid()), metadata=tenant.metadata
            )
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT, failure.value.details()
    assert f'files["{shown}"]' in field_violations(failure.value)
    assert rows() == before


# --- input-driven bounds the edge cannot see ---------------------------------------------------


def test_a_draft_holds_a_bounded_number_of_one_off_lines(billing, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("billing.app.invoices.ONE_OFF_LINES_PER_INVOICE_MAX", 2)
    owner = billing.customer()
    draft = billing.invoices.CreateInvoice(
        inv.CreateInvoiceRequest(customer=owner.name, request_id=rid()), metadata=billing.metadata
    )

    def add() -> inv.Invoice:
        return billing.invoices.AddInvoiceLine(
            inv.AddInvoiceLineRequest(
                invoice=draft.name, description="Setup", unit_amount="10.00", request_id=rid()
            ),
            metadata=billing.metadata,
        )

    add()
    assert len(add().lines) == 2
    with pytest.raises(grpc.RpcError) as failure:
        add()
    assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    status = rpc_status.from_call(failure.value)  # type: ignore[arg-type]
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    assert info.reason == "TOO_MANY_LINES"


@pytest.mark.parametrize(
    "text", ["1e999999", "NaN", "Infinity", "-Infinity", "1" * 20, "0." + "1" * 19]
)
def test_a_unit_amount_outside_the_decimal_grammar_is_refused(billing, text) -> None:  # type: ignore[no-untyped-def]
    owner = billing.customer()
    draft = billing.invoices.CreateInvoice(
        inv.CreateInvoiceRequest(customer=owner.name, request_id=rid()), metadata=billing.metadata
    )
    with pytest.raises(grpc.RpcError) as failure:
        billing.invoices.AddInvoiceLine(
            inv.AddInvoiceLineRequest(
                invoice=draft.name, description="Setup", unit_amount=text, request_id=rid()
            ),
            metadata=billing.metadata,
        )
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "unit_amount" in field_violations(failure.value)


def test_a_coupon_amount_past_the_bound_is_refused(channel, tenant) -> None:  # type: ignore[no-untyped-def]
    stub = coupons_pb2_grpc.CouponServiceStub(channel)
    request = co.CreateCouponRequest(
        coupon=co.Coupon(
            name="coupons/big",
            amount_off=mo.Money(currency_code="USD", amount_minor=2**62),
            duration=co.ONCE,
        ),
        request_id=rid(),
    )
    with pytest.raises(grpc.RpcError) as failure:
        stub.CreateCoupon(request, metadata=tenant.metadata)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "coupon.amount_off.amount_minor" in field_violations(failure.value)


# --- the converter and the walker on their own -------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "nanos", "ok"),
    [
        (0, 0, True),
        (limits.INSTANT_SECONDS_MAX - 1, 999_999_999, True),
        (limits.INSTANT_SECONDS_MAX, 0, False),
        (-1, 999_999_999, False),
        (1_775_000_000, -1, False),
        (1_775_000_000, 1_000_000_000, False),
        (2**62, 0, False),
    ],
)
def test_the_one_timestamp_converter(seconds: int, nanos: int, ok: bool) -> None:
    message = stamp(seconds, nanos)
    if ok:
        assert instant(message, True, "at") == message.ToDatetime(tzinfo=limits.INSTANT_MIN.tzinfo)
    else:
        with pytest.raises(InvalidArgument) as refused:
            instant(message, True, "at")
        assert [v.field for v in refused.value.violations] == ["at"]
    assert instant(message, False, "at") is None


def test_every_request_type_has_a_plan_and_its_default_passes() -> None:
    for file in API_FILES:
        for service in file.services_by_name.values():
            for method in service.methods:
                plan = validation.plan_for(method.input_type)
                from google.protobuf import message_factory

                empty = message_factory.GetMessageClass(method.input_type)()
                assert plan(empty) is None, method.full_name


def test_the_contract_and_the_limits_module_agree() -> None:
    def limit(message: type[Message], field: str) -> validation.Limits:
        return validation.limits_of(message.DESCRIPTOR.fields_by_name[field])  # type: ignore[attr-defined]

    assert limit(cu.Customer, "email").max_length == limits.EMAIL_CHARS_MAX
    assert limit(cu.Customer, "display_name").max_length == limits.TEXT_CHARS_MAX
    assert limit(cu.Customer, "metadata") == validation.Limits(
        max_length=limits.METADATA_VALUE_CHARS_MAX,
        max_items=limits.METADATA_KEYS_MAX,
        max_key_length=limits.METADATA_KEY_CHARS_MAX,
    )
    assert limit(cu.Customer, "tax_ids").max_items == limits.TAX_IDS_MAX
    assert limit(sp.CreateSubscriptionRequest, "phases").max_items == limits.SUBSCRIPTION_PHASES_MAX
    assert limit(sp.CreateSubscriptionRequest, "quantities").max_abs == limits.QUANTITY_INT_MAX
    assert limit(mo.Money, "amount_minor").max_abs == limits.AMOUNT_MINOR_MAX
    assert (
        limit(inv.AddInvoiceLineRequest, "description").max_length
        == limits.LINE_DESCRIPTION_CHARS_MAX
    )
    assert (
        limit(inv.AddInvoiceLineRequest, "unit_amount").max_length == limits.DECIMAL_TEXT_CHARS_MAX
    )
    assert limit(inv.MarkPaidRequest, "payment_reference").max_length == limits.TEXT_CHARS_MAX
    assert limit(inv.CreateInvoiceRequest, "memo").max_length == limits.MEMO_CHARS_MAX
    assert limit(us.IngestUsageRequest, "events").max_items == limits.USAGE_BATCH_EVENTS_MAX
    assert limit(ru.PushRuleSetRequest, "files") == validation.Limits(
        max_length=limits.RULE_FILE_BYTES_MAX, max_items=limits.RULE_FILES_MAX
    )

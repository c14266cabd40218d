"""Assembles the grpc.aio server: services, health, reflection, interceptors."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc
from opentelemetry import trace

from billing.api.audit import AuditServicer
from billing.api.auth import TokenVerifier
from billing.api.catalog import CatalogServicer
from billing.api.clocks import ClockServicer
from billing.api.context import ContextFactory
from billing.api.contracts import ContractServicer
from billing.api.coupons import CouponServicer
from billing.api.customers import CustomerServicer
from billing.api.due_work import DueWorkServicer
from billing.api.dunning import DunningServicer
from billing.api.event_stream import EventServicer
from billing.api.interceptors import EdgeInterceptor
from billing.api.invoices import InvoiceServicer
from billing.api.ledger import LedgerServicer
from billing.api.method_table import MethodTable
from billing.api.metrics import MetricsServicer
from billing.api.payments import PaymentServicer
from billing.api.rate_limit import RateLimiter
from billing.api.receivables import ReceivablesServicer
from billing.api.refunds import RefundUseCases
from billing.api.rules import RuleServicer
from billing.api.scopes import required_scopes
from billing.api.subscriptions import SubscriptionServicer
from billing.api.tax import TaxServicer
from billing.api.usage import UsageServicer
from billing.app.audit import AuditUseCases
from billing.app.billing_runs import BillingRuns
from billing.app.catalog import CatalogUseCases
from billing.app.clocks import ClockUseCases
from billing.app.contracts import ContractUseCases
from billing.app.coupons import CouponUseCases
from billing.app.customers import CustomerUseCases
from billing.app.due_work_admin import DueWorkAdmin
from billing.app.dunning_admin import DunningAdmin
from billing.app.event_stream import EventStream
from billing.app.invoices import InvoiceLifecycle, InvoiceUseCases
from billing.app.ledger import LedgerUseCases
from billing.app.manual_payments import ManualPayments
from billing.app.mrr import MetricsUseCases
from billing.app.payment_methods import PaymentMethods
from billing.app.payments import PaymentUseCases
from billing.app.receivables import ReceivablesUseCases
from billing.app.rules import RuleUseCases
from billing.app.subscriptions import SubscriptionUseCases
from billing.app.tax_ledger import TaxReports
from billing.app.tax_quotes import TaxQuoteUseCases
from billing.app.usage import UsageUseCases
from billing.domain import limits
from billing.observability.metrics.rpc import RpcMetrics
from billing_client.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    catalog_pb2,
    catalog_pb2_grpc,
    clocks_pb2,
    clocks_pb2_grpc,
    contracts_pb2,
    contracts_pb2_grpc,
    coupons_pb2,
    coupons_pb2_grpc,
    customers_pb2,
    customers_pb2_grpc,
    due_work_pb2,
    due_work_pb2_grpc,
    dunning_pb2,
    dunning_pb2_grpc,
    event_stream_pb2,
    event_stream_pb2_grpc,
    invoices_pb2,
    invoices_pb2_grpc,
    ledger_pb2,
    ledger_pb2_grpc,
    metrics_pb2,
    metrics_pb2_grpc,
    payments_pb2,
    payments_pb2_grpc,
    receivables_pb2,
    receivables_pb2_grpc,
    rules_pb2,
    rules_pb2_grpc,
    subscriptions_pb2,
    subscriptions_pb2_grpc,
    tax_pb2,
    tax_pb2_grpc,
    usage_pb2,
    usage_pb2_grpc,
)

API_FILES = (
    customers_pb2.DESCRIPTOR,
    rules_pb2.DESCRIPTOR,
    catalog_pb2.DESCRIPTOR,
    subscriptions_pb2.DESCRIPTOR,
    invoices_pb2.DESCRIPTOR,
    clocks_pb2.DESCRIPTOR,
    usage_pb2.DESCRIPTOR,
    coupons_pb2.DESCRIPTOR,
    audit_pb2.DESCRIPTOR,
    tax_pb2.DESCRIPTOR,
    payments_pb2.DESCRIPTOR,
    dunning_pb2.DESCRIPTOR,
    receivables_pb2.DESCRIPTOR,
    ledger_pb2.DESCRIPTOR,
    metrics_pb2.DESCRIPTOR,
    contracts_pb2.DESCRIPTOR,
    due_work_pb2.DESCRIPTOR,
    event_stream_pb2.DESCRIPTOR,  # ADR 0059
)
MAX_MESSAGE_BYTES = limits.MESSAGE_BYTES_MAX


@dataclass(frozen=True)
class UseCases:
    customers: CustomerUseCases
    rules: RuleUseCases
    catalog: CatalogUseCases
    subscriptions: SubscriptionUseCases
    invoices: InvoiceUseCases
    clocks: ClockUseCases
    usage: UsageUseCases
    invoice_lifecycle: InvoiceLifecycle
    coupons: CouponUseCases
    billing_runs: BillingRuns
    audit: AuditUseCases
    tax_quotes: TaxQuoteUseCases
    tax_reports: TaxReports
    payment_methods: PaymentMethods
    payments: PaymentUseCases
    manual_payments: ManualPayments
    refunds: RefundUseCases
    dunning: DunningAdmin
    receivables: ReceivablesUseCases
    ledger: LedgerUseCases
    metrics: MetricsUseCases
    contracts: ContractUseCases
    events: EventStream  # ADR 0059
    due_work: DueWorkAdmin | None = None  # ADR 0058; set by the runtime


@dataclass(frozen=True)
class ServerOptions:
    reuse_port: bool  # only when several processes are meant to share the port
    tracer: trace.Tracer | None  # None: tracing off, no span work at all
    faults_enabled: bool = False
    rate_limiter: RateLimiter | None = None  # None: no per-tenant rate limit
    max_concurrent_rpcs: int = limits.CONCURRENT_RPCS_PER_PROCESS_DEFAULT
    max_connection_age_s: int = 0  # 0: connections live as long as the client keeps them
    max_connection_age_grace_s: int = 0  # calls in flight at GOAWAY get this long; 0: no limit
    rpc_metrics: RpcMetrics | None = None  # None: metrics off (ADR 0061)


def connection_age_options(options: ServerOptions) -> list[tuple[str, int]]:
    """GOAWAY after the age (gRPC adds +-10% jitter so a fleet does not reconnect at once);
    a client re-resolves and reconnects on its next call, with no error (ADR 0062)."""
    if options.max_connection_age_s <= 0:
        return []
    age = [("grpc.max_connection_age_ms", options.max_connection_age_s * 1000)]
    if options.max_connection_age_grace_s <= 0:
        return age  # gRPC's default grace: none, calls in flight run to their end
    return [*age, ("grpc.max_connection_age_grace_ms", options.max_connection_age_grace_s * 1000)]


def service_names() -> list[str]:
    return [s.full_name for f in API_FILES for s in f.services_by_name.values()]


def build_server(
    use_cases: UseCases, verifier: TokenVerifier, options: ServerOptions
) -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
    # One interceptor: tracing, turns, errors, auth, rate limit, then the request checks (only
    # an authorized caller within its rate has its request read).
    edge = EdgeInterceptor(
        verifier,
        required_scopes(API_FILES),
        tracer=options.tracer,
        limiter=options.rate_limiter,
        metrics=options.rpc_metrics,
    )
    server = grpc.aio.server(
        interceptors=[edge],
        maximum_concurrent_rpcs=options.max_concurrent_rpcs,
        options=[
            ("grpc.so_reuseport", 1 if options.reuse_port else 0),
            ("grpc.max_concurrent_streams", limits.CONCURRENT_STREAMS_PER_CONNECTION_MAX),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            *connection_age_options(options),
        ],
    )
    table = MethodTable()  # one generic handler for every method (ADR 0075)
    call_context = ContextFactory(faults_enabled=options.faults_enabled)
    customers_pb2_grpc.add_CustomerServiceServicer_to_server(
        CustomerServicer(use_cases.customers, call_context), table
    )
    rules_pb2_grpc.add_RuleServiceServicer_to_server(
        RuleServicer(use_cases.rules, call_context), table
    )
    catalog_pb2_grpc.add_CatalogServiceServicer_to_server(
        CatalogServicer(use_cases.catalog, call_context), table
    )
    subscriptions_pb2_grpc.add_SubscriptionServiceServicer_to_server(
        SubscriptionServicer(use_cases.subscriptions, call_context), table
    )
    invoices_pb2_grpc.add_InvoiceServiceServicer_to_server(
        InvoiceServicer(
            use_cases.invoices, use_cases.invoice_lifecycle, use_cases.billing_runs, call_context
        ),
        table,
    )
    clocks_pb2_grpc.add_ClockServiceServicer_to_server(
        ClockServicer(use_cases.clocks, call_context), table
    )
    usage_pb2_grpc.add_UsageServiceServicer_to_server(
        UsageServicer(use_cases.usage, call_context), table
    )
    coupons_pb2_grpc.add_CouponServiceServicer_to_server(
        CouponServicer(use_cases.coupons, call_context), table
    )
    audit_pb2_grpc.add_AuditServiceServicer_to_server(
        AuditServicer(use_cases.audit, call_context), table
    )
    tax_pb2_grpc.add_TaxServiceServicer_to_server(
        TaxServicer(use_cases.tax_quotes, use_cases.tax_reports, call_context), table
    )
    payments_pb2_grpc.add_PaymentServiceServicer_to_server(
        PaymentServicer(
            use_cases.payment_methods,
            use_cases.payments,
            use_cases.manual_payments,
            use_cases.refunds,
            call_context,
        ),
        table,
    )
    dunning_pb2_grpc.add_DunningServiceServicer_to_server(
        DunningServicer(use_cases.dunning, call_context), table
    )
    receivables_pb2_grpc.add_ReceivablesServiceServicer_to_server(
        ReceivablesServicer(use_cases.receivables, call_context), table
    )
    ledger_pb2_grpc.add_LedgerServiceServicer_to_server(
        LedgerServicer(use_cases.ledger, call_context), table
    )
    metrics_pb2_grpc.add_MetricsServiceServicer_to_server(
        MetricsServicer(use_cases.metrics, call_context), table
    )
    contracts_pb2_grpc.add_ContractServiceServicer_to_server(
        ContractServicer(use_cases.contracts, call_context), table
    )
    if use_cases.due_work is not None:
        due_work_pb2_grpc.add_DueWorkServiceServicer_to_server(
            DueWorkServicer(use_cases.due_work, call_context), table
        )
    event_stream_pb2_grpc.add_EventServiceServicer_to_server(
        EventServicer(use_cases.events, call_context), table
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, table)
    names = [*service_names(), health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]
    # Not `enable_server_reflection`: it picks the asyncio servicer only for a grpc.aio.Server.
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(
        reflection.aio.ReflectionServicer([*names, reflection.SERVICE_NAME]), table
    )
    server.add_generic_rpc_handlers((table,))
    return server, health_servicer


async def mark_serving(health_servicer: health.aio.HealthServicer) -> None:
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    for name in service_names():
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

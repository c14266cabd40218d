"""The composition root: settings -> engine -> store -> use cases -> gRPC server.

The only module that knows every layer. `Runtime` runs one server process; `serve()` runs
it until SIGTERM/SIGINT and then shuts down gracefully: health turns NOT_SERVING, new calls
are refused, in-flight calls get `shutdown_grace_seconds` to finish, and a call cut off at
the deadline rolls back its transaction, so nothing is half-written.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import secrets
import signal
import socket
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.api.auth import TokenVerifier, mint_hs256_token
from billing.api.jwks import JwksFile, JwksUrl, SigningKeys
from billing.api.rate_limit import RateLimiter, TenantRateLimiter
from billing.api.refunds import RefundUseCases
from billing.api.server import ServerOptions, UseCases, build_server, mark_serving
from billing.api.shared_rate_limit import SharedRateLimiter
from billing.app.audit import AuditUseCases
from billing.app.billing_runs import BillingRuns
from billing.app.billing_time import BillingTime
from billing.app.books import use_rules
from billing.app.catalog import CatalogUseCases
from billing.app.circuit_breakers import CircuitBreakers
from billing.app.clock import Clock, SystemClock
from billing.app.clocks import ClockUseCases
from billing.app.contracts import ContractUseCases
from billing.app.coupons import CouponUseCases
from billing.app.customers import CustomerUseCases
from billing.app.delivery import InvoiceDelivery
from billing.app.disputes import DisputeReads
from billing.app.due_work import DueWorkWorker, RetryPolicy
from billing.app.due_work_admin import DueWorkAdmin
from billing.app.dunning_admin import DunningAdmin
from billing.app.dunning_engine import DunningEngine
from billing.app.dunning_notices import DunningNotices
from billing.app.event_stream import EventStream, StreamLimits
from billing.app.gateway_directory import GatewayDirectory
from billing.app.gateway_events import GatewayEvents
from billing.app.hot_cache import NO_CACHE
from billing.app.invoices import InvoiceLifecycle, InvoiceUseCases
from billing.app.ledger import JournalChain, LedgerUseCases, seal_horizon
from billing.app.manual_payments import ManualPayments
from billing.app.mrr import MetricsUseCases
from billing.app.payment_charges import Charges
from billing.app.payment_due_work import PaymentDueWork
from billing.app.payment_methods import PaymentMethods
from billing.app.payments import PaymentUseCases
from billing.app.receivables import ReceivablesUseCases
from billing.app.recognition import RecognitionWork
from billing.app.refunds import Refunds
from billing.app.renewals import DueWorkHandlers
from billing.app.rules import CompiledRuleSets, RuleUseCases
from billing.app.rules_watch import RulesDirectoryWatcher
from billing.app.subscriptions import SubscriptionUseCases
from billing.app.tax_id_checks import ConfiguredVerifier, TaxIdChecks
from billing.app.tax_ledger import TaxReports
from billing.app.tax_quotes import TaxQuoteUseCases
from billing.app.usage import UsageUseCases
from billing.app.writes import WriteRunner
from billing.config import Settings, SettingsError
from billing.delivery import SmtpSettings
from billing.delivery.mailer import SmtpInvoiceMailer
from billing.delivery.notice_templates import load_notice_templates, with_notice_templates
from billing.delivery.notices import SmtpNoticeMailer, TemplateNotices
from billing.domain.notices import NoticeTemplateInvalid
from billing.due_processes import (
    CoalescedWake,
    Role,
    WakeSignal,
    forward_wakes,
    stop_with_parent,
)
from billing.observability.due_spans import traced_handler
from billing.observability.metrics import BillingMetrics
from billing.observability.metrics.collectors import RedisCollector
from billing.observability.sql_spans import trace_statements
from billing.observability.tracing import configure_tracing, get_tracer
from billing.plugins.registry import Engines, load_engines
from billing.redis_link import RedisLink
from billing.relay.publisher import RabbitPublisher
from billing.relay.worker import OutboxRelay, RelayPolicy
from billing.store.crypto import key_ring
from billing.store.engine import POOL_RECYCLE_S, SessionTimeouts, create_engine, session_options
from billing.store.event_stream import SqlEventStream
from billing.store.hot_cache import RedisHotCache
from billing.store.lean_reads import LeanPool
from billing.store.outbox_relay import SqlRelayStore
from billing.store.sql_store import SqlStore

log = logging.getLogger("billing.runtime")

PURGE_INTERVAL_S = 300
PURGE_BATCH_ROWS = 1000
STOP_RECANCEL_S = 1.0  # a background task still running after a cancel is cancelled again
DEV_TOKEN_LIFETIME_S = 30 * 24 * 3600
# The lean reads' connections per process, beside the calls' 10: each read is one short
# statement, so a few serve a process's loop; more would press on max_connections (a full
# test suite beside a bench run met "too many clients" with 10).
LEAN_POOL_SIZE = 4
DUE_POOL_SPARE = 2  # due-work connections beyond its concurrency: claims, progress counts


class Runtime:
    """One server process: start() binds and serves, stop() drains and closes."""

    metrics_port: int | None = None  # bound by start() when metrics are on (ADR 0061)
    _wake_forwarding: threading.Event | None = None  # a due-work process's (ADR 0067)

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        role: Role = Role.ALL,
        due_wake: WakeSignal | None = None,
    ) -> None:
        self.settings = settings
        self.role, self._due_wake = role, due_wake  # ADR 0067: calls, due work, or both
        # Gateway tokens and credentials at rest (ADR 0034, 0039): a bad ring stops the start,
        # before anything is opened; one ring per process.
        self.keys = key_ring(settings)
        self.clock = clock or SystemClock()
        timeouts = SessionTimeouts(
            settings.db_statement_timeout_ms,
            settings.db_lock_timeout_ms,
            settings.db_idle_in_transaction_timeout_ms,
        )
        self.engine = create_engine(settings.database_url, timeouts=timeouts)
        # The hottest reads' own autocommit connections (PostgreSQL, ADR 0065).
        self.lean = (
            None
            if settings.is_sqlite
            else LeanPool(
                settings.database_url,
                size=LEAN_POOL_SIZE,
                options=session_options(timeouts),
                recycle_s=POOL_RECYCLE_S,
            )
        )
        self.store = SqlStore(self.engine, self.keys, self.lean)
        # Due work on a pool of its own (PostgreSQL), no larger than its concurrency needs:
        # a bill run waits for its own connections, never for the calls', and the calls never
        # wait behind it for one. SQLite has one writer: one store, whose lock orders both.
        self.due_engine, self.due_store = self.engine, self.store
        self._calls: CallsAtDatabase | None = None
        if not settings.is_sqlite:
            self._calls = CallsAtDatabase(self.engine, self.lean)
            self.due_engine = create_engine(
                settings.database_url,
                pool_size=settings.due_work_concurrency + DUE_POOL_SPARE,
                # A batch of renewals does more per statement than a call does.
                timeouts=dataclasses.replace(
                    timeouts, statement_ms=settings.due_work_statement_timeout_ms
                ),
            )
            self.due_store = SqlStore(self.due_engine, self.keys)
        # Redis (ADR 0066): a cache both stores invalidate after each commit, and the shared
        # rate limit. Off by default; never the truth.
        self.redis, self.hot_cache = build_redis(settings, (self.store, self.due_store))
        writes = WriteRunner(
            self.store, self.clock, timedelta(hours=settings.idempotency_retention_hours)
        )
        # Engines from plugins, plus the notice templates dunning rules may name.
        self.engines = with_notice_templates(load_engines(), Path(settings.templates_dir))
        rules = RuleUseCases(self.store, writes, CompiledRuleSets(self.engines))
        subscriptions = SubscriptionUseCases(
            self.store,
            writes,
            rules,
            self.engines,
            BillingTime(self.clock),
            work_added=lambda: self.worker.notify(),  # noqa: PLW0108 (worker is made below)
            cache=self.hot_cache or NO_CACHE,
        )
        usage = UsageUseCases(self.store, writes, rules, self.engines, BillingTime(self.clock))
        subscriptions.usage = usage
        handlers = DueWorkHandlers(subscriptions, rules, usage)
        handlers.delivery = InvoiceDelivery(rules, build_mailer(settings), self.due_store)
        handlers.recognition = RecognitionWork(rules)  # ADR 0054
        handlers.tax_id_checks = build_tax_id_checks(settings, self.due_store, self.engines)
        # Payments (ADR 0034): one directory of connected gateways and one set of circuit
        # breakers per process, shared by the calls and the due work.
        self.gateways = GatewayDirectory(
            self.store, self.engines, settings.gateway_endpoints, settings.gateway_timeout_seconds
        )
        self.breakers = CircuitBreakers()
        charges = Charges(
            self.store,
            writes,
            rules,
            BillingTime(self.clock),
            self.gateways,
            self.breakers,
            SystemClock(),
        )
        due_writes = WriteRunner(
            self.due_store, self.clock, timedelta(hours=settings.idempotency_retention_hours)
        )
        due_charges = Charges(
            self.due_store,
            due_writes,
            rules,
            BillingTime(self.clock),
            self.gateways,
            self.breakers,
            SystemClock(),
        )
        handlers.payments = PaymentDueWork(self.due_store, due_charges, self.gateways, rules)
        # Dunning (ADR 0043): cases opened on failed collections, retried and stepped.
        handlers.dunning = DunningEngine(self.due_store, due_charges, rules, subscriptions)
        handlers.refunds = Refunds(
            self.due_store, due_writes, rules, BillingTime(self.clock), self.gateways
        )
        handlers.dunning_notices = build_dunning_notices(
            settings, self.due_store, rules, self.engines
        )
        tracer = self._tracing(settings)
        # Leases run on wall time whatever clock bills: a simulated clock may stand still.
        self.worker = DueWorkWorker(
            self.due_store,
            handlers.handle if tracer is None else traced_handler(handlers.handle, tracer),
            SystemClock(),
            f"{socket.gethostname()}:{os.getpid()}",
            timedelta(seconds=settings.due_work_lease_seconds),
            concurrency=1 if settings.is_sqlite else settings.due_work_concurrency,
            batch_rows=settings.due_work_batch_rows,
            calls_busy=self._calls.busy if self._calls is not None else None,
            yield_max_s=settings.due_work_yield_ms / 1000,
            retry=RetryPolicy(
                settings.due_work_max_attempts,
                settings.due_work_retry_base_ms / 1000,
                settings.due_work_retry_max_seconds,
            ),
            prepare=handlers.prepare,
            runs_rounds=role is not Role.CALLS,
            on_wake=CoalescedWake(due_wake)
            if role is Role.CALLS and due_wake is not None
            else None,
        )
        self.use_cases = UseCases(
            customers=CustomerUseCases(
                self.store,
                writes,
                handlers.tax_id_checks,
                work_added=lambda: self.worker.notify(),  # noqa: PLW0108
            ),
            rules=rules,
            catalog=CatalogUseCases(rules, self.engines, self.clock),
            subscriptions=subscriptions,
            invoices=InvoiceUseCases(self.store),
            clocks=ClockUseCases(
                self.store, writes, self.worker, settings.due_work_call_max_seconds
            ),
            usage=usage,
            invoice_lifecycle=InvoiceLifecycle(
                self.store, writes, rules, BillingTime(self.clock), usage
            ),
            coupons=CouponUseCases(self.store, writes),
            billing_runs=BillingRuns(
                self.due_store, self.worker, SystemClock(), settings.due_work_call_max_seconds
            ),
            audit=AuditUseCases(self.store),
            tax_quotes=TaxQuoteUseCases(self.store, rules, self.engines, BillingTime(self.clock)),
            tax_reports=TaxReports(self.store),
            payment_methods=PaymentMethods(self.store, writes, rules, BillingTime(self.clock)),
            payments=PaymentUseCases(
                self.store, writes, rules, charges, self.gateways, self.breakers, SystemClock()
            ),
            manual_payments=ManualPayments(self.store, writes, BillingTime(self.clock)),
            refunds=RefundUseCases(
                Refunds(self.store, writes, rules, BillingTime(self.clock), self.gateways),
                DisputeReads(self.store),
                GatewayEvents(self.store, rules, BillingTime(self.clock), self.gateways),
            ),
            dunning=DunningAdmin(self.store, writes, rules, BillingTime(self.clock)),
            receivables=ReceivablesUseCases(self.store, rules, BillingTime(self.clock)),
            ledger=LedgerUseCases(
                self.store,
                writes,
                rules,
                BillingTime(self.clock),
                JournalChain(self.store, SystemClock(), journal_seal_horizon(settings)),
                SystemClock(),
            ),
            metrics=MetricsUseCases(self.store),
            contracts=ContractUseCases(self.store, writes, subscriptions, subscriptions.work_added),
            due_work=DueWorkAdmin(  # ADR 0058: the operator's view, run on the worker's path
                self.due_store,
                due_writes,
                self.worker,
                SystemClock(),
                timedelta(seconds=settings.due_work_lease_seconds),
            ),
            events=EventStream(  # ADR 0059
                SqlEventStream(self.engine),
                StreamLimits(
                    settings.event_stream_poll_ms / 1000,
                    settings.event_stream_batch_events,
                    settings.event_streams_per_tenant,
                    timedelta(days=settings.event_retention_days)
                    if settings.event_retention_days
                    else None,
                ),
            ),
        )
        self._rules_watcher: RulesDirectoryWatcher | None = None
        if settings.is_sqlite and settings.rules_dir:
            self._rules_watcher = RulesDirectoryWatcher(
                rules, Path(settings.rules_dir), settings.dev_tenant
            )
        self.verifier = build_verifier(settings)
        self.metrics = build_metrics(self) if settings.metrics_listen else None
        self.server: grpc.aio.Server | None = None
        self._health: health.aio.HealthServicer | None = None
        self._options = ServerOptions(
            reuse_port=settings.workers > 1,
            tracer=tracer,
            faults_enabled=settings.enable_fault_injection,
            rate_limiter=build_rate_limiter(settings, self.redis),
            max_concurrent_rpcs=settings.max_concurrent_rpcs,
            max_connection_age_s=settings.max_connection_age_seconds,
            max_connection_age_grace_s=settings.max_connection_age_grace_seconds,
            rpc_metrics=self.metrics.rpc if self.metrics is not None else None,
        )
        self._purger: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._worker_task: asyncio.Task[None] | None = None
        # The outbox relay (ADR 0057); None when BILLING_RELAY_URL is unset.
        self.relay, self._relay_task = build_relay(settings, self.due_engine), _NO_TASK
        # Postings without the caller's rules (ADR 0052). Process-wide, so wired last: a
        # Runtime refused on its settings (a bad templates dir) must not rewire a running one.
        use_rules(rules.active_rules_in)

    def _tracing(self, settings: Settings) -> trace.Tracer | None:
        """Spans per call, per due item and per statement (ADR 0060), or none at all."""
        self.tracer_provider: TracerProvider | None = None
        if settings.trace_sample_ratio == 0 or settings.trace_exporter == "none":
            return None
        self.tracer_provider = configure_tracing(settings)
        tracer = get_tracer(self.tracer_provider)
        trace_statements(self.engine, tracer)
        if self.due_engine is not self.engine:
            trace_statements(self.due_engine, tracer)
        return tracer

    async def start(self) -> int:
        """Bind and serve; returns the bound port (useful with port 0). A due-work process
        (ADR 0067) binds no port, runs its worker and returns 0."""
        stop_with_parent(asyncio.get_running_loop())  # a supervised one never outlives it
        if self.role is Role.DUE:
            return await self._start_due_work()
        self.server, self._health = build_server(self.use_cases, self.verifier, self._options)
        credentials = server_credentials(self.settings)
        if credentials is None:
            port: int = self.server.add_insecure_port(self.settings.listen)
        else:
            port = self.server.add_secure_port(self.settings.listen, credentials)
        if port == 0:
            raise RuntimeError(f"could not bind {self.settings.listen}")
        if self._rules_watcher is not None:
            await self._rules_watcher.sync()  # serve the files' rules from the first call
        await self.server.start()
        await mark_serving(self._health)
        if self.metrics is not None:
            self.metrics_port = await self.metrics.start(self.settings.metrics_listen)
            log.info("metrics serving", extra={"port": self.metrics_port})
        self._purger = asyncio.create_task(self._purge_expired_keys())
        if self.role is Role.ALL:
            self._worker_task = asyncio.create_task(self.worker.run_forever())
        if self.relay is not None:
            self._relay_task = asyncio.create_task(self.relay.run_forever())
        if self._rules_watcher is not None:
            self._watch_task = asyncio.create_task(self._rules_watcher.watch())
        return port

    async def _start_due_work(self) -> int:
        if self.metrics is not None:
            self.metrics_port = await self.metrics.start(self.settings.metrics_listen)
        loop = asyncio.get_running_loop()
        if self._due_wake is not None:
            self._wake_forwarding = forward_wakes(self._due_wake, self.worker.wake, loop)
        self._worker_task = asyncio.create_task(self.worker.run_forever())
        return 0

    async def stop(self, grace_s: float | None = None) -> None:
        grace = self.settings.shutdown_grace_seconds if grace_s is None else grace_s
        if self._health is not None:
            await self._health.enter_graceful_shutdown()
        self.use_cases.events.close()  # watches end OK with their cursor (ADR 0059)
        if self.server is not None:
            await self.server.stop(grace)
        if self._wake_forwarding is not None:
            self._wake_forwarding.set()
        for task in (self._purger, self._watch_task, self._worker_task, self._relay_task):
            if task is not None:
                await _cancelled(task)
        if self.metrics is not None:
            await self.metrics.stop()
        if self.lean is not None:
            await self.lean.close()
        await self.engine.dispose()
        if self.redis is not None:
            await self.redis.close()
        if self.due_engine is not self.engine:
            await self.due_engine.dispose()
        if self.tracer_provider is not None:
            # Sends what is queued, within the export timeout, off the loop.
            await asyncio.to_thread(self.tracer_provider.shutdown)

    async def _purge_expired_keys(self) -> None:
        while True:
            await asyncio.sleep(PURGE_INTERVAL_S)
            try:
                # Bounded batches, each its own short transaction, until the backlog is gone.
                purged = PURGE_BATCH_ROWS
                while purged == PURGE_BATCH_ROWS:
                    async with self.store.write(None) as tx:
                        purged = await tx.idempotency.purge_expired(
                            self.clock.now(), PURGE_BATCH_ROWS
                        )
            except Exception:
                log.exception("purging expired idempotency keys failed; will retry")
            try:  # outbox events past their retention (ADR 0059)
                await self.use_cases.events.prune_expired(self.clock.now())
            except Exception:
                log.exception("pruning old outbox events failed; will retry")


class CallsAtDatabase:
    """How many of the calls' connections are checked out: calls at the database now. Due
    work has a pool of its own, so this counts calls only."""

    def __init__(self, engine: AsyncEngine, lean: LeanPool | None) -> None:
        self.count = 0
        self._lean = lean
        event.listen(engine.sync_engine.pool, "checkout", self._checkout)
        event.listen(engine.sync_engine.pool, "checkin", self._checkin)

    def _checkout(self, *_args: object) -> None:
        self.count += 1

    def _checkin(self, *_args: object) -> None:
        self.count -= 1

    def busy(self) -> bool:
        return self.count > 0 or (self._lean is not None and self._lean.busy())


_NO_TASK: asyncio.Task[None] | None = None


def build_relay(settings: Settings, engine: AsyncEngine) -> OutboxRelay | None:
    """The outbox relay (ADR 0057), when a broker is configured."""
    if not settings.relay_url:
        return None
    publisher = RabbitPublisher(
        settings.relay_url,
        settings.relay_exchange,
        settings.relay_dead_letter_exchange,
        settings.relay_confirm_timeout_seconds,
    )
    policy = RelayPolicy(batch=settings.relay_batch, poll_s=settings.relay_poll_ms / 1000)
    return OutboxRelay(SqlRelayStore(engine), publisher, policy)


def build_metrics(runtime: Runtime) -> BillingMetrics:
    """Metrics (ADR 0061): the pools, the worker's tallies and the database backlog read at
    scrape time; counters told by the stores after each commit and by usage ingestion."""
    engines = {"calls": runtime.engine}
    if runtime.due_engine is not runtime.engine:
        engines["due_work"] = runtime.due_engine
    metrics = BillingMetrics(engines, runtime.due_engine, runtime.worker.stats, SystemClock().now)
    runtime.store.committed = metrics.business.committed
    runtime.due_store.committed = metrics.business.committed
    runtime.use_cases.usage.ingested = metrics.business.ingested
    if runtime.redis is not None and runtime.hot_cache is not None:
        metrics.registry.register(RedisCollector(runtime.redis, runtime.hot_cache))
    return metrics


def build_mailer(settings: Settings) -> SmtpInvoiceMailer | None:
    if not settings.smtp_url:
        return None
    return SmtpInvoiceMailer(SmtpSettings.from_url(settings.smtp_url), Path(settings.templates_dir))


def build_dunning_notices(
    settings: Settings, store: SqlStore, rules: RuleUseCases, engines: Engines
) -> DunningNotices:
    """Dunning notices (ADR 0043): the templates read once, here; email through the server's
    SMTP (off without an SMTP URL), other channels from plugins. The last attempt records
    the failure before the worker would park the item."""
    try:
        templates = load_notice_templates(Path(settings.templates_dir))
    except NoticeTemplateInvalid as exc:
        raise SettingsError(f"BILLING_TEMPLATES_DIR: {exc}") from exc
    mailer = (
        SmtpNoticeMailer(SmtpSettings.from_url(settings.smtp_url)) if settings.smtp_url else None
    )
    return DunningNotices(
        store,
        rules,
        TemplateNotices(templates),
        mailer,
        engines.by_kind.get("notification_channel", {}),
        attempts_max=settings.due_work_max_attempts,
    )


def build_tax_id_checks(
    settings: Settings, store: SqlStore, engines: Engines
) -> TaxIdChecks | None:
    """Online tax id checks, when a verifier's endpoint is set (BILLING_VIES_URL)."""
    endpoints = {"vies": settings.vies_url}
    verifiers = [
        ConfiguredVerifier(name, engines.get("tax_id_verifier", name), url)
        for name, url in endpoints.items()
        if url and name in engines.by_kind.get("tax_id_verifier", {})
    ]
    if not verifiers:
        return None
    return TaxIdChecks(
        store,
        verifiers,
        SystemClock(),
        # The call runs under the item's lease: never longer than half of it.
        timeout_s=min(settings.tax_id_check_timeout_seconds, settings.due_work_lease_seconds / 2),
        cache_ttl=timedelta(seconds=settings.tax_id_check_cache_seconds),
    )


def build_verifier(settings: Settings) -> TokenVerifier:
    keys: SigningKeys | None = None
    secret = ""
    if settings.auth_jwks_file:
        keys = JwksFile(
            settings.auth_jwks_file, check_interval_s=settings.auth_jwks_file_check_seconds
        )
    elif settings.auth_jwks_url:
        keys = JwksUrl(
            settings.auth_jwks_url,
            ttl_s=settings.auth_jwks_ttl_seconds,
            min_refetch_s=settings.auth_jwks_min_refetch_seconds,
        )
    else:
        secret = development_secret(settings)
    return TokenVerifier(
        keys=keys,
        hs256_secret=secret,
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        tenant_claim=settings.auth_tenant_claim,
        cache_size=settings.auth_token_cache_size,
    )


def build_redis(
    settings: Settings, stores: tuple[SqlStore, ...]
) -> tuple[RedisLink | None, RedisHotCache | None]:
    """The link and the cache every store invalidates after its commits; None: no Redis."""
    if not settings.redis_url:
        return None, None
    link = RedisLink(
        settings.redis_url,
        timeout_s=settings.redis_timeout_ms / 1000,
        backoff_s=settings.redis_backoff_ms / 1000,
    )
    cache = RedisHotCache(link, settings.redis_cache_ttl_seconds)
    for store in stores:
        store.cache = cache
    return link, cache


def build_rate_limiter(settings: Settings, redis: RedisLink | None = None) -> RateLimiter | None:
    """The process's own bucket per tenant; with Redis, one bucket shared by all processes,
    the process's own as its fallback (ADR 0066)."""
    if settings.rate_limit_per_second == 0:
        return None
    local = TenantRateLimiter(
        settings.rate_limit_per_second,
        settings.rate_limit_burst,
        tenants_max=settings.rate_limit_tenants_max,
    )
    return local if redis is None else SharedRateLimiter(redis, local)


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS when a certificate is set; mutual TLS (a client certificate signed by the CA,
    checked in the handshake) when a client CA is set as well. None: plaintext."""
    if not settings.tls_cert_file:
        return None
    key = Path(settings.tls_key_file).read_bytes()
    chain = Path(settings.tls_cert_file).read_bytes()
    client_ca = (
        Path(settings.tls_client_ca_file).read_bytes() if settings.tls_client_ca_file else None
    )
    return grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def development_secret(settings: Settings) -> str:
    """The configured HS256 secret, or on the embedded default one made and kept in data_dir."""
    if settings.auth_hs256_secret:
        return settings.auth_hs256_secret
    if not settings.is_sqlite:
        raise SettingsError(
            "set BILLING_AUTH_JWKS_FILE or BILLING_AUTH_JWKS_URL (production)"
            " or BILLING_AUTH_HS256_SECRET (development)"
        )
    path = Path(settings.data_dir) / "dev-hs256.secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def development_token(settings: Settings, tenant_id: str | None = None) -> str:
    return mint_hs256_token(
        development_secret(settings),
        tenant_id=tenant_id or settings.dev_tenant,
        subject="developer",
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        tenant_claim=settings.auth_tenant_claim,
        lifetime_s=DEV_TOKEN_LIFETIME_S,
    )


async def _cancelled(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and wait for it to end, cancelling again while it runs on: a
    cancellation can be lost inside a library's own waits (Python 3.11's `wait_for` when its
    inner wait completes at the same moment), and one lost cancel left a process serving on
    after SIGTERM. Its own exception, if it ended with one, is raised."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=STOP_RECANCEL_S)
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def serve(
    settings: Settings,
    on_ready: Callable[[int], None] | None = None,
    role: Role = Role.ALL,
    due_wake: WakeSignal | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully."""
    runtime = Runtime(settings, role=role, due_wake=due_wake)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    port = await runtime.start()
    log.info("serving", extra={"listen": settings.listen, "port": port, "role": str(role)})
    if on_ready is not None and role is not Role.DUE:
        on_ready(port)
    await stop.wait()
    log.info("shutting down", extra={"grace_seconds": settings.shutdown_grace_seconds})
    await runtime.stop()
    log.info("stopped")


def journal_seal_horizon(settings: Settings) -> timedelta:
    """How old a journal entry must be to be sealed (ADR 0053)."""
    return seal_horizon(
        max(settings.db_statement_timeout_ms, settings.due_work_statement_timeout_ms),
        settings.db_idle_in_transaction_timeout_ms,
        settings.ledger_seal_horizon_seconds,
    )

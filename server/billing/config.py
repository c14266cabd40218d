"""Settings, read once from the environment (`BILLING_*`); `.env.example` lists every one."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from urllib.parse import urlsplit

from billing.domain import limits
from billing.event_loop import DEFAULT_LOOP, LOOPS

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/billing.db"


class SettingsError(ValueError):
    """A setting has a value the server cannot use; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    listen: str = "127.0.0.1:50051"
    workers: int = 1  # server processes sharing the port (PostgreSQL only)
    event_loop: str = DEFAULT_LOOP  # uvloop, or "asyncio", the standard library's (ADR 0077)
    data_dir: str = "var"  # where the development secret is kept
    rules_dir: str = "rules"  # embedded default: loaded at start, reloaded on change
    dev_tenant: str = "dev"  # embedded default: the tenant of the development token
    auth_jwks_file: str = ""  # production: a JWKS file of the token issuer's public keys
    auth_jwks_url: str = ""  # production: or the issuer's JWKS URL (https, or http on loopback)
    auth_jwks_file_check_seconds: float = 1.0  # the file is stat()ed at most this often
    auth_jwks_ttl_seconds: float = 300.0  # the URL is refetched this often
    auth_jwks_min_refetch_seconds: float = 30.0  # and at most this often (unknown kids)
    auth_hs256_secret: str = ""  # local development only
    auth_issuer: str = "billing-dev"
    auth_audience: str = "billing"
    auth_tenant_claim: str = "tenant_id"
    auth_token_cache_size: int = 10_000
    tls_cert_file: str = ""  # PEM server certificate chain; "" = plaintext (behind a proxy)
    tls_key_file: str = ""  # PEM private key of tls_cert_file
    tls_client_ca_file: str = ""  # PEM CA bundle: when set, clients need a certificate it signed
    rate_limit_per_second: float = 10_000.0  # calls per tenant per process; 0 = no limit
    rate_limit_burst: int = 20_000  # calls a tenant may make at once after being idle
    rate_limit_tenants_max: int = 10_000  # tenants whose buckets a process keeps (LRU)
    # Calls a process serves at once; more: RESOURCE_EXHAUSTED (docs/limits.md).
    max_concurrent_rpcs: int = limits.CONCURRENT_RPCS_PER_PROCESS_DEFAULT
    idempotency_retention_hours: int = 24
    shutdown_grace_seconds: int = 10
    due_work_lease_seconds: int = 30  # a dead worker's claimed items wait this long
    due_work_concurrency: int = 4  # due-work transactions a process runs at once (PostgreSQL)
    due_work_batch_rows: int = 50  # renewals per due-work transaction; 1 = one each
    due_work_yield_ms: float = 0.0  # per item, the most due work waits for busy calls
    # With BILLING_WORKERS > 1: processes of their own that run all due work, at a lower OS
    # priority, while the serving processes run none (ADR 0067); 0 = every process runs it.
    due_work_processes: int = 1
    due_work_nice: int = 10  # the due-work processes' niceness (0-19), above the calls'
    due_work_max_attempts: int = 5  # a due item failing this many times is parked
    due_work_retry_base_ms: int = 1000  # first retry's backoff bound, doubling (full jitter)
    due_work_retry_max_seconds: int = 300  # the backoff's cap
    due_work_call_max_seconds: int = 3600  # the most one RunBilling / AdvanceClock runs
    due_work_statement_timeout_ms: int = 120_000  # statement_timeout on the due-work pool
    db_statement_timeout_ms: int = 30_000  # PostgreSQL statement_timeout of calls
    db_lock_timeout_ms: int = 5_000  # PostgreSQL lock_timeout, every pool
    db_idle_in_transaction_timeout_ms: int = 60_000  # idle_in_transaction_session_timeout
    # Journal entries older than this are sealed into the hash chain (ADR 0053); -1: derived
    # from the timeouts above (longer than any write transaction lives).
    ledger_seal_horizon_seconds: int = -1
    smtp_url: str = ""  # e.g. smtp://user:pass@host:587?from=billing@example.com; "" = off
    templates_dir: str = "rules/templates"  # invoice document templates finance edits
    # The VIES checkVat SOAP endpoint; "" = no online check of EU VAT numbers (ADR 0031).
    vies_url: str = ""
    tax_id_check_timeout_seconds: float = 10.0  # one registry call, at most
    tax_id_check_cache_seconds: int = 86_400  # a registry's valid/invalid answer is reused
    # Payments (ADR 0034). Keys that encrypt gateway tokens and credentials at rest:
    # "kid1:<base64 32 bytes>,kid2:<...>"; the current one by id. Empty on the embedded
    # default: a development key made and kept in data_dir (PostgreSQL needs real keys).
    encryption_keys: str = ""
    encryption_key_id: str = ""
    # Where each gateway engine's API is, "stripe=https://...,adyen=https://..."; an engine
    # not named uses its production default. Tests point engines at recorded local servers.
    gateway_endpoints: str = ""
    gateway_timeout_seconds: float = 10.0  # one gateway call, at most; then `unknown`
    trace_sample_ratio: float = 0.1  # share of root spans kept (ADR 0060); off at 0
    trace_exporter: str = "none"  # none | console | otlp; tracing is off with none
    # OTLP (ADR 0060); empty: the exporter reads the standard OTEL_EXPORTER_OTLP_* variables.
    otlp_endpoint: str = ""  # grpc: http://host:4317; http/protobuf: http://host:4318/v1/traces
    otlp_protocol: str = "grpc"  # grpc | http/protobuf, as OTEL_EXPORTER_OTLP_PROTOCOL
    otlp_headers: str = ""  # "api-key=...,x=y", as OTEL_EXPORTER_OTLP_HEADERS; never logged
    otlp_timeout_seconds: float = 10.0  # one export, at most; on the exporter's thread
    log_level: str = "INFO"
    enable_fault_injection: bool = False  # tests only: honours x-billing-fault-* metadata
    # A connection older than this gets GOAWAY, so clients balancing on their side re-resolve
    # and spread over new processes (ADR 0062); 0 = never. Calls in flight then get the grace
    # to finish before the connection is closed; 0 = as long as they take (a usage stream of
    # millions of events runs for minutes).
    max_connection_age_seconds: int = 0
    max_connection_age_grace_seconds: int = 0
    # The outbox relay to RabbitMQ (ADR 0057); "" = off (the embedded default needs no broker).
    relay_url: str = ""  # amqp://user:pass@host:5672/vhost
    relay_exchange: str = "billing.events"  # durable topic exchange; routing key = event type
    relay_dead_letter_exchange: str = "billing.events.dlx"  # refused events, queue <name>.dead
    relay_batch: int = 500  # events per claimed batch: the relay's memory bound
    relay_poll_ms: int = 200  # idle: how often the relay looks for new events
    relay_confirm_timeout_seconds: float = 10.0  # connect / one confirm, at most
    # Prometheus /metrics of each server process (ADR 0061): host:port; "" = off. With
    # several workers, worker i listens on port + i.
    metrics_listen: str = ""
    # WatchEvents (ADR 0059): how often an idle stream looks for new events, how many
    # events a stream reads and holds at once, and open streams per tenant per process.
    event_stream_poll_ms: int = 250
    event_stream_batch_events: int = 100
    event_streams_per_tenant: int = 16
    # Published events older than this are pruned (a cursor before them: OUT_OF_RANGE);
    # 0: kept forever.
    event_retention_days: int = 30
    # Redis (ADR 0066): GetEntitlements cached, per-tenant rate limit shared by all processes;
    # "" = off. Redis is never the truth: down, slow or flushed, calls go to the database.
    redis_url: str = ""  # redis://host:6379/0
    redis_timeout_ms: float = 10.0  # one connect or command, at most; then the database
    redis_backoff_ms: int = 1000  # after 3 failures in a row, Redis is bypassed this long
    redis_cache_ttl_seconds: int = 300  # an entry's life at most: the last resort (see ADR)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            name = f"BILLING_{f.name.upper()}"
            if name not in env or env[name] == "":
                continue
            raw = env[name]
            try:
                values[f.name] = _parse(raw, f.type)
            except ValueError as exc:
                raise SettingsError(f"{name}={raw!r}: {exc}") from None
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        if self.workers < 1:
            raise SettingsError("BILLING_WORKERS must be at least 1")
        if self.event_loop not in LOOPS:
            raise SettingsError(f"BILLING_EVENT_LOOP must be one of {', '.join(LOOPS)}")
        if self.due_work_concurrency < 1:
            raise SettingsError("BILLING_DUE_WORK_CONCURRENCY must be at least 1")
        if not 1 <= self.due_work_batch_rows <= 1000:
            raise SettingsError("BILLING_DUE_WORK_BATCH_ROWS must be between 1 and 1000")
        if not 0 <= self.due_work_yield_ms <= 1000:
            raise SettingsError("BILLING_DUE_WORK_YIELD_MS must be between 0 and 1000")
        self._check_due_work()
        self._check_relay()
        if self.workers > 1 and self.is_sqlite:
            raise SettingsError("BILLING_WORKERS > 1 needs PostgreSQL: SQLite has one writer")
        if not 0 <= self.trace_sample_ratio <= 1:
            raise SettingsError("BILLING_TRACE_SAMPLE_RATIO must be between 0 and 1")
        if self.trace_exporter not in {"none", "console", "otlp"}:
            raise SettingsError("BILLING_TRACE_EXPORTER must be none, console or otlp")
        self._check_otlp()
        if self.max_connection_age_seconds < 0 or self.max_connection_age_grace_seconds < 0:
            raise SettingsError(
                "BILLING_MAX_CONNECTION_AGE_SECONDS and"
                " BILLING_MAX_CONNECTION_AGE_GRACE_SECONDS must not be negative"
            )
        self._check_metrics()
        self._check_auth()
        self._check_event_stream()
        self._check_tls()
        self._check_tax_ids()
        if self.rate_limit_per_second < 0:
            raise SettingsError("BILLING_RATE_LIMIT_PER_SECOND must be 0 (no limit) or more")
        self._check_redis()
        if self.max_concurrent_rpcs < 1:
            raise SettingsError("BILLING_MAX_CONCURRENT_RPCS must be at least 1")
        if self.rate_limit_burst < 1 or self.rate_limit_tenants_max < 1:
            raise SettingsError(
                "BILLING_RATE_LIMIT_BURST and BILLING_RATE_LIMIT_TENANTS_MAX must be at least 1"
            )

    def _check_redis(self) -> None:
        if self.redis_url and urlsplit(self.redis_url).scheme not in {"redis", "rediss", "unix"}:
            raise SettingsError("BILLING_REDIS_URL must be redis://, rediss:// or unix://")
        if not 0 < self.redis_timeout_ms <= 10_000 or self.redis_backoff_ms < 0:
            raise SettingsError(
                "BILLING_REDIS_TIMEOUT_MS must be in (0, 10000] and BILLING_REDIS_BACKOFF_MS"
                " not negative"
            )
        if self.redis_cache_ttl_seconds < 1:
            raise SettingsError("BILLING_REDIS_CACHE_TTL_SECONDS must be at least 1")

    @property
    def dedicated_due_processes(self) -> int:
        """Due-work processes of their own under the supervisor: only where there is one
        (several workers), so a single process still runs its own due work."""
        return self.due_work_processes if self.workers > 1 else 0

    @property
    def processes(self) -> int:
        """Every process `billing serve` starts: the serving workers and the due-work ones."""
        return self.workers + self.dedicated_due_processes

    def _check_metrics(self) -> None:
        if not self.metrics_listen:
            return
        _, sep, port = self.metrics_listen.rpartition(":")
        if not sep or not port.isdigit() or int(port) + self.processes - 1 > 65535:
            raise SettingsError(
                "BILLING_METRICS_LISTEN must be host:port (port + processes - 1 at most 65535)"
            )
        if self.metrics_listen == self.listen and port != "0":
            raise SettingsError("BILLING_METRICS_LISTEN must differ from BILLING_LISTEN")

    def _check_event_stream(self) -> None:
        if not 1 <= self.event_stream_poll_ms <= 60_000:
            raise SettingsError("BILLING_EVENT_STREAM_POLL_MS must be between 1 and 60000")
        if not 1 <= self.event_stream_batch_events <= 1000:
            raise SettingsError("BILLING_EVENT_STREAM_BATCH_EVENTS must be between 1 and 1000")
        if self.event_retention_days < 0:
            raise SettingsError("BILLING_EVENT_RETENTION_DAYS must be 0 (keep) or more")
        if self.event_streams_per_tenant < 1:
            raise SettingsError("BILLING_EVENT_STREAMS_PER_TENANT must be at least 1")

    def _check_auth(self) -> None:
        sources = [self.auth_jwks_file, self.auth_jwks_url, self.auth_hs256_secret]
        if sum(1 for s in sources if s) > 1:
            raise SettingsError(
                "set one of BILLING_AUTH_JWKS_FILE, BILLING_AUTH_JWKS_URL or"
                " BILLING_AUTH_HS256_SECRET"
            )
        if self.auth_jwks_url:
            parts = urlsplit(self.auth_jwks_url)
            loopback = parts.hostname in {"localhost", "127.0.0.1", "::1"}
            if not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
                raise SettingsError(
                    "BILLING_AUTH_JWKS_URL must be https (http only on localhost):"
                    " keys fetched in the clear could be replaced on the way"
                )
        if self.auth_jwks_file_check_seconds < 0 or self.auth_jwks_min_refetch_seconds < 0:
            raise SettingsError("the BILLING_AUTH_JWKS_* intervals cannot be negative")
        if self.auth_jwks_ttl_seconds < self.auth_jwks_min_refetch_seconds:
            raise SettingsError(
                "BILLING_AUTH_JWKS_TTL_SECONDS must be at least"
                " BILLING_AUTH_JWKS_MIN_REFETCH_SECONDS"
            )

    def _check_tls(self) -> None:
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise SettingsError(
                "set both BILLING_TLS_CERT_FILE and BILLING_TLS_KEY_FILE, or neither"
            )
        if self.tls_client_ca_file and not self.tls_cert_file:
            raise SettingsError(
                "BILLING_TLS_CLIENT_CA_FILE (mutual TLS) needs BILLING_TLS_CERT_FILE and"
                " BILLING_TLS_KEY_FILE"
            )

    def _check_tax_ids(self) -> None:
        if self.vies_url and urlsplit(self.vies_url).scheme not in {"http", "https"}:
            raise SettingsError("BILLING_VIES_URL must be an http(s) URL")
        if not 0 < self.tax_id_check_timeout_seconds <= 300:
            raise SettingsError(
                "BILLING_TAX_ID_CHECK_TIMEOUT_SECONDS must be above 0 and at most 300"
            )
        if self.tax_id_check_cache_seconds < 0:
            raise SettingsError("BILLING_TAX_ID_CHECK_CACHE_SECONDS must not be negative")

    def _check_otlp(self) -> None:
        if self.otlp_protocol not in {"grpc", "http/protobuf"}:
            raise SettingsError("BILLING_OTLP_PROTOCOL must be grpc or http/protobuf")
        if self.otlp_endpoint and urlsplit(self.otlp_endpoint).scheme not in {"http", "https"}:
            raise SettingsError("BILLING_OTLP_ENDPOINT must be an http(s) URL")
        if not 0 < self.otlp_timeout_seconds <= 60:
            raise SettingsError("BILLING_OTLP_TIMEOUT_SECONDS must be above 0 and at most 60")
        for pair in filter(None, (p.strip() for p in self.otlp_headers.split(","))):
            if "=" not in pair or not pair.split("=", 1)[0].strip():
                # The value is a credential (an APM's licence key): named by position only.
                raise SettingsError("BILLING_OTLP_HEADERS must be key=value pairs, comma-separated")

    def _check_relay(self) -> None:
        if self.relay_url and urlsplit(self.relay_url).scheme not in {"amqp", "amqps"}:
            raise SettingsError("BILLING_RELAY_URL must be an amqp:// or amqps:// URL")
        if not 1 <= self.relay_batch <= 10_000:
            raise SettingsError("BILLING_RELAY_BATCH must be between 1 and 10000")
        if self.relay_poll_ms < 1 or not 0 < self.relay_confirm_timeout_seconds <= 300:
            raise SettingsError(
                "BILLING_RELAY_POLL_MS must be at least 1 and"
                " BILLING_RELAY_CONFIRM_TIMEOUT_SECONDS above 0 and at most 300"
            )

    def _check_due_work(self) -> None:
        if not 0 <= self.due_work_processes <= 16:
            raise SettingsError("BILLING_DUE_WORK_PROCESSES must be between 0 and 16")
        if not 0 <= self.due_work_nice <= 19:
            raise SettingsError("BILLING_DUE_WORK_NICE must be between 0 and 19")
        if not 1 <= self.due_work_max_attempts <= 100:
            raise SettingsError("BILLING_DUE_WORK_MAX_ATTEMPTS must be between 1 and 100")
        if self.due_work_retry_base_ms < 1 or self.due_work_retry_max_seconds < 1:
            raise SettingsError(
                "BILLING_DUE_WORK_RETRY_BASE_MS and BILLING_DUE_WORK_RETRY_MAX_SECONDS must be"
                " at least 1"
            )
        if self.due_work_call_max_seconds < 1:
            raise SettingsError("BILLING_DUE_WORK_CALL_MAX_SECONDS must be at least 1")
        for name in (
            "due_work_statement_timeout_ms",
            "db_statement_timeout_ms",
            "db_lock_timeout_ms",
            "db_idle_in_transaction_timeout_ms",
        ):
            if getattr(self, name) < 0:  # 0: no timeout, as PostgreSQL reads it
                raise SettingsError(f"BILLING_{name.upper()} must not be negative")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _parse(raw: str, kind: object) -> object:
    if kind in (bool, "bool"):
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise ValueError("expected true or false")
    if kind in (int, "int"):
        return int(raw)
    if kind in (float, "float"):
        return float(raw)
    return raw

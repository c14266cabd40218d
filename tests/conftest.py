"""Shared fixtures: a real server on a real gRPC channel, on SQLite and on PostgreSQL.

Each backend gets one server (in a thread with its own event loop, bound to port 0) and
its own fresh database; tests keep apart by using a fresh tenant each, which is exactly
the isolation the server guarantees. With `CI` set, PostgreSQL tests fail instead of skip.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import psycopg
import pytest

from billing.api.auth import SCOPES, mint_hs256_token
from billing.config import Settings
from billing.event_loop import DEFAULT_LOOP, new_event_loop
from billing.runtime import Runtime
from billing_client.v1 import catalog_pb2_grpc, customers_pb2_grpc, rules_pb2_grpc
from db_templates import PostgresTemplates, SqliteTemplate
from workers import worker_id
from written_events import new_written, read_postgres, read_sqlite, undeclared

SECRET = "test-secret-" + uuid.uuid4().hex
ISSUER = "billing-dev"
AUDIENCE = "billing"
PG_ADMIN_DSN = os.environ.get(
    "BILLING_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(autouse=True)
def _no_root_handler_on_a_closed_stream() -> Iterator[None]:
    """`billing.cli.main` (called by CLI tests) installs a root handler on `sys.stderr`, which
    under `capsys` is a stream closed when the test ends. Left behind, every later record
    fails to write and prints a traceback while holding the handler's lock; under a DEBUG
    root (the card-number test) a server thread then deadlocked against a gRPC lock taken
    by garbage collection in that thread. Each test drops such handlers and restores the
    root level."""
    root = logging.getLogger()
    level = root.level
    yield
    for handler in root.handlers[:]:
        stream = getattr(handler, "stream", None)
        if isinstance(handler, logging.StreamHandler) and getattr(stream, "closed", False):
            root.removeHandler(handler)
    root.setLevel(level)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backends", default="sqlite,postgresql", help="comma-separated database backends"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        backends = metafunc.config.getoption("--backends").split(",")
        metafunc.parametrize("backend", backends, scope="session")


# The slowest files, slowest first (measured with `--junitxml`, ADR 0056). Under
# `--dist loadfile` each worker takes whole files in collection order, so a long file listed
# here starts early instead of finishing the run alone on one worker. Other files follow in
# their usual order; a stale entry costs nothing.
SLOW_FILES_FIRST: tuple[str, ...] = (
    "tests/test_fuzz.py",
    "tests/test_payments_collection_load.py",
    "tests/test_request_limits.py",
    "tests/test_process_lifecycle.py",
    "tests/test_billing_properties.py",
    "tests/test_dunning_acceptance.py",
    "tests/test_dunning_notices.py",
    "tests/test_dunning_engine.py",
    "tests/test_write_batch.py",
    "tests/test_subscriptions_api.py",
    "tests/test_bill_run.py",
    "tests/test_invoicing_api.py",
    "tests/test_dunning_policies.py",
    "tests/test_payments_refunds_store.py",
    "tests/test_invoice_delivery.py",
    "tests/test_subscription_anchors.py",
    "tests/test_gateway_calls.py",
)


@pytest.hookimpl(trylast=True)  # after pytest's own reordering by fixture parameters
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not worker_id().startswith("gw"):
        return  # one process: the order does not matter, keep pytest's
    rank = {name: i for i, name in enumerate(SLOW_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


@dataclass
class Database:
    backend: str
    async_url: str  # for the server
    sync_url: str  # for tests that look at rows directly


def _pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def make_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Database]]:
    """Creates fresh, migrated databases, copied from a migrated template (ADR 0056); drops
    the PostgreSQL ones at the end. Names carry the xdist worker, so workers never meet.
    Before dropping them, every event their outboxes hold is checked against the event
    catalog (`written_events`): an undeclared type or payload key fails the session."""
    created: list[str] = []
    sqlite_files: list[Path] = []
    postgres = PostgresTemplates(PG_ADMIN_DSN)
    sqlite = SqliteTemplate()

    def make(backend: str) -> Database:
        if backend == "sqlite":
            path = tmp_path_factory.mktemp("db") / "billing.db"
            sqlite.copy_to(path)
            sqlite_files.append(path)
            return Database(backend, f"sqlite+aiosqlite:///{path}", f"sqlite:///{path}")
        if backend == "postgresql":
            if not _pg_available():
                message = f"PostgreSQL not reachable at {PG_ADMIN_DSN}"
                if os.environ.get("CI"):
                    pytest.fail(message + " (CI is set: PostgreSQL tests never skip)")
                pytest.skip(message)
            name = f"billing_test_{worker_id()}_{uuid.uuid4().hex[:12]}"
            postgres.clone(name)
            created.append(name)
            return Database(backend, postgres.url(name), postgres.url(name))
        raise ValueError(backend)

    yield make
    written = new_written()
    for path in sqlite_files:
        read_sqlite(path, written)
    for name in created:
        read_postgres(postgres.url(name), written)
    if created:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            for name in created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    problems = undeclared(written)
    assert not problems, "events written but not in the catalog:\n" + "\n".join(problems)


TEST_ENCRYPTION_KEYS = "test1:" + "A" * 43  # 32 zero-ish bytes, base64url; tests only


def server_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "listen": "127.0.0.1:0",
        "auth_hs256_secret": SECRET,
        "auth_issuer": ISSUER,
        "auth_audience": AUDIENCE,
        "enable_fault_injection": True,
        "shutdown_grace_seconds": 2,
        # The product's default loop; BILLING_EVENT_LOOP=asyncio runs the suite on the other.
        "event_loop": os.environ.get("BILLING_EVENT_LOOP") or DEFAULT_LOOP,
        "rules_dir": "",  # tests push their rules; the autoload has its own test
        # Gateway tokens and credentials are encrypted at rest (ADR 0034): a test key ring.
        "encryption_keys": TEST_ENCRYPTION_KEYS,
        "encryption_key_id": "test1",
        "data_dir": str(Path(database_url.rsplit("///", maxsplit=1)[-1]).parent)
        if database_url.startswith("sqlite")
        else "var",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


class ThreadedServer:
    """A Runtime on its own event loop in a background thread: the loop `billing serve` would
    run it on (uvloop unless the settings say asyncio)."""

    def __init__(self, settings: Settings) -> None:
        self.loop = new_event_loop(settings.event_loop)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runtime = self._call(self._make(settings))
        self.port: int = self._call(self.runtime.start())

    @staticmethod
    async def _make(settings: Settings) -> Runtime:
        return Runtime(settings)

    def _call(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def stop(self) -> None:
        self._call(self.runtime.stop(0.5))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@dataclass
class Server:
    backend: str
    database: Database
    port: int

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def _servers(make_database: Callable[[str], Database]) -> Iterator[Callable[[str], Server]]:
    """One server per backend for the whole session, started when first asked for.

    `server` is parametrized over the backends at session scope, and pytest finalizes such a
    fixture whenever the parameter changes. Without xdist the suite runs all SQLite tests, then
    all PostgreSQL ones, so that happened once; under `--dist loadfile` a worker alternates
    backends file by file, which restarted both servers (and made their databases) twice per
    file. Kept here, they live until the session ends, as before."""
    started: dict[str, tuple[Server, ThreadedServer]] = {}

    def get(backend: str) -> Server:
        if backend not in started:
            database = make_database(backend)
            running = ThreadedServer(server_settings(database.async_url))
            started[backend] = (Server(backend, database, running.port), running)
        return started[backend][0]

    yield get
    for _, running in started.values():
        running.stop()


@pytest.fixture(scope="session")
def server(backend: str, _servers: Callable[[str], Server]) -> Server:
    return _servers(backend)


@pytest.fixture(scope="session")
def sqlite_server(make_database: Callable[[str], Database]) -> Iterator[Server]:
    """For tests about the edges (command line, README) where one backend is enough."""
    database = make_database("sqlite")
    running = ThreadedServer(server_settings(database.async_url))
    yield Server("sqlite", database, running.port)
    running.stop()


@pytest.fixture(scope="session")
def channel(server: Server) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.target) as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        yield ch


@pytest.fixture
def customers(channel: grpc.Channel) -> customers_pb2_grpc.CustomerServiceStub:
    return customers_pb2_grpc.CustomerServiceStub(channel)


@pytest.fixture
def rules_api(channel: grpc.Channel) -> rules_pb2_grpc.RuleServiceStub:
    return rules_pb2_grpc.RuleServiceStub(channel)


@pytest.fixture
def catalog(channel: grpc.Channel) -> catalog_pb2_grpc.CatalogServiceStub:
    return catalog_pb2_grpc.CatalogServiceStub(channel)


REPO_RULES = Path(__file__).parents[1] / "rules"


def rule_files(directory: Path = REPO_RULES, **overrides: str) -> dict[str, bytes]:
    """The files of a rules directory, with some replaced or added by name."""
    files = {p.name: p.read_bytes() for p in sorted(directory.glob("*.yaml"))}
    files.update({name: text.encode() for name, text in overrides.items()})
    return files


def make_token(
    tenant_id: str,
    scopes: tuple[str, ...] = SCOPES,
    lifetime_s: int = 600,
    now: float | None = None,
) -> str:
    return mint_hs256_token(
        SECRET,
        tenant_id=tenant_id,
        subject="test-user",
        scopes=scopes,
        issuer=ISSUER,
        audience=AUDIENCE,
        lifetime_s=lifetime_s,
        now=now,
    )


def auth(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


@dataclass
class Tenant:
    id: str
    metadata: tuple[tuple[str, str], ...]

    def with_faults(self, *, delay_ms: int = 0, fail: bool = False) -> tuple[tuple[str, str], ...]:
        extra: list[tuple[str, str]] = []
        if delay_ms:
            extra.append(("x-billing-fault-delay-ms", str(delay_ms)))
        if fail:
            extra.append(("x-billing-fault-fail", "true"))
        return self.metadata + tuple(extra)


@pytest.fixture
def tenant() -> Tenant:
    tenant_id = f"t_{uuid.uuid4().hex[:16]}"
    return Tenant(tenant_id, auth(make_token(tenant_id)))


@pytest.fixture
def other_tenant() -> Tenant:
    tenant_id = f"t_{uuid.uuid4().hex[:16]}"
    return Tenant(tenant_id, auth(make_token(tenant_id)))

"""Statements and transactions per RPC: the deterministic half of the write path's cost.

Throughput moves with the machine's load; the number of SQL statements a call sends does not.
This runs one server in this process (due-work worker stopped, so only the calls' own
statements are counted) on a scratch database, makes each scenario's call a few times in a row,
and prints the statements, round trips and transactions per call: statements SQLAlchemy sends
counted by engine events, blind writes sent together in one pipeline (store/batch.py) by the
batch's own counts (store/batch.py).

    python -m billing.bench.statements [--database postgresql://postgres@127.0.0.1:5432/test]
        [--show CreateSubscription,FinalizeInvoice | --show all]

"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import grpc
from sqlalchemy import event
from sqlalchemy.engine import Engine

from billing.api.auth import SCOPES, mint_hs256_token
from billing.bench import pay_invoice_load
from billing.bench.otlp_sink import OtlpSink
from billing.bench.servers import (
    BENCH_ENCRYPTION_KEYS,
    postgresql_database,
    process_stats,
    sqlite_url,
)
from billing.bench.subscription_setup import read_rule_files
from billing.config import Settings
from billing.runtime import Runtime
from billing.store import batch
from billing.store.migrate import upgrade
from billing_client import bearer_metadata
from billing_client.v1 import (
    customers_pb2,
    customers_pb2_grpc,
    invoices_pb2,
    invoices_pb2_grpc,
    payments_pb2,
    payments_pb2_grpc,
    rules_pb2,
    rules_pb2_grpc,
    subscriptions_pb2,
    subscriptions_pb2_grpc,
)

CALLS = 100  # per scenario; the first call of each warms caches and is not counted
SECRET = "statements-bench-" + uuid.uuid4().hex
RULES = Path(__file__).parents[3] / "rules"


class Counter:
    """Statements and commits seen by every engine of this process."""

    def __init__(self) -> None:
        self.statements = 0
        self.commits = 0
        self.lock = threading.Lock()
        self.recent: list[str] = []  # statement texts since the last mark (for --show)

    def install(self) -> None:
        event.listen(Engine, "before_cursor_execute", self._statement)
        event.listen(Engine, "commit", self._commit)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        with self.lock:
            self.statements += 1
            self.recent.append(" ".join(statement.split())[:160])

    def mark(self) -> None:
        with self.lock:
            self.recent = []
            batch.COUNTS.recent = []
            batch.COUNTS.keep_texts = True

    def _commit(self, *_args: Any) -> None:
        with self.lock:
            self.commits += 1

    def snapshot(self) -> tuple[int, int, int, int, int]:
        """Statements sent alone (by SQLAlchemy, or raw on the lean read path), commits,
        batches and the statements in them, and the commits that rode at the end of a batch."""
        with self.lock:
            counts = batch.COUNTS
            return (
                self.statements + counts.alone,
                self.commits,
                counts.pipelines,
                counts.statements,
                counts.commits,
            )


@dataclass(frozen=True)
class Row:
    rpc: str
    statements: float  # sent one at a time by SQLAlchemy
    transactions: float
    pipelined: float  # statements sent together in a write pipeline (store/batch.py)
    pipelines: float
    server_cpu_us: float  # the server loop thread's CPU per call, one caller at a time
    database_cpu_us: float  # every local PostgreSQL process's CPU per call (0: none seen)
    commits_batched: float  # COMMITs sent at the end of the write batch

    @property
    def round_trips(self) -> float:
        """Database round trips: each statement sent alone, each batch or pipeline, and a
        transaction's COMMIT unless it rode at the end of the write batch. (A keyed write
        opens with a pipeline that carries its BEGIN.)"""
        return self.statements + self.pipelines + self.transactions - self.commits_batched


@contextmanager
def running(database_url: str, data_dir: str, otlp_endpoint: str = "") -> Iterator[int]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    SERVER_LOOP.append(loop)

    def call(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    async def make() -> Runtime:
        return Runtime(
            Settings(
                database_url=database_url,
                listen="127.0.0.1:0",
                auth_hs256_secret=SECRET,
                rules_dir="",
                data_dir=data_dir,
                # PostgreSQL needs a key ring for gateway tokens (ADR 0034): a throwaway one.
                encryption_keys=BENCH_ENCRYPTION_KEYS,
                encryption_key_id="bench",
                # the sandbox's ledger in a file, as the load bench and a deployment have it
                gateway_endpoints=f"sandbox={Path(data_dir) / 'sandbox-ledger.db'}",
                # --trace-ratio: traced, exporting to the bench's OTLP sink (ADR 0060).
                trace_exporter="otlp" if TRACE_RATIO else "none",
                trace_sample_ratio=TRACE_RATIO[-1] if TRACE_RATIO else 0.0,
                otlp_endpoint=otlp_endpoint,
            )
        )

    runtime = call(make())
    port = call(runtime.start())
    task = runtime._worker_task  # only the calls' own statements are counted
    if task is not None:
        loop.call_soon_threadsafe(task.cancel)
    try:
        yield port
    finally:
        call(runtime.stop(0.5))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


SHOW: set[str] = set()  # RPCs whose last call's statements are printed
TRACE_RATIO: list[float] = []  # --trace-ratio, when given
SERVER_LOOP: list[asyncio.AbstractEventLoop] = []  # the loop the server runs on


def server_cpu_s() -> float:
    """CPU time of the server's event-loop thread (where all of a call's Python runs; the
    client's calls run on this thread, grpc's C threads are not counted)."""

    async def now() -> float:
        return time.thread_time()

    return asyncio.run_coroutine_threadsafe(now(), SERVER_LOOP[-1]).result(timeout=10)


def postgres_cpu_s() -> float:
    """CPU time of every PostgreSQL process on this machine (backends, WAL writer, checkpointer:
    all of a call's database cost, when PostgreSQL is local and the machine otherwise quiet);
    0 where /proc shows none."""
    ticks = sum(
        int(fields[11]) + int(fields[12])  # utime + stime
        for _, name, fields in process_stats()
        if name == "postgres"
    )
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(counter: Counter, rpc: str, call: Callable[[int], object]) -> Row:
    call(0)
    before = counter.snapshot()
    cpu_before = server_cpu_s()
    database_before = postgres_cpu_s()
    for i in range(1, CALLS + 1):
        counter.mark()
        call(i)
    cpu_us = (server_cpu_s() - cpu_before) / CALLS * 1e6
    database_us = (postgres_cpu_s() - database_before) / CALLS * 1e6
    after = counter.snapshot()
    if rpc in SHOW or "all" in SHOW:
        print(f"-- {rpc}: statements of its last call")
        for text in counter.recent:
            print(f"   {text}")
        for text in batch.COUNTS.recent:
            print(f"   {' '.join(text.split())[:160]}")
    alone, commits, batches, batched, commits_batched = (
        (a - b) / CALLS for a, b in zip(after, before, strict=True)
    )
    return Row(
        rpc,
        statements=alone,
        transactions=commits,
        pipelined=batched,
        pipelines=batches,
        server_cpu_us=cpu_us,
        database_cpu_us=database_us,
        commits_batched=commits_batched,
    )


def bench_metadata(tenant_id: str) -> tuple[tuple[str, str], ...]:
    """Call metadata with a token of every scope for `tenant_id`, signed for `running`."""
    token = mint_hs256_token(
        SECRET,
        tenant_id=tenant_id,
        subject="bench",
        scopes=SCOPES,
        issuer="billing-dev",
        audience="billing",
        lifetime_s=3600,
    )
    return bearer_metadata(token)


def scenarios(channel: grpc.Channel, counter: Counter) -> list[Row]:
    md = bench_metadata("bench")
    rules_api = rules_pb2_grpc.RuleServiceStub(channel)
    customers = customers_pb2_grpc.CustomerServiceStub(channel)
    subs = subscriptions_pb2_grpc.SubscriptionServiceStub(channel)
    invoices = invoices_pb2_grpc.InvoiceServiceStub(channel)
    rules_api.PushRuleSet(
        rules_pb2.PushRuleSetRequest(files=read_rule_files(RULES), request_id="rules"),
        metadata=md,
    )

    def rid() -> str:
        return uuid.uuid4().hex

    def new_customer(_: int = 0) -> customers_pb2.Customer:
        made: customers_pb2.Customer = customers.CreateCustomer(
            customers_pb2.CreateCustomerRequest(
                customer=customers_pb2.Customer(display_name="Acme", currency_code="USD"),
                request_id=rid(),
            ),
            metadata=md,
        )
        return made

    customer = new_customer()
    made: list[subscriptions_pb2.Subscription] = []

    def subscribe(_: int) -> None:
        made.append(
            subs.CreateSubscription(
                subscriptions_pb2.CreateSubscriptionRequest(
                    customer=customer.name, plan="plans/basic_monthly", request_id=rid()
                ),
                metadata=md,
            )
        )

    def change(i: int) -> None:
        sub = made[i]
        subs.ChangeSubscription(
            subscriptions_pb2.ChangeSubscriptionRequest(
                change=subscriptions_pb2.SubscriptionChange(
                    subscription=sub.name, plan="plans/pro_monthly"
                ),
                etag=sub.etag,
                request_id=rid(),
            ),
            metadata=md,
        )

    drafts: list[str] = []

    def draft(_: int) -> None:
        made_draft = invoices.CreateInvoice(
            invoices_pb2.CreateInvoiceRequest(customer=customer.name, request_id=rid()),
            metadata=md,
        )
        invoices.AddInvoiceLine(
            invoices_pb2.AddInvoiceLineRequest(
                invoice=made_draft.name,
                description="Setup",
                quantity="1",
                unit_amount="10.00",
                request_id=rid(),
            ),
            metadata=md,
        )
        drafts.append(made_draft.name)

    for i in range(CALLS + 1):
        draft(i)
    rows = [
        measure(counter, "CreateCustomer", new_customer),
        measure(
            counter,
            "GetCustomer",
            lambda _: customers.GetCustomer(
                customers_pb2.GetCustomerRequest(name=customer.name), metadata=md
            ),
        ),
        measure(counter, "CreateSubscription", subscribe),
        measure(counter, "ChangeSubscription", change),
        measure(
            counter,
            "FinalizeInvoice",
            lambda i: invoices.FinalizeInvoice(
                invoices_pb2.FinalizeInvoiceRequest(name=drafts[i], request_id=rid()),
                metadata=md,
            ),
        ),
        pay_invoices(channel, counter),
    ]
    return rows


def pay_invoices(channel: grpc.Channel, counter: Counter) -> Row:
    """PayInvoice on a tenant of its own (invoices sent, not collected at finalization): each
    call pays one open invoice through the sandbox gateway, intent, call and outcome."""
    md = bench_metadata("bench_pay")
    invoices = pay_invoice_load.make_invoices(
        channel, md, read_rule_files(RULES), CALLS + 1, lambda _text: None
    )
    payments = payments_pb2_grpc.PaymentServiceStub(channel)

    def pay(i: int) -> None:
        attempt = payments.PayInvoice(
            payments_pb2.PayInvoiceRequest(invoice=invoices[i], request_id=uuid.uuid4().hex),
            metadata=md,
        )
        if attempt.status != payments_pb2.SUCCEEDED:
            raise RuntimeError(f"{invoices[i]} not paid: {attempt.status}")

    return measure(counter, "PayInvoice", pay)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database", default="", help="a PostgreSQL server URL; default: a scratch SQLite file"
    )
    parser.add_argument(
        "--show",
        default="",
        help="comma-separated RPCs (or 'all') whose last call's statements are printed",
    )
    parser.add_argument(
        "--trace-ratio",
        type=float,
        default=0.0,
        help="trace at this ratio, exporting over OTLP to a sink in this process (0: off)",
    )
    args = parser.parse_args(argv)
    SHOW.update(name for name in args.show.split(",") if name)
    if args.trace_ratio > 0:
        TRACE_RATIO.append(args.trace_ratio)
    sink = OtlpSink() if TRACE_RATIO else None
    counter = Counter()
    with TemporaryDirectory() as workdir, _database(args.database, Path(workdir)) as url:
        upgrade(url)
        counter.install()
        with (
            running(url, workdir, sink.endpoint if sink else "") as port,
            grpc.insecure_channel(f"127.0.0.1:{port}") as ch,
        ):
            rows = scenarios(ch, counter)
    backend = "PostgreSQL" if args.database else "SQLite"
    traced = f", traced at {args.trace_ratio:g}" if sink else ", untraced"
    print(f"statements per call ({backend}{traced}, mean of {CALLS} calls after one warm-up)")
    print(
        f"{'rpc':<22}{'statements':>12}{'of which batched':>18}{'round trips':>13}"
        f"{'transactions':>14}{'server CPU us':>15}{'PostgreSQL CPU us':>19}"
    )
    for row in rows:
        total = row.statements + row.pipelined
        print(
            f"{row.rpc:<22}{total:>12.1f}{row.pipelined:>18.1f}{row.round_trips:>13.1f}"
            f"{row.transactions:>14.1f}{row.server_cpu_us:>15.0f}{row.database_cpu_us:>19.0f}"
        )
    if sink is not None:
        sink.stop()
        print(f"the OTLP sink received {sink.spans} spans")
    return 0


@contextmanager
def _database(server_url: str, workdir: Path) -> Iterator[str]:
    if not server_url:
        yield sqlite_url(workdir)
        return
    driver = server_url.replace("postgresql://", "postgresql+psycopg://", 1)
    with postgresql_database(driver) as url:
        yield url


if __name__ == "__main__":
    raise SystemExit(main())

"""StreamUsage soak on PostgreSQL: one very long stream, the server's memory over it, and
another caller's latency meanwhile (ADR 0022).

    flock /tmp/bench.lock python -m billing.bench.usage_soak --events 2000000

One server process (`--workers`), so the stream and the other caller share its event loop.
After a warm-up stream, a prober in a process of its own calls GetCustomer at `--probe-rate`
calls/s (open loop: it does not slow down when the server does) for `--idle-seconds` with the
server otherwise idle, before and again after the stream (on a shared machine the load of
other work drifts: the idle figure pools both windows), and during one StreamUsage call of
`--events` events (messages of 500, `api_calls` events of the last day over
`--subscriptions` subscriptions, one in `--refuse-every` with an unknown metric so the
answer's refused list fills). The server's RSS is sampled every `SAMPLE_S` seconds, keyed
by the events sent so far. Printed: events/s,
the answer (counts, refused listed and unlisted, its size), RSS at start, middle and end
(and its maximum), and the prober's p50/p95/p99 idle and during the stream, from the same run.
`--server-pythonpath DIR` runs the server from another checkout's code (a before/after).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import secrets
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import timestamp_pb2

from billing.api.auth import mint_hs256_token
from billing.bench.options import AUDIENCE, DEFAULT_PG_URL, ISSUER, TENANT_CLAIM
from billing.bench.servers import (
    LOCALHOST,
    BenchError,
    billing_command,
    clean_env,
    migrate,
    postgresql_database,
    process_tree,
    running_server,
)
from billing.bench.subscription_setup import SubscriptionFixtures, read_rule_files
from billing.bench.usage_load import DAY_S, STREAM_CLOCK_NOW, STREAM_METRIC
from billing.bench.usage_setup import UsageFixtures, with_usage_rules
from billing_client import bearer_metadata
from billing_client.v1 import customers_pb2, customers_pb2_grpc, usage_pb2, usage_pb2_grpc

MESSAGE_EVENTS = 500
WARMUP_EVENTS = 50_000
SAMPLE_S = 1.0
STREAM_TIMEOUT_S = 3_600.0
PROBE_TIMEOUT_S = 30.0
PAGE_KIB = 4
STREAM_CLIENT_NICE = 19  # the lowest


def _progress(text: str) -> None:
    print(f"usage-soak: {text}", file=sys.stderr, flush=True)


# --- the other caller -------------------------------------------------------------------------


async def _probe(
    target: str, metadata: Any, customer: str, rate: float, stop: Any
) -> list[tuple[float, float]]:
    """(monotonic start, milliseconds) of each GetCustomer, one every 1/rate s, until `stop`."""
    samples: list[tuple[float, float]] = []
    interval = 1.0 / rate
    async with grpc.aio.insecure_channel(target) as channel:
        stub = customers_pb2_grpc.CustomerServiceStub(channel)
        request = customers_pb2.GetCustomerRequest(name=customer)

        async def one(began: float) -> None:
            await stub.GetCustomer(request, metadata=metadata, timeout=PROBE_TIMEOUT_S)
            samples.append((began, (time.monotonic() - began) * 1000))

        pending: set[asyncio.Task[None]] = set()
        next_at = time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            if now < next_at:
                await asyncio.sleep(next_at - now)
                continue
            task = asyncio.create_task(one(now))
            pending.add(task)
            task.add_done_callback(pending.discard)
            next_at += interval
        if pending:
            await asyncio.gather(*pending)
    return samples


def _probe_process(
    target: str, token: str, customer: str, rate: float, stop: Any, out: Any
) -> None:
    out.put(asyncio.run(_probe(target, bearer_metadata(token), customer, rate, stop)))


class Prober:
    """The other caller, in a process of its own (this one's stream must not slow it)."""

    def __init__(self, target: str, token: str, customer: str, rate: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._out: Any = context.Queue()
        self._process = context.Process(
            target=_probe_process, args=(target, token, customer, rate, self._stop, self._out)
        )

    def start(self) -> None:
        self._process.start()

    def stop(self) -> list[tuple[float, float]]:
        self._stop.set()
        samples: list[tuple[float, float]] = self._out.get(timeout=120)
        self._process.join(timeout=10)
        return samples


def percentiles(ms: Sequence[float]) -> tuple[float, float, float]:
    if len(ms) < 2:
        return (ms[0], ms[0], ms[0]) if ms else (0.0, 0.0, 0.0)
    q = statistics.quantiles(ms, n=100)
    return q[49], q[94], q[98]


# --- the server's memory ----------------------------------------------------------------------


def rss_mib(root_pid: int) -> float:
    """Resident memory of the server's processes, MiB (/proc/<pid>/statm)."""
    pages = 0
    for pid in process_tree(root_pid):
        try:
            pages += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return pages * PAGE_KIB / 1024


@dataclass
class MemorySamples:
    """(events sent so far, RSS MiB), every SAMPLE_S seconds, from a thread."""

    root_pid: int
    sent: list[int] = field(default_factory=lambda: [0])
    samples: list[tuple[int, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> threading.Thread:
        def run() -> None:
            while not self._stop.wait(SAMPLE_S):
                self.samples.append((self.sent[0], rss_mib(self.root_pid)))

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def at(self, fraction: float) -> tuple[int, float]:
        return self.samples[min(len(self.samples) - 1, int(len(self.samples) * fraction))]


# --- the stream -------------------------------------------------------------------------------


async def stream(
    target: str,
    metadata: Any,
    subscriptions: Sequence[str],
    events: int,
    *,
    tag: str,
    refuse_every: int,
    sent: list[int],
) -> usage_pb2.IngestUsageResponse:
    """One StreamUsage call of `events` events, made as they are sent."""
    day_start = int(STREAM_CLOCK_NOW.timestamp()) - DAY_S
    subs = tuple(subscriptions)

    async def requests() -> AsyncIterator[usage_pb2.StreamUsageRequest]:
        for first in range(0, events, MESSAGE_EVENTS):
            batch = []
            for n in range(first, min(first + MESSAGE_EVENTS, events)):
                refused = refuse_every > 0 and n % refuse_every == refuse_every - 1
                batch.append(
                    usage_pb2.UsageEvent(
                        id=f"soak-{tag}-{n:09d}",
                        subscription=subs[n % len(subs)],
                        metric="soak_unknown_metric" if refused else STREAM_METRIC,
                        timestamp=timestamp_pb2.Timestamp(seconds=day_start + n * 7 % DAY_S),
                    )
                )
            yield usage_pb2.StreamUsageRequest(events=batch)
            sent[0] = first + len(batch)

    async with grpc.aio.insecure_channel(target) as channel:
        stub = usage_pb2_grpc.UsageServiceStub(channel)
        reply: usage_pb2.IngestUsageResponse = await stub.StreamUsage(
            requests(), metadata=metadata, timeout=STREAM_TIMEOUT_S
        )
        return reply


# --- the run ----------------------------------------------------------------------------------


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--subscriptions", type=int, default=20)
    parser.add_argument("--refuse-every", type=int, default=1_000, help="0: refuse none")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--probe-rate", type=float, default=50.0, help="GetCustomer calls/s")
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--rules-dir", type=Path, default=Path("rules"))
    parser.add_argument(
        "--server-pythonpath", default="", help="PYTHONPATH for the server (another checkout)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop the server, drop the db
    secret = secrets.token_urlsafe(32)
    tag = secrets.token_hex(4)
    token = mint_hs256_token(
        secret,
        tenant_id=f"soak_{tag}",
        subject="usage-soak",
        issuer=ISSUER,
        audience=AUDIENCE,
        tenant_claim=TENANT_CLAIM,
        lifetime_s=24 * 3600,
    )
    metadata = bearer_metadata(token)
    files = with_usage_rules(read_rule_files(args.rules_dir))
    with postgresql_database(args.pg_url) as url, tempfile.TemporaryDirectory() as tmp:
        extra = {"PYTHONPATH": args.server_pythonpath} if args.server_pythonpath else {}
        env = clean_env(
            {
                "BILLING_DATABASE_URL": url,
                "BILLING_LISTEN": f"{LOCALHOST}:0",
                "BILLING_WORKERS": str(args.workers),
                "BILLING_AUTH_HS256_SECRET": secret,
                "BILLING_AUTH_ISSUER": ISSUER,
                "BILLING_AUTH_AUDIENCE": AUDIENCE,
                "BILLING_AUTH_TENANT_CLAIM": TENANT_CLAIM,
                "BILLING_DATA_DIR": tmp,
                **extra,
            }
        )
        migrate(env)
        with running_server("billing", billing_command(), env, Path(tmp), args.workers) as srv:
            return _run(args, srv.target, srv.pid, metadata, token, files, tag)


def _run(
    args: argparse.Namespace,
    target: str,
    server_pid: int,
    metadata: Any,
    token: str,
    files: dict[str, bytes],
    tag: str,
) -> int:
    fixtures = SubscriptionFixtures(target, metadata, files, _progress)
    usage = UsageFixtures(fixtures, target, metadata, "", _progress)
    owned = usage.stream_subscriptions(1, args.subscriptions)[0]
    subscriptions = [s.name for s in owned]
    with grpc.insecure_channel(target) as channel:
        made = customers_pb2_grpc.CustomerServiceStub(channel).CreateCustomer(
            customers_pb2.CreateCustomerRequest(
                customer=customers_pb2.Customer(display_name="Prober", currency_code="USD"),
                request_id=secrets.token_hex(8),
            ),
            metadata=metadata,
        )
    customer = str(made.name)
    rss_before = rss_mib(server_pid)
    _progress(f"warm-up: a stream of {WARMUP_EVENTS:,} events")
    asyncio.run(
        stream(
            target, metadata, subscriptions, WARMUP_EVENTS, tag=f"{tag}w", refuse_every=0, sent=[0]
        )
    )
    prober = Prober(target, token, customer, args.probe_rate)
    prober.start()
    time.sleep(2.0)  # the prober's process starts and connects
    idle_from = time.monotonic()
    _progress(f"the prober alone for {args.idle_seconds:g} s")
    time.sleep(args.idle_seconds)
    idle_to = time.monotonic()
    memory = MemorySamples(server_pid)
    memory.samples.append((0, rss_mib(server_pid)))
    sampler = memory.start()
    _progress(f"one StreamUsage call of {args.events:,} events")
    # The stream's caller would run on another machine: here it shares two cores with the
    # server, PostgreSQL and the prober, so it runs at a lower priority (the prober does not).
    os.nice(STREAM_CLIENT_NICE)
    began = time.monotonic()
    failure = ""
    reply = usage_pb2.IngestUsageResponse()
    try:
        reply = asyncio.run(
            stream(
                target,
                metadata,
                subscriptions,
                args.events,
                tag=tag,
                refuse_every=args.refuse_every,
                sent=memory.sent,
            )
        )
    except grpc.RpcError as exc:
        failure = f"{exc.code().name}: {(exc.details() or '')[:200]}"
    ended = time.monotonic()
    memory.samples.append((memory.sent[0], rss_mib(server_pid)))
    memory.stop()
    sampler.join(timeout=5)
    _progress(f"the prober alone again for {args.idle_seconds:g} s")
    time.sleep(args.idle_seconds)
    idle_again = time.monotonic()
    samples = prober.stop()
    idle = [
        ms
        for at, ms in samples
        if idle_from <= at < idle_to or ended + 1.0 <= at < idle_again  # 1 s to settle
    ]
    during = [ms for at, ms in samples if began <= at < ended]
    _report(args, reply, failure, ended - began, rss_before, memory, idle, during)
    return 1 if failure else 0


def _report(
    args: argparse.Namespace,
    reply: usage_pb2.IngestUsageResponse,
    failure: str,
    seconds: float,
    rss_before: float,
    memory: MemorySamples,
    idle: list[float],
    during: list[float],
) -> None:
    print(f"StreamUsage soak on PostgreSQL, {args.workers} server process(es)")
    if failure:
        print(f"  stream: FAILED after {seconds:.1f} s, {memory.sent[0]:,} events sent: {failure}")
    else:
        events = reply.accepted + reply.duplicates + reply.refused
        print(
            f"  stream: {events:,} events in {seconds:.1f} s ({events / seconds:,.0f} events/s);"
            f" {reply.accepted:,} accepted, {reply.duplicates:,} duplicates,"
            f" {reply.refused:,} refused ({len(reply.results):,} listed,"
            f" {reply.refused_unlisted:,} unlisted); answer {reply.ByteSize():,} bytes"
        )
    start, middle, end = memory.samples[0], memory.at(0.5), memory.samples[-1]
    peak = max(mib for _, mib in memory.samples)
    print(
        f"  server RSS: {rss_before:.0f} MiB before the warm-up; start {start[1]:.0f} MiB,"
        f" middle {middle[1]:.0f} MiB (at {middle[0]:,} events sent), end {end[1]:.0f} MiB"
        f" (at {end[0]:,}); max {peak:.0f} MiB over {len(memory.samples)} samples"
    )
    for name, ms, span in (
        ("idle (before and after)", idle, 2 * args.idle_seconds - 1.0),
        ("during the stream", during, seconds),
    ):
        p50, p95, p99 = percentiles(ms)
        print(
            f"  GetCustomer {name}: {len(ms):,} calls ({len(ms) / span:,.0f}/s),"
            f" p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms"
        )
    if idle and during:
        ratio = percentiles(during)[1] / percentiles(idle)[1]
        print(f"  GetCustomer p95 during / idle: {ratio:.2f}x")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"usage-soak: {exc}", file=sys.stderr)
        sys.exit(2)

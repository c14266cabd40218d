"""Closed-loop load from several OS processes, each with its own grpc.aio channel.

Each load process keeps `concurrency` calls in flight. All processes connect first, then
start together on a signal from the parent: a warm-up whose calls are not recorded, then
the measured window. A call is recorded when it starts inside the window (so the calls
still in flight at its end are waited for, not dropped). Bounded in time (the window, a
deadline per call, a limit on the whole process) and in count (`max_calls` per process).

With a rate (`LoadSpec.rate_per_s`) the load is open instead: see open_loop.

StreamUsage calls (10,000 events each) can last longer than the window, so there a call is
recorded when it is in progress during the window, and the lanes keep sending unrecorded
calls until the last recorded one has ended (so it meets the same load to its end). Its
rate is not counted here but in the database (see usage_setup.CommittedEvents): a call's
events are committed batch by batch, at a pace the client cannot see.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import queue
import signal
import time
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from typing import Any

import grpc

from billing.bench import (
    echo,
    mrr_load,
    open_loop,
    pay_invoice_load,
    quote_tax_load,
    subscription_load,
    usage_load,
)
from billing.bench.subscription_load import OwnedSubscription
from billing.bench.usage_load import EventTally
from billing_client.v1 import (
    customers_pb2,
    customers_pb2_grpc,
    subscriptions_pb2,
    subscriptions_pb2_grpc,
)

ECHO = "echo"
CREATE = "CreateCustomer"
GET = "GetCustomer"
CREATE_SUB = "CreateSubscription"
CHANGE_SUB = "ChangeSubscription"
CLOCK_RUN = "clock 24 months"  # a timed run, not load: see clock_run
STREAM_USAGE = "StreamUsage"  # counts accepted events, not calls: see usage_load
CURRENT_USAGE = "GetCurrentUsage 10M"  # on a table seeded directly: see usage_seed
QUOTE_TAX = "QuoteTax"  # a cart's tax on a tenant with tax on: see quote_tax_load
PAY_INVOICE = "PayInvoice"  # one whole invoice each, on the sandbox gateway: see pay_invoice_load
GET_MRR = "GetMrr 1M"  # on MRR state seeded directly: see mrr_seed
GET_MRR_AT = "GetMrr 1M month back"  # the same, as of an instant 30 days back
# Redis (ADR 0066): the same reads on a second server of the same database with
# BILLING_REDIS_URL set (the cache, and the rate limit's shared bucket on every call).
ENTITLEMENTS = "GetEntitlements"
ENTITLEMENTS_REDIS = "GetEntitlements redis"
GET_REDIS = "GetCustomer redis"
# The same calls sent by h2load, not Python processes: see h2load.py (named, never default).
ECHO_H2LOAD = "echo h2load"
GET_H2LOAD = "GetCustomer h2load"
H2LOAD_SCENARIOS = (ECHO_H2LOAD, GET_H2LOAD)
REDIS_SCENARIOS = (ENTITLEMENTS_REDIS, GET_REDIS)
SCENARIOS = (
    ECHO,
    CREATE,
    GET,
    CREATE_SUB,
    CHANGE_SUB,
    CLOCK_RUN,
    STREAM_USAGE,
    CURRENT_USAGE,
    QUOTE_TAX,
    PAY_INVOICE,
    GET_MRR,
    GET_MRR_AT,
    ENTITLEMENTS,
    ENTITLEMENTS_REDIS,
    GET_REDIS,
    ECHO_H2LOAD,
    GET_H2LOAD,
)
MRR_SCENARIOS = (GET_MRR, GET_MRR_AT)
POSTGRESQL_ONLY = (STREAM_USAGE, CURRENT_USAGE, *MRR_SCENARIOS)

CALL_TIMEOUT_S = 10.0
STREAM_CALL_TIMEOUT_S = 120.0  # one StreamUsage call carries 10,000 events
CURRENT_USAGE_CALL_TIMEOUT_S = 30.0  # each call aggregates ~1,000 events per subscription
CONNECT_TIMEOUT_S = 30.0
START_TIMEOUT_S = 60.0  # from process start until every load process is connected
MESSAGE_CHARS = 200  # keep the first error message per status code


@dataclass(frozen=True)
class LoadSpec:
    scenario: str
    target: str
    metadata: tuple[tuple[str, str], ...]
    concurrency: int  # closed loop: calls in flight; open loop: the cap on them
    warmup_s: float
    seconds: float
    max_calls: int  # per load process, warm-up included
    run_tag: str  # makes request ids unique across runs
    customer_names: tuple[str, ...] = ()  # GetCustomer reads these, CreateSubscription uses
    # ChangeSubscription, StreamUsage: the subscriptions each load process owns, by index
    subscriptions: tuple[tuple[OwnedSubscription, ...], ...] = ()
    subscription_names: tuple[str, ...] = ()  # GetCurrentUsage reads these, all processes
    invoice_names: tuple[tuple[str, ...], ...] = ()  # PayInvoice: each process pays its own
    call_timeout_s: float = CALL_TIMEOUT_S
    rate_per_s: float | None = None  # open loop: calls sent per second by this process

    @property
    def long_calls(self) -> bool:
        return self.scenario == STREAM_USAGE

    @property
    def time_limit_s(self) -> float:
        """How long a load process may run once started (cool-down calls are cancelled once
        the calls started before the window's end have ended, within a call deadline)."""
        return self.warmup_s + self.seconds + self.call_timeout_s + 10


@dataclass
class ProcessResult:
    index: int
    latencies_ns: array[int]  # successful calls in the window
    errors: dict[str, int]  # status code -> calls in the window that failed with it
    messages: dict[str, str]  # status code -> first message seen
    elapsed_ns: int  # window start to the end of the last recorded call
    issued: int  # calls started, warm-up included
    hit_max_calls: bool
    accepted_events: int | None = None  # StreamUsage: accepted in the recorded calls
    cap_waits: int = 0  # open loop: calls of the window that waited under the in-flight cap
    completed: int | None = None  # open loop: calls that succeeded inside the window


@dataclass
class LoadOutcome:
    results: list[ProcessResult]
    connections: list[int] | None = None  # per server process, when it could be seen


@dataclass
class _State:
    measure_start_ns: int
    end_ns: int
    max_calls: int
    issued: int = 0
    last_done_ns: int = 0
    latencies: array[int] = field(default_factory=lambda: array("q"))
    errors: Counter[str] = field(default_factory=Counter)
    messages: dict[str, str] = field(default_factory=dict)
    accepted_events: int | None = None  # StreamUsage: accepted in the recorded calls
    error_weight: int = 1  # errors a failed call counts for (StreamUsage: its events)
    # Long calls (StreamUsage): every call in progress during the window is recorded, and
    # lanes keep the load up with unrecorded calls until the last of those has ended.
    long_calls: bool = False
    window_calls: int = 0  # calls started before the window's end and still running
    window_calls_done: asyncio.Event = field(default_factory=asyncio.Event)

    def finish(
        self, start: int, done: int, code: str | None, message: str, outcome: EventTally | None
    ) -> None:
        """Account for a call that started before the window's end: failed with `code`, or
        succeeded (with `outcome` when it reports events)."""
        self.window_calls -= 1
        if self.window_calls == 0 and done >= self.end_ns:
            self.window_calls_done.set()  # no call of the window is left: stop cooling down
        if not self.recorded(start, done):
            return  # warm-up
        if outcome is not None:
            self.count_tally(outcome)
        self.last_done_ns = max(self.last_done_ns, done)
        if code is None:
            self.latencies.append(done - start)
        else:
            self.errors[code] += self.error_weight
            self.messages.setdefault(code, message[:MESSAGE_CHARS])

    def recorded(self, start: int, done: int) -> bool:
        if self.long_calls:
            return done > self.measure_start_ns  # it started before end_ns: it overlaps
        return start >= self.measure_start_ns

    def count_tally(self, t: EventTally) -> None:
        self.accepted_events = (self.accepted_events or 0) + t.accepted
        for code, count, message in (
            ("REFUSED", t.refused, t.first_refusal),
            ("DUPLICATE", t.duplicates, f"event id already stored: {t.first_duplicate}"),
            ("UNANSWERED", t.unanswered, f"{t.unanswered} of {t.sent} events had no result"),
        ):
            if count > 0:
                self.errors[code] += count
                self.messages.setdefault(code, message[:MESSAGE_CHARS])


class EchoMismatch(Exception):
    """The echo server answered with other bytes than were sent."""


def create_request(run_tag: str, process: int, n: int) -> customers_pb2.CreateCustomerRequest:
    """A realistic CreateCustomer request; every one has the same size and its own id."""
    return customers_pb2.CreateCustomerRequest(
        # "_" before the count: "999-0000000123" is a 13-digit run that passes Luhn one time in
        # ten, and the edge refuses a request_id holding a card number (ADR 0039).
        request_id=f"bench-{run_tag}-{process:03d}_{n:010d}",
        customer=customers_pb2.Customer(
            display_name="Bench Customer GmbH",
            email="billing@bench.example.com",
            currency_code="EUR",
            time_zone="Europe/Berlin",
            locale="de-DE",
            billing_address={
                "region_code": "DE",
                "postal_code": "10115",
                "locality": "Berlin",
                "address_lines": ["Invalidenstrasse 1"],
            },
            metadata={"source": "billing-bench"},
        ),
    )


# A call returns nothing, or (StreamUsage) what became of the events it sent.
AnyCall = Callable[[int], Awaitable[EventTally | None]]


def make_call(spec: LoadSpec, index: int, channel: grpc.aio.Channel) -> AnyCall:
    metadata = spec.metadata
    if spec.scenario == ECHO:
        method = channel.unary_unary(echo.PATH)  # no (de)serializers: bytes in, bytes out

        async def call_echo(n: int) -> None:
            payload: bytes = create_request(spec.run_tag, index, n).SerializeToString()
            reply = await method(payload, timeout=CALL_TIMEOUT_S, metadata=metadata)
            if reply != payload:
                raise EchoMismatch(f"sent {len(payload)} bytes, got {len(reply)} back")

        return call_echo
    stub = customers_pb2_grpc.CustomerServiceStub(channel)
    if spec.scenario == CREATE:

        async def call_create(n: int) -> None:
            request = create_request(spec.run_tag, index, n)
            await stub.CreateCustomer(request, timeout=CALL_TIMEOUT_S, metadata=metadata)

        return call_create
    if spec.scenario in (ENTITLEMENTS, ENTITLEMENTS_REDIS):
        return entitlements_call(channel, metadata, spec.customer_names, index)
    if spec.scenario in (GET, GET_REDIS):
        names = spec.customer_names
        if not names:
            raise ValueError("GetCustomer needs customers to read")
        offset = index * 7919  # processes start at different customers

        async def call_get(n: int) -> None:
            request = customers_pb2.GetCustomerRequest(name=names[(offset + n) % len(names)])
            await stub.GetCustomer(request, timeout=CALL_TIMEOUT_S, metadata=metadata)

        return call_get
    if spec.scenario == CREATE_SUB:
        return subscription_load.create_subscription_call(
            channel,
            metadata,
            spec.customer_names,
            run_tag=spec.run_tag,
            index=index,
            timeout_s=CALL_TIMEOUT_S,
        )
    if spec.scenario == CHANGE_SUB:
        return subscription_load.change_subscription_call(
            channel,
            metadata,
            spec.subscriptions[index] if index < len(spec.subscriptions) else (),
            run_tag=spec.run_tag,
            index=index,
            concurrency=spec.concurrency,
            timeout_s=CALL_TIMEOUT_S,
        )
    if spec.scenario == STREAM_USAGE:
        owned = spec.subscriptions[index] if index < len(spec.subscriptions) else ()
        return usage_load.stream_usage_call(
            channel,
            metadata,
            [s.name for s in owned],
            run_tag=spec.run_tag,
            index=index,
            timeout_s=spec.call_timeout_s,
        )
    if spec.scenario == QUOTE_TAX:
        return quote_tax_load.quote_tax_call(
            channel, metadata, index=index, timeout_s=spec.call_timeout_s
        )
    if spec.scenario == PAY_INVOICE:
        return pay_invoice_load.pay_invoice_call(
            channel,
            metadata,
            spec.invoice_names[index] if index < len(spec.invoice_names) else (),
            run_tag=spec.run_tag,
            index=index,
            timeout_s=spec.call_timeout_s,
        )
    if spec.scenario == CURRENT_USAGE:
        return usage_load.current_usage_call(
            channel, metadata, spec.subscription_names, index=index, timeout_s=spec.call_timeout_s
        )
    if spec.scenario in MRR_SCENARIOS:
        return mrr_load.get_mrr_call(
            channel,
            metadata,
            at_month_back=spec.scenario == GET_MRR_AT,
            timeout_s=spec.call_timeout_s,
        )
    raise ValueError(f"unknown scenario {spec.scenario!r}")


def entitlements_call(
    channel: grpc.aio.Channel,
    metadata: tuple[tuple[str, str], ...],
    names: Sequence[str],
    index: int,
) -> AnyCall:
    if not names:
        raise ValueError("GetEntitlements needs customers to read")
    stub = subscriptions_pb2_grpc.SubscriptionServiceStub(channel)
    offset = index * 7919  # processes start at different customers

    async def call_entitlements(n: int) -> None:
        request = subscriptions_pb2.GetEntitlementsRequest(
            customer=names[(offset + n) % len(names)]
        )
        await stub.GetEntitlements(request, timeout=CALL_TIMEOUT_S, metadata=metadata)

    return call_entitlements


def _classify(exc: BaseException) -> tuple[str, str]:
    """A failed call's (code, first message)."""
    if isinstance(exc, EchoMismatch):
        return "ECHO_MISMATCH", str(exc)
    return open_loop.classify(exc)


async def _cool_down(call: AnyCall, n: int, state: _State) -> None:
    """An unrecorded call that keeps the load up after the window while recorded calls run;
    cancelled as soon as the last of them has ended."""
    task = asyncio.ensure_future(call(n))
    waiter = asyncio.ensure_future(state.window_calls_done.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, waiter):
            pending.cancel()
        # its outcome is not recorded, whatever it was
        await asyncio.gather(task, waiter, return_exceptions=True)


async def _lane(call: AnyCall, state: _State) -> None:
    """One in-flight call at a time, until the window ends or the count is reached (long
    calls: until every call started before the window's end has ended)."""
    while True:
        start = time.perf_counter_ns()
        if state.issued >= state.max_calls:
            return
        if start >= state.end_ns:
            if not state.long_calls or state.window_calls == 0:
                return
            state.issued += 1
            await _cool_down(call, state.issued - 1, state)
            continue
        n = state.issued
        state.issued += 1
        state.window_calls += 1
        code: str | None = None
        message = ""
        outcome: EventTally | None = None
        try:
            outcome = await call(n)
        except Exception as exc:  # counted, never hidden: anything else is an error too
            code, message = _classify(exc)
        state.finish(start, time.perf_counter_ns(), code, message, outcome)


async def _drive(spec: LoadSpec, index: int, out: Queue[Any], go: Event) -> ProcessResult:
    async with grpc.aio.insecure_channel(spec.target) as channel:
        await asyncio.wait_for(channel.channel_ready(), CONNECT_TIMEOUT_S)
        call = make_call(spec, index, channel)
        out.put(("ready", index, None))
        if not await asyncio.to_thread(go.wait, START_TIMEOUT_S):
            raise TimeoutError("no start signal from the harness")
        start = time.perf_counter_ns()
        measure_start = start + int(spec.warmup_s * 1e9)
        if spec.rate_per_s is not None:
            paced = await asyncio.wait_for(
                open_loop.run(
                    call,
                    rate_per_s=spec.rate_per_s,
                    start_ns=start,
                    measure_start_ns=measure_start,
                    end_ns=measure_start + int(spec.seconds * 1e9),
                    max_in_flight=spec.concurrency,
                    max_calls=spec.max_calls,
                    classify=_classify,
                ),
                spec.time_limit_s,
            )
            return ProcessResult(
                index=index,
                latencies_ns=paced.latencies,
                errors=dict(paced.errors),
                messages=paced.messages,
                elapsed_ns=max((paced.last_done_ns or start) - measure_start, 1),
                issued=paced.issued,
                hit_max_calls=paced.issued >= spec.max_calls,
                cap_waits=paced.cap_waits,
                completed=paced.completed,
            )
        state = _State(measure_start, measure_start + int(spec.seconds * 1e9), spec.max_calls)
        if spec.long_calls:
            state.long_calls = True
            state.error_weight = usage_load.EVENTS_PER_CALL
            state.accepted_events = 0
        lanes = [_lane(call, state) for _ in range(spec.concurrency)]
        await asyncio.wait_for(asyncio.gather(*lanes), spec.time_limit_s)
    end = state.last_done_ns or state.end_ns
    return ProcessResult(
        index=index,
        latencies_ns=state.latencies,
        errors=dict(state.errors),
        messages=state.messages,
        elapsed_ns=max(end - state.measure_start_ns, 1),
        issued=state.issued,
        hit_max_calls=state.issued >= spec.max_calls,
        accepted_events=state.accepted_events,
    )


def _process_main(spec: LoadSpec, index: int, out: Queue[Any], go: Event) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the harness's to handle
    try:
        result = asyncio.run(_drive(spec, index, out, go))
    except BaseException as exc:
        out.put(("failed", index, f"{type(exc).__name__}: {exc}"))
        raise
    out.put(("done", index, result))


class LoadError(RuntimeError):
    """A load process failed or did not report in time."""


def run_load(
    spec: LoadSpec,
    processes: int,
    on_connected: Callable[[int], bool] | None = None,
    attempts: int = 1,
) -> list[ProcessResult]:
    """Run `spec` from `processes` spawned processes; their results, in process order.

    `on_connected(attempt)` runs once every process has its connection and before load
    starts; False (while attempts remain) stops the processes and starts them again (new
    connections: the server processes sharing the port got an uneven share of them).
    """
    ctx = multiprocessing.get_context("spawn")  # gRPC must not be forked once started
    for attempt in range(attempts):
        out: Queue[Any] = ctx.Queue()
        go = ctx.Event()
        workers = [
            ctx.Process(
                target=_process_main, args=(spec, i, out, go), name=f"billing-bench-load-{i}"
            )
            for i in range(processes)
        ]
        try:
            for worker in workers:
                worker.start()
            _collect(out, workers, "ready", START_TIMEOUT_S)
            retry = on_connected is not None and not on_connected(attempt)
            if retry and attempt + 1 < attempts:
                continue  # the finally below stops these processes
            go.set()
            limit = spec.time_limit_s + 20
            done = _collect(out, workers, "done", limit)
            for worker in workers:
                worker.join(10)
            return [done[i] for i in range(processes)]
        finally:
            stop_processes(workers)
            out.close()
            out.join_thread()
    raise AssertionError("unreachable: the last attempt always runs")


def _collect(
    out: Queue[Any], workers: Sequence[SpawnProcess], kind: str, timeout_s: float
) -> dict[int, Any]:
    """Wait for one `kind` message from every worker."""
    got: dict[int, Any] = {}
    deadline = time.monotonic() + timeout_s
    while len(got) < len(workers):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            missing = sorted(set(range(len(workers))) - set(got))
            raise LoadError(f"load processes {missing} sent no {kind!r} in {timeout_s:.0f}s")
        try:
            message_kind, index, payload = out.get(timeout=min(remaining, 0.5))
        except queue.Empty:
            dead = [w.name for w in workers if w.exitcode not in (None, 0)]
            if dead:
                raise LoadError(f"load processes exited early: {', '.join(dead)}") from None
            continue
        if message_kind == "failed":
            raise LoadError(f"load process {index} failed: {payload}")
        if message_kind == kind:
            got[index] = payload
    return got


def stop_processes(workers: Sequence[SpawnProcess]) -> None:
    """SIGTERM whatever still runs, wait, and SIGKILL what does not stop."""
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    for worker in workers:
        if worker.pid is None:
            continue
        worker.join(5)
        if worker.is_alive():
            worker.kill()
            worker.join()
        with contextlib.suppress(ValueError):
            worker.close()


def create_customers(
    target: str, metadata: tuple[tuple[str, str], ...], count: int, run_tag: str
) -> list[str]:
    """Set-up for GetCustomer: `count` customers, created through the API; their names."""
    names: list[str] = []
    with grpc.insecure_channel(target) as channel:
        stub = customers_pb2_grpc.CustomerServiceStub(channel)
        batch = 32
        for first in range(0, count, batch):
            futures = [
                stub.CreateCustomer.future(
                    create_request(run_tag, 999, n), timeout=CALL_TIMEOUT_S, metadata=metadata
                )
                for n in range(first, min(first + batch, count))
            ]
            names.extend(str(f.result().name) for f in futures)
    return names

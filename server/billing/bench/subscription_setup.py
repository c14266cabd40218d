"""Set-up for the subscription scenarios, through the API like any client: the rule set (the
files of a rules directory, pushed for the bench tenant), simulation clocks at 2026-04-01,
customers living on them, and subscriptions.

Made once per server on first use and shared by the scenarios that need them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc

from billing.bench.servers import BenchError
from billing.bench.subscription_load import (
    BASIC,
    CLOCK_START,
    PRO,
    OwnedSubscription,
    owned,
    timestamp,
)
from billing_client.v1 import (
    clocks_pb2,
    clocks_pb2_grpc,
    customers_pb2,
    customers_pb2_grpc,
    rules_pb2,
    rules_pb2_grpc,
    subscriptions_pb2,
    subscriptions_pb2_grpc,
)

CALL_TIMEOUT_S = 30.0
ADVANCE_TIMEOUT_S = 300.0  # one AdvanceClock call of the set-up, streamed to its end
BATCH = 32  # calls in flight while setting up
RULE_SUFFIXES = (".yaml", ".yml")

Metadata = tuple[tuple[str, str], ...]


def read_rule_files(directory: Path) -> dict[str, bytes]:
    """The rule files of `directory`, by file name, as PushRuleSet takes them."""
    try:
        files = {
            path.name: path.read_bytes()
            for path in sorted(directory.iterdir())
            if path.is_file() and path.suffix in RULE_SUFFIXES
        }
    except OSError as exc:
        raise BenchError(f"cannot read rule files from {directory}: {exc}") from exc
    if not files:
        raise BenchError(f"no rule files (*.yaml) in {directory}")
    return files


def _rpc_failure(step: str, exc: grpc.RpcError) -> BenchError:
    code = exc.code().name if isinstance(exc, grpc.Call) else type(exc).__name__
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    return BenchError(f"set-up failed: {step}: {code}: {details}")


def _in_batches(count: int, start: Callable[[int], Any]) -> list[Any]:
    """Run `start(i)` (returning a future) for i < count, BATCH at a time; their results."""
    results: list[Any] = []
    for first in range(0, count, BATCH):
        futures = [start(i) for i in range(first, min(first + BATCH, count))]
        results.extend(f.result() for f in futures)
    return results


class SubscriptionFixtures:
    """What the subscription scenarios need on one server."""

    def __init__(
        self,
        target: str,
        metadata: Metadata,
        rule_files: Mapping[str, bytes],
        progress: Callable[[str], None],
    ) -> None:
        self._target = target
        self._metadata = metadata
        self._rule_files = dict(rule_files)
        self._progress = progress
        self._rules_pushed = False
        self._customers: tuple[str, ...] = ()
        self._entitled: tuple[str, ...] = ()

    @contextmanager
    def _channel(self, step: str) -> Iterator[grpc.Channel]:
        try:
            with grpc.insecure_channel(self._target) as channel:
                yield channel
        except grpc.RpcError as exc:
            raise _rpc_failure(step, exc) from exc

    def push_rules(self) -> None:
        if self._rules_pushed:
            return
        self._progress(f"pushing the rule set ({', '.join(sorted(self._rule_files))})")
        with self._channel("PushRuleSet") as channel:
            rules_pb2_grpc.RuleServiceStub(channel).PushRuleSet(
                rules_pb2.PushRuleSetRequest(files=self._rule_files, request_id=_new_id()),
                metadata=self._metadata,
                timeout=CALL_TIMEOUT_S,
            )
        self._rules_pushed = True

    def create_clock(self, display_name: str) -> str:
        """A simulation clock at CLOCK_START; its name."""
        with self._channel("CreateClock") as channel:
            clock = clocks_pb2_grpc.ClockServiceStub(channel).CreateClock(
                clocks_pb2.CreateClockRequest(
                    clock=clocks_pb2.Clock(now=timestamp(CLOCK_START), display_name=display_name),
                    request_id=_new_id(),
                ),
                metadata=self._metadata,
                timeout=CALL_TIMEOUT_S,
            )
        return str(clock.name)

    def create_customers(self, clock: str, count: int) -> tuple[str, ...]:
        """`count` USD customers living on `clock`; their names."""
        with self._channel("CreateCustomer") as channel:
            stub = customers_pb2_grpc.CustomerServiceStub(channel)
            customers = _in_batches(
                count,
                lambda _i: stub.CreateCustomer.future(
                    customers_pb2.CreateCustomerRequest(
                        customer=customers_pb2.Customer(
                            display_name="Bench Subscriber Inc.",
                            email="billing@subscriber.example.com",
                            currency_code="USD",
                            time_zone="UTC",
                            clock=clock,
                        ),
                        request_id=_new_id(),
                    ),
                    metadata=self._metadata,
                    timeout=CALL_TIMEOUT_S,
                ),
            )
        return tuple(str(c.name) for c in customers)

    def advance_clock(self, clock: str, to: datetime) -> None:
        """Move `clock` to `to`, reading AdvanceClock's progress stream to its end."""
        with self._channel("AdvanceClock") as channel:
            progress = clocks_pb2_grpc.ClockServiceStub(channel).AdvanceClock(
                clocks_pb2.AdvanceClockRequest(name=clock, to=timestamp(to), request_id=_new_id()),
                metadata=self._metadata,
                timeout=ADVANCE_TIMEOUT_S,
            )
            last = None
            for message in progress:  # the server ends the stream; the call has a deadline
                last = message
        if last is None or not last.finished:
            raise BenchError(f"set-up failed: AdvanceClock of {clock} to {to} did not finish")

    def create_subscriptions(
        self, customers: tuple[str, ...], count: int, plan: str = BASIC
    ) -> list[OwnedSubscription]:
        """`count` subscriptions on `plan`, round-robin over `customers`."""
        with self._channel("CreateSubscription") as channel:
            stub = subscriptions_pb2_grpc.SubscriptionServiceStub(channel)
            subs = _in_batches(
                count,
                lambda i: stub.CreateSubscription.future(
                    subscriptions_pb2.CreateSubscriptionRequest(
                        customer=customers[i % len(customers)], plan=plan, request_id=_new_id()
                    ),
                    metadata=self._metadata,
                    timeout=CALL_TIMEOUT_S,
                ),
            )
        return [owned(s) for s in subs]

    def clock_customers(self, count: int) -> tuple[str, ...]:
        """Rules pushed, one clock, `count` customers on it (made once, then reused)."""
        if not self._customers:
            self.push_rules()
            self._progress(f"creating a clock and {count} customers on it")
            clock = self.create_clock("billing-bench")
            self._customers = self.create_customers(clock, count)
        return self._customers

    def owned_subscriptions(
        self, processes: int, per_process: int, customers: int
    ) -> tuple[tuple[OwnedSubscription, ...], ...]:
        """`processes` disjoint sets of `per_process` subscriptions on basic_monthly."""
        on_clock = self.clock_customers(customers)
        self._progress(f"creating {processes} x {per_process} subscriptions")
        subs = self.create_subscriptions(on_clock, processes * per_process)
        return tuple(tuple(subs[i * per_process : (i + 1) * per_process]) for i in range(processes))

    def entitled_customers(self, count: int) -> tuple[str, ...]:
        """`count` customers (the clock customers) with a basic and a pro subscription each,
        for GetEntitlements (made once, then reused)."""
        if not self._entitled:
            customers = self.clock_customers(count)
            self._progress(f"subscribing {count} customers to basic and pro for GetEntitlements")
            self.create_subscriptions(customers, count, BASIC)
            self.create_subscriptions(customers, count, PRO)
            self._entitled = customers
        return self._entitled

    def clock_with_subscriptions(self, count: int) -> str:
        """A new clock with `count` customers on it, each subscribed once; the clock's name."""
        self.push_rules()
        self._progress(f"creating a clock with {count} subscriptions for the clock run")
        clock = self.create_clock("billing-bench clock run")
        self.create_subscriptions(self.create_customers(clock, count), count)
        return clock


def _new_id() -> str:
    return uuid.uuid4().hex

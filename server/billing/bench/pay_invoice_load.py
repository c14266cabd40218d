"""PayInvoice (issue 15) on the built-in sandbox gateway, as a load process makes it.

Each call pays one whole open invoice (Basic, 30.00 USD) through its customer's default
method (`tok_visa`: the sandbox charges at once), so every call runs ADR 0034's whole write
pattern: the intent transaction, the gateway call (the sandbox's SQLite ledger, shared by the
server processes like a real gateway's books), the outcome transaction with the payment, its
allocation and the invoice marked paid. An invoice is paid once: the set-up makes one per
call the run may send, and each load process pays its own share, each invoice once.

The invoices live on a tenant of its own whose rule set is the run's with invoices sent,
not collected at finalization (so nothing pays them before the load does) nor emailed, and
their
customers on a simulation clock that stands still: each attempt's reconcile item (due 30 s
of clock time later) does not run inside the window.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import grpc

from billing.api.auth import mint_hs256_token
from billing.bench.servers import BenchError
from billing.bench.subscription_load import BASIC, CLOCK_START, timestamp
from billing_client import bearer_metadata
from billing_client.v1 import (
    clocks_pb2,
    clocks_pb2_grpc,
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

PLAN = BASIC  # 30.00 USD a month, no trial for a request that asks none
TOKEN = "tok_visa"
INVOICES_PER_CUSTOMER = 10  # one default method pays them all
BATCH = 32  # set-up calls in flight
SETUP_TIMEOUT_S = 30.0
PAGE = 1000
BENCH_INVOICING = "\ncollection_method: send_invoice\nemail_invoices: false\n"

Metadata = tuple[tuple[str, str], ...]


class OutOfInvoices(Exception):
    """A load process sent more calls than it had invoices: the set-up made too few."""


def send_invoices(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """The run's rule files with invoices sent for payment instead of collected at
    finalization (the load must be the one paying them), and not emailed (no delivery due
    work rendering documents beside the load, as in the bill-run bench)."""
    out = dict(files)
    name = next(
        (n for n, raw in files.items() if re.search(rb"(?m)^kind:\s*invoicing\b", raw)),
        "invoicing.yaml",
    )
    text = out.get(name, b"kind: invoicing\n").decode()
    text = re.sub(r"(?m)^(collection_method|email_invoices):.*$\n?", "", text)
    out[name] = (text.rstrip("\n") + BENCH_INVOICING).encode()
    return out


def set_up(
    target: str,
    secret: str,
    *,
    tenant_id: str,
    issuer: str,
    audience: str,
    tenant_claim: str,
    rule_files: Mapping[str, bytes],
    invoices: int,
    progress: Callable[[str], None],
) -> Metadata:
    """A tenant of its own with `invoices` open invoices, their customers each with a card
    attached (the default method); its call metadata."""
    token = mint_hs256_token(
        secret,
        tenant_id=tenant_id,
        subject="billing-bench",
        issuer=issuer,
        audience=audience,
        tenant_claim=tenant_claim,
        lifetime_s=6 * 3600,
    )
    metadata: Metadata = tuple(bearer_metadata(token))
    try:
        with grpc.insecure_channel(target) as channel:
            make_invoices(channel, metadata, rule_files, invoices, progress)
    except grpc.RpcError as exc:
        raise _failure(exc) from exc
    return metadata


def open_invoices(target: str, metadata: Metadata) -> tuple[str, ...]:
    """The tenant's invoices still open: what a run may pay (earlier runs paid the rest)."""
    try:
        with grpc.insecure_channel(target) as channel:
            return _open_invoices(invoices_pb2_grpc.InvoiceServiceStub(channel), metadata)
    except grpc.RpcError as exc:
        raise _failure(exc) from exc


def _failure(exc: grpc.RpcError) -> BenchError:
    code = exc.code().name if isinstance(exc, grpc.Call) else type(exc).__name__
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    return BenchError(f"PayInvoice set-up failed: {code}: {details}")


def make_invoices(
    channel: grpc.Channel,
    metadata: Metadata,
    rule_files: Mapping[str, bytes],
    count: int,
    progress: Callable[[str], None],
) -> tuple[str, ...]:
    """The tenant's rule set for the load, a clock, customers with a card and `count` open
    invoices; the names of the open invoices."""
    rules_pb2_grpc.RuleServiceStub(channel).PushRuleSet(
        rules_pb2.PushRuleSetRequest(files=send_invoices(rule_files), request_id=_id()),
        metadata=metadata,
        timeout=SETUP_TIMEOUT_S,
    )
    clock = clocks_pb2_grpc.ClockServiceStub(channel).CreateClock(
        clocks_pb2.CreateClockRequest(
            clock=clocks_pb2.Clock(now=timestamp(CLOCK_START), display_name="billing-bench pay"),
            request_id=_id(),
        ),
        metadata=metadata,
        timeout=SETUP_TIMEOUT_S,
    )
    customers_count = -(-count // INVOICES_PER_CUSTOMER)
    progress(f"PayInvoice: {customers_count} customers with a card, {count} open invoices")
    customers = customers_pb2_grpc.CustomerServiceStub(channel)
    names = _batched(
        customers_count,
        lambda _i: customers.CreateCustomer.future(
            customers_pb2.CreateCustomerRequest(
                customer=customers_pb2.Customer(
                    display_name="Bench Payer Inc.",
                    currency_code="USD",
                    time_zone="UTC",
                    clock=clock.name,
                ),
                request_id=_id(),
            ),
            metadata=metadata,
            timeout=SETUP_TIMEOUT_S,
        ),
    )
    customer_names = [c.name for c in names]
    payments = payments_pb2_grpc.PaymentServiceStub(channel)
    _batched(
        customers_count,
        lambda i: payments.AttachPaymentMethod.future(
            payments_pb2.AttachPaymentMethodRequest(
                customer=customer_names[i],
                gateway="sandbox",
                token=TOKEN,
                type=payments_pb2.CARD,
                brand="visa",
                last4="4242",
                exp_month=12,
                exp_year=2030,
                country="US",
                billing_country="US",
                request_id=_id(),
            ),
            metadata=metadata,
            timeout=SETUP_TIMEOUT_S,
        ),
    )
    subscriptions = subscriptions_pb2_grpc.SubscriptionServiceStub(channel)
    _batched(
        count,
        lambda i: subscriptions.CreateSubscription.future(
            subscriptions_pb2.CreateSubscriptionRequest(
                customer=customer_names[i % customers_count], plan=PLAN, request_id=_id()
            ),
            metadata=metadata,
            timeout=SETUP_TIMEOUT_S,
        ),
    )
    found = _open_invoices(invoices_pb2_grpc.InvoiceServiceStub(channel), metadata)
    if len(found) < count:
        raise BenchError(f"PayInvoice set-up made {len(found)} open invoices, not {count}")
    return found


def _open_invoices(
    stub: invoices_pb2_grpc.InvoiceServiceStub, metadata: Metadata
) -> tuple[str, ...]:
    found: list[str] = []
    token = ""
    while True:
        page = stub.ListInvoices(
            invoices_pb2.ListInvoicesRequest(page_size=PAGE, page_token=token),
            metadata=metadata,
            timeout=SETUP_TIMEOUT_S,
        )
        found += [i.name for i in page.invoices if i.status == invoices_pb2.OPEN]
        token = page.next_page_token
        if not token:
            return tuple(found)


def _batched(count: int, start: Callable[[int], grpc.Future]) -> list[Any]:
    results: list[Any] = []
    for first in range(0, count, BATCH):
        futures = [start(i) for i in range(first, min(first + BATCH, count))]
        results.extend(f.result() for f in futures)
    return results


def share(invoices: tuple[str, ...], processes: int) -> tuple[tuple[str, ...], ...]:
    """Disjoint shares, one per load process: no invoice is paid by two processes."""
    return tuple(invoices[i::processes] for i in range(processes))


def pay_invoice_call(
    channel: grpc.aio.Channel,
    metadata: Metadata,
    invoices: tuple[str, ...],
    *,
    run_tag: str,
    index: int,
    timeout_s: float,
) -> Callable[[int], Awaitable[None]]:
    stub = payments_pb2_grpc.PaymentServiceStub(channel)
    run = f"{run_tag}-{uuid.uuid4().hex[:8]}"  # closed and open loop runs share the run tag

    async def call(n: int) -> None:
        if n >= len(invoices):
            raise OutOfInvoices(f"load process {index} paid all {len(invoices)} of its invoices")
        attempt = await stub.PayInvoice(
            payments_pb2.PayInvoiceRequest(
                invoice=invoices[n], request_id=f"{run}-pay-{index}-{n}"
            ),
            timeout=timeout_s,
            metadata=metadata,
        )
        if attempt.status != payments_pb2.SUCCEEDED:
            raise NotPaid(
                f"{invoices[n]}: attempt {payments_pb2.PaymentAttemptStatus.Name(attempt.status)}"
            )

    return call


class NotPaid(Exception):
    """tok_visa answered with something other than success: counted as an error."""


def _id() -> str:
    return uuid.uuid4().hex

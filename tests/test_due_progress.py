"""Bill runs and clock advances report their own tenant's (and clock's) progress only: the
worker's items are per call, never a process-wide "last item" another tenant just set."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import grpc

from billing_client.v1 import invoices_pb2 as ip
from billing_client.v1 import subscriptions_pb2
from billing_fixtures import Billing, rules
from conftest import Server, Tenant

SUBSCRIPTIONS = 3


def _catching_up(billing: Billing) -> list[str]:
    """Subscriptions on real time started 70 days ago: two renewals each are due now."""
    billing.push(rules())
    start = subscriptions_pb2.CreateSubscriptionRequest().start_time
    start.FromDatetime(datetime.now(UTC) - timedelta(days=70))
    names = []
    for _ in range(SUBSCRIPTIONS):
        sub = billing.subscribe(billing.customer(), "basic_monthly", start_time=start)
        names.append(sub.name.split("/")[1])
        names.append(billing.get(sub).customer.split("/")[1])
    return names


def _invoice_ids(billing: Billing, sub_ids: list[str]) -> list[str]:
    ids = []
    for sub_id in sub_ids:
        if sub_id.startswith("sub_"):
            sub = subscriptions_pb2.Subscription(name=f"subscriptions/{sub_id}")
            ids += [invoice.name.split("/")[1] for invoice in billing.invoices_of(sub)]
    return ids


def _run(billing: Billing) -> list[ip.RunBillingResponse]:
    return list(
        billing.invoices.RunBilling(
            ip.RunBillingRequest(tenant=True, request_id=uuid.uuid4().hex),
            metadata=billing.metadata,
            timeout=120,
        )
    )


def test_a_bill_run_reports_only_its_own_tenants_items(
    server: Server, tenant: Tenant, other_tenant: Tenant
) -> None:
    with grpc.insecure_channel(server.target) as channel:
        a, b = Billing(channel, tenant.metadata), Billing(channel, other_tenant.metadata)
        ids_a, ids_b = _catching_up(a), _catching_up(b)
        replies: dict[str, list[ip.RunBillingResponse]] = {}

        def run(name: str, billing: Billing) -> None:
            replies[name] = _run(billing)

        threads = [
            threading.Thread(target=run, args=("a", a)),
            threading.Thread(target=run, args=("b", b)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # And once more, with nothing left to do: still nothing of the other tenant.
        after_a, after_b = _run(a), _run(b)
        ids_a += _invoice_ids(a, ids_a)
        ids_b += _invoice_ids(b, ids_b)
        assert len(ids_a) == len(ids_b) == SUBSCRIPTIONS * 5  # sub, customer, 3 invoices
    for reply in replies["a"] + after_a:
        assert not [i for i in ids_b if i in str(reply)], reply
    for reply in replies["b"] + after_b:
        assert not [i for i in ids_a if i in str(reply)], reply
    assert replies["a"][-1].finished and replies["b"][-1].finished
    assert after_a[-1].finished
    if after_a[-1].done == 0:
        assert after_a[-1].last_item == ""  # nothing done by this call: nothing to name


def test_an_advance_reports_only_its_own_clocks_items(server: Server, tenant: Tenant) -> None:
    with grpc.insecure_channel(server.target) as channel:
        billing = Billing(channel, tenant.metadata)
        billing.push(rules())
        busy, idle = billing.clock("2026-01-01T00:00:00Z"), billing.clock("2026-01-01T00:00:00Z")
        sub = billing.subscribe(billing.customer(busy), "basic_monthly")
        other = billing.subscribe(billing.customer(idle), "basic_monthly")
        busy_replies = billing.advance(busy, "2026-03-01T00:00:00Z")
        # Nothing of the idle clock is due yet: its advance does nothing, and says so.
        idle_replies = billing.advance(idle, "2026-01-15T00:00:00Z")
    last = busy_replies[-1]
    # its two renewals and the two months' revenue earned, by whichever worker
    assert (last.done, last.finished) == (4, True)
    assert other.name not in last.last_item and sub.name.split("/")[1] not in str(idle_replies)
    assert [(r.done, r.last_item, r.finished) for r in idle_replies] == [(0, "", True)]

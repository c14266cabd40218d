"""Due work that keeps failing is parked (ADR 0021): retried with backoff, parked after its
last attempt with its error kept, reported by RunBilling and AdvanceClock instead of awaited,
never holding up the other subscriptions; `billing due-work retry` runs it again. A run that
cannot finish ends with DEADLINE_EXCEEDED at the caller's deadline or the server's maximum."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from billing.app.ports import DueItem, Transaction
from billing.cli import main
from billing_client.v1 import clocks_pb2, subscriptions_pb2
from billing_client.v1 import invoices_pb2 as ip
from billing_fixtures import Billing, rules, ts
from conftest import Database, Tenant, ThreadedServer, server_settings
from test_due_batch import wrap_handler

MAX_ATTEMPTS = 3
FAILURE = "renewal refused (injected by the test)"


@contextmanager
def serving(database: Database, **settings: object) -> Iterator[ThreadedServer]:
    values: dict[str, object] = {
        "due_work_max_attempts": MAX_ATTEMPTS,
        "due_work_retry_base_ms": 10,
        "due_work_retry_max_seconds": 1,
    }
    values.update(settings)
    server = ThreadedServer(server_settings(database.async_url, **values))
    try:
        yield server
    finally:
        server.stop()


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def fail_renewals_of(server: ThreadedServer, subscription_id: str) -> None:
    async def failing(inner, tx: Transaction, item: DueItem) -> str:  # type: ignore[no-untyped-def]
        if item.subscription_id == subscription_id and item.kind == "renew":
            raise RuntimeError(FAILURE)
        return str(await inner(tx, item))

    wrap_handler(server, failing)


def catching_up(billing: Billing, count: int) -> list[subscriptions_pb2.Subscription]:
    """Subscriptions on real time started 70 days ago: two renewals each are due now."""
    billing.push(rules())
    start = subscriptions_pb2.CreateSubscriptionRequest().start_time
    start.FromDatetime(datetime.now(UTC) - timedelta(days=70))
    return [
        billing.subscribe(billing.customer(), "basic_monthly", start_time=start)
        for _ in range(count)
    ]


def run_billing(billing: Billing, timeout: float | None = 120) -> list[ip.RunBillingResponse]:
    return list(
        billing.invoices.RunBilling(
            ip.RunBillingRequest(tenant=True, request_id=uuid.uuid4().hex),
            metadata=billing.metadata,
            timeout=timeout,
        )
    )


def test_a_renewal_that_always_fails_is_parked_and_reported_while_the_others_are_billed(
    backend: str, make_database, tenant: Tenant, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    database = make_database(backend)
    with serving(database) as server, grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        # Only RunBilling's rounds: the process's own worker would renew the bad one's
        # first cycle before its failure is injected (seen on a loaded machine).
        task = server.runtime._worker_task
        assert task is not None
        server._call(_cancelled(task))
        billing = Billing(ch, tenant.metadata)
        subs = catching_up(billing, 3)
        bad = subs[1]
        fail_renewals_of(server, bad.name.split("/")[1])

        progress = run_billing(billing)

        last = progress[-1]
        assert (last.finished, last.remaining, last.parked) == (True, 0, 1)
        (parked,) = last.parked_items
        assert (parked.kind, parked.subscription, parked.attempts) == ("renew", bad.name, 3)
        assert parked.last_error == f"RuntimeError: {FAILURE}"
        assert parked.id.startswith("due_") and parked.park_time.seconds > 0
        assert [len(billing.invoices_of(s)) for s in subs] == [3, 1, 3]  # the bad one: its first

        # An operator sees it, and once the cause is fixed runs it again.
        monkeypatch.setenv("BILLING_DATABASE_URL", database.async_url)
        assert main(["due-work", "list", "--parked", "--tenant", tenant.id]) == 0
        listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()[:-1]]
        assert [(i["id"], i["last_error"]) for i in listed] == [(parked.id, parked.last_error)]
        wrap_handler(server, lambda inner, tx, item: inner(tx, item))
        assert main(["due-work", "retry", parked.id, "--tenant", tenant.id]) == 0
        assert main(["due-work", "retry", parked.id, "--tenant", tenant.id]) == 1  # not parked
        after = run_billing(billing)
        assert (after[-1].finished, after[-1].parked) == (True, 0)
        assert [len(billing.invoices_of(s)) for s in subs] == [3, 3, 3]


def test_an_advance_reports_the_parked_item_of_its_clock(
    backend: str, make_database, tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    with (
        serving(make_database(backend)) as server,
        grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch,
    ):
        billing = Billing(ch, tenant.metadata)
        billing.push(rules())
        clock = billing.clock("2026-01-01T00:00:00Z")
        subs = [billing.subscribe(billing.customer(clock), "basic_monthly") for _ in range(2)]
        fail_renewals_of(server, subs[0].name.split("/")[1])

        progress = billing.advance(clock, "2026-03-15T00:00:00Z")

        last = progress[-1]
        assert (last.finished, last.remaining, last.parked) == (True, 0, 1)
        assert last.parked_items[0].subscription == subs[0].name
        assert last.parked_items[0].last_error == f"RuntimeError: {FAILURE}"
        assert [len(billing.invoices_of(s)) for s in subs] == [1, 3]


@pytest.mark.parametrize("caller_deadline", [True, False], ids=["caller", "server-max"])
def test_a_run_that_cannot_finish_ends_with_deadline_exceeded(
    make_database, tenant: Tenant, caller_deadline: bool
) -> None:  # type: ignore[no-untyped-def]
    # An item failing fast and never parked (many attempts): the advance cannot finish.
    settings = {"due_work_max_attempts": 100, "due_work_call_max_seconds": 2}
    with (
        serving(make_database("sqlite"), **settings) as server,
        grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch,
    ):
        billing = Billing(ch, tenant.metadata)
        billing.push(rules())
        clock = billing.clock("2026-01-01T00:00:00Z")
        sub = billing.subscribe(billing.customer(clock), "basic_monthly")
        fail_renewals_of(server, sub.name.split("/")[1])
        with pytest.raises(grpc.RpcError) as failure:
            list(
                billing.clocks.AdvanceClock(
                    clocks_pb2.AdvanceClockRequest(
                        name=clock.name, to=ts("2026-03-01T00:00:00Z"), request_id="adv"
                    ),
                    metadata=billing.metadata,
                    timeout=1.5 if caller_deadline else None,
                )
            )
        assert failure.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        # The server's answer (what is left), not the client's own cut-off.
        details = failure.value.details()
        assert details.startswith("AdvanceClock did not finish within ")
        if not caller_deadline:
            assert details.startswith("AdvanceClock did not finish within 2.0 s")
        assert "1 items still due (0 parked)" in details


def test_a_bill_run_that_cannot_finish_ends_at_the_callers_deadline(
    make_database, tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    with (
        serving(make_database("sqlite"), due_work_max_attempts=100) as server,
        grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch,
    ):
        billing = Billing(ch, tenant.metadata)
        (sub,) = catching_up(billing, 1)
        fail_renewals_of(server, sub.name.split("/")[1])
        with pytest.raises(grpc.RpcError) as failure:
            run_billing(billing, timeout=1.5)
        assert failure.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        details = failure.value.details()
        assert details.startswith("RunBilling did not finish within ")
        assert "1 items still due (0 parked)" in details


@pytest.mark.parametrize(
    "name, value",
    [
        ("BILLING_DUE_WORK_MAX_ATTEMPTS", "0"),
        ("BILLING_DUE_WORK_MAX_ATTEMPTS", "101"),
        ("BILLING_DUE_WORK_RETRY_BASE_MS", "0"),
        ("BILLING_DUE_WORK_RETRY_MAX_SECONDS", "0"),
        ("BILLING_DUE_WORK_CALL_MAX_SECONDS", "0"),
        ("BILLING_DB_LOCK_TIMEOUT_MS", "-1"),
        ("BILLING_DB_STATEMENT_TIMEOUT_MS", "-1"),
        ("BILLING_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", "-1"),
        ("BILLING_DUE_WORK_STATEMENT_TIMEOUT_MS", "-1"),
    ],
)
def test_parking_and_timeout_settings_out_of_range_are_refused(name: str, value: str) -> None:
    from billing.config import Settings, SettingsError

    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})

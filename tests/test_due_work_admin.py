"""The operator's view of due work (issue 19, ADR 0058), over a real gRPC channel on both
databases: a due item failing five times (a fault injected before its commit, ADR 0006) shows
up failing, then parked, with its last error and attempts; RetryDueWork runs it now; park,
unpark, the admin scope and tenancy. The process's own worker is stopped, so only these calls
run the item."""

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

from billing.cli import main
from billing_client.v1 import due_work_pb2 as pb
from billing_client.v1 import due_work_pb2_grpc, subscriptions_pb2
from billing_fixtures import Billing, rules
from conftest import Database, Tenant, ThreadedServer, auth, make_token, server_settings

FAULT = (("x-billing-fault-due-work-fail", "true"),)
INJECTED = "RuntimeError: fault injected before the due item's commit"


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@contextmanager
def without_worker(database: Database, **settings: object) -> Iterator[ThreadedServer]:
    """A server whose own due-work worker is stopped: due items wait for these calls."""
    values: dict[str, object] = {"due_work_retry_base_ms": 10, "due_work_retry_max_seconds": 1}
    values.update(settings)
    server = ThreadedServer(server_settings(database.async_url, **values))
    try:
        task = server.runtime._worker_task
        assert task is not None
        server._call(_cancelled(task))
        yield server
    finally:
        server.stop()


def late_subscription(billing: Billing) -> subscriptions_pb2.Subscription:
    """On real time, started 35 days ago: its first renewal is due (days late)."""
    billing.push(rules())
    start = subscriptions_pb2.CreateSubscriptionRequest().start_time
    start.FromDatetime(datetime.now(UTC) - timedelta(days=35))
    return billing.subscribe(billing.customer(), "basic_monthly", start_time=start)


def listed(
    stub: due_work_pb2_grpc.DueWorkServiceStub,
    metadata: tuple[tuple[str, str], ...],
    which: int = pb.DUE_WORK_FILTER_UNSPECIFIED,
    kind: str = "renew",
) -> list[pb.DueWork]:
    request = pb.ListDueWorkRequest(filter=which, kind=kind)
    return list(stub.ListDueWork(request, metadata=metadata).due_work)


def retry(
    stub: due_work_pb2_grpc.DueWorkServiceStub,
    metadata: tuple[tuple[str, str], ...],
    name: str,
    request_id: str | None = None,
) -> pb.DueWork:
    request = pb.RetryDueWorkRequest(name=name, request_id=request_id or uuid.uuid4().hex)
    result: pb.DueWork = stub.RetryDueWork(request, metadata=metadata)
    return result


def test_an_item_failing_five_times_is_shown_parked_with_its_error_and_retry_now_runs_it(
    backend: str, make_database, tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    with (
        without_worker(make_database(backend), due_work_max_attempts=5) as server,
        grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        billing = Billing(channel, tenant.metadata)
        stub = due_work_pb2_grpc.DueWorkServiceStub(channel)
        sub = late_subscription(billing)
        (item,) = listed(stub, tenant.metadata)
        assert (item.kind, item.subject, item.state, item.attempts) == (
            "renew",
            sub.name,
            pb.DUE_WORK_STATE_PENDING,
            0,
        )
        assert item.name.startswith("dueWork/due_") and item.last_error == ""
        assert [i.name for i in listed(stub, tenant.metadata, pb.DUE_WORK_FILTER_STUCK)] == [
            item.name
        ]

        for attempt in range(1, 5):  # four failures: failing, tried again after a backoff
            failed = retry(stub, tenant.metadata + FAULT, item.name)
            assert (failed.state, failed.attempts, failed.last_error) == (
                pb.DUE_WORK_STATE_FAILING,
                attempt,
                INJECTED,
            )
            assert failed.next_attempt_time.ToDatetime(UTC) > item.due_time.ToDatetime(UTC)
        (failing,) = listed(stub, tenant.metadata, pb.DUE_WORK_FILTER_FAILING)
        assert (failing.name, failing.attempts) == (item.name, 4)

        fifth = retry(stub, tenant.metadata + FAULT, item.name, "fifth")
        assert (fifth.state, fifth.attempts) == (pb.DUE_WORK_STATE_PARKED, 5)
        assert fifth.park_time.seconds > 0 and not fifth.HasField("next_attempt_time")

        # The operator's view: parked, its last error and attempts; failing no more.
        (parked,) = listed(stub, tenant.metadata, pb.DUE_WORK_FILTER_PARKED)
        assert (parked.name, parked.kind, parked.subject) == (item.name, "renew", sub.name)
        assert (parked.attempts, parked.last_error) == (5, INJECTED)
        assert listed(stub, tenant.metadata, pb.DUE_WORK_FILTER_FAILING) == []
        assert listed(stub, tenant.metadata, pb.DUE_WORK_FILTER_STUCK) == []
        assert len(billing.invoices_of(sub)) == 1  # the creation invoice only

        # The same request id again answers the item as it is: not run a sixth time.
        replay = retry(stub, tenant.metadata + FAULT, item.name, "fifth")
        assert (replay.state, replay.attempts) == (pb.DUE_WORK_STATE_PARKED, 5)

        # Retry now (the cause gone): run in the call, attempts kept, done.
        done = retry(stub, tenant.metadata, item.name)
        assert (done.state, done.attempts, done.last_error) == (
            pb.DUE_WORK_STATE_DONE,
            6,
            INJECTED,  # kept as history; the state says it is done
        )
        assert len(billing.invoices_of(sub)) == 2  # the renewal's invoice
        assert listed(stub, tenant.metadata, pb.DUE_WORK_FILTER_PARKED) == []
        (following,) = listed(stub, tenant.metadata)  # the next period's renewal, not due
        assert following.name != item.name and following.state == pb.DUE_WORK_STATE_PENDING

        with pytest.raises(grpc.RpcError) as done_again:
            retry(stub, tenant.metadata, item.name)
        assert done_again.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "is done" in (done_again.value.details() or "")
        with pytest.raises(grpc.RpcError) as early:
            retry(stub, tenant.metadata, following.name)
        assert early.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "is not due until" in (early.value.details() or "")


def test_park_and_unpark_by_hand_and_the_admin_scope_and_tenancy(
    backend: str, make_database, tenant: Tenant, other_tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    with (
        without_worker(make_database(backend)) as server,
        grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        billing = Billing(channel, tenant.metadata)
        stub = due_work_pb2_grpc.DueWorkServiceStub(channel)
        late_subscription(billing)
        (item,) = listed(stub, tenant.metadata)

        park = pb.ParkDueWorkRequest(name=item.name, reason="customer disputes", request_id="p1")
        parked = stub.ParkDueWork(park, metadata=tenant.metadata)
        assert (parked.state, parked.attempts) == (pb.DUE_WORK_STATE_PARKED, 0)
        assert [i.name for i in listed(stub, tenant.metadata, pb.DUE_WORK_FILTER_PARKED)] == [
            item.name
        ]
        unpark = pb.UnparkDueWorkRequest(name=item.name, request_id="u1")
        pending = stub.UnparkDueWork(unpark, metadata=tenant.metadata)
        assert (pending.state, pending.attempts) == (pb.DUE_WORK_STATE_PENDING, 0)
        with pytest.raises(grpc.RpcError) as not_parked:
            stub.UnparkDueWork(
                pb.UnparkDueWorkRequest(name=item.name, request_id="u2"), metadata=tenant.metadata
            )
        assert not_parked.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "not parked" in (not_parked.value.details() or "")

        # Another tenant sees none of it and cannot touch it.
        assert listed(stub, other_tenant.metadata, kind="") == []
        with pytest.raises(grpc.RpcError) as elsewhere:
            retry(stub, other_tenant.metadata, item.name)
        assert elsewhere.value.code() == grpc.StatusCode.NOT_FOUND

        # billing.admin is required; billing.write is not enough.
        writer = auth(make_token(tenant.id, scopes=("billing.read", "billing.write")))
        with pytest.raises(grpc.RpcError) as denied:
            listed(stub, writer)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED

        with pytest.raises(grpc.RpcError) as bad:
            retry(stub, tenant.metadata, "subscriptions/x")
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "name" in (bad.value.details() or "")
        with pytest.raises(grpc.RpcError) as bad_filter:
            stub.ListDueWork(pb.ListDueWorkRequest(filter=9), metadata=tenant.metadata)
        assert bad_filter.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "filter" in (bad_filter.value.details() or "")

        # Paged: one item a page, by id.
        first = stub.ListDueWork(pb.ListDueWorkRequest(page_size=1), metadata=tenant.metadata)
        assert len(first.due_work) == 1 and first.next_page_token
        rest = stub.ListDueWork(
            pb.ListDueWorkRequest(page_size=1000, page_token=first.next_page_token),
            metadata=tenant.metadata,
        )
        names = [i.name for i in first.due_work] + [i.name for i in rest.due_work]
        assert names == sorted(names) and item.name in names and len(set(names)) == len(names)


def test_the_cli_over_grpc_and_on_the_database(
    backend: str, make_database, tenant: Tenant, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    database = make_database(backend)
    with without_worker(database) as server:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            sub = late_subscription(Billing(channel, tenant.metadata))
        token = dict(tenant.metadata)["authorization"].removeprefix("Bearer ")
        remote = ["--target", f"127.0.0.1:{server.port}", "--token", token]

        def lines(*argv: str) -> list[dict[str, object]]:
            capsys.readouterr()
            assert main(["due-work", *argv]) == 0
            out = capsys.readouterr().out.splitlines()
            return [json.loads(line) for line in out if line.startswith("{")]

        (item,) = lines("list", "--kind", "renew", *remote)
        assert (item["subject"], item["state"], item["attempts"]) == (sub.name, "pending", 0)
        item_id = str(item["id"])
        [parked] = lines("park", item_id, "--reason", "looking into it", *remote)
        assert parked["state"] == "parked" and parked["park_time"]
        assert [i["id"] for i in lines("list", "--parked", *remote)] == [item_id]
        [unparked] = lines("unpark", item_id, *remote)
        assert (unparked["state"], unparked["attempts"]) == ("pending", 0)
        [done] = lines("retry", item_id, *remote)  # run now, by the server
        assert (done["state"], done["attempts"]) == ("done", 1)
        capsys.readouterr()
        assert main(["due-work", "retry", item_id, *remote]) == 1  # done: refused
        assert "FAILED_PRECONDITION" in capsys.readouterr().out

        # On the database (the server may be down): the next renewal, parked and unparked.
        monkeypatch.setenv("BILLING_DATABASE_URL", database.async_url)
        (following,) = lines("list", "--kind", "renew", "--tenant", tenant.id)
        assert following["state"] == "pending" and following["id"] != item_id
        following_id = str(following["id"])
        assert main(["due-work", "park", following_id, "--tenant", tenant.id]) == 0
        parked_ids = [i["id"] for i in lines("list", "--parked", "--tenant", tenant.id)]
        assert parked_ids == [following_id]
        assert main(["due-work", "unpark", following_id, "--tenant", tenant.id]) == 0
        assert main(["due-work", "unpark", following_id, "--tenant", tenant.id]) == 1
        assert lines("list", "--parked", "--tenant", tenant.id) == []

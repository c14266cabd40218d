"""Refunds, disputes and applied webhook events through the SQL store, on both databases:
rows round-trip exactly, status changes are compare-and-set on (status, version), and a
webhook event id is added once (a second delivery, even a concurrent one, finds it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from billing.domain.invoices import CreditNote
from billing.domain.money import Money
from billing.domain.payments import (
    Dispute,
    DisputeStatus,
    GatewayEventRecord,
    Refund,
    RefundStatus,
)
from billing.store.sql_store import SqlStore
from conftest import Database
from store_run import run_with_store as run

T = TypeVar("T")
AT = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)


@pytest.fixture
def database(backend: str, make_database: Callable[[str], Database]) -> Iterator[Database]:
    yield make_database(backend)


def refund(n: int, **changes: Any) -> Refund:
    base = Refund(
        id=f"re_{n:03d}",
        payment_id="pmt_1",
        attempt_id="pay_1",
        customer_id="cus_1",
        amount_minor=1234 * n,
        currency="EUR",
        status=RefundStatus.PENDING,
        idempotency_key=f"billing-t1-re_{n:03d}",
        reason="customer asked",
        created_at=AT,
        updated_at=AT,
    )
    return replace(base, **changes)


def dispute(n: int, **changes: Any) -> Dispute:
    base = Dispute(
        id=f"dp_{n:03d}",
        payment_id="pmt_1",
        attempt_id="pay_1",
        customer_id="cus_1",
        gateway="sandbox",
        gateway_dispute_id=f"du_{n}",
        amount_minor=5000,
        fee_minor=0,
        currency="EUR",
        status=DisputeStatus.OPEN,
        reason="fraudulent",
        opened_at=AT,
        updated_at=AT,
    )
    return replace(base, **changes)


def test_refunds_round_trip_and_are_found_by_payment_note_reference_and_key(database):
    tied = refund(2, credit_note_id="cn_1", attempt_id=None, gateway_reference="re_gw_2")

    async def work(store: SqlStore) -> tuple[Any, ...]:
        async with store.write(None) as tx:
            await tx.refunds.insert("t1", refund(1))
            await tx.refunds.insert("t1", tied)
            await tx.refunds.insert("t1", refund(3, payment_id="pmt_2"))
            await tx.refunds.insert("t2", refund(1))  # another tenant's, same ids
        async with store.read() as tx:
            return (
                await tx.refunds.get("t1", "re_001"),
                await tx.refunds.get("t1", "re_002", lock=False),
                await tx.refunds.get("t1", "re_404"),
                [x.id for x in await tx.refunds.for_payment("t1", "pmt_1")],
                [x.id for x in await tx.refunds.for_credit_note("t1", "cn_1")],
                await tx.refunds.by_reference("t1", "re_gw_2"),
                await tx.refunds.by_reference("t1", ""),
                await tx.refunds.by_key("t1", "billing-t1-re_003"),
                await tx.refunds.by_key("t3", "billing-t1-re_003"),
            )

    one, two, missing, of_payment, of_note, by_ref, no_ref, by_key, other = run(database, work)
    assert one == refund(1)
    assert two == tied
    assert missing is None
    assert of_payment == ["re_001", "re_002"]
    assert of_note == ["re_002"]
    assert by_ref == tied
    assert no_ref is None
    assert by_key == refund(3, payment_id="pmt_2")
    assert other is None


def test_a_refund_moves_only_from_the_status_and_version_it_was_read_at(database):
    later = AT + timedelta(minutes=1)
    done = refund(
        1,
        status=RefundStatus.SUCCEEDED,
        gateway_reference="re_gw_1",
        updated_at=later,
        version=2,
    )

    async def work(store: SqlStore) -> tuple[Any, ...]:
        async with store.write(None) as tx:
            await tx.refunds.insert("t1", refund(1))
        async with store.write(None) as tx:
            locked = await tx.refunds.get("t1", "re_001", lock=True)
            first = await tx.refunds.update("t1", done, RefundStatus.PENDING, 1)
            # A second writer that read the pending refund too: finds it moved.
            failed = replace(done, status=RefundStatus.FAILED, failure_message="no")
            second = await tx.refunds.update("t1", failed, RefundStatus.PENDING, 1)
            stale = await tx.refunds.update("t1", failed, RefundStatus.SUCCEEDED, 1)
        async with store.read() as tx:
            return locked, first, second, stale, await tx.refunds.get("t1", "re_001")

    locked, first, second, stale, stored = run(database, work)
    assert locked == refund(1)
    assert (first, second, stale) == (True, False, False)
    assert stored == done


def test_a_refund_idempotency_key_is_unique_per_tenant(database):
    async def work(store: SqlStore) -> None:
        async with store.write(None) as tx:
            await tx.refunds.insert("t1", refund(1))
        async with store.write(None) as tx:
            await tx.refunds.insert("t1", refund(2, idempotency_key="billing-t1-re_001"))

    with pytest.raises(sa.exc.IntegrityError):
        run(database, work)


def test_disputes_round_trip_move_by_compare_and_set_and_list_newest_first(database):
    won = replace(
        dispute(1),
        status=DisputeStatus.WON,
        updated_at=AT + timedelta(days=9),
        closed_at=AT + timedelta(days=9),
        version=2,
    )

    async def work(store: SqlStore) -> tuple[Any, ...]:
        async with store.write(None) as tx:
            for n in (1, 2, 3):
                await tx.disputes.insert("t1", dispute(n))
            await tx.disputes.insert("t1", dispute(4, customer_id="cus_2"))
            await tx.disputes.insert("t2", dispute(1))
        async with store.write(None) as tx:
            first = await tx.disputes.update("t1", won, DisputeStatus.OPEN, 1)
            lost = replace(won, status=DisputeStatus.LOST, fee_minor=1500)
            second = await tx.disputes.update("t1", lost, DisputeStatus.OPEN, 1)
        async with store.read() as tx:
            page1 = await tx.disputes.list_after("t1", "cus_1", None, 2)
            page2 = await tx.disputes.list_after("t1", "cus_1", page1[-1].id, 2)
            return (
                first,
                second,
                await tx.disputes.get("t1", "dp_001"),
                await tx.disputes.get("t1", "dp_404"),
                await tx.disputes.by_gateway_id("t1", "sandbox", "du_2"),
                await tx.disputes.by_gateway_id("t1", "stripe", "du_2"),
                [x.id for x in page1],
                [x.id for x in page2],
            )

    first, second, stored, missing, by_gateway, other, page1, page2 = run(database, work)
    assert (first, second) == (True, False)
    assert stored == won
    assert missing is None
    assert by_gateway == dispute(2)
    assert other is None
    assert page1 == ["dp_003", "dp_002"]
    assert page2 == ["dp_001"]


def test_a_gateway_dispute_id_is_recorded_once_per_gateway(database):
    async def work(store: SqlStore) -> None:
        async with store.write(None) as tx:
            await tx.disputes.insert("t1", dispute(1))
            await tx.disputes.insert("t1", dispute(2, gateway="stripe", gateway_dispute_id="du_1"))
        async with store.write(None) as tx:
            await tx.disputes.insert("t1", dispute(3, gateway_dispute_id="du_1"))

    with pytest.raises(sa.exc.IntegrityError):
        run(database, work)


def event(event_id: str, outcome: str = "") -> GatewayEventRecord:
    return GatewayEventRecord("sandbox", event_id, "charge.succeeded", AT, outcome)


def test_a_webhook_event_is_added_once_and_keeps_its_outcome(database):
    async def work(store: SqlStore) -> tuple[Any, ...]:
        async with store.write(None) as tx:
            first = await tx.gateway_events.add("t1", event("evt_1"))
            await tx.gateway_events.set_outcome("t1", "sandbox", "evt_1", "x" * 600)
            other_tenant = await tx.gateway_events.add("t2", event("evt_1"))
        async with store.write(None) as tx:
            again = await tx.gateway_events.add("t1", event("evt_1", "second"))
        async with store.read() as tx:
            return (
                first,
                other_tenant,
                again,
                await tx.gateway_events.get("t1", "sandbox", "evt_1"),
                await tx.gateway_events.get("t1", "stripe", "evt_1"),
            )

    first, other_tenant, again, stored, missing = run(database, work)
    assert (first, other_tenant, again) == (True, True, False)
    assert stored == event("evt_1", "x" * 512)  # cut to the column, never refused
    assert missing is None


def test_a_concurrent_second_delivery_waits_for_the_first_and_finds_it(database):
    async def work(store: SqlStore) -> list[bool]:
        added: list[bool] = []
        first_in = asyncio.Event()

        async def first() -> None:
            async with store.write(None) as tx:
                added.append(await tx.gateway_events.add("t1", event("evt_9")))
                first_in.set()
                await asyncio.sleep(0.3)  # the second delivery arrives meanwhile

        async def second() -> None:
            await first_in.wait()
            async with store.write(None) as tx:
                added.append(await tx.gateway_events.add("t1", event("evt_9")))

        await asyncio.gather(first(), second())
        return added

    assert run(database, work) == [True, False]


def test_a_credit_note_reads_back_with_its_credit_part(database):
    note = CreditNote(
        "cn_1",
        "inv_1",
        "cus_1",
        "CN-2026-000001",
        Money("EUR", 3000),
        "returned",
        "credit_balance",
        AT,
        tax_minor=479,
        to_credit_minor=1800,
    )

    async def work(store: SqlStore) -> tuple[Any, ...]:
        async with store.write(None) as tx:
            await tx.credit_notes.insert("t1", note)
            await tx.credit_notes.insert("t1", replace(note, id="cn_2"))
            await tx.credit_notes.insert(
                "t1", replace(note, id="cn_3", applied_to="amount_due", to_credit_minor=0)
            )
        engine = store.engine
        async with engine.begin() as conn:  # notes written before migration 0020
            await conn.execute(
                sa.text("UPDATE credit_notes SET to_credit_minor = NULL WHERE id <> 'cn_1'")
            )
        async with store.read() as tx:
            return tuple([await tx.credit_notes.get("t1", f"cn_{n}") for n in (1, 2, 3, 4)])

    one, two, three, four = run(database, work)
    assert one == note
    assert two == replace(note, id="cn_2", to_credit_minor=3000)  # all of it went to credit
    assert three == replace(note, id="cn_3", applied_to="amount_due", to_credit_minor=0)
    assert four is None

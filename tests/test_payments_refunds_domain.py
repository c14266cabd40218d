"""The refund and dispute decisions as pure functions: what may still be refunded, what a
credit note's credit still allows, what a gateway answer and a dispute event do."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from billing.domain.disputes import DisputeFacts, dispute_change
from billing.domain.payments import (
    Allocation,
    Dispute,
    DisputeStatus,
    Payment,
    PaymentSource,
    Refund,
    RefundStatus,
)
from billing.domain.refunds import (
    note_credit,
    refund_status_for,
    refundable_minor,
    settled_refund,
)

AT = datetime(2026, 12, 6, 9, tzinfo=UTC)
PAYMENT = Payment(
    "pmt_1",
    "cus_1",
    10000,
    "EUR",
    PaymentSource.GATEWAY,
    AT,
    (Allocation("inv_1", 9000),),
    to_credit_minor=1000,
    attempt_id="pay_1",
)


def refund(amount: int, status: RefundStatus, note: str | None = None) -> Refund:
    return Refund(
        "re_1", "pmt_1", "pay_1", "cus_1", amount, "EUR", status, "k", "", AT, AT,
        credit_note_id=note,
    )  # fmt: skip


def test_refundable_is_what_was_received_less_refunded_in_flight_and_disputed():
    assert refundable_minor(PAYMENT, []) == 10000
    refunded = replace(PAYMENT, refunded_minor=2500)
    in_flight = [
        refund(2500, RefundStatus.SUCCEEDED),  # already in refunded_minor
        refund(1000, RefundStatus.PENDING),
        refund(700, RefundStatus.UNKNOWN),
        refund(4000, RefundStatus.FAILED),  # gave nothing back: holds nothing
    ]
    assert refundable_minor(refunded, in_flight) == 10000 - 2500 - 1000 - 700
    disputed = replace(refunded, disputed_minor=5000)
    assert refundable_minor(disputed, in_flight) == 800
    assert refundable_minor(replace(disputed, disputed_minor=9000), in_flight) == 0


def test_a_note_allows_its_credit_part_less_refunds_not_failed():
    taken = note_credit(
        3000,
        [
            refund(1000, RefundStatus.SUCCEEDED, "cn_1"),
            refund(500, RefundStatus.PENDING, "cn_1"),
            refund(1500, RefundStatus.FAILED, "cn_1"),
        ],
    )
    assert (taken.credit_minor, taken.refunded_minor, taken.left_minor) == (3000, 1500, 1500)
    assert note_credit(1000, [refund(1000, RefundStatus.UNKNOWN)]).left_minor == 0


@pytest.mark.parametrize(
    ("gateway", "status"),
    [
        ("succeeded", RefundStatus.SUCCEEDED),
        ("failed", RefundStatus.FAILED),
        ("unknown", RefundStatus.UNKNOWN),
        ("pending", RefundStatus.PENDING),
        ("not_found", None),
        ("requires_action", None),
    ],
)
def test_gateway_answers_map_to_refund_statuses(gateway, status):
    assert refund_status_for(gateway) is status


def test_a_refund_settles_once_along_its_transitions():
    later = AT + timedelta(minutes=1)
    pending = refund(1000, RefundStatus.PENDING)
    unknown = settled_refund(pending, RefundStatus.UNKNOWN, later)
    assert unknown is not None and (unknown.status, unknown.version) == (RefundStatus.UNKNOWN, 2)
    done = settled_refund(unknown, RefundStatus.SUCCEEDED, later, reference="re_gw")
    assert done is not None
    assert (done.status, done.gateway_reference, done.version) == (
        RefundStatus.SUCCEEDED,
        "re_gw",
        3,
    )
    assert settled_refund(done, RefundStatus.FAILED, later) is None  # final
    assert settled_refund(pending, RefundStatus.PENDING, later) is None  # nothing to write
    failed = settled_refund(pending, RefundStatus.FAILED, later, message="card closed")
    assert failed is not None and failed.failure_message == "card closed"


def facts(status: DisputeStatus, fee: int = 0) -> DisputeFacts:
    return DisputeFacts("sandbox", "du_1", status, 4000, fee, "EUR", "fraudulent", AT)


def change(existing: Dispute | None, status: DisputeStatus, fee: int = 0):
    return dispute_change(
        existing,
        facts(status, fee),
        new_id="dp_1",
        payment_id="pmt_1",
        attempt_id="pay_1",
        customer_id="cus_1",
    )


def test_a_dispute_opens_holding_its_amount_then_is_won_back_or_lost_with_its_fee():
    opened = change(None, DisputeStatus.OPEN)
    assert opened is not None
    assert (opened.created, opened.disputed_delta_minor, opened.event) == (
        True,
        4000,
        "dispute.opened",
    )
    assert opened.dispute.closed_at is None and opened.outcome == "disputes/dp_1 open"
    won = change(opened.dispute, DisputeStatus.WON)
    assert won is not None
    assert (won.created, won.expected, won.disputed_delta_minor, won.event) == (
        False,
        DisputeStatus.OPEN,
        -4000,
        "dispute.won",
    )
    assert (won.dispute.status, won.dispute.fee_minor, won.dispute.version) == (
        DisputeStatus.WON,
        0,
        2,
    )
    lost = change(opened.dispute, DisputeStatus.LOST, fee=1500)
    assert lost is not None
    assert (lost.disputed_delta_minor, lost.event, lost.dispute.fee_minor) == (
        0,
        "dispute.lost",
        1500,
    )
    assert lost.dispute.closed_at == AT
    # Decided is final; a repeated `opened` changes nothing.
    assert change(lost.dispute, DisputeStatus.WON) is None
    assert change(opened.dispute, DisputeStatus.OPEN) is None


def test_a_close_of_a_dispute_never_seen_opened_records_it_closed_at_once():
    lost = change(None, DisputeStatus.LOST, fee=1500)
    assert lost is not None
    assert (lost.created, lost.disputed_delta_minor, lost.dispute.fee_minor) == (True, 4000, 1500)
    won = change(None, DisputeStatus.WON)
    assert won is not None
    assert (won.created, won.disputed_delta_minor, won.dispute.status) == (
        True,
        0,
        DisputeStatus.WON,
    )

"""Cancellations carry a reason code and the customer's feedback, kept and reported (issue 18's
Customer Experience input), with the MRR that leaves; a reactivation withdraws one."""

from __future__ import annotations

import uuid

import grpc
import pytest

from billing_client.v1 import subscriptions_pb2 as sp
from billing_fixtures import Billing, iso, rules, ts


@pytest.fixture
def billing(channel, tenant) -> Billing:
    return Billing(channel, tenant.metadata)


def _subscribed(billing: Billing) -> tuple[object, sp.Subscription]:
    clock = billing.clock("2026-04-01T00:00:00Z")
    customer = billing.customer(clock)
    return clock, billing.subscribe(customer, "basic_monthly", trial_days=0)


def _cancel(billing: Billing, sub: sp.Subscription, **fields: object) -> sp.Subscription:
    return billing.subs.CancelSubscription(
        sp.CancelSubscriptionRequest(name=sub.name, request_id=uuid.uuid4().hex, **fields),
        metadata=billing.metadata,
    )


def _listed(billing: Billing, **fields: object) -> sp.ListCancellationsResponse:
    return billing.subs.ListCancellations(
        sp.ListCancellationsRequest(**fields), metadata=billing.metadata
    )


def test_reasons_and_feedback_are_kept_counted_and_withdrawn_on_reactivation(billing):
    billing.push(rules())
    _, now_sub = _subscribed(billing)
    _, later_sub = _subscribed(billing)
    _, quiet_sub = _subscribed(billing)
    _cancel(billing, now_sub, immediately=True, reason_code="too_expensive",
            feedback="Half the price and we stay.")  # fmt: skip
    _cancel(billing, later_sub, at_period_end=True, reason_code="missing_feature",
            feedback="No SSO.")  # fmt: skip
    _cancel(billing, quiet_sub, at_period_end=True)

    listed = _listed(billing)
    assert [c.subscription for c in listed.cancellations] == [
        quiet_sub.name, later_sub.name, now_sub.name
    ]  # fmt: skip
    quiet, later, now = listed.cancellations
    assert (now.reason_code, now.feedback, now.mode) == (
        "too_expensive", "Half the price and we stay.", "immediately"
    )  # fmt: skip
    assert iso(now.request_time) == iso(now.effective_time) == "2026-04-01T00:00:00Z"
    assert (now.mrr.currency_code, now.mrr.amount_minor) == ("USD", 3000)  # basic: 30.00 a month
    assert (later.reason_code, later.feedback, later.mode) == ("missing_feature", "No SSO.",
                                                               "at_period_end")  # fmt: skip
    assert iso(later.effective_time) == "2026-05-01T00:00:00Z"
    assert quiet.reason_code == "unspecified" and quiet.feedback == ""
    assert dict(listed.counts_by_reason) == {
        "too_expensive": 1, "missing_feature": 1, "unspecified": 1
    }  # fmt: skip

    billing.subs.ReactivateSubscription(
        sp.ReactivateSubscriptionRequest(name=later_sub.name, request_id=uuid.uuid4().hex),
        metadata=billing.metadata,
    )
    after = _listed(billing)
    assert dict(after.counts_by_reason) == {"too_expensive": 1, "unspecified": 1}
    withdrawn = next(c for c in after.cancellations if c.subscription == later_sub.name)
    assert iso(withdrawn.withdraw_time) == "2026-04-01T00:00:00Z"

    only = _listed(billing, reason_code="too_expensive")
    assert [c.subscription for c in only.cancellations] == [now_sub.name]
    assert dict(only.counts_by_reason) == {"too_expensive": 1}


def test_pages_and_the_time_window(billing):
    billing.push(rules())
    subs = [_subscribed(billing)[1] for _ in range(3)]
    for sub in subs:
        _cancel(billing, sub, at_period_end=True, reason_code="switched_provider")
    first = _listed(billing, page_size=2)
    second = _listed(billing, page_size=2, page_token=first.next_page_token)
    assert len(first.cancellations) == 2 and len(second.cancellations) == 1
    assert second.next_page_token == ""
    assert dict(first.counts_by_reason) == {"switched_provider": 3}  # the window, not the page
    names = [c.subscription for c in [*first.cancellations, *second.cancellations]]
    assert sorted(names) == sorted(s.name for s in subs)
    empty = _listed(billing, end_time=ts("2026-03-01T00:00:00Z"))
    assert list(empty.cancellations) == [] and dict(empty.counts_by_reason) == {}


def test_a_malformed_reason_code_is_refused_and_nothing_is_cancelled(billing):
    billing.push(rules())
    _, sub = _subscribed(billing)
    with pytest.raises(grpc.RpcError) as refused:
        _cancel(billing, sub, immediately=True, reason_code="Too Expensive!")
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "reason_code" in (refused.value.details() or "")
    assert billing.get(sub).status == sp.ACTIVE
    assert list(_listed(billing).cancellations) == []

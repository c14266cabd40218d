"""GetEntitlements: what a customer may use now over all its subscriptions (issue 18, for
Product systems): features once each, limits added up, unlimited when any grant is, ended
subscriptions granting nothing."""

from __future__ import annotations

import uuid

import grpc
import pytest

from billing_client.v1 import subscriptions_pb2 as sp
from billing_fixtures import Billing
from conftest import rule_files


@pytest.fixture
def billing(channel, tenant) -> Billing:
    return Billing(channel, tenant.metadata)


def _entitlements(billing: Billing, customer: str) -> dict[str, tuple[int | None, list[str]]]:
    reply = billing.subs.GetEntitlements(
        sp.GetEntitlementsRequest(customer=customer), metadata=billing.metadata
    )
    assert reply.rule_set.startswith("ruleSets/")
    return {
        f.feature: (f.limit if f.HasField("limit") else None, sorted(f.subscriptions))
        for f in reply.features
    }


def test_features_over_the_subscriptions_limits_added_ended_ones_left_out(billing):
    billing.push(rule_files())  # basic: reports; pro: reports, api_access, 50 seats
    customer = billing.customer()
    pro_a = billing.subscribe(customer, "pro_monthly")
    pro_b = billing.subscribe(customer, "pro_monthly")
    basic = billing.subscribe(customer, "basic_monthly")
    ended = billing.subscribe(customer, "basic_monthly")
    billing.subs.CancelSubscription(
        sp.CancelSubscriptionRequest(
            name=ended.name, immediately=True, request_id=uuid.uuid4().hex
        ),
        metadata=billing.metadata,
    )
    assert _entitlements(billing, customer.name) == {
        "api_access": (None, sorted([pro_a.name, pro_b.name])),
        "reports": (None, sorted([pro_a.name, pro_b.name, basic.name])),
        "seats": (100, sorted([pro_a.name, pro_b.name])),  # 50 + 50
    }
    other = billing.customer()
    assert _entitlements(billing, other.name) == {}


def test_an_unknown_malformed_or_other_tenants_customer(billing, channel, other_tenant):
    billing.push(rule_files())
    with pytest.raises(grpc.RpcError) as missing:
        _entitlements(billing, "customers/cus_01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as malformed:
        _entitlements(billing, "subscriptions/x")
    assert malformed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    mine = billing.customer()
    theirs = (
        Billing(billing.channel, other_tenant.metadata) if hasattr(billing, "channel") else None
    )
    if theirs is not None:
        with pytest.raises(grpc.RpcError) as hidden:
            _entitlements(theirs, mine.name)
        assert hidden.value.code() == grpc.StatusCode.NOT_FOUND

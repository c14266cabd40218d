"""ApplyContract (issue 18, Sales upstream): a deal's lines become subscriptions at the
negotiated prices, idempotently by deal id and revision; an amendment creates, changes and
ends lines, all in one transaction."""

from __future__ import annotations

import uuid

import grpc
import pytest

from billing_client.v1 import contracts_pb2 as ct
from billing_client.v1 import contracts_pb2_grpc
from billing_client.v1 import subscriptions_pb2 as sp
from billing_fixtures import Billing, iso, ts
from conftest import rule_files
from grpc_helpers import error_info


@pytest.fixture
def billing(channel, tenant) -> Billing:
    return Billing(channel, tenant.metadata)


@pytest.fixture
def contracts(channel) -> contracts_pb2_grpc.ContractServiceStub:
    return contracts_pb2_grpc.ContractServiceStub(channel)


def _deal(customer: str, revision: int, *lines: ct.ContractLine, deal_id: str = "") -> ct.Contract:
    return ct.Contract(
        deal_id=deal_id or "DEAL-2026-0042",
        customer=customer,
        revision=revision,
        start_time=ts("2026-04-01T00:00:00Z"),
        term_periods=12,
        auto_renew=True,
        lines=list(lines),
    )


def _basic(price: str = "25.00", line_id: str = "basic") -> ct.ContractLine:
    return ct.ContractLine(line_id=line_id, plan="plans/basic_monthly", price_overrides={"": price})


def _pro(seats: int) -> ct.ContractLine:
    return ct.ContractLine(
        line_id="pro", plan="plans/pro_monthly", quantities={"prices/pro_seat_usd": seats}
    )


def _apply(billing: Billing, contracts, contract: ct.Contract) -> ct.Contract:
    return contracts.ApplyContract(
        ct.ApplyContractRequest(contract=contract, request_id=uuid.uuid4().hex),
        metadata=billing.metadata,
    )


def _subs(billing: Billing, customer: str) -> list[sp.Subscription]:
    return list(
        billing.subs.ListSubscriptions(
            sp.ListSubscriptionsRequest(customer=customer, page_size=100), metadata=billing.metadata
        ).subscriptions
    )


def _refused(call) -> grpc.RpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as refused:
        call()
    return refused.value


def test_a_deal_applied_resent_and_amended(billing, contracts):
    billing.push(rule_files())
    clock = billing.clock("2026-04-01T00:00:00Z")
    customer = billing.customer(clock).name

    first = _apply(billing, contracts, _deal(customer, 1, _basic(), _pro(10)))
    assert first.name == "contracts/DEAL-2026-0042" and first.revision == 1
    by_line = {line.line_id: line.subscription for line in first.lines}
    basic, pro = (billing.get(sp.Subscription(name=by_line[k])) for k in ("basic", "pro"))
    assert basic.status == pro.status == sp.ACTIVE  # a signed deal has no trial
    assert iso(basic.current_period_start) == "2026-04-01T00:00:00Z"
    # The negotiated 25.00 instead of the list 30.00; Pro: 50.00 + 10 seats x 10.00.
    assert [i.total.amount_minor for i in billing.invoices_of(basic)] == [2500]
    assert [i.total.amount_minor for i in billing.invoices_of(pro)] == [15000]

    # The same revision again (a retry from the CRM with a new request id): nothing new.
    again = _apply(billing, contracts, _deal(customer, 1, _basic(), _pro(10)))
    assert again == first
    echoed = ct.Contract()
    echoed.CopyFrom(first)  # what the CRM got back, output-only fields and all
    assert _apply(billing, contracts, echoed) == first
    assert len(_subs(billing, customer)) == 2

    # The same revision with other terms is a conflict; nothing is written.
    conflict = _refused(lambda: _apply(billing, contracts, _deal(customer, 1, _basic(), _pro(11))))
    assert conflict.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(conflict).reason == "CONTRACT_REVISION_CONFLICT"

    # Revision 2: Pro goes to 15 seats, Basic leaves the deal, an add-on line comes in.
    billing.advance(clock, "2026-04-16T00:00:00Z")
    amended = _apply(
        billing, contracts, _deal(customer, 2, _pro(15), _basic("20.00", line_id="basic-2"))
    )
    assert amended.revision == 2
    lines = {line.line_id: line.subscription for line in amended.lines}
    assert set(lines) == {"pro", "basic-2"} and lines["pro"] == by_line["pro"]
    pro_now = billing.get(pro)
    seats = {item.price: item.quantity for item in pro_now.items}
    assert seats["prices/pro_seat_usd"] == 15
    ended = billing.get(basic)
    assert ended.cancel_at_period_end and ended.status == sp.ACTIVE
    added = billing.get(sp.Subscription(name=lines["basic-2"]))
    assert iso(added.current_period_start) == "2026-04-16T00:00:00Z"  # starts when amended
    assert len(_subs(billing, customer)) == 3
    cancellations = billing.subs.ListCancellations(
        sp.ListCancellationsRequest(reason_code="contract_amended"), metadata=billing.metadata
    )
    assert [c.subscription for c in cancellations.cancellations] == [basic.name]

    # An older revision is stale; a line's negotiated price cannot change in place.
    stale = _refused(lambda: _apply(billing, contracts, _deal(customer, 1, _basic(), _pro(10))))
    assert error_info(stale).reason == "CONTRACT_REVISION_STALE"
    fixed = _refused(
        lambda: _apply(
            billing, contracts, _deal(customer, 3, _pro(15), _basic("19.00", line_id="basic-2"))
        )
    )
    assert fixed.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(fixed).reason == "CONTRACT_LINE_TERMS_FIXED"
    got = contracts.GetContract(
        ct.GetContractRequest(name="contracts/DEAL-2026-0042"), metadata=billing.metadata
    )
    assert got == amended  # the refused revision 3 wrote nothing


def test_a_refused_line_leaves_nothing_behind(billing, contracts):
    billing.push(rule_files())
    customer = billing.customer().name
    bad = ct.ContractLine(line_id="x", plan="plans/no_such_plan")
    refused = _refused(lambda: _apply(billing, contracts, _deal(customer, 1, _basic(), bad)))
    assert refused.code() in {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT}
    assert _subs(billing, customer) == []  # the first line's subscription rolled back too
    missing = _refused(
        lambda: contracts.GetContract(
            ct.GetContractRequest(name="contracts/DEAL-2026-0042"), metadata=billing.metadata
        )
    )
    assert missing.code() == grpc.StatusCode.NOT_FOUND


def test_malformed_deals_name_the_field(billing, contracts):
    billing.push(rule_files())
    customer = billing.customer().name
    cases = {
        "contract.deal_id": _deal(customer, 1, _basic(), deal_id="deal/42"),
        "contract.revision": _deal(customer, 0, _basic()),
        "contract.lines": _deal(customer, 1),
        "contract.lines[1].line_id": _deal(customer, 1, _basic(), _basic()),
    }
    for field, contract in cases.items():
        refused = _refused(lambda c=contract: _apply(billing, contracts, c))
        assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert field in (refused.details() or ""), (field, refused.details())

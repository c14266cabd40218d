"""ContractService: translation only."""

from __future__ import annotations

import grpc

from billing.api.context import ContextFactory
from billing.api.convert import body_hash, instant, timestamp
from billing.app.context import Write
from billing.app.contracts import ContractUseCases
from billing.domain.contracts import Contract, ContractLine
from billing.domain.errors import InvalidArgument
from billing.domain.names import parse_name
from billing.domain.subscriptions import Phase
from billing_client.v1 import contracts_pb2 as pb
from billing_client.v1 import contracts_pb2_grpc
from billing_client.v1 import subscriptions_pb2 as sp


def _phases(phases: list[sp.SubscriptionPhase]) -> tuple[Phase, ...]:
    return tuple(
        Phase(p.start_period, p.plan.removeprefix("plans/"), dict(p.quantities),
              dict(p.price_overrides))
        for p in phases
    )  # fmt: skip


def contract_from_proto(message: pb.Contract) -> Contract:
    if not message.customer:
        raise InvalidArgument.single("contract.customer", "is required")
    return Contract(
        deal_id=message.deal_id,
        customer_id=parse_name(message.customer, "customers", "contract.customer"),
        revision=message.revision,
        start_time=instant(
            message.start_time, message.HasField("start_time"), "contract.start_time"
        ),
        term_periods=message.term_periods,
        auto_renew=message.auto_renew,
        lines=tuple(
            ContractLine(
                line.line_id,
                line.plan,
                dict(line.quantities),
                dict(line.price_overrides),
                _phases(list(line.phases)),
            )
            for line in message.lines
        ),
    )


def contract_to_proto(contract: Contract) -> pb.Contract:
    message = pb.Contract(
        name=contract.name,
        deal_id=contract.deal_id,
        customer=f"customers/{contract.customer_id}",
        revision=contract.revision,
        term_periods=contract.term_periods,
        auto_renew=contract.auto_renew,
        lines=[
            pb.ContractLine(
                line_id=line.line_id,
                plan=line.plan,
                quantities=dict(line.quantities),
                price_overrides=dict(line.price_overrides),
                phases=[
                    sp.SubscriptionPhase(
                        start_period=p.start_period,
                        plan=f"plans/{p.plan_code}" if p.plan_code else "",
                        quantities=dict(p.quantities),
                        price_overrides=dict(p.price_overrides),
                    )
                    for p in line.phases
                ],
                subscription=f"subscriptions/{line.subscription_id}",
            )
            for line in contract.lines
        ],
    )
    if contract.start_time is not None:
        message.start_time.CopyFrom(timestamp(contract.start_time))
    if contract.updated_at is not None:
        message.update_time.CopyFrom(timestamp(contract.updated_at))
    return message


def _terms_hash(request: pb.ApplyContractRequest) -> bytes:
    """The hash of the deal's terms: output-only fields cleared, so a CRM that sends back the
    contract it was answered (name, subscriptions, update time) sends the same revision."""
    terms = pb.ApplyContractRequest()
    terms.CopyFrom(request)
    terms.contract.ClearField("name")
    terms.contract.ClearField("update_time")
    for line in terms.contract.lines:
        line.ClearField("subscription")
    return body_hash(terms)


class ContractServicer(contracts_pb2_grpc.ContractServiceServicer):  # type: ignore[misc]
    def __init__(self, contracts: ContractUseCases, call_context: ContextFactory) -> None:
        self._contracts = contracts
        self._ctx = call_context

    async def ApplyContract(
        self, request: pb.ApplyContractRequest, context: grpc.aio.ServicerContext
    ) -> pb.Contract:
        ctx = self._ctx("ApplyContract", context)
        write = Write(
            request.request_id, _terms_hash(request), contract_from_proto(request.contract)
        )
        return contract_to_proto(await self._contracts.apply(ctx, write))

    async def GetContract(
        self, request: pb.GetContractRequest, context: grpc.aio.ServicerContext
    ) -> pb.Contract:
        ctx = self._ctx("GetContract", context)
        return contract_to_proto(await self._contracts.get(ctx, request.name))

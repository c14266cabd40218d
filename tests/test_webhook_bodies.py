"""Hostile webhook bodies that verify (the fuzz suite's signed events, issue 13): an instant past
what the server keeps, an amount past bigint minor units, JSON nested past the parser's
recursion. Each is INVALID_ARGUMENT naming `payload` and records nothing, on both databases;
a gateway plugin that raises on a body instead of refusing it is refused the same way."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from billing.app.context import CallContext
from billing.app.gateway_events import GatewayEvents
from billing.domain.errors import InvalidArgument
from billing_builtin.sandbox import webhooks as sandbox_webhooks
from grpc_helpers import field_violations
from refund_fixtures import Payments, payments_channel, payments_server

__all__ = ["payments_channel", "payments_server"]  # module-scoped fixtures used below

NESTED = b"[" * 20_000 + b"]" * 20_000  # 40 KB, within the sandbox's 64 KB body limit


@pytest.fixture
def pay(payments_channel, payments_server, tenant) -> Payments:  # type: ignore[no-untyped-def]
    return Payments(payments_channel, tenant, payments_server)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (
            sandbox_webhooks.build("charge.succeeded", reference="ch_1").replace(
                b'"created": 0', b'"created": 1000000000000'
            ),
            "created must be unix seconds before 3000-01-01",
        ),
        (
            sandbox_webhooks.build("refund.succeeded", reference="re_1", amount_minor=10**30),
            "data.amount_minor must be a whole number of minor units, from 0 to 1000000000000000",
        ),
        (NESTED, "body is not JSON: nested too deep"),
    ],
    ids=["created-year-33658", "amount-10e30", "nested-20000"],
)
def test_a_signed_body_past_the_limits_is_refused_and_records_nothing(
    pay: Payments, body: bytes, says: str
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        pay.deliver(body, sandbox_webhooks.signed_headers(body))

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(refused.value) == {"payload": f"rejected by sandbox: {says}"}
    assert pay._rows("SELECT count(*) FROM gateway_events WHERE tenant_id = :t") == [(0,)]


class _Raising:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def parse_webhook(self, headers: Any, body: bytes) -> Any:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        RecursionError("maximum recursion depth exceeded while decoding a JSON array"),
        ValueError("invalid literal for int() with base 10: 'abc'"),
        OverflowError("timestamp out of range for platform time_t"),
        KeyError("object"),
        TypeError("'NoneType' object is not subscriptable"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_plugin_that_raises_on_a_body_is_a_refused_webhook(error: BaseException) -> None:
    gateway = _Raising(error)

    async def active_rules(ctx: CallContext) -> Any:
        return SimpleNamespace(rules=SimpleNamespace(payments=None))

    async def find(*args: Any, **kwargs: Any) -> Any:
        return gateway

    events = GatewayEvents(
        store=None,  # type: ignore[arg-type]  # never reached: refused before any write
        rules=SimpleNamespace(active_rules=active_rules),  # type: ignore[arg-type]
        time=None,  # type: ignore[arg-type]
        directory=SimpleNamespace(gateway=find),  # type: ignore[arg-type]
    )
    ctx = CallContext("t_1", "svc", "HandleGatewayEvent", "corr-1")

    with pytest.raises(InvalidArgument) as refused:
        asyncio.run(events.handle(ctx, "stripe", {"stripe-signature": "t=1,v1=ab"}, b"{}"))

    assert [(v.field, v.description) for v in refused.value.violations] == [
        ("payload", "rejected by stripe: the body could not be read")
    ]

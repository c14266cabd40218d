"""Built-in gateway engine `sandbox`: deterministic outcomes by token, for tests, simulation
clocks and `make run` (like a card network's test numbers, but tokens only).

SEAM (ADR 0034): this first cut answers the success and decline tokens at once and keeps no
ledger; the full sandbox (timeouts, unknown outcomes, late success, 3-D Secure, a ledger of
what it really charged that outlives a SIGKILL of the server, webhooks) replaces it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from billing.plugins.engines import (
    ChargeRequest,
    GatewayConnection,
    GatewayEngine,
    GatewayEvent,
    GatewayOutcome,
    GatewayStatus,
    LookupRequest,
    PaymentGateway,
    RefundRequest,
    WebhookRejected,
)
from billing.plugins.hookspecs import hookimpl

# Token -> normalized decline code. Any other token succeeds.
DECLINE_TOKENS: Mapping[str, str] = {
    "tok_decline": "generic_decline",
    "tok_insufficient_funds": "insufficient_funds",
    "tok_do_not_honor": "do_not_honor",
    "tok_expired_card": "expired_card",
    "tok_stolen_card": "stolen_card",
}


def _reference(prefix: str, key: str) -> str:
    return f"{prefix}_" + hashlib.sha256(key.encode()).hexdigest()[:20]


class SandboxGateway:
    def __init__(self, connection: GatewayConnection) -> None:
        self.connection = connection

    async def purchase(self, request: ChargeRequest) -> GatewayOutcome:
        decline = DECLINE_TOKENS.get(request.token)
        if decline is not None:
            return GatewayOutcome(
                GatewayStatus.FAILED,
                _reference("ch", request.idempotency_key),
                decline_code=decline,
                gateway_code=decline,
                message=f"declined: {decline.replace('_', ' ')}",
            )
        return GatewayOutcome(
            GatewayStatus.SUCCEEDED,
            _reference("ch", request.idempotency_key),
            amount_minor=request.amount_minor,
        )

    async def authorize(self, request: ChargeRequest) -> GatewayOutcome:
        return await self.purchase(request)

    async def capture(
        self, idempotency_key: str, reference: str, amount_minor: int, currency: str
    ) -> GatewayOutcome:
        return GatewayOutcome(GatewayStatus.SUCCEEDED, reference, amount_minor=amount_minor)

    async def void(self, idempotency_key: str, reference: str) -> GatewayOutcome:
        return GatewayOutcome(GatewayStatus.SUCCEEDED, reference)

    async def refund(self, request: RefundRequest) -> GatewayOutcome:
        return GatewayOutcome(
            GatewayStatus.SUCCEEDED,
            _reference("re", request.idempotency_key),
            amount_minor=request.amount_minor,
        )

    async def lookup(self, request: LookupRequest) -> GatewayOutcome:
        return GatewayOutcome(GatewayStatus.NOT_FOUND)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> GatewayEvent:
        raise WebhookRejected("the sandbox sends no webhooks yet")


class SandboxEngine:
    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        return []

    def credential_names(self) -> tuple[str, ...]:
        return ()

    def connect(self, connection: GatewayConnection) -> PaymentGateway:
        return SandboxGateway(connection)


@hookimpl
def billing_register_payment_gateways(register: Callable[[str, GatewayEngine], None]) -> None:
    register("sandbox", SandboxEngine())

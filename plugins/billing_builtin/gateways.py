"""Built-in gateway `simulated`: deterministic outcomes by token, for tests and simulation
clocks (like a card network's test numbers, but tokens only)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from billing.plugins.engines import ChargeRequest, ChargeResult, PaymentGateway
from billing.plugins.hookspecs import hookimpl

DECLINE_TOKENS = {"tok_decline": "card_declined", "tok_insufficient": "insufficient_funds"}


class SimulatedGateway:
    async def charge(self, request: ChargeRequest) -> ChargeResult:
        reference = "sim_" + hashlib.sha256(request.idempotency_key.encode()).hexdigest()[:20]
        failure = DECLINE_TOKENS.get(request.payment_method_token, "")
        return ChargeResult(
            succeeded=not failure, gateway_reference=reference, failure_code=failure
        )


@hookimpl
def billing_register_payment_gateways(register: Callable[[str, PaymentGateway], None]) -> None:
    register("simulated", SimulatedGateway())

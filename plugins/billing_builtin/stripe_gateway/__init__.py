"""Built-in gateway engine `stripe` (ADR 0037): Stripe's PaymentIntents, Refunds and webhooks
through the official `stripe` SDK. Credentials `api_key` and `webhook_secret`; the
connection's endpoint is the API base (tests: a local server answering from recordings).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from billing.plugins.engines import GatewayConnection, GatewayEngine, PaymentGateway
from billing.plugins.hookspecs import hookimpl

from . import settings as stripe_settings
from .gateway import StripeGateway

__all__ = ["StripeEngine", "StripeGateway", "billing_register_payment_gateways"]


class StripeEngine:
    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        return stripe_settings.check(settings)

    def credential_names(self) -> tuple[str, ...]:
        return ("api_key", "webhook_secret")

    def connect(self, connection: GatewayConnection) -> PaymentGateway:
        return StripeGateway(connection, stripe_settings.parse(connection.settings))


@hookimpl
def billing_register_payment_gateways(register: Callable[[str, GatewayEngine], None]) -> None:
    register("stripe", StripeEngine())

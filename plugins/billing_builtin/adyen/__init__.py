"""Built-in gateway engine `adyen`: Adyen's Checkout API through its official SDK (ADR 0038).

Settings: `merchant_account` (required), `environment` (`test` or `live`, default test),
`live_endpoint_prefix` (required for live: Adyen's per-company live host),
`payment_method_type` (the stored method's type, default `scheme` for cards).
Credentials: `api_key` (the X-API-Key of the web service user), `hmac_key` (hex, webhooks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from billing.plugins.engines import GatewayConnection, GatewayEngine, PaymentGateway
from billing.plugins.hookspecs import hookimpl

from .gateway import AdyenGateway

_SETTINGS = {"merchant_account", "environment", "live_endpoint_prefix", "payment_method_type"}


class AdyenEngine:
    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        problems = []
        account = settings.get("merchant_account")
        if not isinstance(account, str) or not account.strip():
            problems.append("adyen: settings.merchant_account is required (the merchant account)")
        environment = settings.get("environment", "test")
        if environment not in {"test", "live"}:
            problems.append("adyen: settings.environment must be test or live")
        prefix = settings.get("live_endpoint_prefix")
        if environment == "live" and (not isinstance(prefix, str) or not prefix.strip()):
            problems.append("adyen: settings.live_endpoint_prefix is required when live")
        method_type = settings.get("payment_method_type", "scheme")
        if not isinstance(method_type, str) or not method_type:
            problems.append("adyen: settings.payment_method_type must be a non-empty string")
        problems.extend(
            f"adyen: unknown setting {name!r}" for name in sorted(set(settings) - _SETTINGS)
        )
        return problems

    def credential_names(self) -> tuple[str, ...]:
        return ("api_key", "hmac_key")

    def connect(self, connection: GatewayConnection) -> PaymentGateway:
        return AdyenGateway(connection)


@hookimpl
def billing_register_payment_gateways(register: Callable[[str, GatewayEngine], None]) -> None:
    register("adyen", AdyenEngine())

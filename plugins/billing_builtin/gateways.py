"""Built-in gateway engines (ADR 0034). `sandbox`: deterministic outcomes by token, chaos for
load tests and a ledger of what it really charged (package `billing_builtin.sandbox`)."""

from __future__ import annotations

from collections.abc import Callable

from billing.plugins.engines import GatewayEngine
from billing.plugins.hookspecs import hookimpl
from billing_builtin.sandbox import SandboxEngine


@hookimpl
def billing_register_payment_gateways(register: Callable[[str, GatewayEngine], None]) -> None:
    register("sandbox", SandboxEngine())

"""The built-in `sandbox` gateway engine (ADR 0034, 0036): deterministic outcomes by token
(`behaviour`), deterministic chaos by idempotency key for load tests, a ledger of what it
really charged and refunded (`ledger`: SQLite at the connection's endpoint, shared by every
server process, surviving a SIGKILL; in memory without one), and signed webhooks
(`webhooks`). Tests read the ledger: `billing_builtin.sandbox.ledger.charges(path)`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from billing.plugins.engines import GatewayConnection, PaymentGateway
from billing_builtin.sandbox.behaviour import settings_problems
from billing_builtin.sandbox.gateway import SandboxGateway

__all__ = ["SandboxEngine", "SandboxGateway"]


class SandboxEngine:
    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        return settings_problems(settings)

    def credential_names(self) -> tuple[str, ...]:
        return ("webhook_secret",)  # optional: the settings' or the default secret otherwise

    def connect(self, connection: GatewayConnection) -> PaymentGateway:
        return SandboxGateway(connection)

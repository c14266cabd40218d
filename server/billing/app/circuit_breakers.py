"""A circuit breaker per (tenant, gateway), per process (ADR 0034): after the rules' number of
consecutive outages a gateway is skipped (routing fails over to the next) until `open_for`
has passed; then one call is let through (half open) and its result closes or reopens it.

SEAM: always closed until the breakers land.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from billing.domain.payment_rules import CircuitBreakerRule


@dataclass(frozen=True)
class BreakerState:
    gateway: str
    state: str  # closed, open, half_open
    consecutive_failures: int
    retry_at: datetime | None


class CircuitBreakers:
    def allow(self, tenant_id: str, gateway: str, rule: CircuitBreakerRule, now: datetime) -> bool:
        """Whether a call may go to the gateway now (False: fail over, it is open)."""
        return True

    def record_success(self, tenant_id: str, gateway: str) -> None:
        """Any definite answer (success or decline) closes the breaker."""

    def record_outage(
        self, tenant_id: str, gateway: str, rule: CircuitBreakerRule, now: datetime
    ) -> None:
        """GatewayUnavailable or an unknown outcome (timeout, 5xx) counts toward opening."""

    def state(self, tenant_id: str, gateway: str, now: datetime) -> BreakerState:
        return BreakerState(gateway, "closed", 0, None)

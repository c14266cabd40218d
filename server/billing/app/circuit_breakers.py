"""A circuit breaker per (tenant, gateway), per process (ADR 0034, ADR 0040): after the rules'
number of consecutive outages a gateway is skipped (routing fails over to the next) until
`open_for` has passed; then one call is let through (half open) and its result closes or
reopens it.

- closed: every call goes; an outage counts, any definite answer (success or decline)
  resets the count. `failures` outages in a row open it.
- open: no call until `retry_at` (opened + open_for).
- half open: from `retry_at`, exactly one call (the probe) goes; its success closes the
  breaker, its outage reopens it for another `open_for`. A probe that never reports (its
  caller was cancelled) frees the slot after `open_for`, so the breaker cannot stick.

Per process on purpose: no shared state on the charge path. Callers pass `now` (the
injectable clock); one lock guards the table, and nothing awaits while holding it, so the
same object serves threads and coroutines.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from billing.domain.payment_rules import CircuitBreakerRule

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass(frozen=True)
class BreakerState:
    gateway: str
    state: str  # closed, open, half_open
    consecutive_failures: int
    retry_at: datetime | None  # open: when a probe may go; half open: when a lost probe is freed


@dataclass
class _Breaker:
    failures: int = 0
    retry_at: datetime | None = None  # set while open (and half open)
    probe_until: datetime | None = None  # half open: the one call is out until then


class CircuitBreakers:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._breakers: dict[tuple[str, str], _Breaker] = {}

    def allow(self, tenant_id: str, gateway: str, rule: CircuitBreakerRule, now: datetime) -> bool:
        """Whether a call may go to the gateway now (False: fail over, it is open)."""
        with self._lock:
            breaker = self._breakers.get((tenant_id, gateway))
            if breaker is None or breaker.retry_at is None:
                return True  # closed
            if now < breaker.retry_at:
                return False  # open
            if breaker.probe_until is not None and now < breaker.probe_until:
                return False  # half open, and the probe is out
            breaker.probe_until = now + rule.open_for
            return True

    def record_success(self, tenant_id: str, gateway: str) -> None:
        """Any definite answer (success or decline) closes the breaker."""
        with self._lock:
            self._breakers.pop((tenant_id, gateway), None)

    def record_outage(
        self, tenant_id: str, gateway: str, rule: CircuitBreakerRule, now: datetime
    ) -> None:
        """GatewayUnavailable or an unknown outcome (timeout, 5xx) counts toward opening."""
        with self._lock:
            breaker = self._breakers.setdefault((tenant_id, gateway), _Breaker())
            breaker.failures += 1
            if breaker.retry_at is not None and now < breaker.retry_at:
                return  # already open: a call that went before it opened, reporting late
            if breaker.retry_at is not None or breaker.failures >= rule.failures:
                # Opened, or reopened by the half-open probe.
                breaker.retry_at = now + rule.open_for
                breaker.probe_until = None

    def state(self, tenant_id: str, gateway: str, now: datetime) -> BreakerState:
        with self._lock:
            breaker = self._breakers.get((tenant_id, gateway))
            if breaker is None:
                return BreakerState(gateway, CLOSED, 0, None)
            if breaker.retry_at is None:
                return BreakerState(gateway, CLOSED, breaker.failures, None)
            if now < breaker.retry_at:
                return BreakerState(gateway, OPEN, breaker.failures, breaker.retry_at)
            return BreakerState(gateway, HALF_OPEN, breaker.failures, breaker.probe_until)

    def states(
        self, tenant_id: str, gateways: tuple[str, ...], now: datetime
    ) -> tuple[BreakerState, ...]:
        """ListGateways: this process's view of each gateway, in the order given."""
        return tuple(self.state(tenant_id, gateway, now) for gateway in gateways)

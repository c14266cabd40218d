""" "Now" for a customer: its simulation clock's time, or the real clock's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from billing.app.clock import Clock
from billing.app.ports import Transaction


@dataclass(frozen=True)
class BillingTime:
    real: Clock

    async def now(self, tx: Transaction, tenant_id: str, clock_id: str | None) -> datetime:
        if clock_id is None:
            return self.real.now()
        clock = await tx.clocks.get(tenant_id, clock_id)
        if clock is None:  # clocks are never deleted while customers point at them
            raise RuntimeError(f"clock {clock_id} is missing")
        return clock.now

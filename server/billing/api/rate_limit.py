"""Per-tenant request rate: a token bucket per tenant, per server process (ADR 0023).

Each call (a stream counts once) takes one token from its tenant's bucket, which refills at
`rate_per_s` up to `burst`. An empty bucket refuses the call with `RateLimited`
(RESOURCE_EXHAUSTED, with the delay after which one token will be back). The table of buckets
is bounded: past `tenants_max` the least recently seen tenant's bucket is dropped (it had
been idle longest, so it was full or nearly; dropping it gives it back at most one burst).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Protocol

from billing.domain.errors import RateLimited

TENANTS_MAX = 10_000


class RateLimiter(Protocol):
    """This process's bucket (`take` returns None) or the shared one in Redis (awaitable)."""

    def take(self, tenant_id: str) -> Awaitable[None] | None: ...


class TenantRateLimiter:
    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        tenants_max: int = TENANTS_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s <= 0 or burst < 1 or tenants_max < 1:
            raise ValueError("rate_per_s > 0, burst >= 1 and tenants_max >= 1")
        self._rate = rate_per_s
        self._burst = float(burst)
        self._tenants_max = tenants_max
        self._clock = clock
        # tenant -> (tokens, time of the last refill); most recently used last.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, tenant_id: str) -> None:
        """Spend one token of the tenant's bucket, or raise RateLimited."""
        now = self._clock()
        bucket = self._buckets.get(tenant_id)
        if bucket is None:
            tokens = self._burst
            if len(self._buckets) >= self._tenants_max:
                self._buckets.popitem(last=False)
        else:
            tokens = min(self._burst, bucket[0] + (now - bucket[1]) * self._rate)
            self._buckets.move_to_end(tenant_id)
        if tokens < 1.0:
            self._buckets[tenant_id] = (tokens, now)
            raise RateLimited(
                tenant_id, self._rate, int(self._burst), retry_after_s=(1.0 - tokens) / self._rate
            )
        self._buckets[tenant_id] = (tokens - 1.0, now)

    @property
    def rate_per_s(self) -> float:
        return self._rate

    @property
    def burst(self) -> int:
        return int(self._burst)

    def __len__(self) -> int:
        return len(self._buckets)

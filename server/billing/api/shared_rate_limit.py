"""Per-tenant request rate shared by every server process (ADR 0066): the tenant's token
bucket lives in Redis and one Lua script refills and takes from it atomically, on Redis's
clock, so N processes grant one limit between them instead of N.

Redis away (down, slow, or the link's breaker open): the call takes from the process's own
bucket instead (`TenantRateLimiter`, the same rate and burst), so a tenant is never refused
for want of Redis; while Redis is away the processes each grant the full rate again.
"""

from __future__ import annotations

from redis.asyncio import Redis

from billing.api.rate_limit import TenantRateLimiter
from billing.domain.errors import RateLimited
from billing.redis_link import RedisLink

# KEYS[1]: the tenant's bucket. ARGV: rate per second, burst. {1} taken, or {0, microseconds
# until one token is back}. Stored as fixed-point strings: tostring() keeps 14 digits only,
# less than a time in microseconds has.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = burst
if b[1] then
  tokens = math.min(burst, tonumber(b[1]) + math.max(0, now - tonumber(b[2])) * rate / 1000000)
end
local taken = tokens >= 1
if taken then tokens = tokens - 1 end
local at = string.format('%.0f', now)
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', at)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
if taken then return {1} end
return {0, math.ceil((1 - tokens) / rate * 1000000)}
"""


def bucket_key(tenant_id: str) -> str:
    return f"bc:{{{tenant_id}}}:rate"


class SharedRateLimiter:
    def __init__(self, link: RedisLink, local: TenantRateLimiter) -> None:
        self.link = link
        self._local = local  # used while Redis is away
        self._take = link.client.register_script(_TAKE)
        self._args = [repr(local.rate_per_s), str(local.burst)]
        self.fallbacks = 0  # calls that took from the local bucket

    async def take(self, tenant_id: str) -> None:
        """Spend one token of the tenant's shared bucket, or raise RateLimited."""
        keys = [bucket_key(tenant_id)]

        async def take(client: Redis) -> list[int]:
            return await self._take(keys=keys, args=self._args, client=client)  # type: ignore[no-any-return]

        result = await self.link.run(take)
        if result is None:
            self.fallbacks += 1
            self._local.take(tenant_id)
            return
        if result[0] != 1:
            raise RateLimited(
                tenant_id,
                self._local.rate_per_s,
                self._local.burst,
                retry_after_s=result[1] / 1_000_000,
                shared=True,
            )

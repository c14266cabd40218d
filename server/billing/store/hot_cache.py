"""The hot cache (billing.app.hot_cache) in Redis (ADR 0066).

Keys, all of one tenant under one hash tag (`{tenant}`) so each script touches one slot:
  bc:{tenant}:g:<scope>  a generation token: random, made by the first reader that finds
                         none; an invalidation deletes it
  bc:{tenant}:v:<name>   the entry: the tokens of its scopes, concatenated, then the value

A value is served only while its tokens are the current ones, and `put` stores only if the
tokens are still those the reader took before its database read. A write deletes the tokens
after its commit, so any reader that read before that commit finds other tokens (fresh random
ones, or none) when it comes to store: it stores nothing. A flush or an eviction deletes
tokens too, which only costs misses. Tokens are random, never counters, so a token deleted
and made again can never match a ticket taken before.

Redis down: reads go to the database (the link bypasses Redis for a while). An invalidation
that could not be sent is kept and sent before this process reads the cache again; the TTL
bounds what another process could serve meanwhile.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from billing.app.hot_cache import Changes, Entry, Lookup
from billing.redis_link import RedisLink

log = logging.getLogger("billing.redis")

TOKEN_BYTES = 12  # 24 hex characters: a repeat is out of reach
PENDING_MAX = 100_000  # invalidations kept while Redis is away; past that the TTL bounds them

# KEYS: the generation keys, then the value key. ARGV: a fresh token, the TTL in seconds.
_GET = """
local n = #KEYS
local ticket = ''
for i = 1, n - 1 do
  local g = redis.call('GET', KEYS[i])
  if not g then
    g = ARGV[1]
    redis.call('SET', KEYS[i], g, 'EX', ARGV[2])
  end
  ticket = ticket .. g
end
local v = redis.call('GET', KEYS[n])
if v and string.sub(v, 1, #ticket) == ticket then
  return {ticket, string.sub(v, #ticket + 1)}
end
return {ticket}
"""

# KEYS as above. ARGV: the ticket, the value, the TTL in seconds. 1 if stored.
_PUT = """
local n = #KEYS
local ticket = ''
for i = 1, n - 1 do
  local g = redis.call('GET', KEYS[i])
  if not g then return 0 end
  ticket = ticket .. g
end
if ticket ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[n], ARGV[1] .. ARGV[2], 'EX', ARGV[3])
return 1
"""


def generation_key(tenant_id: str, scope: str) -> str:
    return f"bc:{{{tenant_id}}}:g:{scope}"


def value_key(tenant_id: str, name: str) -> str:
    return f"bc:{{{tenant_id}}}:v:{name}"


class RedisHotCache:
    def __init__(self, link: RedisLink, ttl_s: int) -> None:
        self._link = link
        self._ttl_s = ttl_s
        self._get = link.client.register_script(_GET)
        self._put = link.client.register_script(_PUT)
        self._pending: set[str] = set()  # generation keys whose invalidation did not get through
        # Tests pause a reader here, between its database read and its store.
        self.before_put: Callable[[Entry], Awaitable[None]] | None = None
        self.hits = 0
        self.misses = 0
        self.refused = 0  # stores refused: a scope changed after the reader's ticket

    async def get(self, entry: Entry) -> Lookup:
        if self._pending and not await self._send_pending():
            return Lookup(None, None)
        keys = [generation_key(entry.tenant_id, s) for s in entry.scopes]
        keys.append(value_key(entry.tenant_id, entry.name))
        token = secrets.token_hex(TOKEN_BYTES)

        async def read(client: Redis) -> list[bytes]:
            return await self._get(keys=keys, args=[token, self._ttl_s], client=client)  # type: ignore[no-any-return]

        found = await self._link.run(read)
        if found is None:
            return Lookup(None, None)
        ticket = found[0].decode()
        if len(found) == 2:
            self.hits += 1
            return Lookup(found[1], ticket)
        self.misses += 1
        return Lookup(None, ticket)

    async def put(self, entry: Entry, ticket: str, value: bytes) -> None:
        if self.before_put is not None:
            await self.before_put(entry)
        if self._pending:
            return  # this process's own invalidations come first
        keys = [generation_key(entry.tenant_id, s) for s in entry.scopes]
        keys.append(value_key(entry.tenant_id, entry.name))

        async def store(client: Redis) -> int:
            return await self._put(keys=keys, args=[ticket, value, self._ttl_s], client=client)  # type: ignore[no-any-return]

        if await self._link.run(store) == 0:
            self.refused += 1

    async def invalidate(self, changes: Changes) -> None:
        keys = {generation_key(tenant, scope) for tenant, scope in changes.scopes}
        if not await self._delete(keys):
            self._keep(keys)

    async def _send_pending(self) -> bool:
        keys = set(self._pending)
        if not await self._delete(keys):
            return False
        self._pending -= keys
        log.warning("Redis: %d invalidations kept while it was away are sent", len(keys))
        return not self._pending

    async def _delete(self, keys: set[str]) -> bool:
        async def delete(client: Redis) -> bool:
            async with client.pipeline(transaction=False) as pipe:
                for key in keys:  # one DEL each: keys of several tenants are several slots
                    pipe.delete(key)
                await pipe.execute()
            return True

        return await self._link.run(delete) is not None

    def _keep(self, keys: set[str]) -> None:
        if len(self._pending) + len(keys) > PENDING_MAX:
            log.error(
                "Redis: over %d invalidations waiting; %d dropped (entries expire by TTL)",
                PENDING_MAX,
                len(keys),
            )
            return
        self._pending |= keys

"""The one Redis connection of a server process (ADR 0066): the hot cache and the shared
rate limit both go through `RedisLink.run`, which bounds every command by a few
milliseconds and, after `FAILURES_TO_OPEN` failures in a row, bypasses Redis for a back-off
period (a circuit breaker), so a dead or slow Redis costs a few short timeouts per period,
never one per call. One failure alone does not open it: under load the event loop itself can
be late by more than the timeout, and that says nothing about Redis.

Redis is an accelerator here, never a source of truth: every caller has an answer without
it (the database, or the process's own bucket), so `run` gives None instead of raising.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

T = TypeVar("T")
FAILURES_TO_OPEN = 3
log = logging.getLogger("billing.redis")


class RedisLink:
    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 0.005,
        backoff_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # No retries: a retry would double the time a failing Redis costs the call, and the
        # caller's fallback (the database) is always right.
        self.client: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
            max_connections=64,
        )
        self._timeout_s = timeout_s
        self._backoff_s = backoff_s
        self._clock = clock
        self._open_until = 0.0  # the breaker is open (Redis bypassed) until then
        self._failing = False  # the breaker has opened and no command has answered since
        self._in_a_row = 0  # failures since the last answer
        self.bypassed = 0  # calls answered without Redis (the breaker was open or it failed)
        self.failures = 0  # commands that failed or timed out

    @property
    def available(self) -> bool:
        """Whether a command would be sent now (False while the breaker is open)."""
        return self._clock() >= self._open_until

    async def run(self, command: Callable[[aioredis.Redis], Awaitable[T]]) -> T | None:
        """The command's result, or None when Redis is bypassed, failed or was too slow."""
        if not self.available:
            self.bypassed += 1
            return None
        if self._failing:
            # Half open: this call probes; the others keep bypassing until it answers.
            self._open_until = self._clock() + self._backoff_s
        try:
            async with asyncio.timeout(self._timeout_s * 2):  # the pool's wait included
                result = await command(self.client)
        except (RedisError, OSError, TimeoutError) as error:
            self.failures += 1
            self.bypassed += 1
            self._in_a_row += 1
            if self._failing or self._in_a_row >= FAILURES_TO_OPEN:
                self._open_until = self._clock() + self._backoff_s
                if not self._failing:
                    log.warning(
                        "Redis bypassed for %.1f s after %d failed commands: %s",
                        self._backoff_s,
                        self._in_a_row,
                        type(error).__name__,
                    )
                self._failing = True
            return None
        self._in_a_row = 0
        if self._failing:
            log.warning("Redis answers again: cache and shared rate limit back in use")
            self._failing = False
            self._open_until = 0.0
        return result

    async def close(self) -> None:
        await self.client.aclose()

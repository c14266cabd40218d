"""Runs a mutating use case: one transaction, idempotent on (tenant, request_id).

Same key, RPC and body: the stored result of the first call, nothing changes. Same key, other
body or other RPC: IdempotencyKeyReused. Same key while the first still runs:
RequestInProgress. Only successful results are stored (a failed transaction rolls back its key
with everything else).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from billing.app.backoff import full_jitter
from billing.app.clock import Clock
from billing.app.context import CallContext, Write
from billing.app.ports import (
    IdempotencyKey,
    ReadAhead,
    RetryableConflict,
    Store,
    StoredResult,
    Transaction,
)
from billing.domain.errors import IdempotencyKeyReused, TransactionConflict

R = TypeVar("R")

MAX_ATTEMPTS = 5  # serialization failures and deadlocks are rare; more retries hide bugs
RETRY_BACKOFF_BASE_S = 0.005  # bound of the first retry's delay, doubling each attempt
RETRY_BACKOFF_MAX_S = 0.1  # cap; over all attempts the bounds sum to 75 ms


class Codec(Protocol, Generic[R]):
    def encode(self, result: R) -> bytes: ...

    def decode(self, data: bytes) -> R: ...


@dataclass(frozen=True)
class WriteRunner:
    store: Store
    clock: Clock
    key_retention: timedelta

    async def run(
        self,
        ctx: CallContext,
        write: Write[Any],
        codec: Codec[R],
        work: Callable[[Transaction, datetime], Awaitable[R]],
        ahead: ReadAhead | None = None,
    ) -> R:
        """`ahead`: what `work` will read (about its customer, subscription or invoice, and
        the books), for the store to read with the transaction's first query (ADR 0069)."""
        key = IdempotencyKey(ctx.tenant_id, ctx.method, write.request_id)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return await self._attempt(ctx, key, write, codec, work, ahead)
            except RetryableConflict as conflict:
                if attempt == MAX_ATTEMPTS:
                    raise TransactionConflict(
                        f"{ctx.method} collided with concurrent writes {MAX_ATTEMPTS} times"
                        " and changed nothing; retry with the same request_id"
                    ) from conflict
                # Full jitter: writers that collided once do not collide again in lockstep.
                await asyncio.sleep(full_jitter(attempt, RETRY_BACKOFF_BASE_S, RETRY_BACKOFF_MAX_S))
        raise AssertionError("unreachable")

    async def _attempt(
        self,
        ctx: CallContext,
        key: IdempotencyKey,
        write: Write[Any],
        codec: Codec[R],
        work: Callable[[Transaction, datetime], Awaitable[R]],
        ahead: ReadAhead | None,
    ) -> R:
        async with self.store.write(key, ahead) as tx:
            now = self.clock.now()
            stored = await tx.idempotency.find(key, now)
            if stored is not None:
                if stored.method != key.method:
                    raise IdempotencyKeyReused(ctx.method, write.request_id, stored.method)
                if stored.body_hash != write.body_hash:
                    raise IdempotencyKeyReused(ctx.method, write.request_id)
                return codec.decode(stored.result)
            result = await work(tx, now)
            await tx.idempotency.save(
                key,
                StoredResult(write.body_hash, codec.encode(result)),
                created_at=now,
                expires_at=now + self.key_retention,
            )
            await ctx.faults.before_commit()
            return result


async def retry_on_conflict(
    store: Store, work: Callable[[Transaction], Awaitable[R]], *, tries: int = MAX_ATTEMPTS
) -> R:
    """A write transaction without an idempotency key (an outcome or a webhook applied in a
    short transaction of its own), run again whole on a serialization conflict or deadlock
    with the same full-jitter backoff as `WriteRunner`; the last conflict propagates."""
    for attempt in range(1, tries + 1):
        try:
            async with store.write(None) as tx:
                return await work(tx)
        except RetryableConflict:
            if attempt == tries:
                raise
            await asyncio.sleep(full_jitter(attempt, RETRY_BACKOFF_BASE_S, RETRY_BACKOFF_MAX_S))
    raise AssertionError("unreachable")

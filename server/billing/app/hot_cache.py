"""What the use cases ask of a shared cache of hot reads (ADR 0066); `billing.store.hot_cache`
keeps it in Redis. Without one (`NO_CACHE`) every read goes to the database, as before.

An entry depends on generation scopes: the tenant's (its active rule set), a customer's (its
subscriptions) or a subscription's. A committed write that changes what an entry was computed
from marks the scope in its `Changes`; the store invalidates them after the commit and before
the call replies. `get` hands out a ticket taken before the database read, and `put` stores
the value only while that ticket is still current, so a reader that read before a write
committed cannot leave its stale value behind the write's invalidation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

TENANT_SCOPE = "t"  # the tenant's active rule set: every entry of the tenant depends on it


def customer_scope(customer_id: str) -> str:
    return f"c:{customer_id}"


def subscription_scope(subscription_id: str) -> str:
    return f"s:{subscription_id}"


@dataclass(frozen=True)
class Entry:
    tenant_id: str
    name: str  # unique within the tenant, e.g. "ent:<customer id>"
    scopes: tuple[str, ...]  # the generation scopes whose change makes it stale


@dataclass(frozen=True)
class Lookup:
    value: bytes | None  # a current value, or None: read the database
    ticket: str | None  # what `put` needs; None: the cache takes nothing now (bypassed)


@dataclass
class Changes:
    """The scopes one transaction changed, per tenant: invalidated after its commit."""

    scopes: set[tuple[str, str]] = field(default_factory=set)  # (tenant_id, scope)

    def tenant(self, tenant_id: str) -> None:
        self.scopes.add((tenant_id, TENANT_SCOPE))

    def customer(self, tenant_id: str, customer_id: str) -> None:
        self.scopes.add((tenant_id, customer_scope(customer_id)))

    def subscription(self, tenant_id: str, subscription_id: str) -> None:
        self.scopes.add((tenant_id, subscription_scope(subscription_id)))

    def __bool__(self) -> bool:
        return bool(self.scopes)


class HotCache(Protocol):
    async def get(self, entry: Entry) -> Lookup: ...

    async def put(self, entry: Entry, ticket: str, value: bytes) -> None:
        """Store `value` only if no scope of the entry changed since `ticket` was taken."""
        ...

    async def invalidate(self, changes: Changes) -> None:
        """Make every entry depending on a changed scope stale; never raises."""
        ...


class NoCache:
    """No shared cache: every read goes to the database."""

    async def get(self, entry: Entry) -> Lookup:
        return Lookup(None, None)

    async def put(self, entry: Entry, ticket: str, value: bytes) -> None:
        return None

    async def invalidate(self, changes: Changes) -> None:
        return None


NO_CACHE = NoCache()

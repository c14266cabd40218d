"""Connected gateways by (tenant, gateway name) (ADR 0034): the engine the payment rules name,
connected with the rules' settings, the tenant's decrypted credentials and the operator's
endpoint (`BILLING_GATEWAY_ENDPOINTS`). A connection is cached and reused while what it was
made from stays the same, so an engine's client (and a sandbox's in-memory ledger) lives
across calls; a change of settings, credentials or endpoint connects anew.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from billing.app.ports import Store, Transaction
from billing.domain.payment_rules import PaymentRules
from billing.plugins.engines import GatewayConnection, GatewayEngine, PaymentGateway
from billing.plugins.registry import Engines
from billing.rules.model import RuleSet

CACHE_MAX = 1024  # connections kept; beyond it the cache starts afresh (bounded memory)


class UnknownGateway(LookupError):
    """The rules name no such gateway, or no installed engine answers to its engine name."""


def parse_endpoints(text: str) -> dict[str, str]:
    """`"sandbox=/var/ledger.db,stripe=https://..."` -> {name: endpoint}; names are gateway
    names or engine names (a gateway's own name wins)."""
    endpoints: dict[str, str] = {}
    for part in text.split(","):
        name, sep, endpoint = part.strip().partition("=")
        if sep and name.strip():
            endpoints[name.strip()] = endpoint.strip()
    return endpoints


class GatewayDirectory:
    def __init__(
        self, store: Store, engines: Engines, endpoints: str = "", timeout_s: float = 10.0
    ) -> None:
        self._store = store
        self._engines = engines
        self._endpoints = parse_endpoints(endpoints)
        self.timeout_s = timeout_s
        self._cache: dict[tuple[str, str], tuple[str, PaymentGateway]] = {}

    def engine(self, name: str) -> GatewayEngine | None:
        found: GatewayEngine | None = self._engines.by_kind.get("payment_gateway", {}).get(name)
        return found

    def endpoint(self, gateway: str, engine: str) -> str:
        return self._endpoints.get(gateway, self._endpoints.get(engine, ""))

    async def credentials(
        self, tx: Transaction | None, tenant_id: str, name: str
    ) -> Mapping[str, str]:
        """The tenant's decrypted credentials for gateway `name` ({} when none are set), read
        in `tx` when given, else in a short read of their own."""
        if tx is not None:
            stored = await tx.gateway_credentials.get(tenant_id, name)
        else:
            async with self._store.read() as read:
                stored = await read.gateway_credentials.get(tenant_id, name)
        return stored.values if stored is not None else {}

    async def gateway(
        self,
        tx: Transaction | None,
        tenant_id: str,
        rules: PaymentRules | RuleSet,
        name: str,
        *,
        credentials: Mapping[str, str] | None = None,
    ) -> PaymentGateway:
        """The connected gateway `name` of the tenant's rules (the payment rules, or the rule
        set holding them). Credentials: `credentials` when the caller read them already, else
        read in `tx` when given, else in a short read of their own."""
        if isinstance(rules, RuleSet):
            rules = rules.payments
        rule = rules.gateway(name)
        if rule is None:
            raise UnknownGateway(f"the payment rules have no gateway {name!r}")
        engine = self.engine(rule.engine)
        if engine is None:
            raise UnknownGateway(f"no installed plugin provides the gateway engine {rule.engine!r}")
        if credentials is None:
            credentials = await self.credentials(tx, tenant_id, name)
        endpoint = self.endpoint(name, rule.engine)
        fingerprint = _fingerprint(
            rule.engine, rule.settings, credentials, endpoint, self.timeout_s
        )
        key = (tenant_id, name)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        connected = engine.connect(
            GatewayConnection(
                name=name,
                settings=dict(rule.settings),
                credentials=dict(credentials),
                endpoint=endpoint,
                timeout_s=self.timeout_s,
            )
        )
        if len(self._cache) >= CACHE_MAX:
            self._cache.clear()
        self._cache[key] = (fingerprint, connected)
        return connected


def _fingerprint(
    engine: str,
    settings: Mapping[str, Any],
    credentials: Mapping[str, str],
    endpoint: str,
    timeout_s: float,
) -> str:
    """What a connection was made from, compared whole (kept in memory only: it holds the
    credentials, like the connection itself)."""
    return json.dumps(
        [engine, settings, dict(credentials), endpoint, timeout_s], sort_keys=True, default=str
    )

"""How hot reads are kept in the shared cache (ADR 0066): compact JSON, read back exactly."""

from __future__ import annotations

import json

from billing.domain.entitlements import CustomerFeature


def encode_entitlements(features: list[CustomerFeature], rule_set: str) -> bytes:
    rows = [[f.feature, f.limit, list(f.subscription_ids)] for f in features]
    return json.dumps([rule_set, rows], separators=(",", ":")).encode()


def decode_entitlements(value: bytes) -> tuple[list[CustomerFeature], str]:
    rule_set, rows = json.loads(value)
    return [CustomerFeature(f, limit, tuple(ids)) for f, limit, ids in rows], rule_set

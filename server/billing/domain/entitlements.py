"""A customer's entitlements over its subscriptions: pure, for GetEntitlements."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Grant:
    feature: str
    limit: int | None  # None: unlimited
    subscription_id: str


@dataclass(frozen=True)
class CustomerFeature:
    feature: str
    limit: int | None
    subscription_ids: tuple[str, ...]


def combine(grants: Iterable[Grant]) -> list[CustomerFeature]:
    """Each feature once, by code: limits add up (an add-on's grant comes on top of the
    plan's), and one unlimited grant makes the feature unlimited."""
    limits: dict[str, int | None] = {}
    sources: dict[str, list[str]] = {}
    for grant in grants:
        if grant.feature not in limits:
            limits[grant.feature] = grant.limit
            sources[grant.feature] = []
        else:
            current = limits[grant.feature]
            limits[grant.feature] = (
                None if current is None or grant.limit is None else current + grant.limit
            )
        sources[grant.feature].append(grant.subscription_id)
    return [
        CustomerFeature(feature, limits[feature], tuple(sources[feature]))
        for feature in sorted(limits)
    ]

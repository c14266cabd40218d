"""Helpers for authenticating calls."""

from __future__ import annotations


def bearer_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """Call metadata that carries an OAuth2 bearer token."""
    return (("authorization", f"Bearer {token}"),)

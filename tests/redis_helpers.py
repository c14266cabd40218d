"""The real Redis the hot cache's and the shared rate limit's tests use (ADR 0066)."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

REDIS_URL = os.environ.get("BILLING_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def _next_database(url: str) -> str:
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(database + 1) % 16}"))


# The rate limit's tests keep their buckets apart from the cache's tests, which flush theirs.
LIMITS_URL = _next_database(REDIS_URL)


def redis_client(url: str = REDIS_URL) -> redis.Redis:
    """A client of the test database, or skip (fail under CI) when Redis is not answering."""
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        message = f"Redis not reachable at {REDIS_URL}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: Redis tests never skip)")
        pytest.skip(message)
    return client


def closed_port_url() -> str:
    """A Redis URL at a loopback port nothing listens on (bound, then closed at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"

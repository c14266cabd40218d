"""The token issuer's public keys (JWKS), by `kid`, rotated without a restart (ADR 0023).

Three sources with one face (`SigningKeys`): a fixed set (tests), a file re-read when it
changes, a URL refetched on a TTL and on an unknown `kid`. Each keeps its last good keys when
a refresh fails (a half-written file, an issuer that is down): a refresh never leaves the
server with no keys, and never blocks a call for long (the URL is fetched off the event loop,
with a timeout, a size cap and at most once per `min_refetch_s`). `generation` changes when
the keys do, so the verifier drops tokens it cached under keys that may be gone.

Only asymmetric keys are taken (RS*, PS*, ES*, EdDSA): a shared secret in a JWKS would let
anyone who can read the JWKS mint tokens.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import jwt

log = logging.getLogger("billing.auth")

ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
JWKS_MAX_BYTES = 1024 * 1024  # a JWKS is a few KB; a bigger answer is not one
JWKS_MAX_KEYS = 100
FILE_CHECK_INTERVAL_S = 1.0  # the file is stat()ed at most this often
URL_TTL_S = 300.0  # the URL is refetched this often
URL_MIN_REFETCH_S = 30.0  # and at most this often, whatever kids callers send
URL_TIMEOUT_S = 5.0


class SigningKeys(Protocol):
    generation: int  # changes whenever the keys do

    def find(self, kid: str | None) -> jwt.PyJWK | None:
        """The key for `kid` (None: the only key, if there is exactly one)."""

    def refresh_due(self) -> bool:
        """Whether `refresh()` would look for new keys now (cheap: a clock read)."""

    async def refresh(self, *, unknown_kid: bool = False) -> None:
        """Look for new keys if due (or, on an unknown kid, if the rate limit allows)."""


def parse_jwks(raw: bytes | str) -> dict[str, jwt.PyJWK]:
    """The usable asymmetric keys of a JWKS document by kid; ValueError if none."""
    if len(raw) > JWKS_MAX_BYTES:
        raise ValueError(f"the JWKS is larger than {JWKS_MAX_BYTES} bytes")
    try:
        document = json.loads(raw)
    except RecursionError:  # deeply nested arrays: not a JWKS
        raise ValueError("the JWKS is not a JSON object") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ValueError("the JWKS has no 'keys' list")
    if len(entries) > JWKS_MAX_KEYS:
        raise ValueError(f"the JWKS has more than {JWKS_MAX_KEYS} keys")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in entries:
        try:
            jwk = jwt.PyJWK.from_dict(entry)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as exc:
            log.warning("skipping an unusable JWKS key", extra={"error": str(exc)})
            continue
        if jwk.algorithm_name not in ASYMMETRIC_ALGORITHMS:
            log.warning("skipping a JWKS key that is not asymmetric", extra={"kid": jwk.key_id})
            continue
        keys[jwk.key_id or ""] = jwk
    if not keys:
        raise ValueError("the JWKS holds no usable asymmetric key")
    return keys


def _find(keys: dict[str, jwt.PyJWK], kid: str | None) -> jwt.PyJWK | None:
    if kid is None:
        return next(iter(keys.values())) if len(keys) == 1 else None
    return keys.get(kid)


class StaticKeys:
    """Keys given once, never refreshed."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self._keys = parse_jwks(json.dumps(jwks))
        self.generation = 0

    def find(self, kid: str | None) -> jwt.PyJWK | None:
        return _find(self._keys, kid)

    def refresh_due(self) -> bool:
        return False

    async def refresh(self, *, unknown_kid: bool = False) -> None:
        return None


class JwksFile:
    """A JWKS file, re-read when its mtime, size or inode change (checked at most every
    `check_interval_s`). Replace it atomically (write a new file, rename it over the old)."""

    def __init__(
        self,
        path: str | Path,
        *,
        check_interval_s: float = FILE_CHECK_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = Path(path)
        self._interval = check_interval_s
        self._clock = clock
        self._seen = self._signature()
        self._keys = parse_jwks(self._path.read_bytes())  # at start-up a bad file stops us
        self._next_check = clock() + check_interval_s
        self.generation = 0

    def find(self, kid: str | None) -> jwt.PyJWK | None:
        return _find(self._keys, kid)

    def refresh_due(self) -> bool:
        return self._clock() >= self._next_check

    async def refresh(self, *, unknown_kid: bool = False) -> None:
        # An unknown kid waits for the next check like everything else: the interval is short.
        self.reload_if_changed()

    def reload_if_changed(self) -> None:
        now = self._clock()
        if now < self._next_check:
            return
        self._next_check = now + self._interval
        try:
            signature = self._signature()
            if signature == self._seen:
                return
            keys = parse_jwks(self._path.read_bytes())
        except (OSError, ValueError) as exc:
            log.warning(
                "the JWKS file could not be read; keeping its last good keys",
                extra={"path": str(self._path), "error": str(exc)},
            )
            return
        self._seen, self._keys = signature, keys
        self.generation += 1
        log.info("JWKS file reloaded", extra={"path": str(self._path), "kids": sorted(keys)})

    def _signature(self) -> tuple[int, int, int]:
        stat = os.stat(self._path)
        return stat.st_mtime_ns, stat.st_size, stat.st_ino


class JwksUrl:
    """A JWKS URL, refetched every `ttl_s` and when a token names a kid it lacks, but at most
    once per `min_refetch_s` (a caller sending random kids cannot make us hammer the issuer).
    The first fetch happens at construction; if it fails, calls are refused until one works.
    """

    def __init__(
        self,
        url: str,
        *,
        ttl_s: float = URL_TTL_S,
        min_refetch_s: float = URL_MIN_REFETCH_S,
        timeout_s: float = URL_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._ttl = ttl_s
        self._min_refetch = min_refetch_s
        self._timeout = timeout_s
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._body = b""
        self._fetched_at = -float("inf")
        self._attempted_at = -float("inf")
        self._lock = asyncio.Lock()  # one fetch at a time; the others wait for its keys
        self.generation = 0
        self._apply(self._attempt())

    def find(self, kid: str | None) -> jwt.PyJWK | None:
        return _find(self._keys, kid)

    def refresh_due(self) -> bool:
        now = self._clock()
        return now >= self._fetched_at + self._ttl and now >= self._attempted_at + self._min_refetch

    async def refresh(self, *, unknown_kid: bool = False) -> None:
        async with self._lock:
            now = self._clock()
            if now < self._attempted_at + self._min_refetch:
                return  # fetched (or tried) a moment ago, maybe by the call we waited for
            if not unknown_kid and now < self._fetched_at + self._ttl:
                return
            self._apply(await asyncio.to_thread(self._attempt))

    def _attempt(self) -> tuple[bytes, dict[str, jwt.PyJWK]] | None:
        self._attempted_at = self._clock()
        try:
            body = self._fetch()
            return body, parse_jwks(body)
        except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors
            log.warning(
                "the JWKS URL could not be fetched; keeping its last good keys",
                extra={"url": self._url, "error": str(exc)},
            )
            return None

    def _apply(self, fetched: tuple[bytes, dict[str, jwt.PyJWK]] | None) -> None:
        if fetched is None:
            return
        body, keys = fetched
        self._fetched_at = self._clock()
        if body != self._body:
            self._body, self._keys = body, keys
            self.generation += 1
            log.info("JWKS URL refetched", extra={"url": self._url, "kids": sorted(keys)})

    def _fetch(self) -> bytes:
        request = urllib.request.Request(self._url, headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=self._timeout) as response:
            body: bytes = response.read(JWKS_MAX_BYTES + 1)
        if len(body) > JWKS_MAX_BYTES:
            raise ValueError(f"the JWKS is larger than {JWKS_MAX_BYTES} bytes")
        return body

"""OAuth2 bearer tokens: JWTs verified for signature, issuer, audience and expiry.

Keys come from a JWKS file or URL (production; `api/jwks.py`, rotated without a restart) or
an HS256 secret (local development only). Claims are typed strictly (`api/claims.py`).
Verified tokens are cached by SHA-256 of the token until they expire, so the signature
check runs once per token, not once per call; the cache is emptied when the keys change,
so a token signed by a key removed from the JWKS is refused from then on.

`cached()` is the per-call fast path (no await); `authenticate()` the full one, which may
refresh the keys (a file stat, or a fetch off the event loop) before verifying.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import jwt

from billing.api.claims import LEEWAY_S, Principal, read_claims
from billing.api.jwks import ASYMMETRIC_ALGORITHMS, JwksFile, SigningKeys, StaticKeys
from billing.domain.errors import Unauthenticated

__all__ = ["SCOPES", "Principal", "TokenVerifier", "mint_hs256_token"]

SCOPES = ("billing.read", "billing.write", "rules.admin", "billing.audit.read", "billing.admin")
# gRPC refuses more than 8 KiB of metadata (RESOURCE_EXHAUSTED) before we see it; below that
# a token is still bounded here. A real JWT is well under 2 KB.
TOKEN_MAX_CHARS = 7 * 1024


class UnknownSigningKey(Unauthenticated):
    """The token names a kid the current keys lack (a refresh may find it)."""


class TokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        tenant_claim: str,
        keys: SigningKeys | None = None,
        jwks: dict[str, Any] | None = None,
        hs256_secret: str = "",
        cache_size: int = 10_000,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if jwks is not None:
            keys = StaticKeys(jwks)
        if (keys is None) == (not hs256_secret):
            raise ValueError("give exactly one of keys, jwks or hs256_secret")
        self._issuer = issuer
        self._audience = audience
        self._tenant_claim = tenant_claim
        self._keys = keys
        self._generation = keys.generation if keys is not None else 0
        self._secret = hs256_secret
        self._cache: dict[bytes, tuple[Principal, float]] = {}
        self._cache_size = cache_size
        self._wall_clock = wall_clock

    @classmethod
    def from_jwks_file(cls, path: str, **kwargs: Any) -> TokenVerifier:
        return cls(keys=JwksFile(path), **kwargs)

    def cached(self, token: str) -> Principal | None:
        """The principal of a token verified before and not expired; None when the token
        must be verified (again), or when the keys are due for a refresh."""
        if self._keys is not None and self._keys.refresh_due():
            return None
        cached = self._cache.get(hashlib.sha256(token.encode()).digest())
        if cached is None or self._wall_clock() >= cached[1] + LEEWAY_S:
            return None
        return cached[0]

    async def authenticate(self, token: str) -> Principal:
        """Verify, refreshing the keys first when due, and once more on an unknown kid."""
        if self._keys is None:
            return self.verify(token)
        if self._keys.refresh_due():
            await self._keys.refresh()
        try:
            return self.verify(token)
        except UnknownSigningKey:
            await self._keys.refresh(unknown_kid=True)
            return self.verify(token)

    def verify(self, token: str) -> Principal:
        """Verify with the keys as they are now (no refresh); cached until the token expires."""
        if self._keys is not None and self._keys.generation != self._generation:
            self._cache.clear()  # some may be signed by a key that is gone
            self._generation = self._keys.generation
        if len(token) > TOKEN_MAX_CHARS:
            raise Unauthenticated(f"the bearer token is longer than {TOKEN_MAX_CHARS} characters")
        digest = hashlib.sha256(token.encode()).digest()
        now = self._wall_clock()
        cached = self._cache.get(digest)
        if cached is not None:
            principal, expires_at = cached
            if now < expires_at + LEEWAY_S:
                return principal
            del self._cache[digest]
        verified = read_claims(self._decode(token), self._tenant_claim, now)
        if len(self._cache) >= self._cache_size:
            self._evict(now)
        self._cache[digest] = (verified.principal, float(verified.expires_at))
        return verified.principal

    def _decode(self, token: str) -> dict[str, Any]:
        """Signature, `iss`, `aud` and `sub` by PyJWT; the times are `read_claims`' (strict
        integers, checked against our clock)."""
        try:
            key, algorithms = self._signing_key(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options={
                    "require": ["iss", "aud", "sub"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except UnknownSigningKey:
            raise
        except (jwt.PyJWTError, ValueError) as exc:
            # PyJWT's messages name the check that failed, never the token's content.
            raise Unauthenticated(f"the bearer token is not valid: {exc}") from None
        return claims

    def _signing_key(self, token: str) -> tuple[Any, list[str]]:
        if self._keys is None:
            return self._secret, ["HS256"]
        kid = jwt.get_unverified_header(token).get("kid")
        if kid is not None and not isinstance(kid, str):
            raise jwt.InvalidTokenError("the 'kid' header must be a string")
        jwk = self._keys.find(kid)
        if jwk is None:
            shown = kid if kid is None or len(kid) <= 64 else kid[:64] + "..."
            raise UnknownSigningKey(f"the bearer token is not valid: unknown signing key {shown!r}")
        algorithm = jwk.algorithm_name
        return jwk.key, [algorithm] if algorithm in ASYMMETRIC_ALGORITHMS else []

    def _evict(self, now: float) -> None:
        """Drop expired entries; if still full, drop the oldest half (insertion order)."""
        for digest in [d for d, (_, exp) in self._cache.items() if exp + LEEWAY_S <= now]:
            del self._cache[digest]
        if len(self._cache) >= self._cache_size:
            for digest in list(self._cache)[: self._cache_size // 2]:
                del self._cache[digest]


def mint_hs256_token(
    secret: str,
    *,
    tenant_id: str,
    subject: str,
    scopes: tuple[str, ...] = SCOPES,
    issuer: str,
    audience: str,
    lifetime_s: int,
    tenant_claim: str = "tenant_id",
    now: float | None = None,
) -> str:
    """A development token (and what tests use)."""
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        tenant_claim: tenant_id,
        "scope": " ".join(scopes),
        "iat": issued,
        "exp": issued + lifetime_s,
    }
    return jwt.encode(claims, secret, algorithm="HS256")

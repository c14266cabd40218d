"""OAuth2 bearer tokens: JWTs verified for signature, issuer, audience and expiry.

Keys come from a JWKS file (production) or an HS256 secret (local development only).
Verified tokens are cached by SHA-256 of the token until they expire, so the signature
check runs once per token, not once per call.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from billing.domain.errors import Unauthenticated

ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
SCOPES = ("billing.read", "billing.write", "rules.admin", "billing.audit.read")
LEEWAY_S = 30  # tolerated clock skew between the issuer and us


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    subject: str
    scopes: frozenset[str]


class TokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        tenant_claim: str,
        jwks: dict[str, Any] | None = None,
        hs256_secret: str = "",
        cache_size: int = 10_000,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if (jwks is None) == (not hs256_secret):
            raise ValueError("give exactly one of jwks or hs256_secret")
        self._issuer = issuer
        self._audience = audience
        self._tenant_claim = tenant_claim
        self._keys = jwt.PyJWKSet.from_dict(jwks) if jwks is not None else None
        self._secret = hs256_secret
        self._cache: dict[bytes, tuple[Principal, float]] = {}
        self._cache_size = cache_size
        self._wall_clock = wall_clock

    @classmethod
    def from_jwks_file(cls, path: str, **kwargs: Any) -> TokenVerifier:
        return cls(jwks=json.loads(Path(path).read_text()), **kwargs)

    def verify(self, token: str) -> Principal:
        digest = hashlib.sha256(token.encode()).digest()
        now = self._wall_clock()
        cached = self._cache.get(digest)
        if cached is not None:
            principal, expires_at = cached
            if now < expires_at + LEEWAY_S:
                return principal
            del self._cache[digest]
        claims = self._decode(token)
        principal = self._principal(claims)
        if len(self._cache) >= self._cache_size:
            self._evict(now)
        self._cache[digest] = (principal, float(claims["exp"]))
        return principal

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            if self._keys is not None:
                key, algorithms = self._signing_key(token)
            else:
                key, algorithms = self._secret, ["HS256"]
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the bearer token has expired") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"the bearer token is not valid: {exc}") from None
        # PyJWT checks expiry against the system time; check it against our clock as well,
        # so the cache and the first check agree.
        if float(claims["exp"]) + LEEWAY_S <= self._wall_clock():
            raise Unauthenticated("the bearer token has expired")
        return claims

    def _signing_key(self, token: str) -> tuple[Any, list[str]]:
        assert self._keys is not None
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        if kid is None and len(self._keys.keys) == 1:
            jwk = self._keys.keys[0]
        else:
            try:
                jwk = self._keys[str(kid)]
            except KeyError:
                raise jwt.InvalidTokenError(f"unknown signing key {kid!r}") from None
        algorithm = jwk.algorithm_name
        return jwk.key, [algorithm] if algorithm in ASYMMETRIC_ALGORITHMS else ASYMMETRIC_ALGORITHMS

    def _principal(self, claims: dict[str, Any]) -> Principal:
        tenant = claims.get(self._tenant_claim)
        if not isinstance(tenant, str) or not tenant or len(tenant) > 64:
            raise Unauthenticated(f"the bearer token has no usable {self._tenant_claim!r} claim")
        raw_scopes = claims.get("scope") or claims.get("scp") or ""
        scopes = raw_scopes.split() if isinstance(raw_scopes, str) else list(raw_scopes)
        return Principal(tenant, str(claims["sub"]), frozenset(scopes))

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

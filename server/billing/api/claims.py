"""The claims of a verified token, each with one strict type (ADR 0023).

PyJWT checks the signature, `iss` and `aud`; everything the server reads from the payload is
typed here, so a claim of the wrong shape is UNAUTHENTICATED with a plain message, never a
crash (INTERNAL) and never a lenient reading (a dict scope taken as its keys, `"exp": "9e9"`
taken as a number).

- `exp` (required), `nbf`, `iat`: JSON integers (not booleans, not strings, not fractions),
  between 0 and the end of year 9999. Checked against the server's clock with `LEEWAY_S`.
- `sub` (required): a non-empty string of at most `SUBJECT_MAX_CHARS` (the audit actor column).
- the tenant claim (`tenant_id` by default): a non-empty string of at most `TENANT_MAX_CHARS`.
- `scope` (OAuth 2.0, RFC 8693 section 4.2): a space-separated string; or, as some issuers
  send it, a JSON list of strings. `scp` is read the same way when `scope` is absent or null.
  At most `SCOPES_MAX` entries of at most `SCOPE_MAX_CHARS` each; no scope at all is no scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from billing.domain.errors import Unauthenticated

LEEWAY_S = 30  # tolerated clock skew between the issuer and us
NUMERIC_DATE_MAX = 253_402_300_799  # 9999-12-31T23:59:59Z
TENANT_MAX_CHARS = 64  # the tenant_id columns
SUBJECT_MAX_CHARS = 256  # the audit actor column
SCOPES_MAX = 64
SCOPE_MAX_CHARS = 128


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    subject: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class VerifiedToken:
    principal: Principal
    expires_at: int  # `exp`, seconds since the epoch


def read_claims(claims: Mapping[str, Any], tenant_claim: str, now: float) -> VerifiedToken:
    """The principal and expiry of a signature-checked payload, or `Unauthenticated`."""
    expires_at = _numeric_date(claims, "exp")
    if expires_at is None:
        raise Unauthenticated("the bearer token has no 'exp' claim")
    not_before = _numeric_date(claims, "nbf")
    issued_at = _numeric_date(claims, "iat")
    if expires_at + LEEWAY_S <= now:
        raise Unauthenticated("the bearer token has expired")
    if not_before is not None and not_before - LEEWAY_S > now:
        raise Unauthenticated("the bearer token is not valid yet (nbf)")
    if issued_at is not None and issued_at - LEEWAY_S > now:
        raise Unauthenticated("the bearer token was issued in the future (iat)")
    principal = Principal(
        tenant_id=_bounded_string(claims, tenant_claim, TENANT_MAX_CHARS),
        subject=_bounded_string(claims, "sub", SUBJECT_MAX_CHARS),
        scopes=_scopes(claims),
    )
    return VerifiedToken(principal, expires_at)


def _numeric_date(claims: Mapping[str, Any], name: str) -> int | None:
    if name not in claims:
        return None
    value = claims[name]
    # bool is an int subclass in Python: `true` must not pass as 1.
    if type(value) is not int:
        raise Unauthenticated(f"the bearer token's {name!r} claim must be an integer")
    if not 0 <= value <= NUMERIC_DATE_MAX:
        raise Unauthenticated(f"the bearer token's {name!r} claim is out of range")
    return value


def _bounded_string(claims: Mapping[str, Any], name: str, max_chars: int) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value or len(value) > max_chars:
        raise Unauthenticated(
            f"the bearer token has no usable {name!r} claim"
            f" (a non-empty string of at most {max_chars} characters)"
        )
    return value


def _scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    name = "scope" if claims.get("scope") is not None else "scp"
    raw = claims.get(name)
    if raw is None:
        return frozenset()
    if isinstance(raw, str):
        scopes = raw.split()
    elif isinstance(raw, list) and all(isinstance(s, str) and s and " " not in s for s in raw):
        scopes = raw
    else:
        raise Unauthenticated(
            f"the bearer token's {name!r} claim must be a space-separated string"
            " or a list of strings"
        )
    if len(scopes) > SCOPES_MAX or any(len(s) > SCOPE_MAX_CHARS for s in scopes):
        raise Unauthenticated(
            f"the bearer token's {name!r} claim holds more than {SCOPES_MAX} scopes"
            f" or a scope longer than {SCOPE_MAX_CHARS} characters"
        )
    return frozenset(scopes)

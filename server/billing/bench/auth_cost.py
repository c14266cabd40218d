"""The auth path's cost per call, measured with timeit: the interceptors a call passes
(auth, and the per-tenant rate limit where the code has one; since they are folded into one,
the turns and error steps too, the request checks left out) around a no-op handler, with a
token already verified (the common case), and the first verification of a new token per
algorithm. Runs against whatever `billing` is importable, so the same file measures a
baseline checkout: `python path/to/auth_cost.py` with each checkout's interpreter
(`--no-rate-limit` leaves the rate-limit interceptor out, to see its share).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import timeit
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from billing.api import interceptors
from billing.api.auth import TokenVerifier, mint_hs256_token

METHOD = "/billing.v1.CustomerService/GetCustomer"
CALLS = 20_000
MISSES = 300


class _Context:
    def __init__(self, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"), ("user-agent", "bench"))

    async def abort(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError(args)

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata


async def _noop(request: Any, context: Any) -> None:
    return None


def _chain(verifier: TokenVerifier) -> Any:
    behavior = _noop
    edge_cls = getattr(interceptors, "EdgeInterceptor", None)
    if edge_cls is not None:  # one interceptor: auth, rate limit, and turns, errors around them
        limiter = None
        if "--no-rate-limit" not in sys.argv:
            from billing.api.rate_limit import TenantRateLimiter

            limiter = TenantRateLimiter(10_000_000, 10_000_000)
        edge = edge_cls(verifier, {METHOD: "billing.read"}, limiter=limiter, check_requests=False)
        return edge.wrap(METHOD, behavior)
    limiter_cls = getattr(interceptors, "RateLimitInterceptor", None)
    if limiter_cls is not None and "--no-rate-limit" not in sys.argv:
        from billing.api.rate_limit import TenantRateLimiter

        behavior = limiter_cls(TenantRateLimiter(10_000_000, 10_000_000)).wrap(METHOD, behavior)
    auth_cls = getattr(interceptors, "AuthInterceptor")  # a checkout before the fold  # noqa: B009
    return auth_cls(verifier, {METHOD: "billing.read"}).wrap(METHOD, behavior)


def per_call_us(verifier: TokenVerifier, token: str) -> float:
    handle, context = _chain(verifier), _Context(token)
    loop = asyncio.new_event_loop()

    async def calls() -> None:
        for _ in range(CALLS):
            await handle(None, context)

    loop.run_until_complete(calls())  # warm: the token is verified and cached
    best = min(timeit.repeat(lambda: loop.run_until_complete(calls()), number=1, repeat=5))
    loop.close()
    return best / CALLS * 1e6


def first_verify_us(make_verifier: Any, tokens: list[str]) -> float:
    def run() -> None:
        verifier = make_verifier()
        for token in tokens:
            verifier.verify(token)

    return min(timeit.repeat(run, number=1, repeat=3)) / len(tokens) * 1e6


def _claims(i: int) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": "bench",
        "aud": "billing",
        "sub": f"svc-{i}",
        "tenant_id": "bench",
        "scope": "billing.read",
        "iat": now,
        "exp": now + 3600,
    }


def main() -> None:
    secret = "bench-secret-0123456789abcdef0123456789"

    def verifier(**keys: Any) -> TokenVerifier:
        return TokenVerifier(issuer="bench", audience="billing", tenant_claim="tenant_id", **keys)

    hs_token = mint_hs256_token(
        secret, tenant_id="bench", subject="s", issuer="bench", audience="billing", lifetime_s=3600
    )
    results: dict[str, float] = {
        "per_call_hs256_cached_us": per_call_us(verifier(hs256_secret=secret), hs_token),
        "first_verify_hs256_us": first_verify_us(
            lambda: verifier(hs256_secret=secret),
            [jwt.encode(_claims(i), secret, algorithm="HS256") for i in range(MISSES)],
        ),
    }
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks = {
        "keys": [
            {**json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key())), "kid": "r", "alg": "RS256"},
            {**json.loads(ECAlgorithm.to_jwk(ec_key.public_key())), "kid": "e", "alg": "ES256"},
        ]
    }
    for name, key, kid in (("rs256", rsa_key, "r"), ("es256", ec_key, "e")):
        algorithm = name.upper()
        tokens = [
            jwt.encode(_claims(i), key, algorithm=algorithm, headers={"kid": kid})
            for i in range(MISSES)
        ]
        results[f"per_call_{name}_cached_us"] = per_call_us(verifier(jwks=jwks), tokens[0])
        results[f"first_verify_{name}_us"] = first_verify_us(lambda: verifier(jwks=jwks), tokens)
    print(json.dumps({k: round(v, 2) for k, v in results.items()}))


if __name__ == "__main__":
    main()

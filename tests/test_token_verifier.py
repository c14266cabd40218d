"""TokenVerifier with a JWKS file (RS256), and its cache."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from billing.api.auth import TokenVerifier
from billing.domain.errors import Unauthenticated


@pytest.fixture(scope="module")
def keys():
    return {
        kid: rsa.generate_private_key(public_exponent=65537, key_size=2048) for kid in ("k1", "k2")
    }


@pytest.fixture
def jwks_file(tmp_path, keys):
    entries = []
    for kid, key in keys.items():
        jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
        entries.append(jwk)
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": entries}))
    return path


def sign(key, kid: str, **claims) -> str:  # type: ignore[no-untyped-def]
    now = int(time.time())
    payload = {
        "iss": "https://idp.example",
        "aud": "billing",
        "sub": "svc-orders",
        "org": "tenant-a",
        "scope": "billing.read billing.write",
        "exp": now + 300,
    }
    payload.update(claims)
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


def verifier(path, **kwargs) -> TokenVerifier:  # type: ignore[no-untyped-def]
    return TokenVerifier.from_jwks_file(
        str(path), issuer="https://idp.example", audience="billing", tenant_claim="org", **kwargs
    )


def test_rs256_token_from_jwks_gives_tenant_and_scopes(jwks_file, keys):
    principal = verifier(jwks_file).verify(sign(keys["k2"], "k2"))
    assert principal.tenant_id == "tenant-a"
    assert principal.subject == "svc-orders"
    assert principal.scopes == frozenset({"billing.read", "billing.write"})


def test_token_signed_by_one_key_but_naming_another_is_refused(jwks_file, keys):
    with pytest.raises(Unauthenticated):
        verifier(jwks_file).verify(sign(keys["k1"], "k2"))


def test_unknown_kid_is_refused(jwks_file, keys):
    with pytest.raises(Unauthenticated, match="unknown signing key"):
        verifier(jwks_file).verify(sign(keys["k1"], "k9"))


def test_hs256_token_is_refused_when_keys_are_asymmetric(jwks_file):
    forged = jwt.encode(
        {
            "iss": "https://idp.example",
            "aud": "billing",
            "sub": "x",
            "org": "t",
            "exp": int(time.time()) + 60,
        },
        "a-shared-secret-that-is-long-enough-for-hs256",
        algorithm="HS256",
        headers={"kid": "k1"},
    )
    with pytest.raises(Unauthenticated):
        verifier(jwks_file).verify(forged)


def test_verified_tokens_are_cached_until_they_expire(jwks_file, keys, monkeypatch):
    now = [time.time()]
    v = verifier(jwks_file, wall_clock=lambda: now[0])
    token = sign(keys["k1"], "k1", exp=int(now[0]) + 100)
    calls = []
    real_decode = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: calls.append(1) or real_decode(*a, **k))
    v.verify(token)
    v.verify(token)
    assert len(calls) == 1  # the second call was a cache hit
    now[0] += 1000  # long past exp and the leeway
    with pytest.raises(Unauthenticated, match="expired"):
        v.verify(token)


def test_scopes_as_a_list_claim(jwks_file, keys):
    principal = verifier(jwks_file).verify(sign(keys["k1"], "k1", scope=None, scp=["rules.admin"]))
    assert principal.scopes == frozenset({"rules.admin"})


@pytest.mark.parametrize("kid", [42, ["k1"], {"k": "k1"}, True])
def test_kid_that_is_not_a_string_is_refused(jwks_file, keys, kid):
    import base64

    def b64(data: object) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=")

    claims = {"iss": "https://idp.example", "aud": "billing", "sub": "s", "org": "t", "exp": 2**31}
    signing_input = b64({"alg": "RS256", "typ": "JWT", "kid": kid}) + b"." + b64(claims)
    signature = RSAAlgorithm(RSAAlgorithm.SHA256).sign(signing_input, keys["k1"])
    token = (signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()
    with pytest.raises(Unauthenticated, match="the bearer token is not valid"):
        verifier(jwks_file).verify(token)


def test_cached_is_the_fast_path_and_knows_only_verified_tokens(jwks_file, keys):
    v = verifier(jwks_file)
    token = sign(keys["k1"], "k1")
    assert v.cached(token) is None
    principal = v.verify(token)
    assert v.cached(token) == principal
    assert v.cached(sign(keys["k2"], "k2")) is None


def test_a_jwks_may_not_hold_a_shared_secret(tmp_path, keys):
    """An `oct` key would let whoever reads the JWKS mint tokens: it is skipped."""
    jwk = json.loads(RSAAlgorithm.to_jwk(keys["k1"].public_key()))
    path = tmp_path / "jwks.json"
    path.write_text(
        json.dumps(
            {
                "keys": [
                    {**jwk, "kid": "k1", "alg": "RS256"},
                    {"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0", "kid": "s"},
                ]
            }
        )
    )
    forged = jwt.encode(
        {"iss": "https://idp.example", "aud": "billing", "sub": "x", "org": "t", "exp": 2**31},
        "secret-secret-secret-secret-secret",
        algorithm="HS256",
        headers={"kid": "s"},
    )
    with pytest.raises(Unauthenticated, match="unknown signing key 's'"):
        verifier(path).verify(forged)
    assert verifier(path).verify(sign(keys["k1"], "k1")).tenant_id == "tenant-a"

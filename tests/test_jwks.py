"""Asymmetric tokens (RS256, ES256) from a JWKS file or URL over a real channel, and keys
rotated without a restart: a key added is accepted, a key removed is refused."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from billing.api.jwks import JwksFile, JwksUrl
from billing_client.v1 import customers_pb2 as pb
from billing_client.v1 import customers_pb2_grpc
from conftest import Database, ThreadedServer, auth, server_settings

ISSUER = "https://idp.example"
ALGORITHMS = {"RS256": "rsa", "ES256": "ec"}


class Key:
    def __init__(self, kid: str, algorithm: str) -> None:
        self.kid, self.algorithm = kid, algorithm
        if algorithm == "RS256":
            self.private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
            public = json.loads(ECAlgorithm.to_jwk(self.private.public_key()))
        self.jwk = {**public, "kid": kid, "alg": algorithm, "use": "sig"}

    def token(self, tenant: str = "", **claims: object) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "aud": "billing",
            "sub": "svc-orders",
            "tenant_id": tenant or f"t_{uuid.uuid4().hex[:12]}",
            "scope": "billing.read",
            "iat": now,
            "exp": now + 300,
            **claims,
        }
        return jwt.encode(
            payload, self.private, algorithm=self.algorithm, headers={"kid": self.kid}
        )


@pytest.fixture(scope="module")
def keys() -> dict[str, Key]:
    return {
        "rsa1": Key("rsa1", "RS256"),
        "ec1": Key("ec1", "ES256"),
        "rsa2": Key("rsa2", "RS256"),
    }


def write_jwks(path: Path, *keys: Key) -> None:
    """Atomically, as the docs ask: write a new file and rename it over the old one."""
    staged = path.with_suffix(".tmp")
    staged.write_text(json.dumps({"keys": [k.jwk for k in keys]}))
    os.replace(staged, path)


@pytest.fixture
def start_server(make_database: Callable[[str], Database]) -> Iterator[Callable[..., Any]]:
    running: list[ThreadedServer] = []

    def start(**settings: object) -> customers_pb2_grpc.CustomerServiceStub:
        database = make_database("sqlite")
        values: dict[str, object] = {"auth_hs256_secret": "", "auth_issuer": ISSUER}
        server = ThreadedServer(server_settings(database.async_url, **{**values, **settings}))
        running.append(server)
        channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
        return customers_pb2_grpc.CustomerServiceStub(channel)

    yield start
    for server in running:
        server.stop()


def list_code(customers: customers_pb2_grpc.CustomerServiceStub, token: str) -> grpc.StatusCode:
    try:
        customers.ListCustomers(pb.ListCustomersRequest(), metadata=auth(token))
    except grpc.RpcError as error:
        code: grpc.StatusCode = error.code()
        return code
    return grpc.StatusCode.OK


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_asymmetric_token_from_a_jwks_file_over_grpc(tmp_path, start_server, keys, algorithm):
    path = tmp_path / "jwks.json"
    write_jwks(path, keys["rsa1"], keys["ec1"])
    customers = start_server(auth_jwks_file=str(path))
    key = keys["rsa1"] if algorithm == "RS256" else keys["ec1"]
    assert list_code(customers, key.token()) == grpc.StatusCode.OK
    # The same key under the other's kid, a forged HS256 token, another issuer: refused.
    other = keys["ec1"] if algorithm == "RS256" else keys["rsa1"]
    swapped = jwt.encode(
        jwt.decode(key.token(), options={"verify_signature": False}),
        key.private,
        algorithm=algorithm,
        headers={"kid": other.kid},
    )
    hs256 = jwt.encode({"iss": ISSUER}, "x" * 32, algorithm="HS256", headers={"kid": key.kid})
    for bad in (swapped, hs256, key.token(iss="https://other.example")):
        assert list_code(customers, bad) == grpc.StatusCode.UNAUTHENTICATED


def test_jwks_file_rotation_without_restart(tmp_path, start_server, keys):
    path = tmp_path / "jwks.json"
    write_jwks(path, keys["rsa1"])
    customers = start_server(auth_jwks_file=str(path), auth_jwks_file_check_seconds=0)
    old, new = keys["rsa1"].token(), keys["ec1"].token()
    assert list_code(customers, old) == grpc.StatusCode.OK
    assert list_code(customers, new) == grpc.StatusCode.UNAUTHENTICATED

    write_jwks(path, keys["rsa1"], keys["ec1"])  # the issuer publishes its next key
    assert list_code(customers, new) == grpc.StatusCode.OK
    assert list_code(customers, old) == grpc.StatusCode.OK

    write_jwks(path, keys["ec1"])  # and retires the old one: refused, although cached
    assert list_code(customers, old) == grpc.StatusCode.UNAUTHENTICATED
    assert list_code(customers, new) == grpc.StatusCode.OK

    path.write_text("{not json")  # a broken file keeps the last good keys
    assert list_code(customers, keys["ec1"].token()) == grpc.StatusCode.OK


class JwksHandler(BaseHTTPRequestHandler):
    served: dict[str, Any]
    fetches: list[float]

    def do_GET(self) -> None:
        self.fetches.append(time.monotonic())
        body = json.dumps(self.served).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def jwks_url() -> Iterator[tuple[str, dict[str, Any], list[float]]]:
    """A tiny local issuer serving a JWKS it lets the test change, and counting fetches."""
    served: dict[str, Any] = {"keys": []}
    fetches: list[float] = []
    handler = type("Handler", (JwksHandler,), {"served": served, "fetches": fetches})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/jwks.json", served, fetches
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_asymmetric_token_from_a_jwks_url_over_grpc(start_server, jwks_url, keys, algorithm):
    url, served, fetches = jwks_url
    served["keys"] = [keys["rsa1"].jwk, keys["ec1"].jwk]
    customers = start_server(auth_jwks_url=url)
    key = keys["rsa1"] if algorithm == "RS256" else keys["ec1"]
    assert list_code(customers, key.token()) == grpc.StatusCode.OK
    assert len(fetches) == 1  # at start-up


def test_jwks_url_refetched_on_an_unknown_kid(start_server, jwks_url, keys):
    url, served, fetches = jwks_url
    served["keys"] = [keys["rsa1"].jwk]
    customers = start_server(
        auth_jwks_url=url, auth_jwks_min_refetch_seconds=0, auth_jwks_ttl_seconds=3600
    )
    assert list_code(customers, keys["rsa1"].token()) == grpc.StatusCode.OK
    served["keys"] = [keys["rsa1"].jwk, keys["ec1"].jwk]
    assert list_code(customers, keys["ec1"].token()) == grpc.StatusCode.OK
    assert len(fetches) == 2


def test_jwks_url_unknown_kids_do_not_hammer_the_issuer(start_server, jwks_url, keys):
    url, served, fetches = jwks_url
    served["keys"] = [keys["rsa1"].jwk]
    customers = start_server(
        auth_jwks_url=url, auth_jwks_min_refetch_seconds=3600, auth_jwks_ttl_seconds=3600
    )
    for i in range(20):
        assert (
            list_code(customers, Key(f"k{i}", "ES256").token()) == grpc.StatusCode.UNAUTHENTICATED
        )
    assert len(fetches) == 1  # the start-up fetch; no kid made another inside the interval


def test_jwks_url_ttl_refetch_drops_a_removed_key(jwks_url, keys):
    url, served, fetches = jwks_url
    served["keys"] = [keys["rsa1"].jwk, keys["ec1"].jwk]
    now = [1000.0]
    source = JwksUrl(url, ttl_s=300, min_refetch_s=30, clock=lambda: now[0])
    assert source.find("rsa1") is not None
    served["keys"] = [keys["ec1"].jwk]
    now[0] += 299
    assert not source.refresh_due()
    now[0] += 1
    assert source.refresh_due()
    generation = source.generation
    asyncio.run(source.refresh())
    assert source.find("rsa1") is None and source.find("ec1") is not None
    assert source.generation == generation + 1
    asyncio.run(source.refresh())  # not due again: no fetch
    assert len(fetches) == 2


def test_jwks_url_down_keeps_the_last_good_keys(jwks_url, keys):
    url, served, fetches = jwks_url
    served["keys"] = [keys["rsa1"].jwk]
    now = [1000.0]
    source = JwksUrl(url, ttl_s=60, min_refetch_s=10, clock=lambda: now[0])
    served.clear()  # the issuer now answers something that is not a JWKS
    now[0] += 61
    asyncio.run(source.refresh())
    assert source.find("rsa1") is not None
    assert len(fetches) == 2
    now[0] += 5  # still due (TTL) but inside the refetch interval: no fetch
    assert not source.refresh_due()
    asyncio.run(source.refresh(unknown_kid=True))
    assert len(fetches) == 2


def test_jwks_file_is_checked_at_most_once_per_interval(tmp_path, keys):
    path = tmp_path / "jwks.json"
    write_jwks(path, keys["rsa1"])
    now = [0.0]
    source = JwksFile(path, check_interval_s=1.0, clock=lambda: now[0])
    write_jwks(path, keys["ec1"])
    source.reload_if_changed()
    assert source.find("rsa1") is not None  # not yet: the interval has not passed
    now[0] += 1.0
    source.reload_if_changed()
    assert source.find("rsa1") is None and source.find("ec1") is not None
    assert source.generation == 1
    now[0] += 1.0
    source.reload_if_changed()  # unchanged: same keys, same generation
    assert source.generation == 1


def test_jwks_without_usable_asymmetric_keys_is_refused_at_start(tmp_path):
    from billing.api.jwks import parse_jwks

    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}))
    with pytest.raises(ValueError, match="no usable asymmetric key"):
        JwksFile(path)
    for document in ("[]", '{"keys": 3}', "[" * 100_000):
        with pytest.raises(ValueError):
            parse_jwks(document)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BILLING_AUTH_JWKS_URL": "http://idp.example/jwks.json"}, "must be https"),
        ({"BILLING_AUTH_JWKS_URL": "file:///etc/jwks.json"}, "must be https"),
        (
            {"BILLING_AUTH_JWKS_URL": "https://idp.example/j", "BILLING_AUTH_JWKS_FILE": "j.json"},
            "set one of BILLING_AUTH_JWKS_FILE, BILLING_AUTH_JWKS_URL or",
        ),
        (
            {"BILLING_AUTH_JWKS_TTL_SECONDS": "10", "BILLING_AUTH_JWKS_MIN_REFETCH_SECONDS": "30"},
            "BILLING_AUTH_JWKS_TTL_SECONDS must be at least",
        ),
    ],
)
def test_jwks_settings_are_checked(env, message):
    from billing.config import Settings, SettingsError

    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env)
    assert message in str(refused.value)
    assert Settings.from_env({"BILLING_AUTH_JWKS_URL": "http://127.0.0.1:8080/jwks.json"})

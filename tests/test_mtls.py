"""Optional (mutual) TLS, with certificates made at test time: with a client CA set, a client
without a certificate that CA signed is refused in the handshake; the token is still needed."""

from __future__ import annotations

import datetime
import ipaddress
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from billing.config import Settings, SettingsError
from billing_client.v1 import customers_pb2 as pb
from billing_client.v1 import customers_pb2_grpc
from conftest import Database, ThreadedServer, auth, make_token, server_settings


@dataclass
class Issued:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def issue(name: str, issuer: Issued | None = None, *, server: bool = False) -> Issued:
    """A CA (no issuer) or a leaf certificate signed by `issuer`."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is not None:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    signer = issuer.key if issuer else key
    return Issued(key, builder.sign(signer, hashes.SHA256()))


@dataclass
class Pki:
    ca: Issued
    server: Issued
    client: Issued
    rogue_client: Issued  # signed by a CA the server does not trust
    files: dict[str, str]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory: Path = tmp_path_factory.mktemp("pki")
    ca = issue("billing test CA")
    server = issue("billing server", ca, server=True)
    client = issue("svc-orders", ca)
    rogue_client = issue("svc-rogue", issue("rogue CA"))
    files = {}
    for name, data in [
        ("ca.pem", ca.cert_pem),
        ("server.pem", server.cert_pem),
        ("server.key", server.key_pem),
    ]:
        (directory / name).write_bytes(data)
        files[name] = str(directory / name)
    return Pki(ca, server, client, rogue_client, files)


@pytest.fixture
def start_tls_server(
    make_database: Callable[[str], Database], pki: Pki
) -> Iterator[Callable[..., int]]:
    running: list[ThreadedServer] = []

    def start(*, mutual: bool) -> int:
        settings = server_settings(
            make_database("sqlite").async_url,
            tls_cert_file=pki.files["server.pem"],
            tls_key_file=pki.files["server.key"],
            tls_client_ca_file=pki.files["ca.pem"] if mutual else "",
        )
        running.append(ThreadedServer(settings))
        return running[-1].port

    yield start
    for server in running:
        server.stop()


def call(port: int, pki: Pki, client: Issued | None) -> grpc.StatusCode:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki.ca.cert_pem,
        private_key=client.key_pem if client else None,
        certificate_chain=client.cert_pem if client else None,
    )
    token = auth(make_token(f"t_{uuid.uuid4().hex[:12]}"))
    with grpc.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
        customers = customers_pb2_grpc.CustomerServiceStub(channel)
        try:
            customers.ListCustomers(pb.ListCustomersRequest(), metadata=token, timeout=10)
        except grpc.RpcError as error:
            code: grpc.StatusCode = error.code()
            return code
    return grpc.StatusCode.OK


def test_mutual_tls_refuses_clients_without_a_trusted_certificate(start_tls_server, pki):
    port = start_tls_server(mutual=True)
    assert call(port, pki, pki.client) == grpc.StatusCode.OK
    assert call(port, pki, None) == grpc.StatusCode.UNAVAILABLE  # handshake refused
    assert call(port, pki, pki.rogue_client) == grpc.StatusCode.UNAVAILABLE
    with grpc.insecure_channel(f"127.0.0.1:{port}") as plaintext:
        customers = customers_pb2_grpc.CustomerServiceStub(plaintext)
        with pytest.raises(grpc.RpcError) as failure:
            customers.ListCustomers(pb.ListCustomersRequest(), timeout=10)
        assert failure.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_client_certificate_does_not_replace_the_token(start_tls_server, pki):
    port = start_tls_server(mutual=True)
    credentials = grpc.ssl_channel_credentials(
        pki.ca.cert_pem, pki.client.key_pem, pki.client.cert_pem
    )
    with grpc.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
        customers = customers_pb2_grpc.CustomerServiceStub(channel)
        with pytest.raises(grpc.RpcError) as failure:
            customers.ListCustomers(pb.ListCustomersRequest(), timeout=10)
        assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_tls_without_a_client_ca_takes_any_client(start_tls_server, pki):
    port = start_tls_server(mutual=False)
    assert call(port, pki, None) == grpc.StatusCode.OK
    assert call(port, pki, pki.client) == grpc.StatusCode.OK


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BILLING_TLS_CERT_FILE": "c.pem"}, "set both BILLING_TLS_CERT_FILE and"),
        ({"BILLING_TLS_KEY_FILE": "k.pem"}, "set both BILLING_TLS_CERT_FILE and"),
        ({"BILLING_TLS_CLIENT_CA_FILE": "ca.pem"}, "BILLING_TLS_CLIENT_CA_FILE (mutual TLS) needs"),
    ],
)
def test_tls_settings_are_checked(env, message):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env)
    assert message in str(refused.value)

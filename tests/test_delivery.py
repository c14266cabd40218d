"""Invoice email against a real SMTP server (aiosmtpd, in a thread, on a real port)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from fpdf import FPDF

from billing.delivery import (
    DeliveryFailed,
    Security,
    SmtpSettings,
    SmtpUrlInvalid,
    build_invoice_message,
    send_invoice_email,
)
from workers import free_port  # this worker's own ports (ADR 0056); others import it here

SENDER = "billing@example.com"
REFUSED = "nobody@example.com"
REFUSED_REPLY = "550 5.1.1 <nobody@example.com>: no such user"


@dataclass
class Inbox:
    """An SMTP handler that keeps what it receives; refuses REFUSED; can be slow."""

    received: list[Envelope] = field(default_factory=list)
    delay_s: float = 0.0

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address == REFUSED:
            return REFUSED_REPLY
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(self.delay_s)
        self.received.append(envelope)
        return "250 Message accepted"


@dataclass
class Server:
    inbox: Inbox
    port: int

    def settings(self, **query: str) -> SmtpSettings:
        params = {"from": SENDER, "starttls": "false", **query}
        qs = "&".join(f"{k}={v}" for k, v in params.items())
        return SmtpSettings.from_url(f"smtp://127.0.0.1:{self.port}?{qs}")

    def message(self) -> EmailMessage:
        (envelope,) = self.inbox.received
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


def start(inbox: Inbox, port: int | None = None, **smtp_options: Any) -> Iterator[Server]:
    port = port or free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **smtp_options)
    controller.start()
    try:
        yield Server(inbox, port)
    finally:
        controller.stop()


@pytest.fixture
def server() -> Iterator[Server]:
    yield from start(Inbox())


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"billing", b"s3cret/pass")
    return AuthResult(success=ok, handled=False)  # False: the server replies 535 itself


@pytest.fixture
def auth_server() -> Iterator[Server]:
    # Plain-text AUTH is allowed here only because the test server has no certificate.
    yield from start(Inbox(), authenticator=authenticate, auth_require_tls=False)


@pytest.fixture(scope="module")
def pdf() -> bytes:
    doc = FPDF()
    doc.add_page()
    doc.set_font("helvetica", size=12)
    doc.cell(text="Invoice INV-1")
    doc.image(_noise_png(), x=10, y=30, w=50)  # binary content, to prove bytes survive
    return bytes(doc.output())


def _noise_png() -> Any:
    import random

    from PIL import Image

    rng = random.Random(7)
    return Image.frombytes("RGB", (64, 64), bytes(rng.randrange(256) for _ in range(64 * 64 * 3)))


def send(settings: SmtpSettings, pdf: bytes, to: str = "jane@example.org") -> str:
    return asyncio.run(
        send_invoice_email(
            settings,
            to,
            "Your invoice INV-1 from Acme",
            "Hello Jane,\n\nyour invoice is attached.\n",
            pdf,
            "INV-1.pdf",
        )
    )


# --- sending ------------------------------------------------------------------------------


def test_invoice_email_arrives_with_the_pdf_intact(server: Server, pdf: bytes) -> None:
    message_id = send(server.settings(), pdf)

    (envelope,) = server.inbox.received
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == ["jane@example.org"]
    message = server.message()
    assert message["To"] == "jane@example.org"
    assert message["From"] == SENDER
    assert message["Subject"] == "Your invoice INV-1 from Acme"
    assert message["Message-ID"] == message_id
    assert message_id.startswith("<") and message_id.endswith("@example.com>")
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and "your invoice is attached" in body.get_content()
    (attachment,) = message.iter_attachments()
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "INV-1.pdf"
    assert attachment.get_content() == pdf


def test_each_email_has_its_own_message_id(server: Server, pdf: bytes) -> None:
    assert send(server.settings(), pdf) != send(server.settings(), pdf)


@pytest.fixture
def slow_server() -> Iterator[Server]:
    yield from start(Inbox(delay_s=0.5))  # takes half a second to accept a message


def test_sending_does_not_block_the_event_loop(slow_server: Server, pdf: bytes) -> None:
    settings = slow_server.settings()

    async def main() -> int:
        ticks = 0

        async def heartbeat() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        beat = asyncio.create_task(heartbeat())
        await send_invoice_email(settings, "jane@example.org", "s", "t", pdf, "a.pdf")
        beat.cancel()
        return ticks

    assert asyncio.run(main()) >= 20  # about 50 if the loop ran freely meanwhile
    assert len(slow_server.inbox.received) == 1


def test_login_with_percent_encoded_password(auth_server: Server, pdf: bytes) -> None:
    url = f"smtp://billing:s3cret%2Fpass@127.0.0.1:{auth_server.port}?from={SENDER}&starttls=false"
    send(SmtpSettings.from_url(url), pdf)
    assert len(auth_server.inbox.received) == 1


# --- failures -----------------------------------------------------------------------------


def test_refused_connection_is_delivery_failed(pdf: bytes) -> None:
    port = free_port()  # nothing listens there
    settings = SmtpSettings.from_url(f"smtp://127.0.0.1:{port}?from={SENDER}&starttls=false")

    with pytest.raises(DeliveryFailed, match=f"127.0.0.1:{port}.*cannot talk") as caught:
        send(settings, pdf)
    assert caught.value.smtp_code is None
    assert not caught.value.permanent


def test_refused_recipient_carries_the_servers_reply(server: Server, pdf: bytes) -> None:
    with pytest.raises(DeliveryFailed, match=re.escape(REFUSED_REPLY)) as e:
        send(server.settings(), pdf, to=REFUSED)
    assert e.value.smtp_code == 550
    assert e.value.permanent
    assert server.inbox.received == []


def test_wrong_password_carries_the_servers_reply(auth_server: Server, pdf: bytes) -> None:
    url = f"smtp://billing:wrong@127.0.0.1:{auth_server.port}?from={SENDER}&starttls=false"
    with pytest.raises(DeliveryFailed, match="535") as caught:
        send(SmtpSettings.from_url(url), pdf)
    assert caught.value.smtp_code == 535


def test_starttls_is_never_skipped(server: Server, pdf: bytes) -> None:
    settings = SmtpSettings.from_url(f"smtp://127.0.0.1:{server.port}?from={SENDER}")
    assert settings.security is Security.STARTTLS

    with pytest.raises(DeliveryFailed, match="STARTTLS"):
        send(settings, pdf)
    assert server.inbox.received == []


def test_bad_message_is_refused_before_connecting(pdf: bytes) -> None:
    settings = SmtpSettings.from_url(f"smtp://127.0.0.1:1?from={SENDER}")
    with pytest.raises(ValueError, match="one email address"):
        build_invoice_message(settings, "a@x.org, b@x.org", "s", "t", pdf, "a.pdf")
    with pytest.raises(ValueError, match="line breaks"):
        build_invoice_message(settings, "a@x.org", "s\r\nBcc: evil@x.org", "t", pdf, "a.pdf")
    with pytest.raises(ValueError, match="not a PDF"):
        build_invoice_message(settings, "a@x.org", "s", "t", b"<html>", "a.pdf")
    with pytest.raises(ValueError, match="plain file name"):
        build_invoice_message(settings, "a@x.org", "s", "t", pdf, "../a.pdf")


# --- settings -----------------------------------------------------------------------------


def test_settings_from_url() -> None:
    plain = SmtpSettings.from_url(
        "smtp://user:pass@mail.example.com:2525?from=billing@example.com&starttls=false"
    )
    assert (plain.host, plain.port, plain.security) == ("mail.example.com", 2525, Security.PLAIN)
    assert (plain.username, plain.password, plain.sender) == ("user", "pass", SENDER)
    assert "pass" not in repr(plain)
    assert "pass" not in plain.redacted_url()

    implicit = SmtpSettings.from_url("smtps://u:p@mail.example.com?from=billing@example.com")
    assert (implicit.port, implicit.security) == (465, Security.TLS)
    assert SmtpSettings.from_url("smtp://m.example.com?from=b@example.com").port == 587
    assert SmtpSettings.from_url("smtp://m?from=b@example.com&starttls=false").port == 25

    named = SmtpSettings.from_url(
        "smtp://m.example.com?from=Acme%20Billing%20%3Cbilling%40example.com%3E&timeout=5"
    )
    assert named.sender == "Acme Billing <billing@example.com>"
    assert named.sender_address == SENDER
    assert named.timeout_s == 5


def test_bad_url_names_every_problem_and_hides_the_password() -> None:
    with pytest.raises(SmtpUrlInvalid) as caught:
        SmtpSettings.from_url("smtps://u:hunter2@?starttls=true&timeout=0&tls=1")
    message = str(caught.value)
    assert "hunter2" not in message
    for problem in (
        "a host is required",
        "unknown parameter(s) tls",
        "from=<address> is required",
        "starttls=true makes no sense with smtps://",
        "timeout='0' must be seconds",
    ):
        assert problem in message
    with pytest.raises(SmtpUrlInvalid, match="scheme must be smtp or smtps"):
        SmtpSettings.from_url("http://example.com?from=b@example.com")

"""Billing email, sent with the standard library: an invoice (one MIME message with the PDF
attached) or a plain-text notice (dunning).

smtplib blocks, so the whole SMTP conversation runs in a worker thread
(`asyncio.to_thread`); the event loop serving gRPC never waits on a mail server. The
conversation is bounded by the settings' timeout per connect and per command.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from billing.delivery._settings import Security, SmtpSettings

# Most providers refuse messages above 10 to 25 MB; an invoice PDF is tens of kB, so
# anything near this is a bug upstream.
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_SUBJECT_CHARS = 998  # RFC 5322 line length limit
PDF_MAGIC = b"%PDF-"
_TOKEN = re.compile(r"[A-Za-z0-9_.-]{1,200}")  # the left part of a Message-ID we make


class DeliveryFailed(Exception):
    """The mail server could not be reached or did not accept the message.

    `smtp_code` and `smtp_reply` are the server's answer when there was one (None and ""
    for a refused connection or a timeout). `permanent` is true for a 5xx reply: sending
    the same message again will fail the same way.
    """

    def __init__(self, message: str, *, smtp_code: int | None = None, smtp_reply: str = "") -> None:
        super().__init__(message)
        self.smtp_code = smtp_code
        self.smtp_reply = smtp_reply

    @property
    def permanent(self) -> bool:
        return self.smtp_code is not None and 500 <= self.smtp_code < 600


def build_invoice_message(
    settings: SmtpSettings,
    to: str,
    subject: str,
    text: str,
    pdf: bytes,
    filename: str,
    *,
    message_id: str = "",
    date: datetime | None = None,
) -> EmailMessage:
    """The message: plain-text body, the PDF as an attachment, and the Message-ID and Date
    given (a fresh Message-ID and now without them: a send recorded before it is made gives
    both, so sending it again makes the same message, ADR 0058).

    Raises ValueError for a caller's mistake (no address, a header with a line break, an
    attachment that is not a PDF or is too large); nothing has been sent then.
    """
    _check(to, subject, pdf, filename)
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(date or datetime.now(UTC))
    # The domain is given so that make_msgid does not look up this host's name (DNS).
    message["Message-ID"] = message_id or make_msgid(
        domain=settings.sender_address.rpartition("@")[2]
    )
    message.set_content(text)
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    return message


def build_text_message(
    settings: SmtpSettings, to: str, subject: str, text: str, reference: str
) -> EmailMessage:
    """A plain-text message whose Message-ID is made from `reference` (a due item's id): the
    same notice sent again after a crash carries the same Message-ID, which receiving
    systems use to drop the copy. Raises ValueError for a caller's mistake (no address, a
    header with a line break, a reference that is not a plain token)."""
    problems = _header_problems(to, subject)
    if not reference or not _TOKEN.fullmatch(reference):
        problems.append(f"reference={reference!r} must be letters, digits, '_', '-' or '.'")
    if problems:
        raise ValueError("notice email: " + "; ".join(problems))
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = f"<{reference}@{settings.sender_address.rpartition('@')[2]}>"
    message.set_content(text)
    return message


async def send_text_email(
    settings: SmtpSettings, to: str, subject: str, text: str, reference: str
) -> str:
    """Send a plain-text email to `to`; its Message-ID (with angle brackets). Raises
    ValueError for a bad message and DeliveryFailed when the server cannot be reached or
    refuses it."""
    message = build_text_message(settings, to, subject, text, reference)
    await asyncio.to_thread(send_message, settings, message, parseaddr(to)[1])
    return str(message["Message-ID"])


async def send_invoice_email(
    settings: SmtpSettings,
    to: str,
    subject: str,
    text: str,
    pdf: bytes,
    filename: str,
    *,
    message_id: str = "",
    date: datetime | None = None,
) -> str:
    """Send the invoice to `to` and return the message's Message-ID (with its angle
    brackets), for the delivery record and for matching bounces.

    Raises ValueError for a bad message (see `build_invoice_message`) and DeliveryFailed
    when the server cannot be reached or refuses the message.
    """
    message = build_invoice_message(
        settings, to, subject, text, pdf, filename, message_id=message_id, date=date
    )
    recipient = parseaddr(to)[1]
    await asyncio.to_thread(send_message, settings, message, recipient)
    return str(message["Message-ID"])


def reference_message_id(settings: SmtpSettings, reference: str) -> str:
    """`<reference@sender's domain>`; ValueError unless `reference` is a plain token."""
    if not reference or not _TOKEN.fullmatch(reference):
        raise ValueError(f"reference={reference!r} must be letters, digits, '_', '-' or '.'")
    return f"<{reference}@{settings.sender_address.rpartition('@')[2]}>"


def send_message(settings: SmtpSettings, message: EmailMessage, recipient: str) -> None:
    """Blocking: one SMTP session that delivers `message` to `recipient`."""
    where = f"{settings.host}:{settings.port}"
    try:
        with _connect(settings) as client:
            if settings.security is Security.STARTTLS:
                client.starttls(context=ssl.create_default_context())
            if settings.username:
                client.login(settings.username, settings.password)
            client.send_message(message, from_addr=settings.sender_address, to_addrs=[recipient])
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = exc.recipients.get(recipient, (None, b""))
        raise _failed(f"{where} refused recipient {recipient}", code, reply) from exc
    except smtplib.SMTPResponseException as exc:  # sender refused, data refused, auth...
        raise _failed(f"{where} said no", exc.smtp_code, exc.smtp_error) from exc
    except smtplib.SMTPNotSupportedError as exc:  # e.g. no STARTTLS: never fall back to plain
        raise DeliveryFailed(f"SMTP delivery via {where} failed: {exc}") from exc
    except smtplib.SMTPException as exc:
        raise DeliveryFailed(f"SMTP delivery via {where} failed: {exc}") from exc
    except OSError as exc:  # refused, unreachable, timeout, TLS handshake or certificate
        raise DeliveryFailed(
            f"SMTP delivery via {where} failed: cannot talk to the server: {exc}"
        ) from exc


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.security is Security.TLS:
        return smtplib.SMTP_SSL(
            settings.host,
            settings.port,
            local_hostname=settings.helo,
            timeout=settings.timeout_s,
            context=ssl.create_default_context(),
        )
    return smtplib.SMTP(
        settings.host, settings.port, local_hostname=settings.helo, timeout=settings.timeout_s
    )


def _failed(what: str, code: int | None, reply: bytes | str) -> DeliveryFailed:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return DeliveryFailed(
        f"SMTP delivery failed: {what}: {code} {text}", smtp_code=code, smtp_reply=text
    )


def _header_problems(to: str, subject: str) -> list[str]:
    problems = []
    address = parseaddr(to)[1]
    if "@" not in address or "," in to:
        problems.append(f"to={to!r} must be one email address")
    if not subject.strip() or len(subject) > MAX_SUBJECT_CHARS:
        problems.append(f"the subject must be 1 to {MAX_SUBJECT_CHARS} characters")
    if any(c in value for value in (to, subject) for c in "\r\n"):
        problems.append("headers may not contain line breaks")
    return problems


def _check(to: str, subject: str, pdf: bytes, filename: str) -> None:
    problems = _header_problems(to, subject)
    if not pdf.startswith(PDF_MAGIC):
        problems.append("the attachment is not a PDF")
    if len(pdf) > MAX_ATTACHMENT_BYTES:
        problems.append(f"the PDF is {len(pdf)} bytes; at most {MAX_ATTACHMENT_BYTES}")
    if not filename or any(c in filename for c in "/\\\r\n"):
        problems.append(f"filename={filename!r} must be a plain file name")
    if problems:
        raise ValueError("invoice email: " + "; ".join(problems))

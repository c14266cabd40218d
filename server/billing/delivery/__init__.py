"""Invoice delivery by email over SMTP, configured by one URL. No gRPC, no database."""

from billing.delivery._settings import (
    DEFAULT_PORTS,
    DEFAULT_TIMEOUT_S,
    MAX_TIMEOUT_S,
    Security,
    SmtpSettings,
    SmtpUrlInvalid,
    redact,
)
from billing.delivery._smtp import (
    MAX_ATTACHMENT_BYTES,
    DeliveryFailed,
    build_invoice_message,
    send_invoice_email,
    send_message,
)

__all__ = [
    "DEFAULT_PORTS",
    "DEFAULT_TIMEOUT_S",
    "MAX_ATTACHMENT_BYTES",
    "MAX_TIMEOUT_S",
    "DeliveryFailed",
    "Security",
    "SmtpSettings",
    "SmtpUrlInvalid",
    "build_invoice_message",
    "redact",
    "send_invoice_email",
    "send_message",
]

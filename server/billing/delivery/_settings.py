"""SMTP settings from one URL, e.g. from the environment:

    smtp://user:pass@mail.example.com:587?from=billing@example.com          (STARTTLS)
    smtp://localhost:25?from=billing@example.com&starttls=false            (plain)
    smtps://user:pass@mail.example.com?from=Acme%20Billing%20<billing@example.com>

`smtp://` upgrades with STARTTLS unless `starttls=false`, and refuses to go on if the server
does not offer it; `smtps://` is TLS from the first byte. User and password are
percent-decoded. Every problem in a URL is reported at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import parseaddr
from enum import StrEnum
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_TIMEOUT_S = 30.0
# A send slower than this is a dead server, not a slow one; bounds a worker thread's wait.
MAX_TIMEOUT_S = 300.0
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_PARAMS = frozenset({"from", "starttls", "timeout", "helo"})


class Security(StrEnum):
    PLAIN = "plain"  # no encryption: a local relay or a test server only
    STARTTLS = "starttls"
    TLS = "tls"  # implicit TLS (smtps)


DEFAULT_PORTS: dict[Security, int] = {Security.TLS: 465, Security.STARTTLS: 587, Security.PLAIN: 25}


class SmtpUrlInvalid(ValueError):
    """An SMTP URL that cannot be used; the message names every problem."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str  # the From header, e.g. "Acme Billing <billing@example.com>"
    security: Security = Security.STARTTLS
    username: str = ""
    password: str = field(default="", repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S  # per connect and per command
    helo: str | None = None  # the name we greet with; None: this machine's FQDN

    @property
    def sender_address(self) -> str:
        """The bare address of `sender`, for the envelope (MAIL FROM)."""
        return parseaddr(self.sender)[1]

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        problems: list[str] = []
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in {"smtp", "smtps"}:
            problems.append(f"scheme must be smtp or smtps, not {parts.scheme!r}")
        try:
            host, port = parts.hostname or "", parts.port
        except ValueError as exc:  # a port that is not a number, or out of range
            host, port = parts.hostname or "", None
            problems.append(str(exc))
        if not host:
            problems.append("a host is required")

        query = parse_qs(parts.query, keep_blank_values=True)
        unknown = sorted(set(query) - _PARAMS)
        if unknown:
            known = ", ".join(sorted(_PARAMS))
            problems.append(f"unknown parameter(s) {', '.join(unknown)}; known: {known}")
        for name, values in query.items():
            if len(values) > 1:
                problems.append(f"parameter {name} is given {len(values)} times")
        params = {name: values[-1] for name, values in query.items()}

        sender = params.get("from", "")
        if not sender:
            problems.append("from=<address> is required: the sender of invoice mail")
        elif "@" not in parseaddr(sender)[1]:
            problems.append(f"from={sender!r} is not an email address")
        security = _security(scheme, params.get("starttls"), problems)
        timeout = _timeout(params.get("timeout"), problems)
        if (parts.password is not None) and not parts.username:
            problems.append("a password needs a user")
        if problems:
            raise SmtpUrlInvalid(f"SMTP URL {redact(url)!r}: " + "; ".join(problems))
        return cls(
            host=host,
            port=port or DEFAULT_PORTS[security],
            sender=sender,
            security=security,
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            timeout_s=timeout,
            helo=params.get("helo") or None,
        )

    def redacted_url(self) -> str:
        """The settings as a URL without the password, for logs and errors."""
        scheme = "smtps" if self.security is Security.TLS else "smtp"
        user = f"{self.username}:***@" if self.username else ""
        starttls = "&starttls=false" if self.security is Security.PLAIN else ""
        return f"{scheme}://{user}{self.host}:{self.port}?from={self.sender}{starttls}"


def redact(url: str) -> str:
    """`url` with any password replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _security(scheme: str, starttls_param: str | None, problems: list[str]) -> Security:
    if scheme == "smtps":
        if starttls_param is not None and _boolean(starttls_param, "starttls", problems):
            problems.append("starttls=true makes no sense with smtps:// (already TLS)")
        return Security.TLS
    if starttls_param is not None and _boolean(starttls_param, "starttls", problems) is False:
        return Security.PLAIN
    return Security.STARTTLS


def _boolean(text: str, name: str, problems: list[str]) -> bool | None:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    problems.append(f"{name}={text!r} must be true or false")
    return None


def _timeout(text: str | None, problems: list[str]) -> float:
    if text is None:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_TIMEOUT_S:
        problems.append(f"timeout={text!r} must be seconds in (0, {MAX_TIMEOUT_S:g}]")
        return DEFAULT_TIMEOUT_S
    return value

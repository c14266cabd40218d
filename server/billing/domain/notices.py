"""Dunning notices (ADR 0043): a template's shape, the facts a notice is made of, and the
rendering, pure and safe.

A template is a file `<templates_dir>/notices/<name>.txt`: the first line `Subject: ...`,
then a blank line, then the body. `${name}` placeholders are filled by
`string.Template.safe_substitute` over exactly `PLACEHOLDERS`: no code runs, no attribute is
looked up, anything else (`${__class__}`, `{{7*7}}`, `$5`) stays as written, `$$` is a `$`,
and a value is never substituted again (a customer named `${amount}` stays that name).

Values come from customers and rules, so each is made one line (a CR or LF in a name cannot
start a mail header) and bounded; the subject and body are bounded after rendering too.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from string import Template
from urllib.parse import quote
from zoneinfo import ZoneInfo

from billing.domain.dunning import DunningCase, DunningPolicy, retry_instants

PLACEHOLDERS = (
    "customer_name",
    "invoice_number",
    "amount",  # what the invoice still owes, formatted with its currency
    "decline_reason",  # the decline code in plain words (domain/decline_reasons.py)
    "update_method_url",  # the dunning rules' URL, {customer} and {invoice} filled in
    "action_url",  # where the customer authenticates a payment (requires_action)
    "next_retry",  # the next retry's local date in the customer's zone
    "seller_name",
)
SUBJECT_PREFIX = "Subject:"
TEMPLATE_BYTES_MAX = 16 * 1024  # a notice is a few lines; a bigger file is a mistake
SUBJECT_CHARS_MAX = 255  # mail clients show far less; RFC 5322's line limit is 998
VALUE_CHARS_MAX = 2_100  # a rules URL (at most 2,000 characters) with its ids filled in
BODY_CHARS_MAX = 64 * 1024
ELLIPSIS = "…"
NO_NEXT_RETRY = "none scheduled"  # `next_retry` when no retry is left


class NoticeTemplateInvalid(ValueError):
    """A notice template that cannot be used; the message names the file and every problem."""


class NoticeTemplateMissing(LookupError):
    """The rules name a template the server did not load (removed after the rules were
    pushed, then the server restarted): that notice cannot be made."""


@dataclass(frozen=True, slots=True)
class NoticeTemplate:
    name: str
    subject: str  # one line, placeholders unfilled
    body: str


@dataclass(frozen=True, slots=True)
class NoticeFacts:
    """What a notice says, as read from the case, its invoice, customer and attempt; the
    notice's values are these, formatted (delivery/notices.py)."""

    customer_id: str
    customer_name: str
    locale: str  # BCP 47: how the amount and the date are written
    time_zone: str  # IANA: whose calendar `next_retry` is a date of
    invoice_id: str
    invoice_number: str
    amount_minor: int
    currency: str
    decline_code: str = ""
    action_url: str = ""
    next_retry: datetime | None = None


@dataclass(frozen=True, slots=True)
class RenderedNotice:
    subject: str  # one line, at most SUBJECT_CHARS_MAX
    body: str
    values: Mapping[str, str]  # the placeholders' values, as filled in (for plugin channels)


def parse_notice_template(name: str, text: str) -> NoticeTemplate:
    """The template in `text` (the file `name`). Raises NoticeTemplateInvalid naming every
    problem: no `Subject:` first line, an empty subject, no blank second line, an empty body,
    a placeholder that is not one of PLACEHOLDERS (a typo would otherwise reach customers)."""
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").split("\n")
    problems: list[str] = []
    first = lines[0]
    subject = first.removeprefix(SUBJECT_PREFIX).strip()
    if not first.startswith(SUBJECT_PREFIX):
        problems.append(f"the first line must be `{SUBJECT_PREFIX} ...`")
    elif not subject:
        problems.append("the subject is empty")
    elif len(subject) > SUBJECT_CHARS_MAX:
        problems.append(f"the subject is longer than {SUBJECT_CHARS_MAX} characters")
    if len(lines) < 2 or lines[1].strip():
        problems.append("the second line must be blank (it ends the subject)")
    body = "\n".join(lines[2:])
    if not body.strip():
        problems.append("the body is empty")
    unknown = sorted(
        set(Template(subject).get_identifiers() + Template(body).get_identifiers())
        - set(PLACEHOLDERS)
    )
    if unknown:
        problems.append(
            f"unknown placeholder(s) {', '.join('${' + u + '}' for u in unknown)};"
            f" known: {', '.join(PLACEHOLDERS)}"
        )
    if problems:
        raise NoticeTemplateInvalid(f"notice template {name}: " + "; ".join(problems))
    return NoticeTemplate(name, subject, body)


def render(template: NoticeTemplate, values: Mapping[str, str]) -> RenderedNotice:
    """The notice with `values` filled in. Only PLACEHOLDERS are filled (a missing one is
    empty); each value is made one line and bounded first."""
    clean = {name: one_line(values.get(name, ""), VALUE_CHARS_MAX) for name in PLACEHOLDERS}
    subject = one_line(Template(template.subject).safe_substitute(clean), SUBJECT_CHARS_MAX)
    body = _bounded(Template(template.body).safe_substitute(clean), BODY_CHARS_MAX)
    return RenderedNotice(subject, body, clean)


def one_line(text: str, max_chars: int) -> str:
    """`text` with every control character and line or paragraph separator (CR, LF, NEL,
    U+2028...) made a space, at most `max_chars` characters."""
    flat = "".join(" " if unicodedata.category(c) in _BREAKING else c for c in text)
    return _bounded(flat.strip(), max_chars)


def fill_update_method_url(url: str, customer_id: str, invoice_id: str) -> str:
    """The rules' `update_method_url` with `{customer}` and `{invoice}` replaced by the ids,
    percent-encoded (plain replacement: the URL is never a format string)."""
    return url.replace("{customer}", quote(customer_id, safe="")).replace(
        "{invoice}", quote(invoice_id, safe="")
    )


def next_retry_at(policy: DunningPolicy, case: DunningCase) -> datetime | None:
    """When the case's next retry is due; None when its retries are spent or stopped."""
    if case.retries_stopped or case.retries_done >= len(policy.retries.after):
        return None
    instants = retry_instants(
        policy.retries, case.started_at + case.shift, ZoneInfo(case.time_zone)
    )
    return instants[case.retries_done]


_BREAKING = frozenset({"Cc", "Zl", "Zp"})  # control characters, line and paragraph separators


def _bounded(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1] + ELLIPSIS

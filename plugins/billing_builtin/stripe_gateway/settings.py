"""A `stripe` gateway's settings in the payment rules, checked at load (ADR 0037)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OFF_SESSION = ("auto", "always", "never")


@dataclass(frozen=True)
class StripeSettings:
    # auto: off_session=true for charges nobody attends (automatic collection, dunning);
    # always / never force it. Off session, a bank asking for 3-D Secure is a decline with
    # `authentication_required` (our requires_action), not a challenge page.
    off_session: str = "auto"
    # The stored token is `cus_…:pm_…`: a PaymentMethod attached to a Stripe Customer can only
    # be charged with that `customer` sent along.
    customer_in_token: bool = False
    # Where a redirect-based authentication sends the customer back; empty: only methods that
    # never redirect are allowed (automatic_payment_methods[allow_redirects]=never).
    return_url: str = ""
    # Lookups without a reference list what was created this long ago at most...
    lookup_window_hours: int = 48
    # ...in at most this many pages of 100; more than that is "unknown", never "not found".
    lookup_pages_max: int = 5
    # Webhook signatures older than this are refused (replay protection; Stripe's default).
    webhook_tolerance_s: int = 300


_INTS = {
    "lookup_window_hours": (1, 24 * 30),
    "lookup_pages_max": (1, 50),
    "webhook_tolerance_s": (1, 3600),
}


def check(settings: Mapping[str, Any]) -> list[str]:
    problems = []
    known = set(StripeSettings.__dataclass_fields__)
    problems += [f"unknown setting {name!r}" for name in sorted(set(settings) - known)]
    off = settings.get("off_session", "auto")
    if off not in OFF_SESSION:
        problems.append(f"off_session must be one of {', '.join(OFF_SESSION)}, not {off!r}")
    if not isinstance(settings.get("customer_in_token", False), bool):
        problems.append("customer_in_token must be true or false")
    url = settings.get("return_url", "")
    if not isinstance(url, str) or (url and not url.startswith(("https://", "http://"))):
        problems.append("return_url must be an http(s) URL")
    for name, (low, high) in _INTS.items():
        value = settings.get(name, low)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            problems.append(f"{name} must be a whole number from {low} to {high}")
    return problems


def parse(settings: Mapping[str, Any]) -> StripeSettings:
    """Settings that passed `check` (the rules refuse the others at load)."""
    known = set(StripeSettings.__dataclass_fields__)
    return StripeSettings(**{k: v for k, v in settings.items() if k in known})

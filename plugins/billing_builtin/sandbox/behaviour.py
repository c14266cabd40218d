"""What the sandbox does with a call, decided from the token and (for tokens that would
succeed) the chaos fractions in the gateway's settings. Pure: no ledger, no clock, so every
server process decides the same for the same idempotency key.

Tokens (the brief's shared vocabulary; `tok_visa` and any unlisted token succeed):
- declines `tok_decline` (generic_decline), `tok_insufficient_funds`, `tok_do_not_honor`,
  `tok_expired_card`, `tok_stolen_card`, `tok_lost_card`, `tok_incorrect_cvc`,
  `tok_processing_error`: failed with that decline code;
- `tok_requires_action`: requires_action (3-D Secure) with an action URL;
- `tok_timeout_charged`: charged, then the reply is lost: unknown; a lookup finds it;
- `tok_timeout_not_charged`, `tok_server_error`: unknown, nothing charged; lookup not_found;
- `tok_late_success`: charged at once, answered pending; lookups answer pending until the
  `late_success_lookups`-th (2 by default), then succeeded;
- `tok_unavailable`: raises GatewayUnavailable, never charged.
Setting `outage: true` takes the whole gateway down (for routing failover and circuit breaker
tests): every call, whatever its token, raises GatewayUnavailable and is only logged.
Refund faults ride on the charge's token (a refund carries no token of its own):
- `tok_refund_fails`, `tok_refund_timeout`, `tok_refund_late`: the charge succeeds; each
  refund of it fails / is refunded with its reply lost / is refunded and answered pending;
- `tok_refund_lost`: the charge succeeds; each refund of it is lost on the way (unknown,
  nothing refunded, nothing recorded: lookups answer not_found).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any


class Behaviour(StrEnum):
    SUCCEED = "succeed"
    DECLINE = "decline"
    REQUIRES_ACTION = "requires_action"
    TIMEOUT_CHARGED = "timeout_charged"  # done, the reply lost
    TIMEOUT_NOT_CHARGED = "timeout_not_charged"  # the request never arrived
    SERVER_ERROR = "server_error"  # a 5xx before anything was done
    LATE_SUCCESS = "late_success"  # done, answered pending
    UNAVAILABLE = "unavailable"  # refused: certainly not done


# Token -> normalized decline code (one of engines.DECLINE_CODES).
DECLINE_TOKENS: Mapping[str, str] = {
    "tok_decline": "generic_decline",
    "tok_insufficient_funds": "insufficient_funds",
    "tok_do_not_honor": "do_not_honor",
    "tok_expired_card": "expired_card",
    "tok_stolen_card": "stolen_card",
    "tok_lost_card": "lost_card",
    "tok_incorrect_cvc": "incorrect_cvc",
    "tok_processing_error": "processing_error",
}

FAULT_TOKENS: Mapping[str, Behaviour] = {
    "tok_requires_action": Behaviour.REQUIRES_ACTION,
    "tok_timeout_charged": Behaviour.TIMEOUT_CHARGED,
    "tok_timeout_not_charged": Behaviour.TIMEOUT_NOT_CHARGED,
    "tok_server_error": Behaviour.SERVER_ERROR,
    "tok_late_success": Behaviour.LATE_SUCCESS,
    "tok_unavailable": Behaviour.UNAVAILABLE,
}

# Charge token -> what happens to every refund of that charge.
REFUND_TOKENS: Mapping[str, Behaviour] = {
    "tok_refund_fails": Behaviour.DECLINE,
    "tok_refund_timeout": Behaviour.TIMEOUT_CHARGED,
    "tok_refund_late": Behaviour.LATE_SUCCESS,
    "tok_refund_lost": Behaviour.TIMEOUT_NOT_CHARGED,
}

# Chaos: the fraction of keys (of succeeding tokens) that get each fault, taken in this
# order from one hash of the key, so the sets are disjoint and the same in every process.
CHAOS_FAULTS: tuple[Behaviour, ...] = (
    Behaviour.TIMEOUT_CHARGED,
    Behaviour.TIMEOUT_NOT_CHARGED,
    Behaviour.SERVER_ERROR,
    Behaviour.LATE_SUCCESS,
    Behaviour.UNAVAILABLE,
    Behaviour.REQUIRES_ACTION,
)
CHAOS_DECLINES: Mapping[str, str] = {token[4:]: code for token, code in DECLINE_TOKENS.items()}
CHAOS_KEYS: tuple[str, ...] = (*(b.value for b in CHAOS_FAULTS), *CHAOS_DECLINES)

SETTINGS = ("chaos", "webhook_secret", "late_success_lookups", "outage")
LATE_SUCCESS_LOOKUPS_DEFAULT = 2
LATE_SUCCESS_LOOKUPS_MAX = 100  # a bound: a sandbox charge settles within a test's patience
_HASH_SPACE = 2**64


def charge_behaviour(
    token: str, idempotency_key: str, chaos: Mapping[str, Decimal]
) -> tuple[Behaviour, str]:
    """(behaviour, decline code) for a purchase or authorization. Explicit tokens keep their
    behaviour; chaos only turns would-be successes into faults."""
    decline = DECLINE_TOKENS.get(token)
    if decline is not None:
        return Behaviour.DECLINE, decline
    fault = FAULT_TOKENS.get(token)
    if fault is not None:
        return fault, ""
    picked = chaos_pick(idempotency_key, chaos)
    if picked in CHAOS_DECLINES:
        return Behaviour.DECLINE, CHAOS_DECLINES[picked]
    if picked:
        return Behaviour(picked), ""
    return Behaviour.SUCCEED, ""


def refund_behaviour(charge_token: str) -> Behaviour:
    return REFUND_TOKENS.get(charge_token, Behaviour.SUCCEED)


def chaos_pick(idempotency_key: str, chaos: Mapping[str, Decimal]) -> str:
    """The chaos key this idempotency key falls in, or "" (most keys): the key's hash as a
    fraction of [0, 1) against the cumulative fractions in CHAOS_KEYS order."""
    if not chaos:
        return ""
    digest = hashlib.sha256(b"sandbox-chaos:" + idempotency_key.encode()).digest()
    position = Decimal(int.from_bytes(digest[:8], "big")) / _HASH_SPACE
    upper = Decimal(0)
    for key in CHAOS_KEYS:
        upper += chaos.get(key, Decimal(0))
        if position < upper:
            return key
    return ""


def parse_chaos(raw: Any) -> dict[str, Decimal]:
    """The checked chaos fractions as Decimals (check_settings has refused anything else)."""
    if not isinstance(raw, Mapping):
        return {}
    return {key: _fraction(value) or Decimal(0) for key, value in raw.items()}


def late_success_lookups(settings: Mapping[str, Any]) -> int:
    value = settings.get("late_success_lookups", LATE_SUCCESS_LOOKUPS_DEFAULT)
    return value if _is_int(value) else LATE_SUCCESS_LOOKUPS_DEFAULT


def outage(settings: Mapping[str, Any]) -> bool:
    return settings.get("outage") is True


def settings_problems(settings: Mapping[str, Any]) -> list[str]:
    problems = [
        f"unknown setting {key!r} (known: {', '.join(SETTINGS)})"
        for key in settings
        if key not in SETTINGS
    ]
    secret = settings.get("webhook_secret")
    if secret is not None and (not isinstance(secret, str) or not secret):
        problems.append("settings.webhook_secret must be a non-empty string")
    lookups = settings.get("late_success_lookups")
    if lookups is not None and not (_is_int(lookups) and 1 <= lookups <= LATE_SUCCESS_LOOKUPS_MAX):
        problems.append(
            f"settings.late_success_lookups must be a whole number from 1 to "
            f"{LATE_SUCCESS_LOOKUPS_MAX}, got {lookups!r}"
        )
    down = settings.get("outage")
    if down is not None and not isinstance(down, bool):
        problems.append(f"settings.outage must be true or false, got {down!r}")
    if "chaos" in settings:
        problems += _chaos_problems(settings["chaos"])
    return problems


def _chaos_problems(chaos: Any) -> list[str]:
    if not isinstance(chaos, Mapping):
        return [f"settings.chaos must be a mapping of fault to fraction, got {chaos!r}"]
    problems = []
    total = Decimal(0)
    for key, value in chaos.items():
        if key not in CHAOS_KEYS:
            problems.append(
                f"settings.chaos.{key} is not a sandbox fault (known: {', '.join(CHAOS_KEYS)})"
            )
            continue
        fraction = _fraction(value)
        if fraction is None or not 0 <= fraction <= 1:
            problems.append(f"settings.chaos.{key} must be a fraction from 0 to 1, got {value!r}")
            continue
        total += fraction
    if total > 1:
        problems.append(f"settings.chaos fractions add up to {total}, more than 1")
    return problems


def _fraction(value: Any) -> Decimal | None:
    # Rules hand fractions over as Decimal (never float); Python callers may use floats.
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal | int):
        return Decimal(value) if Decimal(value).is_finite() else None
    if isinstance(value, float):
        try:
            parsed = Decimal(str(value))
        except InvalidOperation:
            return None
        return parsed if parsed.is_finite() else None
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)

"""What a Stripe exception means for money (ADR 0037): a decline, a refusal, an outcome we
do not know, or a call Stripe certainly never processed (`GatewayUnavailable`).

The line that matters is "was the request sent?". A refused connection, a connect timeout
or a failed TLS handshake happen before a byte of the request leaves: nothing was charged.
A read timeout or a dropped connection after sending may hide a charge: unknown, looked up.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import stripe
import urllib3.exceptions

from billing.plugins.engines import GatewayOutcome, GatewayStatus, GatewayUnavailable

from .outcomes import card_error_outcome, scrub


def _error_body(error: stripe.StripeError) -> Mapping[str, Any]:
    body = error.json_body
    if isinstance(body, dict) and isinstance(inner := body.get("error"), dict):
        return inner
    return {}


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The exception, its causes, and the exceptions they wrap in args (requests wraps
    urllib3's MaxRetryError, which names the real reason)."""
    seen: set[int] = set()
    todo: list[BaseException] = [error]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for nested in (current.__cause__, current.__context__, getattr(current, "reason", None)):
            if isinstance(nested, BaseException):
                todo.append(nested)
        todo.extend(arg for arg in current.args if isinstance(arg, BaseException))


def never_sent(error: stripe.APIConnectionError) -> bool:
    """True when the connection failed before the request was written."""
    return any(
        # NewConnectionError (refused, unreachable, name not resolved) is a ConnectTimeoutError.
        isinstance(e, urllib3.exceptions.ConnectTimeoutError | urllib3.exceptions.SSLError)
        for e in _chain(error)
    )


def _timed_out(error: stripe.APIConnectionError) -> bool:
    return any(isinstance(e, urllib3.exceptions.ReadTimeoutError) for e in _chain(error))


def outcome_for(error: stripe.StripeError, timeout_s: float) -> GatewayOutcome:
    """The outcome a failed request stands for; raises GatewayUnavailable when Stripe
    certainly did not process it (routing may then try another gateway)."""
    body = _error_body(error)
    message = scrub(str(body.get("message") or error.user_message or type(error).__name__))
    status = error.http_status or 0
    if isinstance(error, stripe.CardError):
        return card_error_outcome(body)
    if isinstance(error, stripe.RateLimitError):
        # 429: refused at the door, before any processing.
        raise GatewayUnavailable(f"Stripe rate limited the request: {message}") from error
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        raise GatewayUnavailable(f"Stripe refused our credentials ({status}): {message}") from error
    if isinstance(error, stripe.IdempotencyError):
        # Our key was first used with other parameters: that first request's fate is unknown.
        return GatewayOutcome(
            GatewayStatus.UNKNOWN,
            gateway_code="idempotency_error",
            message=f"Stripe refused the Idempotency-Key: {message}",
        )
    if isinstance(error, stripe.InvalidRequestError):
        param = f" (parameter {body['param']})" if body.get("param") else ""
        return GatewayOutcome(
            GatewayStatus.FAILED,
            str((body.get("payment_intent") or {}).get("id") or ""),
            gateway_code=str(body.get("code") or body.get("type") or "invalid_request_error"),
            message=f"Stripe refused the request{param}: {message}",
        )
    if isinstance(error, stripe.APIConnectionError):
        if never_sent(error):
            raise GatewayUnavailable("Stripe could not be reached; nothing was sent") from error
        if _timed_out(error):
            text = f"Stripe did not answer within {timeout_s:g} s"
        else:
            text = "the connection to Stripe was lost after the request was sent"
        return GatewayOutcome(GatewayStatus.UNKNOWN, gateway_code="connection", message=text)
    if status == 409:
        # Another request with the same key is still running at Stripe: its outcome decides.
        return GatewayOutcome(
            GatewayStatus.UNKNOWN,
            gateway_code="idempotency_conflict",
            message=f"Stripe is still processing another request with this Idempotency-Key: "
            f"{message}",
        )
    # 5xx and anything else: Stripe may or may not have acted on it.
    return GatewayOutcome(
        GatewayStatus.UNKNOWN,
        gateway_code=str(body.get("code") or body.get("type") or f"http_{status}"),
        message=f"Stripe answered {status or 'an error'}: {message}",
    )

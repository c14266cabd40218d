"""One rule for every call to a gateway (ADR 0034, 0035): the charge, the refund and both
status lookups go through `call_gateway`.

- The gateway is connected through the directory and asked within its timeout
  (`asyncio.wait_for`, `BILLING_GATEWAY_TIMEOUT_SECONDS`).
- A timeout, or any exception of the directory or the plugin, is an UNKNOWN outcome: the
  gateway may or may not have acted, so only a status lookup may settle it, never a blind
  retry. The exceptions a caller names in `certain` (certainly nothing was done: an outage,
  a gateway the rules no longer name) are raised for it to fail over or fail.
- The failure is logged without secrets: the ids the caller names, the gateway and the
  error, with the call's token and the gateway's credentials cut out of the error's text and
  traceback (a plugin may echo its request or its key in an exception). The outcome's
  message, which reaches the API, names the exception's type only.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping

from billing.app.gateway_directory import GatewayDirectory, UnknownGateway
from billing.domain.payment_rules import PaymentRules
from billing.plugins.engines import (
    GatewayOutcome,
    GatewayStatus,
    GatewayUnavailable,
    PaymentGateway,
)

log = logging.getLogger("billing.payments")

REDACTED = "[redacted]"
SECRET_CHARS_MIN = 4  # shorter "secrets" (an empty setting) would redact ordinary text
ERROR_CHARS_MAX = 2000  # of the error's text in a log record: bounded like everything else

# Certainly nothing was done: the gateway refused before acting (an outage), or the rules no
# longer name it. A charge fails over, a refund fails: neither needs a lookup.
NOTHING_DONE: tuple[type[Exception], ...] = (GatewayUnavailable, UnknownGateway)

Send = Callable[[PaymentGateway], Awaitable[GatewayOutcome]]


async def call_gateway(
    directory: GatewayDirectory,
    tenant_id: str,
    rules: PaymentRules,
    name: str,
    send: Send,
    *,
    what: str,
    about: Mapping[str, str],
    secrets: Iterable[str] = (),
    credentials: Mapping[str, str] | None = None,
    certain: tuple[type[Exception], ...] = (),
) -> GatewayOutcome:
    """`send(gateway)` at gateway `name` within the directory's timeout; its answer, or an
    UNKNOWN outcome. `what` names the operation (purchase, refund, lookup), `about` the ids
    to log; `secrets` are what the request holds (a token), `credentials` the gateway's when
    the caller read them already (else read here, as connecting would)."""
    known: list[str] = list(secrets)
    try:
        if credentials is None:
            credentials = await directory.credentials(None, tenant_id, name)
        known += credentials.values()
        gateway = await directory.gateway(None, tenant_id, rules, name, credentials=credentials)
        return await asyncio.wait_for(send(gateway), directory.timeout_s)
    except certain:
        raise
    except TimeoutError:
        message = f"{name} did not answer within {directory.timeout_s} s"
        log.warning("gateway call timed out", extra={**about, "gateway": name, "call": what})
        return GatewayOutcome(GatewayStatus.UNKNOWN, message=message)
    except Exception as exc:  # a plugin's failure: it may or may not have acted
        log.warning(
            "gateway call failed",
            extra={
                **about,
                "gateway": name,
                "call": what,
                "error": redact(f"{type(exc).__name__}: {exc}", known)[:ERROR_CHARS_MAX],
                "traceback": redact("".join(traceback.format_exception(exc)), known),
            },
        )
        return GatewayOutcome(
            GatewayStatus.UNKNOWN, message=f"{name} {what} failed ({type(exc).__name__})"
        )


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret long enough to be one replaced, the longest first (a key may
    contain a shorter one)."""
    for secret in sorted({s for s in secrets if len(s) >= SECRET_CHARS_MIN}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text

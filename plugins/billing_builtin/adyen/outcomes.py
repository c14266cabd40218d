"""Adyen's answers in our terms (ADR 0038): the Checkout API's `resultCode` and refusal
reasons as a GatewayOutcome, and its HTTP errors as outcomes or GatewayUnavailable. Pure
functions over the decoded JSON, so each documented answer is one table row here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from billing.plugins.engines import GatewayOutcome, GatewayStatus

# Adyen's refusal reasons by `refusalReasonCode` (its documented table) -> DECLINE_CODES.
# The number is stable; the text is the fallback when a response leaves the code out.
REFUSAL_CODES: Mapping[str, str] = {
    "2": "generic_decline",  # Refused
    "3": "generic_decline",  # Referral: call the issuer
    "4": "processing_error",  # Acquirer Error
    "5": "pickup_card",  # Blocked Card (refined to lost/stolen by the raw reason)
    "6": "expired_card",  # Expired Card
    "7": "generic_decline",  # Invalid Amount
    "8": "invalid_account",  # Invalid Card Number
    "9": "processing_error",  # Issuer Unavailable
    "10": "card_not_supported",  # Not supported
    "11": "authentication_required",  # 3D Not Authenticated
    "12": "insufficient_funds",  # Not enough balance
    "14": "fraudulent",  # Acquirer Fraud
    "15": "generic_decline",  # Cancelled
    "16": "generic_decline",  # Shopper Cancelled
    "20": "fraudulent",  # FRAUD
    "21": "processing_error",  # Not Submitted
    "22": "fraudulent",  # FRAUD-CANCELLED
    "23": "card_not_supported",  # Transaction Not Permitted
    "24": "incorrect_cvc",  # CVC Declined
    "25": "card_not_supported",  # Restricted Card
    "26": "do_not_honor",  # Revocation Of Auth: the shopper stopped recurring charges
    "27": "generic_decline",  # Declined Non Generic (refined by the raw reason)
    "28": "insufficient_funds",  # Withdrawal amount exceeded
    "29": "generic_decline",  # Withdrawal count exceeded
    "31": "fraudulent",  # Issuer Suspected Fraud
    "32": "generic_decline",  # AVS Declined
    "38": "authentication_required",  # Authentication required
    "42": "authentication_required",  # 3DS Authentication Error
    "46": "do_not_honor",  # Blocked by Adyen to prevent excessive retry fees
}
REFUSAL_TEXTS: Mapping[str, str] = {
    "refused": "2",
    "referral": "3",
    "acquirer error": "4",
    "blocked card": "5",
    "expired card": "6",
    "invalid amount": "7",
    "invalid card number": "8",
    "issuer unavailable": "9",
    "not supported": "10",
    "3d not authenticated": "11",
    "not enough balance": "12",
    "acquirer fraud": "14",
    "cancelled": "15",
    "shopper cancelled": "16",
    "fraud": "20",
    "not submitted": "21",
    "fraud-cancelled": "22",
    "transaction not permitted": "23",
    "cvc declined": "24",
    "restricted card": "25",
    "revocation of auth": "26",
    "declined non generic": "27",
    "withdrawal amount exceeded": "28",
    "withdrawal count exceeded": "29",
    "issuer suspected fraud": "31",
    "avs declined": "32",
    "authentication required": "38",
    "3ds authentication error": "42",
}
# The issuer's own words (additionalData.refusalReasonRaw, e.g. "05 : Do not honor") sharpen
# Adyen's broad reasons; checked in order, first hit wins.
_RAW_HINTS: tuple[tuple[str, str], ...] = (
    ("stolen", "stolen_card"),
    ("lost", "lost_card"),
    ("pick up", "pickup_card"),
    ("pickup", "pickup_card"),
    ("do not honor", "do_not_honor"),
    ("do not honour", "do_not_honor"),
    ("insufficient funds", "insufficient_funds"),
)
_BROAD = {"generic_decline", "pickup_card", "do_not_honor"}

ACTION_RESULTS = frozenset(
    {"RedirectShopper", "IdentifyShopper", "ChallengeShopper", "PresentToShopper"}
)
PENDING_RESULTS = frozenset({"Pending", "Received"})
# Checkout's "request already processed or in progress" for a reused idempotency key: the
# first request is still running, so the outcome is not known yet.
IN_PROGRESS_ERROR = "704"
# Validation errors that say the stored method itself is gone: no retry cures them.
_METHOD_GONE_ERRORS = {"800", "803"}  # Contract not found, PaymentDetail not found


def decline_code(reason: str, reason_code: str = "", raw: str = "") -> str:
    """One of DECLINE_CODES for Adyen's refusal: by its code, else its text, then sharpened
    by the issuer's raw reason where Adyen's is broad."""
    code = reason_code or REFUSAL_TEXTS.get(reason.strip().lower(), "")
    mapped = REFUSAL_CODES.get(code, "generic_decline")
    if mapped in _BROAD:
        lowered = f"{raw} {reason}".lower()
        for hint, hinted in _RAW_HINTS:
            if hint in lowered:
                return hinted
    return mapped


def _amount(body: Mapping[str, Any], default: int | None) -> int | None:
    amount = body.get("amount")
    if isinstance(amount, Mapping) and isinstance(amount.get("value"), int):
        return int(amount["value"])
    return default


def payment_outcome(body: Mapping[str, Any], amount_minor: int) -> GatewayOutcome:
    """A /payments response (HTTP 200) as an outcome."""
    result = str(body.get("resultCode", ""))
    reference = str(body.get("pspReference", ""))
    if result == "Authorised":
        return GatewayOutcome(
            GatewayStatus.SUCCEEDED,
            reference,
            gateway_code=result,
            amount_minor=_amount(body, amount_minor),
        )
    if result == "Refused":
        reason = str(body.get("refusalReason", ""))
        reason_code = str(body.get("refusalReasonCode", ""))
        extra = body.get("additionalData")
        raw = str(extra.get("refusalReasonRaw", "")) if isinstance(extra, Mapping) else ""
        return GatewayOutcome(
            GatewayStatus.FAILED,
            reference,
            decline_code=decline_code(reason, reason_code, raw),
            gateway_code=f"Refused:{reason_code or reason}",
            message=f"Adyen refused the payment: {reason or 'no reason given'}",
        )
    if result in {"Error", "Cancelled"}:
        # Both are final in Adyen's documentation: no money was taken. Error is a processing
        # failure (soft, dunning may retry); Cancelled a payment stopped before completion.
        reason = str(body.get("refusalReason", ""))
        return GatewayOutcome(
            GatewayStatus.FAILED,
            reference,
            decline_code="processing_error" if result == "Error" else "generic_decline",
            gateway_code=result,
            message=f"Adyen answered {result}" + (f": {reason}" if reason else ""),
        )
    if result in ACTION_RESULTS:
        action = body.get("action")
        url = str(action.get("url", "")) if isinstance(action, Mapping) else ""
        return GatewayOutcome(
            GatewayStatus.REQUIRES_ACTION,
            reference,
            gateway_code=result,
            message="the shopper must authenticate",
            action_url=url,
        )
    if result in PENDING_RESULTS:
        return GatewayOutcome(
            GatewayStatus.PENDING,
            reference,
            gateway_code=result,
            message="Adyen has not decided yet; its webhook will say",
        )
    # A result code this adapter does not know: never guess failed.
    return GatewayOutcome(
        GatewayStatus.UNKNOWN,
        reference,
        gateway_code=result,
        message=f"unexpected Adyen resultCode {result or '(none)'}",
    )


def modification_outcome(body: Mapping[str, Any], amount_minor: int | None) -> GatewayOutcome:
    """A capture, cancel or refund response (HTTP 201, `status: received`): Adyen accepted
    it and confirms it later by webhook (CAPTURE, CANCELLATION, REFUND), so it is pending."""
    status = str(body.get("status", ""))
    reference = str(body.get("pspReference", ""))
    if status == "received":
        return GatewayOutcome(
            GatewayStatus.PENDING,
            reference,
            gateway_code=status,
            message="Adyen received the request; its webhook confirms it",
            amount_minor=_amount(body, amount_minor),
        )
    return GatewayOutcome(
        GatewayStatus.UNKNOWN,
        reference,
        gateway_code=status,
        message=f"unexpected Adyen modification status {status or '(none)'}",
    )


def error_outcome(status_code: int, body: Mapping[str, Any]) -> GatewayOutcome | None:
    """An HTTP error answer as an outcome; None for the ones that mean the request was
    certainly not processed (the caller raises GatewayUnavailable)."""
    error_code = str(body.get("errorCode", ""))
    message = str(body.get("message", "")) or f"HTTP {status_code}"
    reference = str(body.get("pspReference", ""))
    if status_code in {400, 422}:
        if error_code == IN_PROGRESS_ERROR:
            return GatewayOutcome(
                GatewayStatus.UNKNOWN,
                reference,
                gateway_code=error_code,
                message=f"Adyen is still processing this request: {message}",
            )
        # A validation refusal: nothing was processed, and sending it again fails again.
        return GatewayOutcome(
            GatewayStatus.FAILED,
            reference,
            decline_code="invalid_account"
            if error_code in _METHOD_GONE_ERRORS
            else "processing_error",
            gateway_code=f"{status_code}:{error_code}",
            message=f"Adyen refused the request: {message}",
        )
    if status_code in {401, 403, 404, 429}:
        return None  # credentials, permission, wrong endpoint, rate limit: not processed
    # 5xx and anything else: it may have been processed.
    return GatewayOutcome(
        GatewayStatus.UNKNOWN,
        reference,
        gateway_code=f"{status_code}:{error_code}",
        message=f"Adyen answered HTTP {status_code}: {message}",
    )

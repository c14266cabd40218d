"""The sandbox gateway: answers every call from the token (and chaos), writes what it did to
its ledger, and replays the first answer for a key it has seen, like a real gateway's
idempotency layer. Each call is one ledger transaction; file ledgers are written from a
worker thread so a busy ledger never stalls the server's event loop.

A replay answers exactly what the first call answered: a lost reply (`timeout_charged`) is
lost again, so only `lookup` can tell a caller what happened — which is what the core must do.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from billing.plugins.engines import (
    ChargeRequest,
    GatewayConnection,
    GatewayEvent,
    GatewayOutcome,
    GatewayStatus,
    GatewayUnavailable,
    LookupRequest,
    RefundRequest,
)
from billing_builtin.sandbox import webhooks
from billing_builtin.sandbox.behaviour import (
    Behaviour,
    charge_behaviour,
    late_success_lookups,
    outage,
    parse_chaos,
    refund_behaviour,
)
from billing_builtin.sandbox.ledger import Entry, Ledger, LedgerTx

ACTION_URL = "https://sandbox.billing.test/3ds/{reference}"  # .test: never a real host
_CURRENCY = re.compile(r"[A-Z]{3}")
_T = TypeVar("_T")


class SandboxGateway:
    def __init__(self, connection: GatewayConnection) -> None:
        self.connection = connection
        self.ledger = Ledger(connection.endpoint)
        self._chaos = parse_chaos(connection.settings.get("chaos"))
        self._late_lookups = late_success_lookups(connection.settings)
        self._outage = outage(connection.settings)
        self._webhook_secret = webhooks.secret_for(connection.credentials, connection.settings)

    # --- the PaymentGateway interface ------------------------------------------------------

    async def purchase(self, request: ChargeRequest) -> GatewayOutcome:
        await self._down("purchase", request.idempotency_key)
        return await self._run(self._charge, "purchase", request, request.capture)

    async def authorize(self, request: ChargeRequest) -> GatewayOutcome:
        await self._down("authorize", request.idempotency_key)
        return await self._run(self._charge, "authorize", request, False)

    async def capture(
        self, idempotency_key: str, reference: str, amount_minor: int, currency: str
    ) -> GatewayOutcome:
        await self._down("capture", idempotency_key)
        return await self._run(self._capture, idempotency_key, reference, amount_minor, currency)

    async def void(self, idempotency_key: str, reference: str) -> GatewayOutcome:
        await self._down("void", idempotency_key)
        return await self._run(self._void, idempotency_key, reference)

    async def refund(self, request: RefundRequest) -> GatewayOutcome:
        await self._down("refund", request.idempotency_key)
        return await self._run(self._refund, request)

    async def lookup(self, request: LookupRequest) -> GatewayOutcome:
        await self._down("lookup", request.idempotency_key or request.reference)
        return await self._run(self._lookup, request)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> GatewayEvent:
        return webhooks.parse(headers, body, self._webhook_secret)

    # --- for tests: the customer at the 3-D Secure page --------------------------------------

    def authenticate(self, reference: str, *, succeeded: bool = True) -> Entry:
        """The customer passes (or fails) the challenge of a requires_action charge: it is
        charged (or fails with authentication_required); lookups then say so."""
        with self.ledger.transaction() as tx:
            entry = tx.find_reference(reference)
            if entry is None or entry.kind != "charge" or entry.state != "requires_action":
                raise ValueError(f"no charge awaiting authentication at {reference!r}")
            if not succeeded:
                return tx.update(entry, state="failed", decline_code="authentication_required")
            moved = entry.amount_minor if entry.capture else 0
            return tx.update(entry, state="succeeded", moved_minor=moved)

    # --- one ledger transaction per call ---------------------------------------------------

    async def _down(self, op: str, key: str) -> None:
        """`outage: true`: the call is refused before anything is done, whatever it asks;
        only the call log keeps it, so a test can tell which gateway of a route was tried."""
        if self._outage:
            await self._run(self._log_unavailable, op, key)
            raise GatewayUnavailable(f"the sandbox gateway {self.connection.name!r} is down")

    def _log_unavailable(self, op: str, key: str) -> None:
        with self.ledger.transaction() as tx:
            tx.log(op, key, "unavailable")

    async def _run(self, call: Callable[..., _T], *args: Any) -> _T:
        if self.ledger.in_memory:
            return call(*args)  # microseconds, never waits on another process
        return await asyncio.to_thread(call, *args)

    def _charge(self, op: str, request: ChargeRequest, capture: bool) -> GatewayOutcome:
        key = request.idempotency_key
        behaviour, decline_code = charge_behaviour(request.token, key, self._chaos)
        request_hash = _hash(
            "charge", request.amount_minor, request.currency, request.token, capture
        )
        unavailable = False
        with self.ledger.transaction() as tx:
            outcome = _replay(tx, "charge", key, request_hash)
            if outcome is None:
                outcome = _invalid_amount(request.amount_minor, request.currency)
            if outcome is None:
                if behaviour is Behaviour.UNAVAILABLE:
                    unavailable = True
                    tx.log(op, key, "unavailable")
                elif behaviour in (Behaviour.TIMEOUT_NOT_CHARGED, Behaviour.SERVER_ERROR):
                    outcome = _unknown(behaviour)  # nothing reached the books
                else:
                    outcome = self._record_charge(
                        tx, request, behaviour, decline_code, capture, request_hash
                    )
            if outcome is not None:
                tx.log(op, key, outcome.status.value)
        if unavailable or outcome is None:
            raise GatewayUnavailable("the sandbox refused the connection (tok_unavailable)")
        return outcome

    def _record_charge(
        self,
        tx: LedgerTx,
        request: ChargeRequest,
        behaviour: Behaviour,
        decline_code: str,
        capture: bool,
        request_hash: str,
    ) -> GatewayOutcome:
        reference = _reference("ch", request.idempotency_key)
        amount = request.amount_minor
        taken = amount if capture else 0
        if behaviour is Behaviour.DECLINE:
            state, moved = "failed", 0
            answer = _declined(reference, decline_code)
        elif behaviour is Behaviour.REQUIRES_ACTION:
            state, moved = "requires_action", 0
            answer = GatewayOutcome(
                GatewayStatus.REQUIRES_ACTION,
                reference,
                gateway_code="authentication_required",
                message="the customer must authenticate the payment (3-D Secure)",
                action_url=ACTION_URL.format(reference=reference),
            )
        elif behaviour is Behaviour.TIMEOUT_CHARGED:
            state, moved = "succeeded", taken
            answer = _unknown(behaviour)
        elif behaviour is Behaviour.LATE_SUCCESS:
            state, moved = "pending", taken
            answer = GatewayOutcome(
                GatewayStatus.PENDING, reference, message="accepted; the result comes later"
            )
        else:
            state, moved = "succeeded", taken
            answer = GatewayOutcome(GatewayStatus.SUCCEEDED, reference, amount_minor=amount)
        tx.insert(
            Entry(
                kind="charge",
                idempotency_key=request.idempotency_key,
                reference=reference,
                state=state,
                behaviour=behaviour.value,
                decline_code=decline_code,
                amount_minor=amount,
                moved_minor=moved,
                currency=request.currency,
                token=request.token,
                capture=capture,
                metadata=dict(request.metadata),
                request_hash=request_hash,
                answer=_answer(answer),
                created_at=time.time(),
                pid=os.getpid(),
            )
        )
        return answer

    def _capture(
        self, key: str, reference: str, amount_minor: int, currency: str
    ) -> GatewayOutcome:
        request_hash = _hash("capture", reference, amount_minor, currency)
        with self.ledger.transaction() as tx:
            outcome = _replay(tx, "capture", key, request_hash) or _invalid_amount(
                amount_minor, currency
            )
            if outcome is None:
                charge = tx.find_reference(reference)
                if charge is None or charge.kind != "charge":
                    outcome = _refused(reference, "resource_missing", "no such charge")
                elif charge.capture or charge.state != "succeeded":
                    outcome = _refused(
                        reference, "charge_not_capturable", f"the charge is {charge.state}"
                    )
                elif currency != charge.currency or amount_minor > charge.amount_minor:
                    outcome = _refused(
                        reference,
                        "amount_too_large",
                        "more than the authorization, or another currency",
                    )
                else:
                    tx.update(charge, capture=True, moved_minor=amount_minor)
                    outcome = GatewayOutcome(
                        GatewayStatus.SUCCEEDED, reference, amount_minor=amount_minor
                    )
                    tx.insert(
                        _follow_up(
                            "capture", key, reference, charge, amount_minor, request_hash, outcome
                        )
                    )
            tx.log("capture", key, outcome.status.value)
        return outcome

    def _void(self, key: str, reference: str) -> GatewayOutcome:
        request_hash = _hash("void", reference)
        with self.ledger.transaction() as tx:
            outcome = _replay(tx, "void", key, request_hash)
            if outcome is None:
                charge = tx.find_reference(reference)
                if charge is None or charge.kind != "charge":
                    outcome = _refused(reference, "resource_missing", "no such charge")
                elif charge.capture and charge.moved_minor > 0:
                    outcome = _refused(
                        reference, "charge_already_captured", "a captured charge is refunded"
                    )
                elif charge.state == "voided":
                    outcome = _refused(reference, "charge_already_voided", "already voided")
                else:
                    tx.update(charge, state="voided", moved_minor=0)
                    outcome = GatewayOutcome(GatewayStatus.SUCCEEDED, reference)
                    tx.insert(_follow_up("void", key, reference, charge, 0, request_hash, outcome))
            tx.log("void", key, outcome.status.value)
        return outcome

    def _refund(self, request: RefundRequest) -> GatewayOutcome:
        key = request.idempotency_key
        request_hash = _hash(
            "refund", request.charge_reference, request.amount_minor, request.currency
        )
        with self.ledger.transaction() as tx:
            outcome = _replay(tx, "refund", key, request_hash) or _invalid_amount(
                request.amount_minor, request.currency
            )
            if outcome is None:
                outcome = self._record_refund(tx, request, request_hash)
            tx.log("refund", key, outcome.status.value)
        return outcome

    def _record_refund(
        self, tx: LedgerTx, request: RefundRequest, request_hash: str
    ) -> GatewayOutcome:
        charge = tx.find_reference(request.charge_reference)
        if charge is None or charge.kind != "charge" or charge.moved_minor <= 0:
            return _refused("", "charge_not_refundable", "no charge took money at this reference")
        remaining = charge.moved_minor - tx.refunded_minor(charge.reference)
        if request.currency != charge.currency or request.amount_minor > remaining:
            return _refused(
                "", "amount_too_large", f"{remaining} {charge.currency} is left to refund"
            )
        reference = _reference("re", request.idempotency_key)
        behaviour = refund_behaviour(charge.token)
        if behaviour is Behaviour.TIMEOUT_NOT_CHARGED:
            return _unknown(behaviour)  # the request never arrived: nothing in the books
        if behaviour is Behaviour.DECLINE:
            state, moved, decline_code = "failed", 0, "processing_error"
            answer = _declined(reference, decline_code)
        elif behaviour is Behaviour.TIMEOUT_CHARGED:
            state, moved, decline_code = "succeeded", request.amount_minor, ""
            answer = _unknown(behaviour)
        elif behaviour is Behaviour.LATE_SUCCESS:
            state, moved, decline_code = "pending", request.amount_minor, ""
            answer = GatewayOutcome(GatewayStatus.PENDING, reference, message="refund accepted")
        else:
            state, moved, decline_code = "succeeded", request.amount_minor, ""
            answer = GatewayOutcome(
                GatewayStatus.SUCCEEDED, reference, amount_minor=request.amount_minor
            )
        tx.insert(
            Entry(
                kind="refund",
                idempotency_key=request.idempotency_key,
                reference=reference,
                state=state,
                behaviour=behaviour.value,
                decline_code=decline_code,
                amount_minor=request.amount_minor,
                moved_minor=moved,
                currency=request.currency,
                token=charge.token,
                target=charge.reference,
                metadata={**charge.metadata, "reason": request.reason},
                request_hash=request_hash,
                answer=_answer(answer),
                created_at=time.time(),
                pid=os.getpid(),
            )
        )
        return answer

    def _lookup(self, request: LookupRequest) -> GatewayOutcome:
        kind = request.kind or "charge"
        with self.ledger.transaction() as tx:
            entry = tx.find(kind, request.idempotency_key) if request.idempotency_key else None
            if entry is None and request.reference:
                by_reference = tx.find_reference(request.reference)
                entry = by_reference if by_reference and by_reference.kind == kind else None
            if entry is None:
                outcome = GatewayOutcome(
                    GatewayStatus.NOT_FOUND, message="the sandbox never received this key"
                )
            else:
                entry = tx.update(entry, lookups=entry.lookups + 1)
                if entry.state == "pending" and entry.lookups >= self._late_lookups:
                    entry = tx.update(entry, state="succeeded")
                outcome = _state_outcome(entry)
            tx.log("lookup", request.idempotency_key or request.reference, outcome.status.value)
        return outcome


# --- outcomes ---------------------------------------------------------------------------


def _replay(tx: LedgerTx, kind: str, key: str, request_hash: str) -> GatewayOutcome | None:
    """The first answer for a key seen before; a refusal if it came with other parameters
    (a definite answer: nothing new is done, like Stripe's idempotency error)."""
    found = tx.find(kind, key)
    if found is None:
        return None
    if found.request_hash != request_hash:
        return _refused(
            "", "idempotency_error", "this idempotency key was used with other parameters"
        )
    return _from_answer(found.answer)


def _state_outcome(entry: Entry) -> GatewayOutcome:
    """What a lookup says: the operation's state now (never the lost reply)."""
    if entry.state == "succeeded":
        amount = entry.moved_minor if entry.moved_minor else entry.amount_minor
        return GatewayOutcome(GatewayStatus.SUCCEEDED, entry.reference, amount_minor=amount)
    if entry.state == "pending":
        return GatewayOutcome(GatewayStatus.PENDING, entry.reference, message="still processing")
    if entry.state == "requires_action":
        return GatewayOutcome(
            GatewayStatus.REQUIRES_ACTION,
            entry.reference,
            gateway_code="authentication_required",
            action_url=ACTION_URL.format(reference=entry.reference),
        )
    if entry.state == "voided":
        return _refused(entry.reference, "voided", "the authorization was voided")
    return _declined(entry.reference, entry.decline_code or "generic_decline")


def _declined(reference: str, decline_code: str) -> GatewayOutcome:
    return GatewayOutcome(
        GatewayStatus.FAILED,
        reference,
        decline_code=decline_code,
        gateway_code=decline_code,
        message=f"declined: {decline_code.replace('_', ' ')}",
    )


def _refused(reference: str, gateway_code: str, message: str) -> GatewayOutcome:
    # A request the sandbox refuses outright: definite, nothing done; not a card decline.
    return GatewayOutcome(
        GatewayStatus.FAILED,
        reference,
        decline_code="generic_decline",
        gateway_code=gateway_code,
        message=message,
    )


def _unknown(behaviour: Behaviour) -> GatewayOutcome:
    message = {
        Behaviour.TIMEOUT_CHARGED: "timed out waiting for the reply",
        Behaviour.TIMEOUT_NOT_CHARGED: "timed out connecting",
        Behaviour.SERVER_ERROR: "the sandbox answered 500",
    }[behaviour]
    return GatewayOutcome(GatewayStatus.UNKNOWN, gateway_code=behaviour.value, message=message)


def _invalid_amount(amount_minor: int, currency: str) -> GatewayOutcome | None:
    # Validation failures are not stored (a corrected retry with the key may go through).
    if not _CURRENCY.fullmatch(currency):
        return _refused("", "currency_invalid", f"{currency!r} is not an ISO 4217 code")
    if amount_minor <= 0:
        return _refused("", "amount_invalid", "the amount must be positive")
    return None


def _follow_up(
    kind: str,
    key: str,
    reference: str,
    charge: Entry,
    amount_minor: int,
    request_hash: str,
    outcome: GatewayOutcome,
) -> Entry:
    return Entry(
        kind=kind,
        idempotency_key=key,
        reference=_reference(kind[:2], key),
        state="succeeded",
        behaviour=Behaviour.SUCCEED.value,
        decline_code="",
        amount_minor=amount_minor,
        moved_minor=0,  # the charge's row holds the money
        currency=charge.currency,
        token=charge.token,
        target=reference,
        metadata=dict(charge.metadata),
        request_hash=request_hash,
        answer=_answer(outcome),
        created_at=time.time(),
        pid=os.getpid(),
    )


def _answer(outcome: GatewayOutcome) -> dict[str, Any]:
    return {
        "status": outcome.status.value,
        "reference": outcome.reference,
        "decline_code": outcome.decline_code,
        "gateway_code": outcome.gateway_code,
        "message": outcome.message,
        "action_url": outcome.action_url,
        "amount_minor": outcome.amount_minor,
    }


def _from_answer(answer: Mapping[str, Any]) -> GatewayOutcome:
    return GatewayOutcome(
        GatewayStatus(answer["status"]),
        answer["reference"],
        decline_code=answer["decline_code"],
        gateway_code=answer["gateway_code"],
        message=answer["message"],
        action_url=answer["action_url"],
        amount_minor=answer["amount_minor"],
    )


def _reference(prefix: str, key: str) -> str:
    return f"{prefix}_" + hashlib.sha256(f"{prefix}:{key}".encode()).hexdigest()[:24]


def _hash(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]

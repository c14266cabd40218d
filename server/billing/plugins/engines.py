"""What each kind of engine is: its interface and its typed input and output.

Engines are registered by name (see hookspecs) and selected by name in the rules. Inputs are
frozen dataclasses, never loose arguments, so an engine's signature survives new fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, Protocol

from billing.domain import payments
from billing.domain.dunning import DEFAULT_HARD_DECLINES
from billing.domain.pricing import Priced
from billing.domain.prorated_usage import ProratedUsage
from billing.domain.tax import LineTax, TaxIdStatus, TaxRequest, TaxRules
from billing.rules.model import Price

# --- pricing models ---------------------------------------------------------------------


@dataclass(frozen=True)
class PricingRequest:
    """What is priced. Quantity models (per_unit, graduated, volume, package, most plugin
    models) read `quantity` and ignore `amounts`; percentage models (percentage,
    graduated_percentage) read `amounts` and ignore `quantity`. How a model behaves (e.g. a
    graduated price's `flat_fee_at_zero`) is a field of `price`, never of the request.

    `prorated` is the metric's level over the period (how many units existed, how long), given
    for a price with `prorated: true` when its usage is billed; a preview (a quantity alone)
    leaves it None, and the quantity is then priced as held for the whole period."""

    price: Price  # the version in force; its `model` names this engine
    quantity: Decimal = Decimal(0)  # units used, for quantity models
    amounts: tuple[Decimal, ...] = ()  # transaction amounts in major units, for percentages
    prorated: ProratedUsage | None = None  # for prorated prices (seats), when billed


class PricingModel(Protocol):
    def check_params(self, params: Mapping[str, Any]) -> list[str]:
        """Load-time check of a price's `params:` (the numbers a plugin's model reads); each
        string names a problem. Called once per price version when a rule set is validated,
        never per request. (The built-in models' fields are checked by the rule schema.)"""
        ...

    def price(self, request: PricingRequest) -> Priced:
        """The unrounded amount and how it was reached."""
        ...


# --- proration policies -----------------------------------------------------------------


@dataclass(frozen=True)
class ProrationRequest:
    period_start: datetime  # UTC instants; the period is [start, end)
    period_end: datetime
    change_at: datetime
    time_zone: str  # the subscription's billing zone, for calendar-day counting


@dataclass(frozen=True)
class ProrationFactor:
    """Unreduced, so an invoice line can say `15/30 days`."""

    numerator: int
    denominator: int
    unit: str  # "days" or "seconds"

    def as_decimal(self) -> Decimal:
        return Decimal(self.numerator) / Decimal(self.denominator)

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator} {self.unit}"


class ProrationPolicyEngine(Protocol):
    def remaining(self, request: ProrationRequest) -> ProrationFactor:
        """The share of the period from the change to its end."""
        ...


# --- tax ----------------------------------------------------------------------------------
# The facts, decisions and rules are plain data in `billing.domain.tax` (ADR 0026).


class TaxEngine(Protocol):
    """One family of jurisdictions (eu_vat, canada, us_sales_tax...). The core calls the
    engine of the buyer's jurisdiction (the most specific one listed in the tax rules) with
    the whole invoice or cart; the engine answers, per line, which jurisdictions tax it and
    how (a named rate or a treatment with its legal note). It does no money arithmetic: the
    core looks rates up on the tax point, splits inclusive prices and rounds.

    Raise `TaxNotDetermined` with a plain message when the facts cannot place the supply
    (no registration covers it, a subdivision is missing where it decides the rate)."""

    def determine(self, request: TaxRequest, rules: TaxRules) -> Sequence[LineTax]: ...


class TaxNotDetermined(ValueError):
    """The engine cannot place a supply from these facts; the message says which is missing."""


# --- tax id verifiers (ADR 0031) -------------------------------------------------------------


@dataclass(frozen=True)
class TaxIdCheckRequest:
    """One tax id to look up in its registry. `number` is the compact form (`DE136695976`);
    `endpoint` and `timeout_s` come from the server's settings (BILLING_VIES_URL...)."""

    tax_id_type: str  # eu_vat
    number: str
    endpoint: str
    timeout_s: float


@dataclass(frozen=True)
class TaxIdCheck:
    """The registry's answer: VALID or INVALID with the day it answered for, or UNKNOWN with
    the reason it could not answer (timeout, a server error, the member state unavailable)."""

    status: TaxIdStatus
    checked_on: date | None = None
    name: str = ""  # the registered name, when the registry gives it
    address: str = ""
    reason: str = ""


class TaxIdVerifier(Protocol):
    """An online registry of tax ids (VIES for EU VAT numbers). Called as due work, never in
    a request's transaction; a registry that cannot answer is an UNKNOWN answer, not an
    exception (the core retries it with the due-work backoff)."""

    types: frozenset[str]  # the tax id types it checks

    async def check(self, request: TaxIdCheckRequest) -> TaxIdCheck: ...


# --- payment gateways (ADR 0034) -----------------------------------------------------------
#
# A gateway plugin registers a `GatewayEngine` by name (`sandbox`, `stripe`, `adyen`); the
# payment rules name a gateway, its engine and settings, and the core `connect`s the engine
# once per (tenant, rule set, credentials) with what it needs. Every call carries our
# idempotency key; an engine never retries a charge on its own, and it reports an outcome it
# does not know as `unknown` (never as failed): the reconciler then asks `lookup`.


class GatewayStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # a decline or a refusal: definite, money not taken
    REQUIRES_ACTION = "requires_action"  # the customer must authenticate (3-D Secure)
    PENDING = "pending"  # accepted, the result comes later (lookup or webhook)
    UNKNOWN = "unknown"  # timeout, 5xx, connection lost: may or may not have happened
    NOT_FOUND = "not_found"  # lookup only: the gateway never received this key


# Declines are normalized to these codes (an engine maps its own; defined with attempts).
DECLINE_CODES: Final = payments.DECLINE_CODES
# Declines no retry can cure: dunning stops and asks for a new method (unless a policy says
# a code is soft). Defined with the dunning rules, which start from it.
HARD_DECLINES: Final = DEFAULT_HARD_DECLINES


@dataclass(frozen=True)
class GatewayConnection:
    """What one tenant's gateway needs: the settings from its payment rules, the decrypted
    credentials (never logged, never stored in plain text) and the operator's endpoint."""

    name: str  # the gateway's name in the rules, e.g. `stripe_eu`
    settings: Mapping[str, Any] = field(default_factory=dict)
    credentials: Mapping[str, str] = field(default_factory=dict)
    endpoint: str = ""  # API base URL; empty: the engine's production default
    timeout_s: float = 10.0


@dataclass(frozen=True)
class ChargeRequest:
    idempotency_key: str  # from the attempt (`billing.domain.payments.attempt_key`)
    amount_minor: int
    currency: str
    token: str  # the stored method's gateway token: card numbers never reach the core
    customer_reference: str = ""  # our customer id, for the gateway's records
    description: str = ""  # e.g. the invoice number
    capture: bool = True  # False: authorize only
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GatewayOutcome:
    status: GatewayStatus
    reference: str = ""  # the gateway's id for the charge / refund / capture
    decline_code: str = ""  # one of DECLINE_CODES when failed
    gateway_code: str = ""  # the gateway's own code, as sent
    message: str = ""  # plain words, safe to show; never a token or credential
    action_url: str = ""  # requires_action
    amount_minor: int | None = None  # what the gateway says it took, when it says


@dataclass(frozen=True)
class RefundRequest:
    idempotency_key: str
    charge_reference: str  # the attempt's gateway reference
    amount_minor: int
    currency: str
    reason: str = ""


@dataclass(frozen=True)
class LookupRequest:
    """The status of an earlier call by our idempotency key (and its reference if one was
    ever returned); `kind` is charge or refund."""

    idempotency_key: str
    reference: str = ""
    kind: str = "charge"
    amount_minor: int = 0
    currency: str = ""
    # SEAM (ADR 0038): the call as first sent, for a gateway with no status lookup that
    # settles an unknown outcome by sending the same request under the same idempotency key
    # (Adyen answers it from its idempotency store). None: such a gateway can only wait for
    # its webhook and answers `unknown`.
    original: ChargeRequest | RefundRequest | None = None


class GatewayUnavailable(Exception):
    """The call certainly took no money: the connection was refused, the gateway answered
    that it did not process the request (e.g. 503 before processing), or the circuit is
    open. Routing may try the next gateway. A timeout or a lost reply is NOT this: it is an
    `unknown` outcome, looked up later, never failed over (the first gateway may have
    charged)."""


class WebhookRejected(ValueError):
    """A webhook call whose signature or shape does not verify: answered, never applied."""


@dataclass(frozen=True)
class GatewayEvent:
    """A verified webhook event, in our terms. `kind`: charge.succeeded, charge.failed,
    charge.requires_action, refund.succeeded, refund.failed, dispute.opened, dispute.won,
    dispute.lost, or ignored (a type we do not act on)."""

    event_id: str  # the gateway's, for exactly-once application
    kind: str
    reference: str = ""  # the charge (or refund) reference at the gateway
    idempotency_key: str = ""  # ours, when the gateway echoes it back (metadata)
    outcome: GatewayOutcome | None = None
    dispute_id: str = ""
    amount_minor: int = 0
    fee_minor: int = 0
    currency: str = ""
    reason: str = ""
    occurred_at: datetime | None = None


class PaymentGateway(Protocol):
    """One connected gateway. Every method is safe to call again with the same key."""

    async def purchase(self, request: ChargeRequest) -> GatewayOutcome: ...

    async def authorize(self, request: ChargeRequest) -> GatewayOutcome: ...

    async def capture(
        self, idempotency_key: str, reference: str, amount_minor: int, currency: str
    ) -> GatewayOutcome: ...

    async def void(self, idempotency_key: str, reference: str) -> GatewayOutcome: ...

    async def refund(self, request: RefundRequest) -> GatewayOutcome: ...

    async def lookup(self, request: LookupRequest) -> GatewayOutcome: ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> GatewayEvent:
        """Verify the signature (with the connection's credentials) and translate; raises
        WebhookRejected."""
        ...


class GatewayEngine(Protocol):
    """What a gateway plugin registers."""

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        """Problems with a gateway's settings in the payment rules, as messages (empty: ok)."""
        ...

    def credential_names(self) -> tuple[str, ...]:
        """The credentials it needs, e.g. ("api_key", "webhook_secret")."""
        ...

    def connect(self, connection: GatewayConnection) -> PaymentGateway: ...


# --- fraud checks (ADR 0034) -----------------------------------------------------------------


@dataclass(frozen=True)
class FraudRequest:
    """What a check sees before a charge. Counts come from the store, windows from rules."""

    tenant_id: str
    customer_id: str
    amount_minor: int
    currency: str
    method_type: str
    card_country: str
    billing_country: str
    request_country: str  # from the caller's metadata, if it sent one
    customer_age_days: int  # since the customer was created
    attempts_by_method: int  # in the rules' window, this attempt left out
    attempts_by_customer: int
    attempts_by_country: int
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FraudVerdict:
    outcome: str  # allow, review, block
    reasons: tuple[str, ...] = ()  # plain words: "5 attempts on this method in 1 hour (max 3)"


class FraudCheck(Protocol):
    """An external scorer (or any check the rules do not express): named in the rules."""

    async def assess(self, request: FraudRequest) -> FraudVerdict: ...


# --- revenue recognition ----------------------------------------------------------------


@dataclass(frozen=True)
class RecognitionRequest:
    amount_minor: int
    service_start: date
    service_end: date  # exclusive


@dataclass(frozen=True)
class RecognitionEntry:
    on: date
    amount_minor: int


class RecognitionMethod(Protocol):
    def schedule(self, request: RecognitionRequest) -> tuple[RecognitionEntry, ...]:
        """Entries that sum exactly to `amount_minor`."""
        ...


# --- notifications ----------------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    tenant_id: str
    recipient: str
    template: str
    data: Mapping[str, Any] = field(default_factory=dict)


class NotificationChannel(Protocol):
    async def send(self, notification: Notification) -> None: ...

"""What each kind of engine is: its interface and its typed input and output.

Engines are registered by name (see hookspecs) and selected by name in the rules. Inputs are
frozen dataclasses, never loose arguments, so an engine's signature survives new fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

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


# --- payment gateways -------------------------------------------------------------------


@dataclass(frozen=True)
class ChargeRequest:
    payment_method_token: str  # tokenized; card numbers never reach the billing core
    currency_code: str
    amount_minor: int
    idempotency_key: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChargeResult:
    succeeded: bool
    gateway_reference: str
    failure_code: str = ""


class PaymentGateway(Protocol):
    async def charge(self, request: ChargeRequest) -> ChargeResult: ...


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

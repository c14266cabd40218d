"""The shape of each kind of rule file, as cerberus schemas.

These definitions are the single source for the structure pass (`structure.py`) and for the
JSON Schemas editors use (`json_schema.py`). Only the rules that `json_schema.py` knows how to
translate may appear here; it refuses any other, so the two cannot drift apart.

Codes are strings matching `values.CODE_PATTERN`. Custom types: `int` (an integer that is not
a boolean), `decimal` (a decimal string or a number, coerced to Decimal) and `instant` (a UTC
instant string with `Z` or an offset, coerced to an aware datetime), `date` (a calendar
day, 2024-01-01, coerced to a date) and `duration` (30s, 10m, 1h, 7d, coerced to a timedelta).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from cerberus import TypeDefinition, Validator

from billing.domain.dunning import Action
from billing.domain.money import DEFAULT_ROUNDING, ROUNDING_MODES
from billing.domain.payments import MethodType
from billing.domain.plan_changes import DIRECTIONS
from billing.domain.tax import InclusiveRounding, LineRounding, TaxPoint, UnknownTaxId
from billing.rules.ledger_schema import LEDGER_SCHEMA
from billing.rules.recognition_schema import RECOGNITION_SCHEMA
from billing.rules.values import (
    CODE_PATTERN,
    coerce_date,
    coerce_decimal,
    coerce_duration,
    coerce_instant,
)

Schema = dict[str, dict[str, Any]]

KINDS: Final = (
    "catalog",
    "money",
    "proration",
    "pricing",
    "tax",
    "recognition",
    "dunning",
    "routing",
    "invoicing",
    "metering",
    "payments",
    "ledger",
)
# Kinds whose schema is still to be written: a file must name its kind, the rest is accepted.
RESERVED_KINDS: Final[frozenset[str]] = frozenset()

INTERVALS: Final = ("day", "week", "month", "year")
PLAN_CHANGE_TIMINGS: Final = ("immediate", "end_of_period", "refused")
PRORATION_GRANULARITIES: Final = ("second", "day")
PRORATION_BEHAVIORS: Final = ("create_prorations", "always_invoice", "none")
CREDIT_BASES: Final = ("billed", "current_price")
DISCOUNT_CREDITS: Final = ("spread", "keep_on_remaining")

# Limits: a rule file is read by people; anything bigger is a mistake, not a catalog.
LIST_ITEMS_MAX: Final = 10_000
NAME_LENGTH_MAX: Final = 200
INTERVAL_COUNT_MAX: Final = 120  # ten years of months
TRIAL_DAYS_MAX: Final = 3_660  # ten years
TIERS_MAX: Final = 100
RATE_MAX: Final = 100  # a percent: a fee above the whole transaction is a typo
PERCENT_MAX: Final = 100  # a tax rate; the meaning pass refuses 100 itself
SOURCE_LENGTH_MAX: Final = 500  # a statute and a URL
BLOCK_SIZE_MAX: Final = 10**15  # the largest quantity priced (money.QUANTITY_MAX)
FREE_EVENTS_MAX: Final = 10**9  # free transactions per period; more is a typo


def _kind(kind: str) -> dict[str, Any]:
    return {
        "type": "string",
        "required": True,
        "allowed": [kind],
        "meta": {"description": "Which kind of rules this file holds."},
    }


def _text(description: str, *, required: bool = False) -> dict[str, Any]:
    return {
        "type": "string",
        "required": required,
        "empty": False,
        "maxlength": NAME_LENGTH_MAX,
        "meta": {"description": description},
    }


def _code(description: str, *, required: bool = False) -> dict[str, Any]:
    return {
        "type": "string",
        "regex": CODE_PATTERN,
        "required": required,
        "meta": {"description": description},
    }


def _choice(values: tuple[str, ...], description: str, *, required: bool) -> dict[str, Any]:
    return {
        "type": "string",
        "required": required,
        "allowed": list(values),
        "meta": {"description": description},
    }


def _amount(description: str, *, required: bool = False) -> dict[str, Any]:
    return {
        "type": "decimal",
        "coerce": "decimal",
        "required": required,
        "min": 0,
        "meta": {"description": description},
    }


def _instant(description: str) -> dict[str, Any]:
    return {"type": "instant", "coerce": "instant", "meta": {"description": description}}


def _date(description: str, *, required: bool = False) -> dict[str, Any]:
    return {
        "type": "date",
        "coerce": "date",
        "required": required,
        "meta": {"description": description},
    }


def _list_of(item: dict[str, Any], description: str, **rules: Any) -> dict[str, Any]:
    return {
        "type": "list",
        "maxlength": LIST_ITEMS_MAX,
        "schema": item,
        "meta": {"description": description},
        **rules,
    }


def _record(fields: Schema) -> dict[str, Any]:
    return {"type": "dict", "schema": fields}


# Optional match fields of a policy case; an absent field matches anything.
_WHEN: dict[str, Any] = {
    "type": "dict",
    "schema": {
        "from_product": _code("Matches changes away from this product."),
        "to_product": _code("Matches changes to this product."),
        "from_interval": _choice(INTERVALS, "Matches changes from this interval.", required=False),
        "to_interval": _choice(INTERVALS, "Matches changes to this interval.", required=False),
        "from_plan": _code("Matches changes away from this plan."),
        "to_plan": _code("Matches changes to this plan."),
        "direction": _choice(
            DIRECTIONS,
            "Matches upgrades, downgrades or neither, decided by the recurring price per unit"
            " of time in the subscription's currency and quantities (a yearly price compared"
            " as its monthly equivalent).",
            required=False,
        ),
    },
    "meta": {"description": "When this case applies; leave it out to match every change."},
}

MONEY: Schema = {
    "kind": _kind("money"),
    "rounding": {
        **_choice(tuple(ROUNDING_MODES), "How line amounts are rounded.", required=False),
        "default": DEFAULT_ROUNDING,
    },
    "currencies": {
        "type": "dict",
        "keysrules": {"type": "string"},
        "valuesrules": _record(
            {
                "rounding": _choice(
                    tuple(ROUNDING_MODES), "Rounding for this currency.", required=False
                ),
                "cash_increment": _amount(
                    "Cash rounding: invoice totals are rounded to a multiple of this amount"
                    " (CHF 0.05) by a rounding line, with this currency's rounding mode."
                    " Absent: off."
                ),
            }
        ),
        "default": {},
        "meta": {"description": "Overrides by ISO 4217 currency code."},
    },
}

_PRODUCT: Schema = {
    "code": _code("Unique product code.", required=True),
    "name": _text("Name shown to customers.", required=True),
    "features": {
        **_list_of(_code("A feature code."), "Features the product offers."),
        "default": [],
    },
    "tax_code": _code(
        "What the tax rules call this product (saas, ebook...): one of the tax_codes of a"
        " tax file; leave out for the tax policy's default_tax_code."
    ),
}

TAX_BEHAVIORS: Final = ("inclusive", "exclusive")


def _tax_behavior() -> dict[str, Any]:
    return _choice(
        TAX_BEHAVIORS,
        "inclusive: the amount already holds the tax (the tax is split out of it); exclusive:"
        " tax is added on top. Leave out for the tax policy's prices_include_tax.",
        required=False,
    )


_ENTITLEMENT: Schema = {
    "feature": _code("A feature of the plan's product.", required=True),
    "limit": {
        "type": "int",
        "nullable": True,
        "min": 0,
        "default": None,
        "meta": {"description": "How much of it; leave out or null for unlimited."},
    },
}

_PLAN_PRICE: Schema = {
    "currency": {
        "type": "string",
        "required": True,
        "meta": {"description": "ISO 4217 currency code."},
    },
    "price": _code("A price code from a pricing file (per seat, tiered, ...)."),
    "amount": {
        **_amount("A flat amount per billing period, in major units (30.00)."),
        "excludes": "price",
    },
    "effective_from": _instant("First instant this entry applies; leave out for always."),
    "tax_behavior": _tax_behavior(),
}

_PLAN: Schema = {
    "code": _code("Unique plan code.", required=True),
    "name": _text("Name shown to customers."),
    "product": _code("Code of the product this plan sells.", required=True),
    "interval": _choice(INTERVALS, "Billing interval unit.", required=True),
    "interval_count": {
        "type": "int",
        "min": 1,
        "max": INTERVAL_COUNT_MAX,
        "default": 1,
        "meta": {"description": "Intervals per billing period (3 with month = quarterly)."},
    },
    "trial_days": {
        "type": "int",
        "min": 0,
        "max": TRIAL_DAYS_MAX,
        "default": 0,
        "meta": {"description": "Free days before the first charge."},
    },
    "entitlements": {
        **_list_of(_record(_ENTITLEMENT), "Features of the product this plan grants."),
        "default": [],
    },
    "prices": _list_of(
        _record(_PLAN_PRICE), "What the plan costs, by currency.", required=True, minlength=1
    ),
}

_PLAN_CHANGE_CASE: Schema = {
    "when": _WHEN,
    "timing": _choice(
        PLAN_CHANGE_TIMINGS,
        "When the change takes effect: immediate, end_of_period, or refused (the change is"
        " not allowed; the caller gets FAILED_PRECONDITION naming this case).",
        required=True,
    ),
    "message": _text("timing: refused only: why, shown to the caller in the refusal."),
}

CATALOG: Schema = {
    "kind": _kind("catalog"),
    "products": {**_list_of(_record(_PRODUCT), "Products for sale."), "default": []},
    "plans": {**_list_of(_record(_PLAN), "Plans: a product, an interval, prices."), "default": []},
    "plan_changes": _list_of(
        _record(_PLAN_CHANGE_CASE), "Ordered cases; the first that matches decides.", minlength=1
    ),
}

_TIER: Schema = {
    "up_to": {
        "type": "int",
        "required": True,
        "nullable": True,
        "min": 1,
        "meta": {"description": "Last unit of this tier (inclusive); null on the last tier."},
    },
    "unit_amount": _amount(
        "Price of each unit in this tier, or of each started block with block_size.",
        required=True,
    ),
    "flat_amount": _amount("A fixed amount added when the quantity reaches this tier."),
    "block_size": {
        "type": "int",
        "min": 1,
        "max": BLOCK_SIZE_MAX,
        "meta": {
            "description": "Units per block: unit_amount prices each started block (250 units"
            " in blocks of 100: 3 blocks); leave out to price single units."
        },
    },
}

_PERCENTAGE_TIER: Schema = {
    "up_to": {
        "type": "decimal",
        "coerce": "decimal",
        "required": True,
        "nullable": True,
        "min": 0,
        "meta": {
            "description": "Top of this tier's transaction volume, in major units (inclusive);"
            " null on the last tier."
        },
    },
    "rate": {
        **_amount("Percent of the volume in this tier (1.2 means 1.2%).", required=True),
        "max": RATE_MAX,
    },
    "flat_amount": _amount("A fixed amount added when the volume reaches this tier."),
}

_PRICE: Schema = {
    "code": _code(
        "Price code; repeat it with another effective_from for a new version.", required=True
    ),
    "metric": _code(
        "Billable metric (from the metering file) whose usage this price bills in arrears."
    ),
    "name": _text("Name shown on invoices."),
    "unit": _text("What is counted, e.g. seat or API call."),
    "model": _code(
        "Pricing model (an engine name): per_unit, graduated, volume, package, percentage,"
        " graduated_percentage...",
        required=True,
    ),
    "currency": {
        "type": "string",
        "required": True,
        "meta": {"description": "ISO 4217 currency code."},
    },
    "effective_from": _instant("First instant this version applies; leave out for always."),
    "unit_amount": _amount("Price of one unit; may be finer than the currency's minor unit."),
    "tiers": _list_of(
        _record(_TIER), "Tiers in ascending order.", minlength=1, maxlength=TIERS_MAX
    ),
    "flat_fee_at_zero": {
        "type": "boolean",
        "meta": {
            "description": "graduated, volume: charge the first tier's flat amount at zero"
            " usage too (Stripe does, Lago does not); false when left out."
        },
    },
    "package_size": {
        "type": "int",
        "min": 1,
        "meta": {"description": "package: units per package; a started package counts in full."},
    },
    "package_amount": _amount("package: price of one package."),
    "free_units": {
        "type": "int",
        "min": 0,
        "meta": {"description": "package: units given before the first package; 0 if left out."},
    },
    "rate": {
        **_amount("percentage: percent of each transaction's amount (1.2 means 1.2%)."),
        "max": RATE_MAX,
    },
    "fixed_fee": _amount("percentage: added to the fee of each transaction."),
    "min_per_transaction": _amount(
        "percentage: least fee of one transaction (rate and fixed fee together)."
    ),
    "max_per_transaction": _amount(
        "percentage: most fee of one transaction (rate and fixed fee together)."
    ),
    "free_units_per_events": {
        "type": "int",
        "min": 0,
        "max": FREE_EVENTS_MAX,
        "meta": {
            "description": "percentage: the first this many transactions of a period are free"
            " (no rate, no fixed fee); 0 or left out: no such limit."
        },
    },
    "free_units_per_total_aggregation": _amount(
        "percentage: the first this much transaction volume of a period (major units) is"
        " free of the rate; the transaction crossing it pays on the rest. With"
        " free_units_per_events too, free units end with whichever runs out first."
    ),
    "prorated": {
        "type": "boolean",
        "meta": {
            "description": "per_unit, graduated, volume on a metric whose level persists"
            " (time_weighted_sum): each unit weighed by the share of the period it existed;"
            " the tier is chosen from the peak. false when left out."
        },
    },
    "percentage_tiers": _list_of(
        _record(_PERCENTAGE_TIER),
        "graduated_percentage: tiers of transaction volume in ascending order.",
        minlength=1,
        maxlength=TIERS_MAX,
    ),
    "params": {
        "type": "dict",
        "meta": {"description": "Numbers of a plugin's pricing model; the plugin checks them."},
    },
    "tax_behavior": _tax_behavior(),
}

PRICING: Schema = {
    "kind": _kind("pricing"),
    "prices": _list_of(_record(_PRICE), "Named prices plans refer to.", required=True),
}

_PRORATION_CASE: Schema = {
    "when": _WHEN,
    "granularity": _choice(
        PRORATION_GRANULARITIES, "Smallest unit of time charged.", required=True
    ),
    "behavior": _choice(PRORATION_BEHAVIORS, "What a mid-period change produces.", required=True),
    "credit_unused": {
        "type": "boolean",
        "required": True,
        "meta": {"description": "Credit the unused part of the old plan."},
    },
    "credit_basis": _choice(CREDIT_BASES, "Amount the credit is computed from.", required=True),
    "discount_credit": _choice(
        DISCOUNT_CREDITS,
        "How a coupon's discount reduces a credit: spread over the items pro rata (default),"
        " or kept whole on the items that remain.",
        required=False,
    ),
}

PRORATION: Schema = {
    "kind": _kind("proration"),
    "cases": _list_of(
        _record(_PRORATION_CASE),
        "Ordered cases; the first that matches decides.",
        required=True,
        minlength=1,
    ),
}

AGGREGATIONS: Final = (
    "count",
    "sum",
    "max",
    "unique_count",
    "latest",
    "latest_ever",
    "time_weighted_sum",
)
LATENESS_HOURS_MAX: Final = 24 * 366

_METRIC: Schema = {
    "code": _code("Metric code that events name, e.g. api_calls.", required=True),
    "name": _text("Name shown on invoices."),
    "aggregation": _choice(
        AGGREGATIONS,
        "How a period's events become a quantity: count, sum, max, unique_count, latest (the"
        " period's last value; 0 without events), latest_ever (the period's last value, else"
        " the last one ever reported: seats), or time_weighted_sum (a level that holds until"
        " changed, across periods, averaged over the period: GB-months).",
        required=True,
    ),
    "field": {
        "type": "string",
        "empty": False,
        "maxlength": NAME_LENGTH_MAX,
        "meta": {"description": "The event property aggregated (all but count need one)."},
    },
    "group_by": {
        "type": "list",
        "maxlength": 3,
        "schema": {"type": "string", "empty": False, "maxlength": NAME_LENGTH_MAX},
        "meta": {"description": "Properties whose values split the quantity into lines."},
    },
    "filters": {
        "type": "dict",
        "keysrules": {"type": "string", "empty": False},
        "valuesrules": {"type": "string"},
        "meta": {"description": "Only events whose properties have these values count."},
    },
}

METERING: Schema = {
    "kind": _kind("metering"),
    "max_lateness_hours": {
        "type": "int",
        "min": 0,
        "max": LATENESS_HOURS_MAX,
        "meta": {"description": "Events older than this are refused (default 168: a week)."},
    },
    "draft_grace_hours": {
        "type": "int",
        "min": 0,
        "max": LATENESS_HOURS_MAX,
        "meta": {
            "description": "A renewal invoice stays a draft this long so late events still"
            " count (default 0: finalized at once)."
        },
    },
    "metrics": _list_of(_record(_METRIC), "Billable metrics."),
}

BILLING_TIME_ZONES = ("utc", "customer")
# Literal text around exactly one {year} (optional) and one {seq} or {seq:0Nd}.
NUMBER_FORMAT_PATTERN: Final = (
    r"^[A-Za-z0-9/_. -]*(\{year\}[A-Za-z0-9/_. -]*)?\{seq(:0[1-9]d)?\}[A-Za-z0-9/_. -]*$"
)

INVOICING: Schema = {
    "kind": _kind("invoicing"),
    "collection_method": _choice(
        ("charge_automatically", "send_invoice"),
        "charge_automatically: a payment is due at once (invoice.payment_due); send_invoice:"
        " the customer pays by the due date from net_terms_days.",
        required=False,
    ),
    "trial_end_without_payment_method": _choice(
        ("activate", "cancel", "pause"),
        "What a trial ending without a payment method becomes: activate (bill, and collect"
        " later), cancel, or pause (no billing until resumed).",
        required=False,
    ),
    "consolidate_same_day": {
        "type": "boolean",
        "meta": {
            "description": "Renewals of one customer falling on the same day, in one currency,"
            " share one invoice (false: one invoice each)."
        },
    },
    "email_invoices": {
        "type": "boolean",
        "meta": {
            "description": "Email each finalized invoice to the customer, as due work after"
            " the finalizing commit (true); false schedules no delivery at all."
        },
    },
    "net_terms_days": {
        "type": "int",
        "min": 0,
        "max": 365,
        "meta": {"description": "send_invoice: days from finalization to the due date (30)."},
    },
    "seller": {
        "type": "dict",
        "schema": {
            "name": _text("The seller's name on invoices.", required=True),
            "address_lines": {
                "type": "list",
                "maxlength": 8,
                "schema": {"type": "string", "maxlength": NAME_LENGTH_MAX},
                "meta": {"description": "Address, one line each."},
            },
            "legal_text": {
                "type": "string",
                "maxlength": 2000,
                "meta": {"description": "Registration, VAT number, terms printed at the foot."},
            },
        },
        "meta": {"description": "Who issues the invoices, as printed on documents."},
    },
    "document": {
        "type": "dict",
        "schema": {
            "show_explanations": {
                "type": "boolean",
                "meta": {
                    "description": "Add a section on how each line was calculated: its period,"
                    " proration factor, tiers or packages, unrounded amount, rounding and rule"
                    " entry, and the rule set version (false: left out)."
                },
            },
        },
        "meta": {"description": "What invoice documents (the emailed PDF) show."},
    },
    "number_format": {
        "type": "string",
        "regex": NUMBER_FORMAT_PATTERN,
        "meta": {"description": "Invoice numbers, e.g. INV-{year}-{seq:06d} (the default)."},
    },
    "credit_note_number_format": {
        "type": "string",
        "regex": NUMBER_FORMAT_PATTERN,
        "meta": {"description": "Credit note numbers, e.g. CN-{year}-{seq:06d} (the default)."},
    },
    "numbering_time_zone": {
        "type": "string",
        "empty": False,
        "meta": {"description": "IANA zone whose calendar year a number counts in (UTC)."},
    },
    "time_zone": _choice(
        BILLING_TIME_ZONES,
        "Where billing periods start and end: utc, or the customer's time zone (frozen on"
        " each subscription when it is created).",
        required=False,
    ),
}

_TAX_POLICY: Schema = {
    "enabled": {
        "type": "boolean",
        "default": False,
        "meta": {"description": "Compute tax on invoices, previews and quotes (false: none)."},
    },
    "rounding": {
        **_choice(
            tuple(LineRounding),
            "line: each line's tax is rounded and a tax line is their sum; invoice: the"
            " unrounded taxes of a rate are summed and rounded once.",
            required=False,
        ),
        "default": LineRounding.LINE.value,
    },
    "inclusive_rounding": {
        **_choice(
            tuple(InclusiveRounding),
            "For tax-inclusive prices, which part is rounded: tax_first (the net is the gross"
            " less the rounded tax) or net_first (the tax is the gross less the rounded net).",
            required=False,
        ),
        "default": InclusiveRounding.TAX_FIRST.value,
    },
    "prices_include_tax": {
        "type": "boolean",
        "default": False,
        "meta": {"description": "The tax behavior of prices that do not set their own."},
    },
    "default_tax_code": {
        **_code("The tax code of products without one; one of tax_codes."),
        "default": "saas",
    },
    "require_tax_code": {
        "type": "boolean",
        "default": False,
        "meta": {"description": "Refuse the rule set if a product has no tax_code."},
    },
    "unknown_tax_id": {
        **_choice(
            tuple(UnknownTaxId),
            "When a buyer's tax id cannot be checked online: charge (tax as for a consumer)"
            " or trust_format (a well-formed id counts as valid).",
            required=False,
        ),
        "default": UnknownTaxId.CHARGE.value,
    },
}

_REGISTRATION: Schema = {
    "jurisdiction": {
        **_text(
            "Where the seller collects: a country (FR), a subdivision (CA-ON), or a scheme"
            " (EU-OSS, EU-NONUNION-OSS, EU-IOSS).",
            required=True,
        ),
    },
    "number": _text("The registration number, as printed on invoices.", required=True),
    "valid_from": _date("First day the registration holds.", required=True),
    "valid_until": _date("First day it no longer holds; leave out while it holds."),
}

_SELLER: Schema = {
    "name": _text("The seller's legal name.", required=True),
    "country": _text("Where the seller is established: ISO 3166-1 alpha-2 (FR).", required=True),
    "subdivision": {
        "type": "string",
        "maxlength": 3,
        "default": "",
        "meta": {"description": "The ISO 3166-2 part after the dash (ON for CA-ON), or ''."},
    },
    "tax_ids": _list_of(
        _record(
            {
                "type": _code("The kind of id: eu_vat, gb_vat, ca_bn...", required=True),
                "value": _text("The id as printed on documents.", required=True),
            }
        ),
        "The seller's tax ids, printed on invoices.",
    ),
    "registrations": _list_of(
        _record(_REGISTRATION), "Where the seller is registered to collect tax, and since when."
    ),
}

_TAX_RATE: Schema = {
    "name": _code("The rate's name: standard, reduced, hst...", required=True),
    "percent": {
        **_amount("The rate in percent of the net price (19 means 19%).", required=True),
        "max": PERCENT_MAX,
    },
    "effective_from": _date(
        "First day of this rate; the rate of a name in force on the tax point is the one with"
        " the latest effective_from on or before it.",
        required=True,
    ),
    "source": {
        **_text("Where the figure comes from: the statute, or the tax authority's page."),
        "required": True,
        "maxlength": SOURCE_LENGTH_MAX,
    },
}

_JURISDICTION: Schema = {
    "code": _text(
        "A country (ISO 3166-1 alpha-2: DE) or a country and subdivision (ISO 3166-2: CA-ON);"
        " once across all tax files.",
        required=True,
    ),
    "name": _text("Name shown on invoices and reports.", required=True),
    "engine": _code("The registered tax engine that decides here (eu_vat...).", required=True),
    "tax_name": _text("The tax's name on invoices: VAT, GST, sales tax...", required=True),
    "tax_point": {
        **_choice(
            tuple(TaxPoint),
            "Which date picks the rate: invoice_date, period_start, or"
            " earlier_of_invoice_and_payment.",
            required=False,
        ),
        "default": TaxPoint.INVOICE_DATE.value,
    },
    "rates": {
        **_list_of(_record(_TAX_RATE), "Every rate with the day it took effect and its source."),
        "default": [],
    },
    "tax_codes": {
        "type": "dict",
        "keysrules": _code("A tax code from tax_codes."),
        "valuesrules": _code(
            "A rate name of this jurisdiction, or exempt, zero_rated, out_of_scope."
        ),
        "default": {},
        "meta": {"description": "What each tax code is here: a rate name or a treatment."},
    },
    "settings": {
        "type": "dict",
        "default": {},
        "meta": {"description": "The engine's own settings; the engine checks them."},
    },
}

TAX: Schema = {
    "kind": _kind("tax"),
    "policy": {
        **_record(_TAX_POLICY),
        "meta": {"description": "How tax is computed; in one tax file only."},
    },
    "seller": {
        **_record(_SELLER),
        "meta": {"description": "Who sells and where it collects tax; in one tax file only."},
    },
    "tax_codes": _list_of(
        _record(
            {
                "code": _code("A tax code products carry.", required=True),
                "description": _text("What it covers.", required=True),
            }
        ),
        "The tax codes products may carry; each code once across all tax files.",
    ),
    "jurisdictions": _list_of(
        _record(_JURISDICTION), "Where tax is computed: engine, rates, what each code means."
    ),
}

# --- payments and routing (ADR 0034, ADR 0040) ---------------------------------------------

FRAUD_OUTCOMES: Final = ("allow", "review", "block")
VELOCITY_SCOPES: Final = ("method", "customer", "country")
METHOD_TYPES: Final = tuple(t.value for t in MethodType)
GATEWAYS_MAX: Final = 50  # gateways of one tenant's rules; more is a copy-paste accident
ROUTING_CASES_MAX: Final = 200
LOOKUPS_MAX: Final = 20  # status lookups of one unknown attempt before it is parked
SCORERS_MAX: Final = 10  # each is an outside call before every charge
VELOCITY_LIMITS_MAX: Final = 20  # each is a count query before every charge
BREAKER_FAILURES_MAX: Final = 1_000
ATTEMPTS_MAX: Final = 1_000_000


def _duration(description: str, *, required: bool = False) -> dict[str, Any]:
    return {
        "type": "duration",
        "coerce": "duration",
        "required": required,
        "meta": {"description": description},
    }


def _per_currency(description: str) -> dict[str, Any]:
    return {
        "type": "dict",
        "keysrules": {"type": "string"},
        "valuesrules": _amount("An amount in major units of that currency (500.00)."),
        "meta": {"description": description},
    }


def _codes(description: str, values: tuple[str, ...] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "string", "empty": False, "maxlength": NAME_LENGTH_MAX}
    if values is not None:
        item = {"type": "string", "allowed": list(values)}
    return _list_of(item, description, minlength=1)


_GATEWAY: Schema = {
    "name": _code(
        "How routing, payment methods and webhooks name this gateway (stripe_eu).", required=True
    ),
    "engine": _code("A registered gateway engine: sandbox, stripe, adyen...", required=True),
    "settings": {
        "type": "dict",
        "default": {},
        "meta": {"description": "The engine's own settings; the engine checks them."},
    },
    "token_pool": _code(
        "Gateways of one pool take each other's tokens (two accounts of one platform); a"
        " method is only ever charged at gateways of its own gateway's pool. Leave out: the"
        " gateway's own name (a pool of one)."
    ),
}

_VELOCITY: Schema = {
    "scope": _choice(
        VELOCITY_SCOPES,
        "What is counted: attempts on the payment method, of the customer, or from the"
        " card's country.",
        required=True,
    ),
    "window": _duration("How far back attempts count (1h).", required=True),
    "max_attempts": {
        "type": "int",
        "required": True,
        "min": 1,
        "max": ATTEMPTS_MAX,
        "meta": {"description": "More attempts than this in the window (this one included)."},
    },
    "outcome": {
        **_choice(FRAUD_OUTCOMES[1:], "What more attempts give: review or block.", required=False),
        "default": "block",
    },
}

_NEW_CUSTOMER: Schema = {
    "max_age": _duration("A customer created less than this long ago is new (7d).", required=True),
    "max_amount": {
        **_per_currency("The most a new customer may be charged at once, per ISO 4217 currency."),
        "required": True,
    },
    "outcome": {
        **_choice(
            FRAUD_OUTCOMES[1:], "What a larger charge gives: review or block.", required=False
        ),
        "default": "review",
    },
}

_SCORER: Schema = {
    "name": _code("An external scorer registered by a plugin (fraud_check).", required=True),
    "settings": {
        "type": "dict",
        "default": {},
        "meta": {"description": "The scorer's own settings, handed to it with each request."},
    },
}

PAYMENTS: Schema = {
    "kind": _kind("payments"),
    "gateways": _list_of(
        _record(_GATEWAY),
        "The gateways charges may go through (default: one sandbox gateway).",
        minlength=1,
        maxlength=GATEWAYS_MAX,
    ),
    "reconcile": {
        "type": "dict",
        "schema": {
            "lookups_after": _list_of(
                _duration("A delay after the attempt was recorded."),
                "Status lookups of an unknown or pending attempt, at these delays after it was"
                " recorded, increasing; after the last the attempt is parked for a person"
                " (default 30s, 2m, 10m, 1h, 6h, 24h).",
                minlength=1,
                maxlength=LOOKUPS_MAX,
            ),
            "not_found_after": _duration(
                "A charge the gateway still says it never saw this long after the call is"
                " failed as never charged (default 10m)."
            ),
        },
        "meta": {"description": "How unknown outcomes are settled: by status lookups."},
    },
    "fraud": {
        "type": "dict",
        "schema": {
            "velocity": _list_of(
                _record(_VELOCITY),
                "Limits on attempts in a window; each is checked before every charge.",
                maxlength=VELOCITY_LIMITS_MAX,
            ),
            "new_customer": {
                **_record(_NEW_CUSTOMER),
                "meta": {"description": "A ceiling on what a new customer may be charged."},
            },
            "country_mismatch": _choice(
                FRAUD_OUTCOMES,
                "When the card's country, the billing address's and the request's (those"
                " known) are not all the same: allow (default), review or block.",
                required=False,
            ),
            "scorers": _list_of(
                _record(_SCORER),
                "External scorers run in order before every charge; the worst outcome wins.",
                maxlength=SCORERS_MAX,
            ),
        },
        "meta": {
            "description": "Checks before a charge: review charges and flags the attempt,"
            " block fails it unsent with the reasons."
        },
    },
    "collection": {
        "type": "dict",
        "schema": {
            "automatic": {
                "type": "boolean",
                "meta": {
                    "description": "Charge charge_automatically invoices at finalization"
                    " through the subscription's, else the customer's, default method (true)."
                },
            },
        },
        "meta": {"description": "How invoices are collected."},
    },
}

_ROUTING_WHEN: Schema = {
    "currencies": _codes("ISO 4217 currencies of the charge."),
    "countries": _codes(
        "ISO 3166-1 alpha-2 countries of the method (its issuer's, else the billing address's)."
    ),
    "min_amount": _per_currency(
        "The least amount (inclusive), per currency in major units: a charge in a currency"
        " not listed does not match."
    ),
    "max_amount": _per_currency(
        "The largest amount (inclusive), per currency in major units: a charge in a currency"
        " not listed does not match."
    ),
    "method_types": _codes("Payment method types.", METHOD_TYPES),
    "segments": _codes("The customer's metadata segment (enterprise, smb...)."),
}

_ROUTING_CASE: Schema = {
    "name": _code("Shown on the attempt's audit record; default: cases[<index>]."),
    "when": {
        "type": "dict",
        "schema": _ROUTING_WHEN,
        "meta": {"description": "Every listed condition must hold; leave out to match all."},
    },
    "gateways": _list_of(
        _code("A gateway of the payments file."),
        "Gateways in failover order (the next is tried only when one is unavailable, never"
        " after a decline), kept to those of the method's token pool.",
        required=True,
        minlength=1,
        maxlength=GATEWAYS_MAX,
    ),
}

ROUTING: Schema = {
    "kind": _kind("routing"),
    "cases": _list_of(
        _record(_ROUTING_CASE),
        "Ordered cases; the first that matches names the gateways. None matches: the"
        " method's own gateway.",
        maxlength=ROUTING_CASES_MAX,
    ),
    "circuit_breaker": {
        "type": "dict",
        "schema": {
            "failures": {
                "type": "int",
                "min": 1,
                "max": BREAKER_FAILURES_MAX,
                "meta": {
                    "description": "Consecutive outages (unavailable, timeouts, 5xx) of a"
                    " gateway that open its breaker (5)."
                },
            },
            "open_for": _duration(
                "How long an open gateway is skipped before one call is let through (60s)."
            ),
        },
        "meta": {"description": "Per gateway, per server process."},
    },
}

# --- dunning (ADR 0043) ----------------------------------------------------------------------

DUNNING_ACTIONS: Final = tuple(a.value for a in Action)
DUNNING_POLICIES_MAX: Final = 100
DUNNING_CASES_MAX: Final = 200
DUNNING_RETRIES_MAX: Final = 30  # each is a charge with the customer away
DUNNING_STEPS_MAX: Final = 50
TIME_OF_DAY_PATTERN: Final = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
URL_LENGTH_MAX: Final = 2_000

_DUNNING_STEP: Schema = {
    "name": _code("As timelines and reports show the step; default: steps[<index>]."),
    "after": _duration(
        "When, after the first failure (0d: at once). Steps are written in this order.",
        required=True,
    ),
    "action": _choice(
        DUNNING_ACTIONS,
        "notice (email the customer a template), mark_past_due, mark_unpaid, suspend"
        " (entitlements, an event for Operations), cancel_now, cancel_at_period_end or"
        " mark_uncollectible (the invoice).",
        required=True,
    ),
    "template": _code(
        "notice: the template's name, a file <name>.txt of rules/templates/notices/."
    ),
    "channel": _code("notice: email (default) or a notification channel a plugin registers."),
}

_DUNNING_POLICY: Schema = {
    "name": _code("How cases choose this policy.", required=True),
    "grace": _duration(
        "Nothing the customer loses (mark_unpaid, suspend, cancel_*, mark_uncollectible)"
        " happens before this long after the first failure (default 0d)."
    ),
    "retries": {
        "type": "dict",
        "schema": {
            "after": _list_of(
                _duration("An offset after the first failure (1d)."),
                "When to charge again, after the first failure, increasing.",
                maxlength=DUNNING_RETRIES_MAX,
            ),
            "at": {
                "type": "string",
                "regex": TIME_OF_DAY_PATTERN,
                "meta": {
                    "description": "The local time of day (HH:MM, the customer's zone) of"
                    " each retry, on the day its offset lands; offsets in whole days."
                },
            },
            "skip_weekends": {
                "type": "boolean",
                "meta": {"description": "A retry on a Saturday or Sunday moves to Monday."},
            },
        },
        "meta": {"description": "The retry schedule (default: no retries)."},
    },
    "declines": {
        "type": "dict",
        "schema": {
            "hard": _codes(
                "More normalized decline codes that stop the retries (stolen_card,"
                " lost_card, pickup_card, fraudulent, invalid_account and expired_card"
                " always do, unless listed under soft)."
            ),
            "soft": _codes("Decline codes that follow the schedule even if hard by default."),
            "hard_notice": _code(
                "The template sent when a hard decline stops the retries (asks for a new"
                " payment method)."
            ),
            "requires_action_notice": _code(
                "The template sent when a charge needs the customer (carries the"
                " authentication link)."
            ),
        },
        "meta": {"description": "What a decline does to the schedule."},
    },
    "steps": _list_of(
        _record(_DUNNING_STEP),
        "What happens, in order of `after`.",
        maxlength=DUNNING_STEPS_MAX,
    ),
}

_DUNNING_CASE: Schema = {
    "name": _code("Shown on the case; default: cases[<index>]."),
    "when": {
        "type": "dict",
        "schema": {
            "plans": _codes("Plan codes of the invoice's subscription."),
            "segments": _codes("The customer's metadata segment (enterprise, smb...)."),
            "customers": _codes("Customer ids (cus_...)."),
            "currencies": _codes("ISO 4217 currencies of the invoice."),
        },
        "meta": {"description": "Every listed condition must hold; leave out to match all."},
    },
    "policy": _code("A policy of this file.", required=True),
}

DUNNING: Schema = {
    "kind": _kind("dunning"),
    "update_method_url": {
        "type": "string",
        "empty": False,
        "maxlength": URL_LENGTH_MAX,
        "meta": {
            "description": "Where a customer updates their payment method, for notices;"
            " {customer} and {invoice} are replaced by the ids."
        },
    },
    "policies": _list_of(
        _record(_DUNNING_POLICY),
        "Recovery policies by name.",
        required=True,
        minlength=1,
        maxlength=DUNNING_POLICIES_MAX,
    ),
    "cases": _list_of(
        _record(_DUNNING_CASE),
        "Ordered cases; the first that matches names the policy of a new case. None"
        " matches: no dunning for that invoice.",
        required=True,
        minlength=1,
        maxlength=DUNNING_CASES_MAX,
    ),
}

_WRITTEN: dict[str, Schema] = {
    "dunning": DUNNING,
    "payments": PAYMENTS,
    "routing": ROUTING,
    "tax": TAX,
    "invoicing": INVOICING,
    "metering": METERING,
    "money": MONEY,
    "catalog": CATALOG,
    "pricing": PRICING,
    "proration": PRORATION,
    "ledger": LEDGER_SCHEMA,
    "recognition": RECOGNITION_SCHEMA,
}
# In KINDS order; a reserved kind's schema is only its `kind`.
SCHEMAS: Final[dict[str, Schema]] = {
    kind: _WRITTEN.get(kind) or {"kind": _kind(kind)} for kind in KINDS
}


class RuleValidator(Validator):  # type: ignore[misc]  # cerberus ships no type information
    """cerberus with the rule files' scalar types."""

    types_mapping = {
        **Validator.types_mapping,
        "int": TypeDefinition("int", (int,), (bool,)),
        "decimal": TypeDefinition("decimal", (Decimal,), ()),
        "instant": TypeDefinition("instant", (datetime,), ()),
        "date": TypeDefinition("date", (date,), (datetime,)),
        "duration": TypeDefinition("duration", (timedelta,), ()),
    }

    def _normalize_coerce_decimal(self, value: object) -> object:
        return coerce_decimal(value)

    def _normalize_coerce_instant(self, value: object) -> object:
        return coerce_instant(value)

    def _normalize_coerce_date(self, value: object) -> object:
        return coerce_date(value)

    def _normalize_coerce_duration(self, value: object) -> object:
        return coerce_duration(value)

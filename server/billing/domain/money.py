"""Money: integer minor units of an ISO 4217 currency, Decimal arithmetic in between.

Amounts are stored and sent as integer minor units; calculations run on `Decimal` in
`MONEY_CONTEXT` and round once, at the point a rule names, with a named rounding mode.
"""

from __future__ import annotations

import decimal
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from billing.domain import limits
from billing.domain.errors import FieldViolation, InvalidArgument

# Enough digits that no intermediate product of realistic prices and quantities is rounded
# by the context itself; rounding happens only in `round_to_minor`.
MONEY_CONTEXT = decimal.Context(
    prec=38,
    rounding=decimal.ROUND_HALF_UP,
    traps=[
        decimal.InvalidOperation,
        decimal.DivisionByZero,
        decimal.Overflow,
    ],
)

# --- bounds -------------------------------------------------------------------------------
# Amounts are int64 minor units on the wire (`billing.v1.Money`) and in BIGINT columns.
MINOR_UNITS_MAX = 2**63 - 1
# A quantity (seats, units, a usage value) above QUANTITY_MAX is a bug upstream, not a sale;
# a decimal read from text has bounded characters, significant digits and decimals. The
# values and their reasons are in `limits`.
QUANTITY_MAX = limits.QUANTITY_MAX
DECIMAL_TEXT_MAX = limits.DECIMAL_TEXT_CHARS_MAX
DECIMAL_DIGITS_MAX = limits.DECIMAL_DIGITS_MAX
DECIMAL_PLACES_MAX = limits.DECIMAL_PLACES_MAX


class AmountOutOfRange(InvalidArgument):
    """An amount or quantity beyond its bound, or a result beyond int64 minor units. Raised
    where it is computed; a use case that knows which request field led to it re-raises it
    with `naming(field)`."""

    reason = "AMOUNT_OUT_OF_RANGE"

    def __init__(self, description: str, field: str = "amount") -> None:
        super().__init__([FieldViolation(field, description)])
        self.description = description

    def naming(self, field: str) -> AmountOutOfRange:
        return AmountOutOfRange(self.description, field)


def check_minor(amount_minor: int, what: str = "amount") -> int:
    """`amount_minor` if it fits int64, else AmountOutOfRange."""
    if -MINOR_UNITS_MAX <= amount_minor <= MINOR_UNITS_MAX:
        return amount_minor
    raise AmountOutOfRange(
        f"{what} of {amount_minor} minor units is beyond the largest amount ({MINOR_UNITS_MAX})"
    )


def check_quantity(quantity: Decimal | int, what: str = "quantity") -> None:
    """AmountOutOfRange for a quantity above QUANTITY_MAX in size (negatives too)."""
    if abs(Decimal(quantity)) > QUANTITY_MAX:
        raise AmountOutOfRange(f"{what} must be at most {QUANTITY_MAX:,} in size")


# Rounding modes finance may name in rules. Half-up means ties away from zero.
ROUNDING_MODES: dict[str, str] = {
    "half_up": decimal.ROUND_HALF_UP,
    "half_even": decimal.ROUND_HALF_EVEN,
    "half_down": decimal.ROUND_HALF_DOWN,
    "up": decimal.ROUND_UP,
    "down": decimal.ROUND_DOWN,
    "ceiling": decimal.ROUND_CEILING,
    "floor": decimal.ROUND_FLOOR,
}
DEFAULT_ROUNDING = "half_up"

# ISO 4217 active codes whose minor unit is not 2 decimals.
_EXPONENTS: dict[str, int] = {
    # 0 decimals
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    # 3 decimals
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    # 4 decimals
    "CLF": 4,
    "UYW": 4,
}
# ISO 4217 active codes with 2 decimals (funds codes and metals, which have no minor unit, are
# left out: nobody is billed in them).
_TWO_DECIMALS = [
    "AED",
    "AFN",
    "ALL",
    "AMD",
    "ANG",
    "AOA",
    "ARS",
    "AUD",
    "AWG",
    "AZN",
    "BAM",
    "BBD",
    "BDT",
    "BGN",
    "BMD",
    "BND",
    "BOB",
    "BOV",
    "BRL",
    "BSD",
    "BTN",
    "BWP",
    "BYN",
    "BZD",
    "CAD",
    "CDF",
    "CHE",
    "CHF",
    "CHW",
    "CNY",
    "COP",
    "COU",
    "CRC",
    "CUP",
    "CVE",
    "CZK",
    "DKK",
    "DOP",
    "DZD",
    "EGP",
    "ERN",
    "ETB",
    "EUR",
    "FJD",
    "FKP",
    "GBP",
    "GEL",
    "GHS",
    "GIP",
    "GMD",
    "GTQ",
    "GYD",
    "HKD",
    "HNL",
    "HTG",
    "HUF",
    "IDR",
    "ILS",
    "INR",
    "IRR",
    "JMD",
    "KES",
    "KGS",
    "KHR",
    "KPW",
    "KYD",
    "KZT",
    "LAK",
    "LBP",
    "LKR",
    "LRD",
    "LSL",
    "MAD",
    "MDL",
    "MGA",
    "MKD",
    "MMK",
    "MNT",
    "MOP",
    "MRU",
    "MUR",
    "MVR",
    "MWK",
    "MXN",
    "MXV",
    "MYR",
    "MZN",
    "NAD",
    "NGN",
    "NIO",
    "NOK",
    "NPR",
    "NZD",
    "PAB",
    "PEN",
    "PGK",
    "PHP",
    "PKR",
    "PLN",
    "QAR",
    "RON",
    "RSD",
    "RUB",
    "SAR",
    "SBD",
    "SCR",
    "SDG",
    "SEK",
    "SGD",
    "SHP",
    "SLE",
    "SOS",
    "SRD",
    "SSP",
    "STN",
    "SVC",
    "SYP",
    "SZL",
    "THB",
    "TJS",
    "TMT",
    "TOP",
    "TRY",
    "TTD",
    "TWD",
    "TZS",
    "UAH",
    "USD",
    "USN",
    "UYU",
    "UZS",
    "VED",
    "VES",
    "WST",
    "XCD",
    "XCG",
    "YER",
    "ZAR",
    "ZMW",
    "ZWG",
]
CURRENCY_EXPONENTS: dict[str, int] = {**dict.fromkeys(_TWO_DECIMALS, 2), **_EXPONENTS}


@dataclass(frozen=True, slots=True)
class Withdrawn:
    """A code ISO 4217 no longer lists as current: when it left and what replaced it."""

    left: date  # the first day it was no longer legal tender (ISO's list gives the month)
    replaced_by: str


# Codes withdrawn from ISO 4217 that a rule author or an old system might still send; a new
# price or customer in one is refused with this date rather than "unknown code".
WITHDRAWN: dict[str, Withdrawn] = {
    "SLL": Withdrawn(date(2024, 1, 1), "SLE"),  # legal tender until 2023-12-31
    "HRK": Withdrawn(date(2023, 1, 1), "EUR"),
    "CUC": Withdrawn(date(2021, 1, 1), "CUP"),
    "VEF": Withdrawn(date(2018, 8, 20), "VES"),
    "MRO": Withdrawn(date(2018, 1, 1), "MRU"),
    "STD": Withdrawn(date(2018, 1, 1), "STN"),
    "BYR": Withdrawn(date(2016, 7, 1), "BYN"),
    "LTL": Withdrawn(date(2015, 1, 1), "EUR"),
    "LVL": Withdrawn(date(2014, 1, 1), "EUR"),
    "ZMK": Withdrawn(date(2013, 1, 1), "ZMW"),
    "EEK": Withdrawn(date(2011, 1, 1), "EUR"),
    "SKK": Withdrawn(date(2009, 1, 1), "EUR"),
    "CYP": Withdrawn(date(2008, 1, 1), "EUR"),
    "MTL": Withdrawn(date(2008, 1, 1), "EUR"),
    "SIT": Withdrawn(date(2007, 1, 1), "EUR"),
    "GHC": Withdrawn(date(2007, 7, 1), "GHS"),
    "ZWL": Withdrawn(date(2024, 9, 1), "ZWG"),
}


class UnknownCurrency(ValueError):
    """Raised for a code that is not an active ISO 4217 currency."""


def is_currency(code: str) -> bool:
    return code in CURRENCY_EXPONENTS


def currency_problem(code: str) -> str | None:
    """Why `code` cannot be used for a new price or customer, or None if it can."""
    if code in CURRENCY_EXPONENTS:
        return None
    gone = WITHDRAWN.get(code)
    if gone is not None:
        return (
            f"{code} was withdrawn from ISO 4217 on {gone.left.isoformat()}; use {gone.replaced_by}"
        )
    return f"{code!r} is not an ISO 4217 currency code"


def minor_unit_exponent(currency_code: str) -> int:
    """Decimals of the currency's minor unit: USD 2, JPY 0, KWD 3."""
    try:
        return CURRENCY_EXPONENTS[currency_code]
    except KeyError:
        raise UnknownCurrency(f"{currency_code!r} is not an ISO 4217 currency code") from None


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: integer minor units of one currency."""

    currency_code: str
    amount_minor: int

    def __post_init__(self) -> None:
        minor_unit_exponent(self.currency_code)  # validates the code
        if not isinstance(self.amount_minor, int) or isinstance(self.amount_minor, bool):
            raise TypeError("amount_minor must be an int")
        check_minor(self.amount_minor)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.currency_code, self.amount_minor + other.amount_minor)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.currency_code, self.amount_minor - other.amount_minor)

    def __neg__(self) -> Money:
        return Money(self.currency_code, -self.amount_minor)

    def to_decimal(self) -> Decimal:
        """The amount in major units, exactly: 1234 USD minor -> Decimal('12.34')."""
        return Decimal(self.amount_minor).scaleb(-minor_unit_exponent(self.currency_code))

    def __str__(self) -> str:
        return f"{self.to_decimal()} {self.currency_code}"

    def _same_currency(self, other: Money) -> None:
        if other.currency_code != self.currency_code:
            raise ValueError(f"cannot combine {self.currency_code} with {other.currency_code}")

    @classmethod
    def zero(cls, currency_code: str) -> Money:
        return cls(currency_code, 0)

    @classmethod
    def from_decimal(cls, amount: Decimal, currency_code: str) -> Money:
        """An amount already exact in the currency's minor unit (e.g. a validated flat
        price); refuses anything that would need rounding."""
        exponent = minor_unit_exponent(currency_code)
        minor = amount.scaleb(exponent, context=MONEY_CONTEXT)
        if minor != minor.to_integral_value():
            raise ValueError(f"{amount} is finer than {currency_code}'s minor unit")
        return cls(currency_code, int(minor))


def round_to_minor(amount: Decimal, currency_code: str, rounding: str = DEFAULT_ROUNDING) -> Money:
    """Round a major-unit Decimal to the currency's minor unit, once, with a named mode."""
    try:
        mode = ROUNDING_MODES[rounding]
    except KeyError:
        raise ValueError(f"unknown rounding mode {rounding!r}") from None
    exponent = minor_unit_exponent(currency_code)
    quantum = Decimal(1).scaleb(-exponent)
    if not amount.is_finite():
        raise ValueError(f"cannot round {amount} to money")
    # Checked before quantize: past 38 digits quantize itself would fail (InvalidOperation).
    if amount.adjusted() > len(str(MINOR_UNITS_MAX)) - exponent:
        raise AmountOutOfRange(
            f"{amount} {currency_code} is beyond the largest amount"
            f" ({Money(currency_code, MINOR_UNITS_MAX)})"
        )
    rounded = amount.quantize(quantum, rounding=mode, context=MONEY_CONTEXT)
    return Money(currency_code, int(rounded.scaleb(exponent, context=MONEY_CONTEXT)))


def within_stored_places(value: Decimal) -> Decimal:
    """`value` with at most DECIMAL_PLACES_MAX decimal places (ROUND_HALF_UP past them), the
    bound every decimal the system stores as text keeps; one within it is returned as it is.
    For a derived value, such as a unit amount got by division, whose full 38 digits would
    not fit its String(40) column; amounts are never computed from it."""
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or -exponent <= DECIMAL_PLACES_MAX:
        return value
    return value.quantize(
        Decimal(1).scaleb(-DECIMAL_PLACES_MAX),
        rounding=decimal.ROUND_HALF_UP,
        context=MONEY_CONTEXT,
    )


def round_to_increment(amount_minor: int, increment_minor: int, rounding: str) -> int:
    """Cash rounding: `amount_minor` to a multiple of `increment_minor` (CHF 0.05 is 5), with a
    named mode. 1234 to 5 half up is 1235; 1232 is 1230; -1233 is -1235 (ties away from 0)."""
    if increment_minor < 1:
        raise ValueError("the increment must be at least one minor unit")
    try:
        mode = ROUNDING_MODES[rounding]
    except KeyError:
        raise ValueError(f"unknown rounding mode {rounding!r}") from None
    steps = MONEY_CONTEXT.divide(Decimal(amount_minor), Decimal(increment_minor))
    whole = steps.quantize(Decimal(1), rounding=mode, context=MONEY_CONTEXT)
    return check_minor(int(whole) * increment_minor)


# Plain decimal text: an optional minus, ASCII digits, optionally a point and more digits.
# No plus, exponent, digit separator, blank, bare point, NaN or Infinity (Python's Decimal
# takes all of those, and non-ASCII digits too).
_PLAIN_DECIMAL = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?")


def parse_decimal(text: str) -> Decimal:
    """The one parser for decimals written as text (rules, usage values, the API): '0.0004',
    '-12', '30.00'; ValueError with the reason for anything else or anything too long."""
    if len(text) > DECIMAL_TEXT_MAX:
        raise ValueError(f"a decimal has at most {DECIMAL_TEXT_MAX} characters")
    match = _PLAIN_DECIMAL.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a plain decimal number (digits with an optional leading '-'"
            " and '.' between digits; no exponent, '+', '_' or blanks)"
        )
    whole, places = match.group(1), match.group(2) or ""
    if len(places) > DECIMAL_PLACES_MAX:
        raise ValueError(f"{text!r} has more than {DECIMAL_PLACES_MAX} decimal places")
    if len((whole + places).lstrip("0")) > DECIMAL_DIGITS_MAX:
        raise ValueError(f"{text!r} has more than {DECIMAL_DIGITS_MAX} significant digits")
    return Decimal(text)

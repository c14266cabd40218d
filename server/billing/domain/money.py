"""Money: integer minor units of an ISO 4217 currency, Decimal arithmetic in between.

Amounts are stored and sent as integer minor units; calculations run on `Decimal` in
`MONEY_CONTEXT` and round once, at the point a rule names, with a named rounding mode.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import Decimal

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


class UnknownCurrency(ValueError):
    """Raised for a code that is not an active ISO 4217 currency."""


def is_currency(code: str) -> bool:
    return code in CURRENCY_EXPONENTS


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
    rounded = amount.quantize(quantum, rounding=mode, context=MONEY_CONTEXT)
    return Money(currency_code, int(rounded.scaleb(exponent, context=MONEY_CONTEXT)))


def parse_decimal(text: str) -> Decimal:
    """Parse a decimal string such as '0.0004'; refuses floats' friends (NaN, Infinity, '1e5')."""
    try:
        value = Decimal(text)
    except decimal.InvalidOperation:
        raise ValueError(f"{text!r} is not a decimal number") from None
    if not value.is_finite() or "e" in text.lower():
        raise ValueError(f"{text!r} is not a plain decimal number")
    return value

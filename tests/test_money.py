"""Money: minor units, exact decimals, rounding as a rule."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.domain.money import (
    Money,
    UnknownCurrency,
    minor_unit_exponent,
    parse_decimal,
    round_to_minor,
)


@pytest.mark.parametrize(
    ("code", "exponent"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3), ("BHD", 3), ("CLF", 4)]
)
def test_minor_unit_exponents(code, exponent):
    assert minor_unit_exponent(code) == exponent


def test_unknown_currency_is_refused():
    with pytest.raises(UnknownCurrency):
        Money("XYZ", 1)


@pytest.mark.parametrize(
    ("amount", "code", "mode", "minor"),
    [
        ("2.525", "USD", "half_up", 253),
        ("-2.525", "USD", "half_up", -253),  # ties away from zero
        ("2.525", "USD", "half_even", 252),
        ("2.535", "USD", "half_even", 254),
        ("1234.5", "JPY", "half_up", 1235),
        ("1.2345", "KWD", "half_up", 1235),
        ("0.0004", "USD", "half_up", 0),
        ("493.8268", "USD", "half_up", 49383),
    ],
)
def test_round_to_minor(amount, code, mode, minor):
    assert round_to_minor(Decimal(amount), code, mode) == Money(code, minor)


def test_money_arithmetic_and_display():
    assert Money("USD", 1050) + Money("USD", -1500) == Money("USD", -450)
    assert str(Money("KWD", 1234)) == "1.234 KWD"
    assert str(Money("JPY", 500)) == "500 JPY"
    assert Money("USD", 1234).to_decimal() == Decimal("12.34")
    with pytest.raises(ValueError, match="cannot combine"):
        Money("USD", 1) + Money("EUR", 1)


def test_floats_never_become_money():
    with pytest.raises(TypeError):
        Money("USD", 12.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["abc", "NaN", "Infinity", "1e5", ""])
def test_parse_decimal_refuses_non_plain_numbers(text):
    with pytest.raises(ValueError):
        parse_decimal(text)


def test_parse_decimal_is_exact():
    assert parse_decimal("0.0004") == Decimal("0.0004")
    assert parse_decimal("-10.10") == Decimal("-10.10")

"""Money: minor units, exact decimals, rounding as a rule."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.domain.money import (
    CURRENCY_EXPONENTS,
    WITHDRAWN,
    AmountOutOfRange,
    Money,
    UnknownCurrency,
    check_quantity,
    currency_problem,
    is_currency,
    minor_unit_exponent,
    parse_decimal,
    round_to_increment,
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


# --- one strict grammar, with bounds ------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "1e3",
        "1E3",
        "1_000",
        " 5 ",
        "5 ",
        "\t5",
        "5\n",
        "+5",
        ".5",
        "5.",
        "-.5",
        "--5",
        "-",
        ".",
        "NaN",
        "nan",
        "sNaN",
        "Infinity",
        "-Infinity",
        "inf",
        "\u0665",  # ARABIC-INDIC DIGIT FIVE, which Decimal() reads as 5
        "1,5",
        "0x10",
        "1" + "0" * 40,  # past 40 characters
        "12345678901234567890",  # 20 significant digits
        "0." + "0" * 18 + "1",  # 19 decimal places
    ],
)
def test_parse_decimal_takes_one_plain_grammar_only(text):
    with pytest.raises(ValueError):
        parse_decimal(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", Decimal(0)),
        ("-12", Decimal(-12)),
        ("007.50", Decimal("7.50")),
        ("1234567890123456789", Decimal(1234567890123456789)),  # 19 significant digits
        ("0.000000000000000001", Decimal("1E-18")),  # 18 places
        ("0000000000000000000000000000001.5", Decimal("1.5")),  # leading zeros are not digits
    ],
)
def test_parse_decimal_reads_plain_decimals_exactly(text, value):
    assert parse_decimal(text) == value


def test_money_is_bounded_by_int64():
    assert Money("USD", 2**63 - 1).amount_minor == 9_223_372_036_854_775_807
    assert Money("USD", -(2**63 - 1)).amount_minor == -9_223_372_036_854_775_807
    with pytest.raises(AmountOutOfRange):
        Money("USD", 2**63)
    with pytest.raises(AmountOutOfRange):
        Money("USD", 2**62) + Money("USD", 2**62)


def test_round_to_minor_refuses_results_beyond_int64_with_a_typed_error():
    # 92,233,720,368,547,758.07 USD is the largest amount: 9,223,372,036,854,775,807 cents.
    assert round_to_minor(Decimal("92233720368547758.07"), "USD").amount_minor == 2**63 - 1
    with pytest.raises(AmountOutOfRange) as raised:
        round_to_minor(Decimal("92233720368547758.08"), "USD")
    assert raised.value.naming("unit_amount").violations[0].field == "unit_amount"
    # 10^40 would make quantize itself fail (38 digits); it is the same typed error.
    with pytest.raises(AmountOutOfRange):
        round_to_minor(Decimal(10) ** 40, "JPY")


def test_quantities_are_bounded():
    check_quantity(Decimal(10) ** 15)
    check_quantity(-(Decimal(10) ** 15))
    with pytest.raises(AmountOutOfRange):
        check_quantity(Decimal(10) ** 15 + 1)


@pytest.mark.parametrize(
    ("amount", "increment", "mode", "rounded"),
    [
        (1232, 5, "half_up", 1230),  # 12.32 CHF -> 12.30
        (1233, 5, "half_up", 1235),  # 12.33 -> 12.35
        (1237, 5, "half_up", 1235),  # 12.37 -> 12.35
        (1238, 5, "half_up", 1240),  # 12.38 -> 12.40
        (-1233, 5, "half_up", -1235),
        (1225, 10, "half_up", 1230),  # a tie, away from zero
        (1225, 10, "half_even", 1220),
        (1230, 5, "half_up", 1230),
    ],
)
def test_cash_rounding_to_an_increment(amount, increment, mode, rounded):
    assert round_to_increment(amount, increment, mode) == rounded


@pytest.mark.parametrize(
    ("code", "left", "instead"),
    [
        ("HRK", "2023-01-01", "EUR"),
        ("SLL", "2024-01-01", "SLE"),
        ("VEF", "2018-08-20", "VES"),
        ("LTL", "2015-01-01", "EUR"),
        ("EEK", "2011-01-01", "EUR"),
    ],
)
def test_withdrawn_currencies_say_when_they_left(code, left, instead):
    assert not is_currency(code)
    assert currency_problem(code) == (
        f"{code} was withdrawn from ISO 4217 on {left}; use {instead}"
    )


def test_withdrawn_and_current_codes_never_overlap():
    assert not set(WITHDRAWN) & set(CURRENCY_EXPONENTS)
    assert currency_problem("EUR") is None
    assert currency_problem("XYZ") == "'XYZ' is not an ISO 4217 currency code"


def test_within_stored_places_rounds_only_past_eighteen_places():
    from billing.domain.money import within_stored_places

    assert str(within_stored_places(Decimal("0.17") / Decimal(3))) == "0.056666666666666667"
    assert str(within_stored_places(Decimal("-0.17") / Decimal(3))) == "-0.056666666666666667"
    assert str(within_stored_places(Decimal("8.00"))) == "8.00"
    assert str(within_stored_places(Decimal("1E+3"))) == "1E+3"
    exact = Decimal("0.123456789012345678")
    assert within_stored_places(exact) is exact
    assert str(within_stored_places(Decimal("0.0000000000000000005"))) == "1E-18"

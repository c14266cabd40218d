"""How rule problems read."""

from __future__ import annotations

import pytest

from billing.rules.errors import RuleError, RuleSetInvalid, RuleWarning, format_path


def test_a_rule_error_reads_file_line_column_path_message() -> None:
    error = RuleError(
        "catalog.yaml",
        12,
        7,
        ("plans", 0, "prices", 1, "amount"),
        "expected a decimal string or number, got 'abc'",
    )
    assert str(error) == (
        "catalog.yaml:12:7: plans[0].prices[1].amount: "
        "expected a decimal string or number, got 'abc'"
    )


def test_a_problem_with_no_path_or_line() -> None:
    assert str(RuleError("money.yaml", 3, 1, (), "YAML syntax error")) == (
        "money.yaml:3:1: YAML syntax error"
    )
    assert str(RuleError("big.yaml", 0, 0, (), "too big")) == "big.yaml: too big"


def test_paths_quote_keys_that_are_not_plain_names() -> None:
    assert format_path(("currencies", "US D", "rounding")) == "currencies['US D'].rounding"
    assert format_path((0, "code")) == "[0].code"
    assert format_path(()) == ""


def test_errors_and_warnings_are_different_things() -> None:
    args = ("p.yaml", 1, 1, ("cases", 1), "x")
    error: object = RuleError(*args)
    assert error != RuleWarning(*args)
    assert error == RuleError(*args)


def test_rule_set_invalid_lists_every_error_in_file_and_line_order() -> None:
    errors = [
        RuleError("pricing.yaml", 3, 1, ("prices",), "b"),
        RuleError("catalog.yaml", 9, 5, ("plans", 0), "a2"),
        RuleError("catalog.yaml", 2, 5, ("kind",), "a1"),
    ]
    invalid = RuleSetInvalid(errors)
    assert [error.message for error in invalid.errors] == ["a1", "a2", "b"]
    assert str(invalid) == (
        "rule set has 3 errors:\n"
        "catalog.yaml:2:5: kind: a1\n"
        "catalog.yaml:9:5: plans[0]: a2\n"
        "pricing.yaml:3:1: prices: b"
    )


def test_rule_set_invalid_needs_an_error() -> None:
    with pytest.raises(ValueError):
        RuleSetInvalid([])

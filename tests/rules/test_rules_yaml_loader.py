"""The YAML reader: exact decimals, strict booleans, no timestamps, positions, duplicates."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.rules.errors import RuleError, RuleSetInvalid
from billing.rules.yaml_loader import NODES_MAX, Position, load_yaml, read_yaml


def test_non_integers_are_exact_decimals_from_the_source_text() -> None:
    data = load_yaml(
        b"unit: 0.0004\nflat: 30.00\ntenth: 0.1\nhalf: 0.5\nneg: -1.25\n", "p.yaml"
    ).data
    assert data == {
        "unit": Decimal("0.0004"),
        "flat": Decimal("30.00"),
        "tenth": Decimal("0.1"),
        "half": Decimal("0.5"),
        "neg": Decimal("-1.25"),
    }
    assert type(data["unit"]) is Decimal
    assert str(data["unit"]) == "0.0004"
    assert str(data["flat"]) == "30.00"  # the written scale is kept
    assert str(data["tenth"]) == "0.1"  # not 0.1000000000000000055511151231257827


def test_integers_stay_int() -> None:
    data = load_yaml(b"count: 30\nneg: -3\n", "p.yaml").data
    assert data == {"count": 30, "neg": -3}
    assert [type(value) for value in data.values()] == [int, int]


@pytest.mark.parametrize("text", ["+4", ".5", "5.", "-.5", "1e3", "1_000", "+1.5", "0x10"])
def test_numbers_outside_the_one_grammar_stay_text(text: str) -> None:
    # The schema of a number field then refuses them with their position; the API refuses
    # the same texts, so a rule file and a request agree on what a number is.
    assert load_yaml(f"value: {text}\n".encode(), "p.yaml").data == {"value": text}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (b"a: 1\nbig: 12345678901234567890\n", "more than 19 significant digits"),
        (b"a: 1\nsub: 0.0000000000000000001\n", "more than 18 decimal places"),
    ],
)
def test_numbers_beyond_the_bounds_are_errors_with_their_position(
    source: bytes, message: str
) -> None:
    with pytest.raises(RuleSetInvalid) as raised:
        load_yaml(source, "p.yaml")
    (error,) = raised.value.errors
    assert (error.file, error.line, error.column) == ("p.yaml", 2, 6)
    assert message in error.message


def test_only_true_and_false_are_booleans() -> None:
    source = (
        b"country: NO\nwords: [yes, no, on, off, Yes, True, FALSE, y, n]\nflags: [true, false]\n"
    )
    data = load_yaml(source, "p.yaml").data
    assert data == {
        "country": "NO",
        "words": ["yes", "no", "on", "off", "Yes", "True", "FALSE", "y", "n"],
        "flags": [True, False],
    }


def test_timestamps_and_dates_stay_text() -> None:
    data = load_yaml(b"at: 2024-01-01T00:00:00Z\nday: 2024-01-01\n", "p.yaml").data
    assert data == {"at": "2024-01-01T00:00:00Z", "day": "2024-01-01"}


def test_null_forms_and_what_is_not_null() -> None:
    data = load_yaml(b"a: ~\nb: null\nc:\nd: none\ne: 'null'\n", "p.yaml").data
    assert data == {"a": None, "b": None, "c": None, "d": "none", "e": "null"}


def test_floats_friends_stay_text_for_the_schema_to_refuse() -> None:
    data = load_yaml(b"a: 1e5\nb: .inf\nc: .nan\nd: 0x1f\ne: 1_000\n", "p.yaml").data
    assert data == {"a": "1e5", "b": ".inf", "c": ".nan", "d": "0x1f", "e": "1_000"}


def test_quoted_and_explicitly_tagged_scalars() -> None:
    data = load_yaml(b"a: '0.0004'\nb: !!str 12\nc: !!float 1.5\nd: !!int 7\n", "p.yaml").data
    assert data == {"a": "0.0004", "b": "12", "c": Decimal("1.5"), "d": 7}


def test_every_value_and_key_keeps_its_line_and_column() -> None:
    source = b"""\
kind: catalog
plans:
  - code: basic
    prices:
      - currency: USD
        amount: 30.00
      - currency: EUR
        amount:   28.00
"""
    document = load_yaml(source, "catalog.yaml")
    assert document.positions[()] == Position(1, 1)
    assert document.positions[("kind",)] == Position(1, 7)
    assert document.positions[("plans", 0)] == Position(3, 5)
    assert document.positions[("plans", 0, "prices", 1, "amount")] == Position(8, 19)
    assert document.key_positions[("plans", 0, "prices", 1, "amount")] == Position(8, 9)
    assert document.position(("plans", 0, "prices", 1, "amount")) == (8, 19)
    # A value that is not there is placed at its nearest parent.
    assert document.position(("plans", 0, "prices", 1, "missing")) == (7, 9)
    assert document.key_position(("plans", 0, "nope")) == (3, 5)


def test_a_duplicate_key_is_an_error_at_the_second_occurrence() -> None:
    source = b"kind: catalog\nplans:\n  - code: basic\n    code: pro\n"
    with pytest.raises(RuleSetInvalid) as raised:
        load_yaml(source, "catalog.yaml")
    assert raised.value.errors == (
        RuleError(
            "catalog.yaml", 4, 5, ("plans", 0, "code"), "duplicate key 'code' (first at line 3)"
        ),
    )


def test_read_yaml_keeps_the_first_of_duplicate_keys_and_reports_all() -> None:
    document, errors = read_yaml(b"a: 1\na: 2\nb: 1\nb: 2\n", "x.yaml")
    assert document is not None
    assert document.data == {"a": 1, "b": 1}
    assert [str(error) for error in errors] == [
        "x.yaml:2:1: a: duplicate key 'a' (first at line 1)",
        "x.yaml:4:1: b: duplicate key 'b' (first at line 3)",
    ]


def test_a_syntax_error_names_file_line_and_column() -> None:
    with pytest.raises(RuleSetInvalid) as raised:
        load_yaml(b"kind: money\nrounding: half_up\n  extra: 1\n", "money.yaml")
    assert [str(error) for error in raised.value.errors] == [
        "money.yaml:3:8: YAML syntax error: mapping values are not allowed here",
    ]


def test_tags_we_do_not_read_are_errors() -> None:
    source = b"a: !!binary aGk=\nb: !!timestamp 2024-01-01\nc: !custom x\nd: !!int x\n"
    with pytest.raises(RuleSetInvalid) as raised:
        load_yaml(source, "x.yaml")
    assert [str(error) for error in raised.value.errors] == [
        "x.yaml:1:4: a: unsupported YAML tag 'tag:yaml.org,2002:binary'",
        "x.yaml:2:4: b: unsupported YAML tag 'tag:yaml.org,2002:timestamp'",
        "x.yaml:3:4: c: unsupported YAML tag '!custom'",
        "x.yaml:4:4: d: 'x' cannot be read as a whole number",
    ]


def test_keys_must_be_text() -> None:
    with pytest.raises(RuleSetInvalid) as raised:
        load_yaml(b"plans:\n  true: 1\n  2: x\n", "x.yaml")
    assert [str(error) for error in raised.value.errors] == [
        "x.yaml:2:3: plans: mapping keys must be text (quote it)",
        "x.yaml:3:3: plans: mapping keys must be text (quote it)",
    ]


def test_bytes_that_are_not_utf8_are_reported_at_their_line() -> None:
    with pytest.raises(RuleSetInvalid) as raised:
        load_yaml(b"kind: money\nname: caf\xe9\n", "money.yaml")
    assert [str(error) for error in raised.value.errors] == [
        "money.yaml:2:10: file is not UTF-8 text"
    ]


def test_an_alias_bomb_stops_at_the_value_limit() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    with pytest.raises(RuleSetInvalid) as raised:
        load_yaml("\n".join(lines), "bomb.yaml")
    assert [error.message for error in raised.value.errors] == [
        f"more than {NODES_MAX} values (aliases count each use)"
    ]


def test_an_empty_file_reads_as_null() -> None:
    document = load_yaml(b"# only a comment\n", "empty.yaml")
    assert document.data is None
    assert document.position(()) == (1, 1)

"""Loading a rule set: the content hash, rebuilding from bytes, lookups at an instant."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from rule_files import BUILTIN_ENGINES, EXAMPLE_RULES, REPO_ENGINES, encode, load

from billing.rules import (
    PlanPrice,
    RuleError,
    RuleSetInvalid,
    content_hash,
    load_rule_set,
    load_rule_set_from_files,
)

JAN_2024 = datetime(2024, 1, 1, tzinfo=UTC)
JAN_2025 = datetime(2025, 1, 1, tzinfo=UTC)

VERSIONED = {
    "catalog.yaml": """\
    kind: catalog
    products:
      - code: api
        name: API
    plans:
      - code: api_monthly
        product: api
        interval: month
        prices:
          - currency: USD
            amount: 30.00
            effective_from: 2024-01-01T00:00:00Z
          - currency: USD
            amount: 35.00
            effective_from: 2025-01-01T00:00:00Z
          - currency: USD
            price: calls
    """,
    "pricing.yaml": """\
    kind: pricing
    prices:
      - code: calls
        model: per_unit
        currency: USD
        unit_amount: 0.0004
        effective_from: 2024-01-01T00:00:00Z
      - code: calls
        model: per_unit
        currency: USD
        unit_amount: 0.0005
        effective_from: 2025-01-01T00:00:00Z
      - code: seats
        model: per_unit
        currency: USD
        unit_amount: 8.00
      - code: seats
        model: per_unit
        currency: USD
        unit_amount: 9.00
        effective_from: 2025-01-01T00:00:00+00:00
    """,
}


def test_the_content_hash_is_sha256_of_sorted_names_and_exact_bytes() -> None:
    files = {"money.yaml": b"kind: money\n"}
    # Pinned: stored rule sets are found by this value, so the canonical form must not drift.
    assert content_hash(files) == "ae70d842bab80eeffc4b285633656c5f8d198dcff228a238c53753c32f0c9b5e"
    expected = hashlib.sha256(b"billing-rules/v1\n")
    for part in (b"money.yaml", b"kind: money\n"):
        expected.update(len(part).to_bytes(8, "big") + part)
    assert content_hash(files) == expected.hexdigest()


def test_the_content_hash_is_stable_and_follows_every_byte() -> None:
    files = encode(VERSIONED)
    first = load_rule_set_from_files(files, BUILTIN_ENGINES)
    again = load_rule_set_from_files(dict(reversed(list(files.items()))), BUILTIN_ENGINES)
    assert first.content_hash == again.content_hash == content_hash(files)
    assert first == again

    edited = {**files, "pricing.yaml": files["pricing.yaml"].replace(b"0.0004", b"0.0003")}
    commented = {**files, "pricing.yaml": files["pricing.yaml"] + b"# a comment\n"}
    renamed = {"catalog2.yaml": files["catalog.yaml"], "pricing.yaml": files["pricing.yaml"]}
    hashes = {content_hash(variant) for variant in (files, edited, commented, renamed)}
    assert len(hashes) == 4
    # Name/content boundaries cannot be shifted to forge the same canonical form.
    assert content_hash({"a.yaml": b"xb.yaml"}) != content_hash({"a.yamlx": b"", "b.yaml": b""})


def test_a_rule_set_is_rebuilt_from_its_stored_bytes() -> None:
    original = load_rule_set(EXAMPLE_RULES, REPO_ENGINES)
    rebuilt = load_rule_set_from_files(dict(original.files), REPO_ENGINES)
    assert rebuilt.content_hash == original.content_hash
    assert rebuilt.catalog == original.catalog
    assert rebuilt.prices == original.prices
    assert rebuilt.tax == original.tax
    assert original.files["money.yaml"] == (EXAMPLE_RULES / "money.yaml").read_bytes()


def test_load_rule_set_reads_yaml_files_only_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b.yml").write_bytes(b"kind: money\n")
    (tmp_path / "a.yaml").write_bytes(b"kind: tax\n")
    (tmp_path / "README.md").write_bytes(b"not rules\n")
    (tmp_path / ".a.yaml.swp.yaml").write_bytes(b"editor junk\n")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "c.yaml").write_bytes(b"kind: nonsense\n")
    rule_set = load_rule_set(tmp_path, BUILTIN_ENGINES)
    assert list(rule_set.files) == ["a.yaml", "b.yml"]
    assert rule_set.content_hash == content_hash(
        {"a.yaml": b"kind: tax\n", "b.yml": b"kind: money\n"}
    )


def test_an_empty_rule_set_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set(tmp_path, BUILTIN_ENGINES)
    assert raised.value.errors == (RuleError("<rule set>", 0, 0, (), "no *.yaml or *.yml files"),)


def test_stored_files_must_have_rule_file_names() -> None:
    with pytest.raises(ValueError, match=r"not rule file names: notes\.txt, sub/a\.yaml"):
        load_rule_set_from_files({"sub/a.yaml": b"", "notes.txt": b""}, BUILTIN_ENGINES)


def test_price_in_force_takes_the_latest_version_started_at_the_instant() -> None:
    rule_set = load(VERSIONED)

    def unit_amount(code: str, at: datetime) -> Decimal | None:
        price = rule_set.price_in_force(code, at)
        return None if price is None else price.unit_amount

    just_before = datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert unit_amount("calls", datetime(2023, 12, 31, 23, 59, 59, tzinfo=UTC)) is None
    assert unit_amount("calls", JAN_2024) == Decimal("0.0004")  # in force at its instant
    assert unit_amount("calls", just_before) == Decimal("0.0004")
    assert unit_amount("calls", JAN_2025) == Decimal("0.0005")
    assert unit_amount("calls", datetime(2030, 6, 1, tzinfo=UTC)) == Decimal("0.0005")
    # An undated version is in force from the beginning, until a dated one starts.
    assert unit_amount("seats", datetime(1990, 1, 1, tzinfo=UTC)) == Decimal("8.00")
    assert unit_amount("seats", just_before) == Decimal("8.00")
    assert unit_amount("seats", JAN_2025) == Decimal("9.00")
    # Another zone, same instant.
    assert unit_amount("calls", datetime.fromisoformat("2025-01-01T01:00:00+01:00")) == Decimal(
        "0.0005"
    )


def test_lookups_refuse_unknown_codes_and_naive_instants() -> None:
    rule_set = load(VERSIONED)
    with pytest.raises(KeyError):
        rule_set.price_in_force("nope", JAN_2024)
    with pytest.raises(ValueError, match="timezone-aware"):
        rule_set.price_in_force("calls", datetime(2024, 1, 1))


def test_catalog_as_of_keeps_the_plan_prices_then_in_force() -> None:
    rule_set = load(VERSIONED)
    calls = PlanPrice("USD", price_code="calls")
    assert rule_set.catalog_as_of(datetime(2024, 6, 1, tzinfo=UTC)).plans["api_monthly"].prices == (
        PlanPrice("USD", amount=Decimal("30.00"), effective_from=JAN_2024),
        calls,
    )
    assert rule_set.catalog_as_of(JAN_2025).plans["api_monthly"].prices == (
        PlanPrice("USD", amount=Decimal("35.00"), effective_from=JAN_2025),
        calls,
    )
    # The full catalog keeps every version.
    assert len(rule_set.catalog.plans["api_monthly"].prices) == 3


def test_catalog_as_of_leaves_out_plans_not_yet_priced() -> None:
    files = {
        "catalog.yaml": """\
        kind: catalog
        products:
          - {code: api, name: API}
        plans:
          - code: api_monthly
            product: api
            interval: month
            prices:
              - {currency: USD, amount: 30.00, effective_from: 2025-01-01T00:00:00Z}
        """
    }
    rule_set = load(files)
    assert dict(rule_set.catalog_as_of(JAN_2024).plans) == {}
    assert list(rule_set.catalog_as_of(JAN_2025).plans) == ["api_monthly"]
    assert list(rule_set.catalog_as_of(JAN_2024).products) == ["api"]


def test_a_rule_set_cannot_be_changed() -> None:
    rule_set = load(VERSIONED)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule_set.content_hash = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        rule_set.files["catalog.yaml"] = b""  # type: ignore[index]
    with pytest.raises(TypeError):
        rule_set.catalog.plans["x"] = rule_set.catalog.plans["api_monthly"]  # type: ignore[index]
    with pytest.raises(TypeError):
        rule_set.prices["calls"] = ()  # type: ignore[index]

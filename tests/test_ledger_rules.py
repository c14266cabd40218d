"""The `ledger` rule kind (ADR 0052): reporting currency, FX rates, chart of accounts; a bad
file refuses the whole rule set naming file, line and field."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billing.domain.ledger_rules import ChartAccount, FxRate, LedgerRules
from billing.rules import RuleSetInvalid, load_rule_set_from_files
from billing_fixtures import rules
from test_tax_rules import ENGINES

LEDGER = b"""\
kind: ledger
reporting_currency: EUR
fx_rates:
  - {currency: USD, rate: 0.92, effective_from: 2026-01-01}
  - {currency: USD, rate: 0.9184, effective_from: 2026-06-01}
chart:
  - {ledger_account: revenue, code: "4000", name: Subscription revenue}
  - {ledger_account: "revenue:pro", code: "4010", name: Pro revenue}
"""


def test_a_ledger_file_builds_the_ledger_rules() -> None:
    built = load_rule_set_from_files({**rules(), "ledger.yaml": LEDGER}, ENGINES).ledger
    assert built == LedgerRules(
        reporting_currency="EUR",
        fx_rates=(
            FxRate("USD", Decimal("0.92"), date(2026, 1, 1)),
            FxRate("USD", Decimal("0.9184"), date(2026, 6, 1)),
        ),
        chart=(
            ChartAccount("revenue", "4000", "Subscription revenue"),
            ChartAccount("revenue:pro", "4010", "Pro revenue"),
        ),
    )
    assert load_rule_set_from_files(rules(), ENGINES).ledger == LedgerRules()


def test_a_bad_ledger_file_names_file_line_and_field() -> None:
    bad = b"""\
kind: ledger
reporting_currency: EUR
fx_rates:
  - {currency: XXX, rate: 0.92, effective_from: 2026-01-01}
  - {currency: USD, rate: 0, effective_from: 2026-01-01}
  - {currency: EUR, rate: 1, effective_from: 2026-01-01}
chart:
  - {ledger_account: petty_cash, code: "1000", name: Petty cash}
  - {ledger_account: revenue, code: "4000", name: Revenue}
  - {ledger_account: revenue, code: "4001", name: Revenue again}
"""
    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set_from_files({**rules(), "ledger.yaml": bad}, ENGINES)
    found = [str(error) for error in raised.value.errors]
    assert [f.split(":")[0:2] for f in found] == [["ledger.yaml", str(n)] for n in (4, 5, 6, 8, 10)]
    assert "'XXX' is not an ISO 4217 currency code" in found[0]
    assert "fx_rates[1].rate: must be above 0" in found[1]
    assert "is the reporting currency EUR" in found[2]
    assert "'petty_cash' is not a ledger account" in found[3]
    assert "'revenue' is mapped twice" in found[4]

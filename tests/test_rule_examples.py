"""The example rule sets in rules/examples/ (Stripe, Kill Bill, Lago defaults, and the
plan-change policies), over a real channel on SQLite and PostgreSQL: each is accepted, and
prorates the way its README says."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from billing.rules import content_hash
from billing_fixtures import Billing, amounts, iso
from conftest import REPO_RULES, rule_files

EXAMPLES = REPO_RULES / "examples"
FILES = {
    "README.md",
    "catalog.yaml",
    "invoicing.yaml",
    "money.yaml",
    "pricing.yaml",
    "proration.yaml",
}
START = "2026-04-01T00:00:00Z"
CHANGE_AT = "2026-04-16T12:00:00Z"
RENEWAL = "2026-05-01T00:00:00Z"


@dataclass(frozen=True)
class Example:
    name: str
    upgrade_lines: list[int]  # credit for Basic, charge for Pro, in cents
    factor: str
    invoiced_at_once: bool  # always_invoice; otherwise create_prorations (next invoice)
    downgrade_deferred: bool  # pro -> basic waits for the period end
    downgrade_lines: list[int]  # when not deferred

    @property
    def directory(self) -> Path:
        return EXAMPLES / self.name


SECOND = "1252800/2592000 seconds"
DAY = "15/30 days"
EXAMPLES_EXPECTED = [
    Example("stripe", [-1450, 2417], SECOND, False, False, [-2417, 1450]),
    Example("killbill", [-1500, 2500], DAY, True, True, []),
    Example("lago", [-1500, 2500], DAY, True, True, []),
    # Downgrades wait by `direction: downgrade` (30.00 < 50.00 a month), not by product names.
    Example("plan_changes", [-1500, 2500], DAY, True, True, []),
]
BY_NAME = pytest.mark.parametrize("example", EXAMPLES_EXPECTED, ids=lambda e: e.name)


@pytest.fixture
def billing(channel, tenant) -> Billing:
    return Billing(channel, tenant.metadata)


def subscribed(billing: Billing, example: Example, plan: str):  # type: ignore[no-untyped-def]
    files = rule_files(example.directory)
    pushed = billing.push(files)
    assert pushed.content_hash == content_hash(files)
    assert list(pushed.warnings) == []
    clock = billing.clock(START)
    customer = billing.customer(clock)
    sub = billing.subscribe(customer, plan)
    [first] = billing.invoices_of(sub)
    assert amounts(first.lines) == [3000 if plan == "basic_monthly" else 5000]
    return clock, sub


# Examples of usage policies, not of plan changes: checked by tests/test_usage_pricing.py
# (usage_pricing) and tests/test_usage_examples.py (usage: levels that carry).
USAGE_EXAMPLES = {"usage_pricing", "usage"}
# Money policies: swiss_cash_rounding is checked by tests/test_exactness_api.py.
MONEY_EXAMPLES = {"swiss_cash_rounding"}
# Tax from a third-party plugin: tax_iceland is checked by tests/test_tax_rules_plugin.py.
TAX_EXAMPLES = {"tax_iceland"}
# Dunning: checked by tests/rules/test_rules_dunning.py and tests/test_dunning_rules_api.py.
DUNNING_EXAMPLES = {"dunning"}


def test_the_examples_are_the_complete_rule_sets():
    assert sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()) == sorted(
        {e.name for e in EXAMPLES_EXPECTED}
        | USAGE_EXAMPLES
        | MONEY_EXAMPLES
        | TAX_EXAMPLES
        | DUNNING_EXAMPLES
    )
    for example in EXAMPLES_EXPECTED:
        assert {p.name for p in example.directory.iterdir()} == FILES, example.name


@pytest.mark.parametrize("example", EXAMPLES_EXPECTED, ids=lambda e: e.name)
def test_rules_check_accepts_the_example(example):
    result = subprocess.run(
        [sys.executable, "-m", "billing", "rules", "check", str(example.directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"ok, rule set {content_hash(rule_files(example.directory))}" in result.stdout
    assert "warning" not in result.stderr


@BY_NAME
def test_upgrade_at_noon_on_the_16th(billing, example):
    clock, sub = subscribed(billing, example, "basic_monthly")
    changed = billing.change(sub, plan="pro_monthly", at=CHANGE_AT)
    assert amounts(changed.lines) == example.upgrade_lines
    assert [line.proration_factor for line in changed.lines] == [example.factor] * 2
    assert changed.subscription.plan == "plans/pro_monthly"
    assert not changed.subscription.HasField("pending_change")
    net = sum(example.upgrade_lines)

    invoices = billing.invoices_of(sub)
    if example.invoiced_at_once:
        # always_invoice: the prorations are invoiced on the spot, and only there.
        assert changed.invoice
        assert len(invoices) == 2
        update = invoices[-1]
        assert update.name == changed.invoice
        assert update.billing_reason == "subscription_update"
        assert iso(update.create_time) == CHANGE_AT
        assert amounts(update.lines) == example.upgrade_lines
        assert update.total.amount_minor == net
    else:
        # create_prorations: nothing is invoiced until the next invoice, the renewal.
        assert not changed.invoice
        assert len(invoices) == 1

    billing.advance(clock, RENEWAL)
    renewal = billing.invoices_of(sub)[-1]
    assert renewal.billing_reason == "subscription_cycle"
    assert iso(renewal.create_time) == RENEWAL
    assert (iso(renewal.period_start), iso(renewal.period_end)) == (
        RENEWAL,
        "2026-06-01T00:00:00Z",
    )
    if example.invoiced_at_once:
        assert amounts(renewal.lines) == [5000]
        assert renewal.total.amount_minor == 5000
    else:
        assert amounts(renewal.lines) == [*example.upgrade_lines, 5000]
        assert renewal.total.amount_minor == net + 5000
    assert len(billing.invoices_of(sub)) == (3 if example.invoiced_at_once else 2)


@BY_NAME
def test_downgrade_on_the_16th(billing, example):
    clock, sub = subscribed(billing, example, "pro_monthly")
    changed = billing.change(sub, plan="basic_monthly", at=CHANGE_AT)
    assert amounts(changed.lines) == example.downgrade_lines
    assert not changed.invoice
    if example.downgrade_deferred:
        assert changed.subscription.plan == "plans/pro_monthly"
        pending = changed.subscription.pending_change
        assert pending.plan == "plans/basic_monthly"
        assert iso(pending.effective_time) == RENEWAL
    else:
        assert changed.subscription.plan == "plans/basic_monthly"
        assert not changed.subscription.HasField("pending_change")
    assert len(billing.invoices_of(sub)) == 1

    billing.advance(clock, RENEWAL)
    current = billing.get(sub)
    assert current.plan == "plans/basic_monthly"
    assert not current.HasField("pending_change")
    renewal = billing.invoices_of(sub)[-1]
    assert iso(renewal.create_time) == RENEWAL
    assert amounts(renewal.lines) == [*example.downgrade_lines, 3000]

"""The plugin system: discovery through entry points, every hook exercised, and honesty
checks that keep hooks tested and documented."""

from __future__ import annotations

import asyncio
import inspect
import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pluggy
import pytest

from billing.app.fraud_scoring import assess_payment
from billing.domain.fraud import FraudFacts, Verdict
from billing.domain.payment_rules import FraudRules
from billing.domain.tax import (
    NO_TAX_RULES,
    Buyer,
    Place,
    Seller,
    TaxableLine,
    TaxRequest,
    Treatment,
)
from billing.plugins import hookspecs
from billing.plugins.engines import (
    ChargeRequest,
    GatewayConnection,
    GatewayStatus,
    Notification,
    PricingRequest,
    ProrationRequest,
    RecognitionRequest,
)
from billing.plugins.registry import (
    ENGINE_KINDS,
    DuplicateEngine,
    collect,
    load_engines,
    make_manager,
)
from billing.rules import load_rule_set_from_files
from billing.rules.model import Price, Tier
from fraud_scorer_plugin import engines_with_scorers

ROOT = Path(__file__).parents[1]
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("billing_"))


@pytest.fixture(scope="module")
def engines():
    return load_engines()


def test_builtin_engines_are_found_through_the_entry_point_group(engines):
    assert {k: sorted(v) for k, v in engines.names().items()} == {
        "pricing_model": [
            "graduated",
            "graduated_percentage",
            "package",
            "per_block",
            "per_unit",
            "percentage",
            "volume",
        ],
        "proration_policy": ["day", "second"],
        "tax_engine": [
            "au_gst",
            "canada",
            "ch_vat",
            "eu_vat",
            "example_iceland_vat",
            "flat_rate",
            "india_gst",
            "jp_ct",
            "no_vat",
            "none",
            "nz_gst",
            "sg_gst",
            "uk_vat",
            "us_sales_tax",
        ],
        "tax_id_verifier": ["vies"],
        "payment_gateway": ["adyen", "sandbox", "stripe"],
        "fraud_check": [],
        "recognition_method": ["ratable_monthly"],
        "notification_channel": ["log"],
    }
    assert "builtin_pricing" in engines.plugin_names


def test_example_plugin_is_installed_not_imported_from_the_source_tree(engines):
    import billing_example_pricing

    location = Path(billing_example_pricing.__file__).resolve()
    assert "site-packages" in location.parts
    assert ROOT / "plugins" not in location.parents
    assert "example_pricing" in engines.plugin_names


def test_billing_register_pricing_models(engines):
    tiers = (Tier(100, Decimal("1.00")), Tier(None, Decimal("0.50")))
    graduated = Price("api", "graduated", "USD", tiers=tiers)
    priced = engines.get("pricing_model", "graduated").price(
        PricingRequest(graduated, Decimal(150))
    )
    assert priced.amount == Decimal("125.00")
    per_block = Price(
        "sms", "per_block", "USD", params={"block_size": 1000, "block_amount": Decimal("2.50")}
    )
    assert engines.get("pricing_model", "per_block").price(
        PricingRequest(per_block, Decimal(2001))
    ).amount == Decimal("7.50")


def test_billing_register_proration_policies(engines):
    request = ProrationRequest(
        datetime(2026, 4, 1, tzinfo=UTC),
        datetime(2026, 5, 1, tzinfo=UTC),
        datetime(2026, 4, 16, tzinfo=UTC),
        "UTC",
    )
    assert str(engines.get("proration_policy", "day").remaining(request)) == "15/30 days"
    by_second = engines.get("proration_policy", "second").remaining(request)
    assert (by_second.numerator, by_second.denominator) == (15 * 86400, 30 * 86400)


def test_billing_register_tax_engines(engines):
    request = TaxRequest(
        "EUR",
        Seller(Place("FR")),
        Buyer(Place("DE")),
        (TaxableLine(0, 1000, "saas"), TaxableLine(1, 250, "saas")),
        date(2026, 4, 1),
    )
    decided = engines.get("tax_engine", "none").determine(request, NO_TAX_RULES)
    assert [(t.line_index, t.jurisdiction, t.treatment) for t in decided] == [
        (0, "DE", Treatment.OUT_OF_SCOPE),
        (1, "DE", Treatment.OUT_OF_SCOPE),
    ]


def test_billing_register_payment_gateways(engines):
    gateway = engines.get("payment_gateway", "sandbox").connect(GatewayConnection("sandbox"))
    ok = asyncio.run(gateway.purchase(ChargeRequest("k1", 1000, "USD", "tok_visa")))
    declined = asyncio.run(gateway.purchase(ChargeRequest("k2", 1000, "USD", "tok_decline")))
    assert (ok.status, declined.status, declined.decline_code) == (
        GatewayStatus.SUCCEEDED,
        GatewayStatus.FAILED,
        "generic_decline",
    )


def test_billing_register_fraud_checks(engines):
    # No built-in scorer: the rules' own checks cover velocity, amounts and countries. A
    # plugin's scorer is found by name, named by payment rules, and its block stops a charge.
    assert engines.by_kind["fraud_check"] == {}
    with_plugin, _ = engines_with_scorers()
    checks = with_plugin.by_kind["fraud_check"]
    assert sorted(checks) == ["block_list", "broken", "confused", "sleepy"]
    rules = FraudRules(scorers=("block_list",), settings={"block_list": {"customers": ["c9"]}})
    facts = FraudFacts(1000, "EUR", "DE", "DE", "", 30, customer_id="c9")
    assert asyncio.run(assess_payment(rules, facts, checks)) == Verdict(
        "block", ("block_list: customer c9 is on the block list",)
    )


def test_billing_register_recognition_methods(engines):
    monthly = engines.get("recognition_method", "ratable_monthly")
    # Jan 15 to Mar 15: 17/31 of January, all of February, 14/31 of March.
    entries = monthly.schedule(RecognitionRequest(10000, date(2026, 1, 15), date(2026, 3, 15)))
    assert [(e.on, e.amount_minor) for e in entries] == [
        (date(2026, 1, 31), 2742),
        (date(2026, 2, 28), 5000),
        (date(2026, 3, 14), 2258),
    ]
    [whole] = monthly.schedule(RecognitionRequest(999, date(2026, 2, 1), date(2026, 3, 1)))
    assert (whole.on, whole.amount_minor) == (date(2026, 2, 28), 999)


def test_billing_register_notification_channels(engines, caplog):
    with caplog.at_level(logging.INFO, logger="billing.notifications"):
        asyncio.run(
            engines.get("notification_channel", "log").send(
                Notification("t1", "ap@acme.example", "invoice_finalized")
            )
        )
    assert [r.template for r in caplog.records] == ["invoice_finalized"]  # type: ignore[attr-defined]


def test_two_plugins_registering_one_name_is_an_error():
    hookimpl = pluggy.HookimplMarker("billing")

    class Twin:
        @hookimpl
        def billing_register_tax_engines(self, register):  # type: ignore[no-untyped-def]
            register("none", object())

    with pytest.raises(DuplicateEngine, match="tax_engine 'none'"):
        collect(make_manager([Twin()]))


def test_a_plugin_model_checks_its_params_at_load(engines):
    files = {
        "pricing.yaml": b"kind: pricing\nprices:\n  - code: sms\n    model: per_block\n"
        b"    currency: USD\n    params:\n      block_size: 0\n      block_amount: 2.50\n"
    }
    with pytest.raises(Exception) as failure:
        load_rule_set_from_files(files, engines.by_kind)
    [error] = failure.value.errors  # type: ignore[attr-defined]
    assert (error.file, error.line, error.path_text) == ("pricing.yaml", 7, "prices[0].params")
    assert "block_size" in error.message


# --- honesty checks ---------------------------------------------------------------------


def test_every_engine_kind_has_a_hook():
    assert sorted(ENGINE_KINDS.values()) == HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hooks_have_tests(hook):
    tests = "".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    assert f"def test_{hook}(" in tests, f"{hook} has no test named test_{hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hooks_are_documented(hook):
    guide = (ROOT / "docs" / "plugins.md").read_text()
    assert f"### `{hook}`" in guide, f"{hook} is missing from docs/plugins.md"
    signature = str(inspect.signature(getattr(hookspecs, hook)))
    assert "register" in signature
    assert getattr(hookspecs, hook).__doc__, f"{hook} has no docstring"

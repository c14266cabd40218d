"""Tax rule files through RuleService over a real channel, on SQLite and PostgreSQL: a bad
one refuses the whole rule set with every error at its file, line and field, like any other
kind; ValidateRuleSet reports the same without storing."""

from __future__ import annotations

import uuid

import grpc
import pytest

from billing.plugins.registry import load_engines
from billing_client.v1 import catalog_pb2 as cat
from billing_client.v1 import rules_pb2 as rp
from conftest import rule_files
from grpc_helpers import error_info, field_violations

NORWAY = """\
kind: tax
jurisdictions:
  - code: NO
    name: Norway
    engine: none
    tax_name: MVA
    rates:
      - {name: standard, percent: 25, effective_from: 2005-01-01, source: "Merverdiavgiftsloven § 5-1"}
    tax_codes: {saas: standard, ebook: zero_rated}
"""

BROKEN = """\
kind: tax
jurisdictions:
  - code: NO
    name: Norway
    engine: norway_vat
    tax_name: MVA
    rates:
      - {name: standard, percent: 25, effective_from: 2005-01-01, source: "§ 5-1"}
      - {name: standard, percent: 100, effective_from: 2005-01-01, source: "§ 5-1"}
    tax_codes: {saas: standard, ebook: reduced}
  - code: XK
    name: Kosovo
    engine: none
    tax_name: TVSH
"""


def nordic_files(nordics: str) -> dict[str, bytes]:
    """The shipped rules with `tax_nordics.yaml` added, less `tax_europe.yaml` (which lists
    Norway too: a jurisdiction is defined once across the files)."""
    files = rule_files(**{"tax_nordics.yaml": nordics})
    del files["tax_europe.yaml"]
    return files


def push(rules_api, tenant, files):  # type: ignore[no-untyped-def]
    request = rp.PushRuleSetRequest(files=files, request_id=uuid.uuid4().hex)
    return rules_api.PushRuleSet(request, metadata=tenant.metadata)


def test_a_tax_file_is_pushed_with_the_rest(rules_api, tenant):
    pushed = push(rules_api, tenant, nordic_files(NORWAY))
    assert pushed.active
    assert "tax_nordics.yaml" in pushed.files
    assert list(pushed.warnings) == []


def test_a_bad_tax_file_refuses_the_whole_rule_set(rules_api, tenant):
    good = push(rules_api, tenant, rule_files())
    with pytest.raises(grpc.RpcError) as failure:
        push(rules_api, tenant, nordic_files(BROKEN))
    error = failure.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(error).reason == "RULE_SET_INVALID"
    assert field_violations(error) == {
        'files["tax_nordics.yaml"].jurisdictions[0].engine':
            "tax_nordics.yaml:5:13: jurisdictions[0].engine: unknown tax engine 'norway_vat';"
            " registered: " + ", ".join(sorted(registered_tax_engines())),
        'files["tax_nordics.yaml"].jurisdictions[0].rates[1].effective_from':
            "tax_nordics.yaml:9:56: jurisdictions[0].rates[1].effective_from: rate 'standard'"
            " already has an entry effective from 2005-01-01 (rates[0])",
        'files["tax_nordics.yaml"].jurisdictions[0].rates[1].percent':
            "tax_nordics.yaml:9:35: jurisdictions[0].rates[1].percent: must be below 100, got 100",
        'files["tax_nordics.yaml"].jurisdictions[0].tax_codes.ebook':
            "tax_nordics.yaml:10:40: jurisdictions[0].tax_codes.ebook: 'reduced' is neither a"
            " rate name of NO (standard) nor a treatment (exempt, zero_rated, out_of_scope)",
        # Kosovo uses XK, a code ISO 3166 leaves to user assignment: not an ISO country.
        'files["tax_nordics.yaml"].jurisdictions[1].code':
            "tax_nordics.yaml:11:11: jurisdictions[1].code: unknown country code 'XK' (ISO"
            " 3166-1 alpha-2, such as DE or CA)",
    }  # fmt: skip
    active = rules_api.GetActiveRuleSet(rp.GetActiveRuleSetRequest(), metadata=tenant.metadata)
    assert active.content_hash == good.content_hash


def test_validate_shows_tax_errors_without_storing(rules_api, tenant):
    result = rules_api.ValidateRuleSet(
        rp.ValidateRuleSetRequest(files=nordic_files(BROKEN)),
        metadata=tenant.metadata,
    )
    found = [(e.file, e.line, e.column, e.path) for e in result.errors]
    assert found == [
        ("tax_nordics.yaml", 5, 13, "jurisdictions[0].engine"),
        ("tax_nordics.yaml", 9, 35, "jurisdictions[0].rates[1].percent"),
        ("tax_nordics.yaml", 9, 56, "jurisdictions[0].rates[1].effective_from"),
        ("tax_nordics.yaml", 10, 40, "jurisdictions[0].tax_codes.ebook"),
        ("tax_nordics.yaml", 11, 11, "jurisdictions[1].code"),
    ]
    with pytest.raises(grpc.RpcError) as failure:
        rules_api.GetRuleSet(
            rp.GetRuleSetRequest(name=f"ruleSets/{result.content_hash}"), metadata=tenant.metadata
        )
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND


def registered_tax_engines() -> set[str]:
    return load_engines().names()["tax_engine"]


TAXED_CATALOG = """\
kind: catalog
products:
  - {code: app, name: App, tax_code: saas}
  - {code: box, name: Box}
plans:
  - code: app_monthly
    name: App
    product: app
    interval: month
    prices:
      - {currency: EUR, amount: 119.00, tax_behavior: inclusive}
      - {currency: USD, amount: 100.00}
"""
TAXED_PRICES = """\
kind: pricing
prices:
  - {code: seats, model: per_unit, currency: EUR, unit_amount: 5.00, tax_behavior: exclusive}
"""


def test_the_catalog_shows_tax_codes_and_tax_behavior(rules_api, catalog, tenant):
    files = {
        "catalog.yaml": TAXED_CATALOG.encode(),
        "pricing.yaml": TAXED_PRICES.encode(),
        "money.yaml": b"kind: money\nrounding: half_up\n",
    }
    assert push(rules_api, tenant, files).active
    products = catalog.ListProducts(cat.ListProductsRequest(), metadata=tenant.metadata)
    assert [(p.name, p.tax_code) for p in products.products] == [
        ("products/app", "saas"),
        ("products/box", ""),
    ]
    plan = catalog.GetPlan(cat.GetPlanRequest(name="plans/app_monthly"), metadata=tenant.metadata)
    assert sorted((p.currency_code, p.tax_behavior) for p in plan.prices) == [
        ("EUR", "inclusive"),
        ("USD", ""),
    ]
    price = catalog.GetPrice(cat.GetPriceRequest(name="prices/seats"), metadata=tenant.metadata)
    assert price.tax_behavior == "exclusive"

"""RuleService and CatalogService over a real channel, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from google.protobuf import timestamp_pb2

from billing_client.v1 import catalog_pb2 as cat
from billing_client.v1 import rules_pb2 as rp
from conftest import auth, make_token, rule_files
from grpc_helpers import error_info, field_violations

BROKEN = Path(__file__).parent / "rules" / "fixtures" / "broken"

SEAT_PRICE_CHANGE = """\
kind: pricing
prices:
  - {code: pro_seat_usd, model: per_unit, currency: USD, unit_amount: 10.00}
  - {code: pro_seat_usd, model: per_unit, currency: USD, unit_amount: 12.00,
     effective_from: "2026-07-01T00:00:00Z"}
  - {code: pro_seat_eur, model: per_unit, currency: EUR, unit_amount: 9.00}
  - code: api_calls_usd
    model: graduated
    currency: USD
    tiers:
      - {up_to: 100, unit_amount: 1.00}
      - {up_to: null, unit_amount: 0.50}
  - code: sms_usd
    model: per_block
    currency: USD
    params: {block_size: 1000, block_amount: 2.50}
"""


def push(rules_api, tenant, files=None, request_id=None):  # type: ignore[no-untyped-def]
    return rules_api.PushRuleSet(
        rp.PushRuleSetRequest(
            files=files or rule_files(), request_id=request_id or uuid.uuid4().hex
        ),
        metadata=tenant.metadata,
    )


def ts(text: str) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC))
    return stamp


def test_push_activates_and_every_answer_names_the_rule_set(rules_api, catalog, tenant):
    pushed = push(rules_api, tenant)
    assert pushed.active
    assert pushed.name == f"ruleSets/{pushed.content_hash}"
    assert len(pushed.content_hash) == 64
    # tax.yaml holds the tax policy and seller; jurisdictions are in tax_*.yaml files.
    assert {name for name in pushed.files if not name.startswith("tax_")} == {
        "catalog.yaml",
        "dunning.yaml",
        "invoicing.yaml",
        "ledger.yaml",
        "metering.yaml",
        "money.yaml",
        "payments.yaml",
        "pricing.yaml",
        "proration.yaml",
        "recognition.yaml",
        "routing.yaml",
        "tax.yaml",
    }
    active = rules_api.GetActiveRuleSet(rp.GetActiveRuleSetRequest(), metadata=tenant.metadata)
    assert active.content_hash == pushed.content_hash
    products = catalog.ListProducts(cat.ListProductsRequest(), metadata=tenant.metadata)
    assert [p.name for p in products.products] == ["products/basic", "products/pro"]
    assert products.rule_set == pushed.name
    assert all(p.rule_set == pushed.name for p in products.products)
    plan = catalog.GetPlan(cat.GetPlanRequest(name="plans/basic_monthly"), metadata=tenant.metadata)
    assert plan.rule_set == pushed.name
    assert plan.interval == cat.MONTH
    usd = next(p for p in plan.prices if p.currency_code == "USD")
    assert (usd.flat_amount.currency_code, usd.flat_amount.amount_minor) == ("USD", 3000)


def test_a_broken_rule_set_is_refused_whole_with_every_error(rules_api, catalog, tenant):
    good = push(rules_api, tenant)
    with pytest.raises(grpc.RpcError) as failure:
        push(rules_api, tenant, rule_files(BROKEN))
    error = failure.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(error).reason == "RULE_SET_INVALID"
    violations = field_violations(error)
    assert violations == {
        'files["catalog.yaml"].plans[0].prices[0].amount':
            "catalog.yaml:12:17: plans[0].prices[0].amount: expected a decimal string or number, got 'abc'",
        'files["catalog.yaml"].plans[1].product':
            "catalog.yaml:14:14: plans[1].product: unknown product 'pro'",
        'files["money.yaml"]':
            "money.yaml:4:1: YAML syntax error: while parsing a flow sequence (line 3, column 11),"
            " expected ',' or ']', but got '<stream end>'",
        'files["pricing.yaml"].prices[1].model':
            "pricing.yaml:8:12: prices[1].model: unknown pricing model 'tiered'; registered:"
            " graduated, graduated_percentage, package, per_block, per_unit, percentage, volume",
        'files["pricing.yaml"].prices[2].tiers[1].up_to':
            "pricing.yaml:18:17: prices[2].tiers[1].up_to: tiers must ascend: up_to 50 is not above 100",
        'files["pricing.yaml"].prices[3].colour':
            "pricing.yaml:23:5: prices[3].colour: unknown key 'colour'; expected one of code,"
            " currency, effective_from, fixed_fee, flat_fee_at_zero, free_units,"
            " free_units_per_events, free_units_per_total_aggregation, max_per_transaction,"
            " metric, min_per_transaction, model, name, package_amount, package_size, params,"
            " percentage_tiers, prorated, rate, tax_behavior, tiers, unit, unit_amount",
    }  # fmt: skip
    active = rules_api.GetActiveRuleSet(rp.GetActiveRuleSetRequest(), metadata=tenant.metadata)
    assert active.content_hash == good.content_hash
    plans = catalog.ListPlans(cat.ListPlansRequest(), metadata=tenant.metadata)
    assert plans.rule_set == good.name


def test_validate_reports_without_storing(rules_api, tenant):
    result = rules_api.ValidateRuleSet(
        rp.ValidateRuleSetRequest(files=rule_files(BROKEN)), metadata=tenant.metadata
    )
    assert len(result.errors) == 6
    assert (result.errors[0].file, result.errors[0].line, result.errors[0].column) == (
        "catalog.yaml",
        12,
        17,
    )
    assert result.errors[0].path == "plans[0].prices[0].amount"
    with pytest.raises(grpc.RpcError) as failure:
        rules_api.GetRuleSet(
            rp.GetRuleSetRequest(name=f"ruleSets/{result.content_hash}"), metadata=tenant.metadata
        )
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND


def test_without_rules_the_catalog_says_so(catalog, tenant):
    with pytest.raises(grpc.RpcError) as failure:
        catalog.ListProducts(cat.ListProductsRequest(), metadata=tenant.metadata)
    assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(failure.value).reason == "NO_ACTIVE_RULE_SET"


def test_an_old_version_stays_readable_by_hash(rules_api, tenant):
    first = push(rules_api, tenant)
    second = push(rules_api, tenant, rule_files(**{"pricing.yaml": SEAT_PRICE_CHANGE}))
    assert second.content_hash != first.content_hash
    old = rules_api.GetRuleSet(rp.GetRuleSetRequest(name=first.name), metadata=tenant.metadata)
    assert (old.content_hash, old.active) == (first.content_hash, False)
    assert old.files == first.files
    assert rules_api.GetRuleSet(
        rp.GetRuleSetRequest(name=second.name), metadata=tenant.metadata
    ).active


def test_rule_sets_are_per_tenant(rules_api, tenant, other_tenant):
    mine = push(rules_api, tenant)
    with pytest.raises(grpc.RpcError) as failure:
        rules_api.GetRuleSet(rp.GetRuleSetRequest(name=mine.name), metadata=other_tenant.metadata)
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND


def test_push_needs_the_rules_admin_scope(rules_api, tenant):
    writer = auth(make_token(tenant.id, scopes=("billing.read", "billing.write")))
    with pytest.raises(grpc.RpcError) as failure:
        rules_api.PushRuleSet(
            rp.PushRuleSetRequest(files=rule_files(), request_id="x"), metadata=writer
        )
    assert failure.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_push_is_idempotent_on_request_id(rules_api, tenant):
    first = push(rules_api, tenant, request_id="push-1")
    again = push(rules_api, tenant, request_id="push-1")
    assert again.content_hash == first.content_hash
    with pytest.raises(grpc.RpcError) as failure:
        push(rules_api, tenant, rule_files(**{"pricing.yaml": SEAT_PRICE_CHANGE}), "push-1")
    assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_effective_from_changes_the_answer_at_that_instant_and_not_before(
    rules_api, catalog, tenant
):
    push(rules_api, tenant, rule_files(**{"pricing.yaml": SEAT_PRICE_CHANGE}))

    def seat_price(at: str) -> str:
        price = catalog.GetPrice(
            cat.GetPriceRequest(name="prices/pro_seat_usd", as_of=ts(at)), metadata=tenant.metadata
        )
        return price.unit_amount

    assert seat_price("2026-06-30T23:59:59Z") == "10.00"
    assert seat_price("2026-07-01T00:00:00Z") == "12.00"
    assert seat_price("2027-01-01T00:00:00Z") == "12.00"
    preview = catalog.PreviewPrice(
        cat.PreviewPriceRequest(
            price="prices/pro_seat_usd", quantity="3", as_of=ts("2026-07-01T00:00:00Z")
        ),
        metadata=tenant.metadata,
    )
    assert preview.amount.amount_minor == 3600


def test_plan_prices_follow_effective_from(rules_api, catalog, tenant):
    catalog_yaml = (rule_files()["catalog.yaml"].decode()).replace(
        "      - currency: EUR\n        amount: 28.00\n        effective_from: 2024-01-01T00:00:00Z\n",
        "      - currency: EUR\n        amount: 28.00\n        effective_from: 2024-01-01T00:00:00Z\n"
        "      - currency: EUR\n        amount: 29.50\n        effective_from: 2026-09-01T00:00:00Z\n",
    )
    push(rules_api, tenant, rule_files(**{"catalog.yaml": catalog_yaml}))

    def eur_minor(at: str) -> int:
        plan = catalog.GetPlan(
            cat.GetPlanRequest(name="plans/basic_monthly", as_of=ts(at)), metadata=tenant.metadata
        )
        [eur] = [p for p in plan.prices if p.currency_code == "EUR"]
        return int(eur.flat_amount.amount_minor)

    assert eur_minor("2026-08-31T23:59:59Z") == 2800
    assert eur_minor("2026-09-01T00:00:00Z") == 2950


def test_preview_price_on_a_graduated_price(rules_api, catalog, tenant):
    push(rules_api, tenant)
    preview = catalog.PreviewPrice(
        cat.PreviewPriceRequest(price="prices/api_calls_usd", quantity="150"),
        metadata=tenant.metadata,
    )
    assert (preview.amount.currency_code, preview.amount.amount_minor) == ("USD", 12500)
    assert preview.unrounded_amount == "125.00"
    assert preview.rounding == "half_up"
    assert [(s.description, s.quantity, s.unit_amount, s.amount) for s in preview.steps] == [
        ("units 1 to 100", "100", "1.00", "100.00"),
        ("units 101 and up", "50", "0.50", "25.00"),
    ]
    assert preview.price.model == "graduated"
    assert preview.rule_set.startswith("ruleSets/")


def test_the_example_plugin_prices_through_preview_price(rules_api, catalog, tenant):
    push(rules_api, tenant, rule_files(**{"pricing.yaml": SEAT_PRICE_CHANGE}))
    preview = catalog.PreviewPrice(
        cat.PreviewPriceRequest(price="prices/sms_usd", quantity="2001"), metadata=tenant.metadata
    )
    assert preview.amount.amount_minor == 750  # 3 started blocks x 2.50
    assert preview.price.model == "per_block"
    assert dict(preview.price.params) == {"block_size": "1000", "block_amount": "2.50"}


@pytest.mark.parametrize(
    ("price", "quantity", "field", "code"),
    [
        ("prices/api_calls_usd", "-1", "quantity", grpc.StatusCode.INVALID_ARGUMENT),
        ("prices/api_calls_usd", "1e3", "quantity", grpc.StatusCode.INVALID_ARGUMENT),
        ("plans/basic_monthly", "1", "price", grpc.StatusCode.INVALID_ARGUMENT),
        ("prices/nope", "1", None, grpc.StatusCode.NOT_FOUND),
    ],
)
def test_preview_price_refuses_bad_input(rules_api, catalog, tenant, price, quantity, field, code):
    push(rules_api, tenant)
    with pytest.raises(grpc.RpcError) as failure:
        catalog.PreviewPrice(
            cat.PreviewPriceRequest(price=price, quantity=quantity), metadata=tenant.metadata
        )
    assert failure.value.code() == code
    if field:
        assert set(field_violations(failure.value)) == {field}

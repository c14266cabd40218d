"""Turn validated files into the immutable model. Runs only when both passes found nothing,
so it trusts the data's shape and references."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from billing.rules.dunning_build import build_dunning_rules
from billing.rules.errors import RulePath, RuleWarning, format_path
from billing.rules.ledger_rules_file import build_ledger_rules
from billing.rules.model import (
    CaseMatch,
    Catalog,
    Entitlement,
    InvoicingRules,
    MeteringRules,
    Metric,
    MoneyRules,
    PercentageTier,
    Plan,
    PlanChangePolicy,
    PlanChangeRule,
    PlanPrice,
    PolicyCase,
    Price,
    Product,
    ProrationPolicy,
    ProrationRule,
    RuleSet,
    Tier,
    sort_versions,
)
from billing.rules.payment_build import build_payment_rules
from billing.rules.recognition_rules_file import build_recognition_rules
from billing.rules.structure import ValidatedFile
from billing.rules.tax_build import build_tax_rules

# Without a plan_changes section a change applies at once, as in most billing systems.
DEFAULT_PLAN_CHANGES = PlanChangePolicy((PolicyCase(CaseMatch(), PlanChangeRule("immediate")),))
# Without a proration file: prorate to the second, credit what was billed and not used.
DEFAULT_PRORATION = ProrationPolicy(
    (
        PolicyCase(
            CaseMatch(),
            ProrationRule(
                granularity="second",
                behavior="create_prorations",
                credit_unused=True,
                credit_basis="billed",
            ),
        ),
    )
)


def build_rule_set(
    files: Sequence[ValidatedFile],
    *,
    content_hash: str,
    sources: Mapping[str, bytes],
    warnings: Iterable[RuleWarning] = (),
) -> RuleSet:
    catalogs = [f for f in files if f.kind == "catalog"]
    return RuleSet(
        content_hash=content_hash,
        files=MappingProxyType(dict(sorted(sources.items()))),
        money=_money([f for f in files if f.kind == "money"]),
        catalog=_catalog(catalogs),
        prices=_prices([f for f in files if f.kind == "pricing"]),
        proration=_proration([f for f in files if f.kind == "proration"]),
        warnings=tuple(warnings),
        invoicing=_invoicing([f for f in files if f.kind == "invoicing"]),
        metering=_metering([f for f in files if f.kind == "metering"]),
        tax=build_tax_rules(files),
        payments=build_payment_rules(files),
        dunning=build_dunning_rules(files),
        ledger=build_ledger_rules(files),
        recognition=build_recognition_rules(files),
    )


def _metering(files: Sequence[ValidatedFile]) -> MeteringRules:
    if not files:
        return MeteringRules()
    data = files[0].data
    metrics = {
        item["code"]: Metric(
            code=item["code"],
            aggregation=item["aggregation"],
            field=item.get("field"),
            filters=MappingProxyType(dict(item["filters"])) if item.get("filters") else None,
            name=item.get("name"),
            group_by=tuple(item.get("group_by") or ()),
        )
        for _, item in files[0].items("metrics")
    }
    return MeteringRules(
        metrics=MappingProxyType(metrics),
        max_lateness=timedelta(hours=data.get("max_lateness_hours", 168)),
        draft_grace=timedelta(hours=data.get("draft_grace_hours", 0)),
    )


def _invoicing(files: Sequence[ValidatedFile]) -> InvoicingRules:
    if not files:
        return InvoicingRules()
    data = files[0].data
    defaults = InvoicingRules()
    return InvoicingRules(
        time_zone=data.get("time_zone", "utc"),
        number_format=data.get("number_format", defaults.number_format),
        credit_note_number_format=data.get(
            "credit_note_number_format", defaults.credit_note_number_format
        ),
        numbering_time_zone=data.get("numbering_time_zone", defaults.numbering_time_zone),
        collection_method=data.get("collection_method", defaults.collection_method),
        net_terms_days=data.get("net_terms_days", defaults.net_terms_days),
        consolidate_same_day=data.get("consolidate_same_day", defaults.consolidate_same_day),
        email_invoices=data.get("email_invoices", defaults.email_invoices),
        trial_end_without_payment_method=data.get(
            "trial_end_without_payment_method", defaults.trial_end_without_payment_method
        ),
        seller_name=(data.get("seller") or {}).get("name", ""),
        seller_address=tuple((data.get("seller") or {}).get("address_lines", ())),
        seller_legal_text=(data.get("seller") or {}).get("legal_text", ""),
        show_explanations=(data.get("document") or {}).get(
            "show_explanations", defaults.show_explanations
        ),
    )


def _money(files: Sequence[ValidatedFile]) -> MoneyRules:
    if not files:
        return MoneyRules()
    data = files[0].data
    currencies = data["currencies"].items()
    overrides = {code: e["rounding"] for code, e in currencies if e.get("rounding")}
    cash = {code: e["cash_increment"] for code, e in currencies if e.get("cash_increment")}
    return MoneyRules(data["rounding"], MappingProxyType(overrides), MappingProxyType(cash))


def _catalog(files: Sequence[ValidatedFile]) -> Catalog:
    products: dict[str, Product] = {}
    plans: dict[str, Plan] = {}
    plan_changes = DEFAULT_PLAN_CHANGES
    for file in files:
        for _, item in file.items("products"):
            products[item["code"]] = Product(
                item["code"], item["name"], tuple(item["features"]), item.get("tax_code")
            )
        for _, item in file.items("plans"):
            plans[item["code"]] = _plan(item)
        if "plan_changes" in file.data:
            plan_changes = PlanChangePolicy(
                tuple(
                    PolicyCase(_when(case), _plan_change_rule(file, path, case))
                    for path, case in file.items("plan_changes")
                )
            )
    return Catalog(MappingProxyType(products), MappingProxyType(plans), plan_changes)


def _plan_change_rule(
    file: ValidatedFile, path: RulePath, case: Mapping[str, Any]
) -> PlanChangeRule:
    # The source lets a refusal name the case that refused, e.g. catalog.yaml:63 plan_changes[1].
    source = f"{file.where(path)} {format_path(path)}"
    return PlanChangeRule(case["timing"], case.get("message", ""), source)


def _plan(item: Mapping[str, Any]) -> Plan:
    return Plan(
        code=item["code"],
        product=item["product"],
        interval=item["interval"],
        interval_count=item["interval_count"],
        trial_days=item["trial_days"],
        name=item.get("name"),
        entitlements=tuple(Entitlement(e["feature"], e["limit"]) for e in item["entitlements"]),
        prices=tuple(
            PlanPrice(
                currency=entry["currency"],
                price_code=entry.get("price"),
                amount=entry.get("amount"),
                effective_from=entry.get("effective_from"),
                tax_behavior=entry.get("tax_behavior"),
            )
            for entry in item["prices"]
        ),
    )


def _prices(files: Sequence[ValidatedFile]) -> Mapping[str, tuple[Price, ...]]:
    versions: dict[str, list[Price]] = {}
    for file in files:
        for _, item in file.items("prices"):
            versions.setdefault(item["code"], []).append(_price(item))
    return MappingProxyType({code: sort_versions(found) for code, found in versions.items()})


def _price(item: Mapping[str, Any]) -> Price:
    return Price(
        code=item["code"],
        model=item["model"],
        currency=item["currency"],
        effective_from=item.get("effective_from"),
        name=item.get("name"),
        unit=item.get("unit"),
        unit_amount=item.get("unit_amount"),
        tiers=tuple(
            Tier(
                tier["up_to"], tier["unit_amount"], tier.get("flat_amount"), tier.get("block_size")
            )
            for tier in item.get("tiers") or ()
        ),
        params=MappingProxyType(dict(item.get("params") or {})),
        flat_fee_at_zero=item.get("flat_fee_at_zero", False),
        package_size=item.get("package_size"),
        package_amount=item.get("package_amount"),
        free_units=item.get("free_units", 0),
        rate=item.get("rate"),
        fixed_fee=item.get("fixed_fee"),
        min_per_transaction=item.get("min_per_transaction"),
        max_per_transaction=item.get("max_per_transaction"),
        metric=item.get("metric"),
        percentage_tiers=tuple(
            PercentageTier(tier["up_to"], tier["rate"], tier.get("flat_amount"))
            for tier in item.get("percentage_tiers") or ()
        ),
        free_units_per_events=item.get("free_units_per_events"),
        free_units_per_total_aggregation=item.get("free_units_per_total_aggregation"),
        prorated=item.get("prorated", False),
        tax_behavior=item.get("tax_behavior"),
    )


def _proration(files: Sequence[ValidatedFile]) -> ProrationPolicy:
    if not files:
        return DEFAULT_PRORATION
    return ProrationPolicy(
        tuple(
            PolicyCase(
                _when(case),
                ProrationRule(
                    granularity=case["granularity"],
                    behavior=case["behavior"],
                    credit_unused=case["credit_unused"],
                    credit_basis=case["credit_basis"],
                    discount_credit=case.get("discount_credit", "spread"),
                ),
            )
            for _, case in files[0].items("cases")
        )
    )


def _when(case: Mapping[str, Any]) -> CaseMatch:
    return CaseMatch(**(case.get("when") or {}))

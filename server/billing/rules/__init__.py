"""Rule sets: finance's YAML files, validated at load (structure, then meaning), compiled into
immutable values and identified by the hash of their content.

    rule_set = load_rule_set(Path("rules"), {"pricing_model": {"per_unit", "graduated"}})
    rule_set.price_in_force("pro_seat_usd", at)

Nothing here does I/O beyond reading the rule files, and nothing is validated per request.
"""

from billing.rules.errors import RuleDiagnostic, RuleError, RuleSetInvalid, RuleWarning
from billing.rules.json_schema import json_schemas
from billing.rules.model import (
    CaseMatch,
    Catalog,
    Entitlement,
    MoneyRules,
    Plan,
    PlanChangeFacts,
    PlanChangePolicy,
    PlanChangeRule,
    PlanPrice,
    Policy,
    PolicyCase,
    Price,
    Product,
    ProrationPolicy,
    ProrationRule,
    RuleSet,
    Tier,
)
from billing.rules.ruleset import content_hash, load_rule_set, load_rule_set_from_files
from billing.rules.schemas import KINDS
from billing.rules.semantics import ENGINE_PRICING_MODEL
from billing.rules.yaml_loader import Position, YamlDocument, load_yaml

__all__ = [
    "ENGINE_PRICING_MODEL",
    "KINDS",
    "CaseMatch",
    "Catalog",
    "Entitlement",
    "MoneyRules",
    "Plan",
    "PlanChangeFacts",
    "PlanChangePolicy",
    "PlanChangeRule",
    "PlanPrice",
    "Policy",
    "PolicyCase",
    "Position",
    "Price",
    "Product",
    "ProrationPolicy",
    "ProrationRule",
    "RuleDiagnostic",
    "RuleError",
    "RuleSet",
    "RuleSetInvalid",
    "RuleWarning",
    "Tier",
    "YamlDocument",
    "content_hash",
    "json_schemas",
    "load_rule_set",
    "load_rule_set_from_files",
    "load_yaml",
]

"""JSON Schemas for editors, generated from the cerberus schemas."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rule_files import load, problems

from billing.rules import KINDS, json_schemas
from billing.rules.json_schema import DIALECT, _field


def test_there_is_a_draft_2020_12_schema_per_kind() -> None:
    schemas = json_schemas()
    assert list(schemas) == list(KINDS)
    for kind, schema in schemas.items():
        assert schema["$schema"] == DIALECT == "https://json-schema.org/draft/2020-12/schema"
        assert schema["properties"]["kind"]["enum"] == [kind]
        assert schema["required"][0] == "kind"
    json.dumps(schemas)  # plain JSON, no Decimal or datetime defaults


def test_the_catalog_schema_describes_plans() -> None:
    catalog = json_schemas()["catalog"]
    assert catalog["additionalProperties"] is False
    plan = catalog["properties"]["plans"]["items"]
    assert plan["required"] == ["code", "product", "interval", "prices"]
    assert plan["additionalProperties"] is False
    assert plan["properties"]["interval"]["enum"] == ["day", "week", "month", "year"]
    assert plan["properties"]["interval_count"]["minimum"] == 1
    assert plan["properties"]["interval_count"]["default"] == 1
    plan_price = plan["properties"]["prices"]["items"]
    assert plan_price["dependentSchemas"] == {"amount": {"not": {"required": ["price"]}}}
    assert plan_price["properties"]["amount"]["anyOf"] == [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": r"^[0-9]+(?:\.[0-9]+)?$"},
    ]
    assert plan_price["properties"]["effective_from"]["format"] == "date-time"


def test_tiers_allow_a_null_upper_bound() -> None:
    price = json_schemas()["pricing"]["properties"]["prices"]["items"]
    up_to = price["properties"]["tiers"]["items"]["properties"]["up_to"]
    assert up_to["anyOf"] == [{"type": "integer", "minimum": 1}, {"type": "null"}]


def test_recognition_and_ledger_are_closed_and_money_overrides_are_by_currency() -> None:
    schemas = json_schemas()
    for kind in ("recognition", "ledger"):  # no kind is reserved any more: unknown keys refused
        assert schemas[kind]["additionalProperties"] is False
    assert set(schemas["recognition"]["properties"]) >= {"obligations", "default_method"}
    currencies = schemas["money"]["properties"]["currencies"]
    assert currencies["propertyNames"] == {"type": "string"}
    override = currencies["additionalProperties"]
    assert "required" not in override  # rounding or a cash increment, or both
    assert override["properties"]["cash_increment"]["anyOf"][0] == {"type": "number", "minimum": 0}


def test_every_field_has_a_description() -> None:
    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for name, field in node.get("properties", {}).items():
                assert field.get("description"), f"{path}.{name}"
            for value in node.values():
                walk(value, path)

    for kind, schema in json_schemas().items():
        walk(schema, kind)


def test_a_cerberus_rule_without_a_translation_is_refused() -> None:
    with pytest.raises(ValueError, match="no JSON Schema translation for cerberus rules"):
        _field({"type": "string", "forbidden": ["x"]})


def test_invoice_documents_explain_lines_only_when_the_rule_says_so() -> None:
    document = json_schemas()["invoicing"]["properties"]["document"]
    assert document["additionalProperties"] is False
    assert document["properties"]["show_explanations"]["type"] == "boolean"

    shown = load({"invoicing.yaml": "kind: invoicing\ndocument:\n  show_explanations: true\n"})
    assert shown.invoicing.show_explanations is True
    assert load({"invoicing.yaml": "kind: invoicing\n"}).invoicing.show_explanations is False
    assert problems({"invoicing.yaml": "kind: invoicing\ndocument:\n  show_explanations: 1\n"})

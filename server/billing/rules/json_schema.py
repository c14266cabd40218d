"""JSON Schemas (draft 2020-12) for editors, generated from the cerberus schemas.

Generated, never hand-written, so an editor's hints and the loader agree. The translation
knows every rule `schemas.py` uses and refuses any other, which keeps the two in step. The
JSON Schemas check shape only; the meaning pass (references, tiers, currencies) needs the
loader.
"""

from __future__ import annotations

from typing import Any

from billing.rules.schemas import RESERVED_KINDS, SCHEMAS, Schema
from billing.rules.values import (
    DATE_PATTERN,
    DECIMAL_PATTERN,
    DURATION_PATTERN,
    INSTANT_PATTERN,
    NON_NEGATIVE_DECIMAL_PATTERN,
)

DIALECT = "https://json-schema.org/draft/2020-12/schema"

# Rules handled by the parent mapping (required, excludes) or meaningless in JSON (coerce).
_PARENT_RULES = frozenset({"required", "excludes", "coerce"})
_FIELD_RULES = frozenset(
    {
        "type",
        "regex",
        "allowed",
        "nullable",
        "min",
        "max",
        "minlength",
        "maxlength",
        "empty",
        "schema",
        "keysrules",
        "valuesrules",
        "default",
        "meta",
    }
)


def json_schemas() -> dict[str, dict[str, Any]]:
    """One JSON Schema per kind, keyed by kind."""
    result: dict[str, dict[str, Any]] = {}
    for kind, schema in SCHEMAS.items():
        document = _object(schema, allow_unknown=kind in RESERVED_KINDS)
        result[kind] = {
            "$schema": DIALECT,
            "$id": f"urn:billing:rules:{kind}",
            "title": f"Billing rules: {kind}",
            **document,
        }
    return result


def _object(fields: Schema, *, allow_unknown: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {
        "type": "object",
        "properties": {name: _field(rules) for name, rules in fields.items()},
        "additionalProperties": allow_unknown,
    }
    required = [name for name, rules in fields.items() if rules.get("required")]
    if required:
        result["required"] = required
    excludes = {
        name: {"not": {"required": [rules["excludes"]]}}
        for name, rules in fields.items()
        if "excludes" in rules
    }
    if excludes:
        result["dependentSchemas"] = excludes
    return result


def _field(rules: dict[str, Any]) -> dict[str, Any]:
    unknown = set(rules) - _FIELD_RULES - _PARENT_RULES
    if unknown:
        raise ValueError(f"no JSON Schema translation for cerberus rules {sorted(unknown)}")
    kind = rules.get("type")
    result = _typed(kind, rules)
    if "regex" in rules:
        result["pattern"] = rules["regex"]
    if "allowed" in rules:
        result["enum"] = list(rules["allowed"])
    if rules.get("empty") is False:
        result["minLength"] = 1
    if "maxlength" in rules:
        result["maxItems" if kind == "list" else "maxLength"] = rules["maxlength"]
    if "minlength" in rules:
        result["minItems" if kind == "list" else "minLength"] = rules["minlength"]
    if "default" in rules:
        result["default"] = rules["default"]
    if rules.get("nullable"):
        result = {"anyOf": [result, {"type": "null"}]}
    description = rules.get("meta", {}).get("description")
    if description:
        result = {"description": description, **result}
    return result


def _typed(kind: str | None, rules: dict[str, Any]) -> dict[str, Any]:
    if kind == "string":
        return {"type": "string"}
    if kind == "boolean":
        return {"type": "boolean"}
    if kind == "int":
        return {"type": "integer", **_bounds(rules)}
    if kind == "decimal":
        non_negative = rules.get("min", -1) >= 0
        pattern = NON_NEGATIVE_DECIMAL_PATTERN if non_negative else DECIMAL_PATTERN
        # A YAML number or a decimal string; JSON numbers are what editors see for `30.00`.
        return {
            "anyOf": [{"type": "number", **_bounds(rules)}, {"type": "string", "pattern": pattern}]
        }
    if kind == "instant":
        return {"type": "string", "format": "date-time", "pattern": INSTANT_PATTERN}
    if kind == "date":
        return {"type": "string", "format": "date", "pattern": DATE_PATTERN}
    if kind == "duration":
        return {"type": "string", "pattern": DURATION_PATTERN}
    if kind == "list":
        return {"type": "array", "items": _field(rules["schema"])}
    if kind == "dict":
        if "schema" in rules:
            return _object(rules["schema"])
        if "keysrules" not in rules:
            return {"type": "object"}  # free-form, e.g. a plugin's params
        return {
            "type": "object",
            "propertyNames": _field(rules["keysrules"]),
            "additionalProperties": _field(rules["valuesrules"]),
        }
    raise ValueError(f"no JSON Schema translation for cerberus type {kind!r}")


def _bounds(rules: dict[str, Any]) -> dict[str, Any]:
    bounds = {}
    if "min" in rules:
        bounds["minimum"] = rules["min"]
    if "max" in rules:
        bounds["maximum"] = rules["max"]
    return bounds

"""The `recognition` rule kind's structure (cerberus), apart from its checks so the schema
table can import it without a cycle. See `recognition_rules_file`."""

from __future__ import annotations

from typing import Any

from billing.domain.recognition import METHOD_NAME_MAX, Collectibility, Method, Modifications

# A built-in method or a plugin's (checked against the registered ones by meaning).
_METHOD = {"type": "string", "regex": f"^[a-z][a-z0-9_]{{0,{METHOD_NAME_MAX - 1}}}$"}
_CODE = {"type": "string", "regex": "^[a-z0-9][a-z0-9_.-]{0,63}$"}

RECOGNITION_SCHEMA: dict[str, dict[str, Any]] = {
    "kind": {"type": "string", "required": True, "allowed": ["recognition"],
             "meta": {"description": "Which kind of rules this file holds."}},
    "default_method": {**_METHOD, "default": Method.RATABLE.value,
                       "meta": {"description": "How a line no obligation names is earned."}},
    "modifications": {
        "type": "string", "allowed": [m.value for m in Modifications],
        "default": Modifications.PROSPECTIVE.value,
        "meta": {"description": "A backdated change's days already past: spread over the days"
                                " left (prospective) or earned at once (catch_up)."}},
    "collectibility": {
        "type": "string", "allowed": [c.value for c in Collectibility],
        "default": Collectibility.RECOGNIZE.value,
        "meta": {"description": "recognize as served, or defer_until_paid."}},
    "obligations": {
        "type": "list", "maxlength": 10_000, "default": [],
        "meta": {"description": "Performance obligations: a named price, a plan's flat"
                                " amount, or a whole product; the most specific wins."},
        "schema": {"type": "dict", "schema": {
            "price": {**_CODE, "excludes": ["plan", "product"],
                      "meta": {"description": "A named price's code."}},
            "plan": {**_CODE, "excludes": ["price", "product"],
                     "meta": {"description": "A plan's code (its flat amount)."}},
            "product": {**_CODE, "excludes": ["price", "plan"],
                        "meta": {"description": "A product's code (every line of it)."}},
            "method": {**_METHOD, "required": True,
                       "meta": {"description": "ratable, point_in_time, usage, or a method"
                                               " a plugin registers."}},
            "ssp": {"type": "dict", "keysrules": {"type": "string", "regex": "^[A-Z]{3}$"},
                    "valuesrules": {"type": "decimal", "coerce": "decimal"}, "default": {},
                    "meta": {"description": "Standalone selling price per unit, by currency."}},
        }},
    },
}  # fmt: skip

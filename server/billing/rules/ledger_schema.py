"""The `ledger` rule kind's structure (cerberus), apart from its checks so the schema table
(`billing.rules.schemas`) can import it without a cycle. See `ledger_rules_file`."""

from __future__ import annotations

from typing import Any

from billing.domain.ledger import ACCOUNT_MAX

_CURRENCY: dict[str, Any] = {"type": "string", "regex": "^[A-Z]{3}$"}
RATE_PLACES_MAX = 12

LEDGER_SCHEMA: dict[str, dict[str, Any]] = {
    "kind": {"type": "string", "required": True, "allowed": ["ledger"],
             "meta": {"description": "Which kind of rules this file holds."}},
    "reporting_currency": {**_CURRENCY, "meta": {"description": (
        "ISO 4217 code the books are also kept in: each journal line carries its amount in"
        " this currency at the rate in force on the posting day. Absent: none.")}},
    "fx_rates": {
        "type": "list", "maxlength": 10_000, "default": [],
        "meta": {"description": "1 unit of `currency` = `rate` reporting currency, from a day."},
        "schema": {"type": "dict", "schema": {
            "currency": {**_CURRENCY, "required": True,
                         "meta": {"description": "The transaction currency."}},
            "rate": {"type": "decimal", "coerce": "decimal", "required": True,
                     "meta": {"description": "Reporting currency per unit; above 0."}},
            "effective_from": {"type": "date", "coerce": "date", "required": True,
                               "meta": {"description": "First day (the seller's) it applies."}},
        }},
    },
    "chart": {
        "type": "list", "maxlength": 10_000, "default": [],
        "meta": {"description": "Finance's code and name of a ledger account, or of a base."},
        "schema": {"type": "dict", "schema": {
            "ledger_account": {"type": "string", "required": True, "maxlength": ACCOUNT_MAX,
                               "meta": {"description": "`revenue`, or `revenue:pro`."}},
            "code": {"type": "string", "required": True, "empty": False, "maxlength": 64,
                     "meta": {"description": "The general ledger's account code."}},
            "name": {"type": "string", "required": True, "empty": False, "maxlength": 200,
                     "meta": {"description": "The account's name in the general ledger."}},
        }},
    },
}  # fmt: skip

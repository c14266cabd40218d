"""An invoice numbered by its transaction's last statement (PostgreSQL, ADR 0064).

FinalizeInvoice answers with the number, and its audit record and stored idempotent result
hold it. Numbered inline, the tenant's counter row stayed locked from the numbering statement
through a client round trip (the event loop resuming the call, the batch, the commit), and
concurrent finalizes of one tenant queued on it. Here one statement, sent after the
transaction's deferred writes and before the COMMIT in the same query, bumps the counter,
numbers the invoice, writes the audit record with the number (the trail refuses UPDATE, so
it is written here rather than deferred) and the number into the stored result, and returns
it: the row is locked only from that statement through the commit, with no client
round trip inside, as with ADR 0014's deferred trigger.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from billing.app.ports import NumberStamps

_SEQ = re.compile(r"\{seq(?::0([1-9])d)?\}")


def formatted_number(seq: str) -> str:
    """SQL: the number whose sequence is the expression `seq`, formatted as
    domain.invoices.format_number does with {year} already filled in: {seq} or {seq:0Nd}
    (zero-padded to N, never cut; the rule schema allows nothing else), from
    `format_parts`'s prefix, width and suffix."""
    return (
        f"%(p_prefix)s::VARCHAR || CASE WHEN length({seq}::text) < %(p_width)s::INTEGER"
        f" THEN lpad({seq}::text, %(p_width)s::INTEGER, '0') ELSE {seq}::text END"
        " || %(p_suffix)s::VARCHAR"
    )


# The tenant's invoice counter bumped by one, its new value as `c.last`. Every parameter
# carries its type, so the numbered insert built on it can be prepared (ADR 0072).
_COUNTER_BUMP = (
    "WITH c AS ("
    " INSERT INTO number_counters AS n (tenant_id, series, year, last)"
    " VALUES (%(p_tenant)s::VARCHAR, 'invoice', %(p_year)s::INTEGER, 1)"
    " ON CONFLICT (tenant_id, series, year) DO UPDATE SET last = n.last + 1"
    " RETURNING last)"
)

# The JSON fields are the audit record's change and the invoice codec's `number`.
NUMBER_LAST = (
    _COUNTER_BUMP + ","
    f" v AS (SELECT {formatted_number('c.last')} AS number FROM c),"
    " i AS (UPDATE invoices SET number = v.number FROM v"
    " WHERE invoices.tenant_id = %(p_tenant)s AND invoices.id = %(p_invoice)s),"
    " a AS (INSERT INTO audit_log (tenant_id, id, actor, method, request_id, request_digest,"
    " resource_name, action, changes, occurred_at)"
    " SELECT %(p_tenant)s, %(a_id)s, %(a_actor)s, %(a_method)s, %(a_request)s, %(a_digest)s,"
    " %(a_resource)s, %(a_action)s,"
    " %(a_changes)s::jsonb || jsonb_build_object('number', v.number), %(a_at)s FROM v),"
    " k AS (UPDATE idempotency_keys SET result = convert_to(jsonb_set("
    "convert_from(idempotency_keys.result, 'UTF8')::jsonb, '{number}', to_jsonb(v.number)"
    ")::text, 'UTF8') FROM v"
    " WHERE idempotency_keys.tenant_id = %(p_tenant)s"
    " AND idempotency_keys.request_id = %(p_request)s)"
    " SELECT v.number FROM v"
)


# The same counter bump and format, for an invoice not inserted yet (ADR 0070): its insert's
# `number` value becomes the formatted counter, and the insert is the transaction's last.
_NUMBER_OF_COUNTER = f"(SELECT {formatted_number('c.last')} FROM c)"
_NUMBER_VALUE = re.compile(r"%\(number\)s(::VARCHAR)?")


@lru_cache(maxsize=8)
def numbered_insert(insert_sql: str) -> str:
    """A single-row `INSERT INTO invoices (…, number, …) VALUES (…)` as psycopg takes it,
    made to bump the tenant's counter and insert the invoice with its number, in one
    statement."""
    if (
        not insert_sql.startswith("INSERT INTO invoices ")
        or len(_NUMBER_VALUE.findall(insert_sql)) != 1
    ):
        raise ValueError("not a single-row insert of an invoice with its number column")
    return _COUNTER_BUMP + " " + _NUMBER_VALUE.sub(lambda _: _NUMBER_OF_COUNTER, insert_sql)


def numbered_insert_params(tenant_id: str, year: int, number_format: str) -> dict[str, Any]:
    """`numbered_insert`'s parameters beside the row's; the row goes in unmarked (its number
    is set, so the deferred trigger of migration 0010 does not fire)."""
    return {
        "p_tenant": tenant_id,
        "p_year": year,
        "number_format": None,
        "number_year": None,
        **format_parts(number_format),
    }


def format_parts(number_format: str) -> dict[str, Any]:
    """The prefix, suffix and zero-padded width around `number_format`'s {seq}."""
    found = _SEQ.search(number_format)
    if found is None:  # the rule schema requires {seq}: refuse rather than misnumber
        raise ValueError(f"number format {number_format!r} has no {{seq}}")
    return {
        "p_prefix": number_format[: found.start()],
        "p_suffix": number_format[found.end() :],
        "p_width": int(found.group(1) or 0),
    }


def stamp_params(stamps: NumberStamps) -> dict[str, Any]:
    """The audit record's columns (its changes as JSON text; the number is merged in)."""
    audit = stamps.audit
    return {
        "a_id": audit.id,
        "a_actor": audit.actor,
        "a_method": audit.method,
        "a_request": audit.request_id,
        "a_digest": audit.request_digest,
        "a_resource": audit.resource_name,
        "a_action": audit.action,
        "a_changes": json.dumps(audit.changes),
        "a_at": audit.occurred_at,
        "p_request": stamps.request_id,
    }

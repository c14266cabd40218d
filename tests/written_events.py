"""What the suite's databases hold in their outboxes: every event type written, with the
payload keys each was written with. The session checks them against the event catalog
(docs/events.md, from events.proto) before it drops the databases, so an event type, or a
payload key, that a change writes without declaring it fails the suite."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from pathlib import Path

import psycopg

from billing.relay.catalog import declared_payloads
from billing.store.lean_reads import conninfo

# (event type) -> the payload key sets it was written with
Written = dict[str, set[frozenset[str]]]
# Tests that write outbox rows themselves (the relay's, the stream's, the write batch's) number
# them in a payload key `n`, which no event of the product carries: those rows are skipped.
SYNTHETIC = "n"
# The relay's tests write their events by hand, a poison payload among them, as this tenant.
SYNTHETIC_TENANTS = ("relaytest",)
NOT_AN_OBJECT = "(not a JSON object)"


def read_postgres(url: str, into: Written) -> None:
    # A payload that is not a JSON object shows as the one key NOT_AN_OBJECT.
    query = (
        "SELECT DISTINCT event_type, CASE jsonb_typeof(payload::jsonb) WHEN 'object' THEN"
        " ARRAY(SELECT jsonb_object_keys(payload::jsonb) ORDER BY 1)"
        f" ELSE ARRAY['{NOT_AN_OBJECT}'] END FROM outbox_events WHERE tenant_id <> ALL(%s)"
    )
    try:
        with psycopg.connect(conninfo(url), connect_timeout=5) as conn:
            for event_type, keys in conn.execute(query, (list(SYNTHETIC_TENANTS),)):
                if SYNTHETIC not in keys:
                    into[event_type].add(frozenset(keys))
    except psycopg.errors.UndefinedTable:
        return  # a test that tore its schema down


def read_sqlite(path: Path, into: Written) -> None:
    if not path.exists():
        return
    with sqlite3.connect(path) as conn:
        try:
            rows = conn.execute(
                "SELECT DISTINCT event_type, payload FROM outbox_events"
                f" WHERE tenant_id NOT IN ({', '.join('?' for _ in SYNTHETIC_TENANTS)})",
                SYNTHETIC_TENANTS,
            )
        except sqlite3.OperationalError:
            return
        for event_type, payload in rows:
            loaded = json.loads(payload)
            keys = frozenset(loaded) if isinstance(loaded, dict) else frozenset([NOT_AN_OBJECT])
            if SYNTHETIC not in keys:
                into[event_type].add(keys)


def new_written() -> Written:
    return defaultdict(set)


def undeclared(written: Written) -> list[str]:
    """Each event type not in the catalog, and each payload key not declared for its type."""
    declared = declared_payloads()
    problems: list[str] = []
    for event_type in sorted(written):
        payload = declared.get(event_type)
        if payload is None:
            problems.append(f"{event_type}: written, but not in events.proto's catalog")
            continue
        for keys in written[event_type]:
            extra = sorted(keys - payload.keys)
            missing = sorted(payload.required - keys)
            if extra:
                problems.append(f"{event_type}: keys {extra} written, not declared")
            if missing:
                problems.append(
                    f"{event_type}: declared keys {missing} missing from a payload"
                    f" with keys {sorted(keys)}"
                )
    return sorted(set(problems))

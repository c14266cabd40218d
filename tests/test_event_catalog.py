"""The event catalog's declared payloads (events.proto), and the check the suite runs against
every event its databases hold (`written_events`, run when the session drops them)."""

from __future__ import annotations

from billing.relay.catalog import declared_payloads, parse_declaration
from written_events import new_written, undeclared


def test_a_declaration_lists_required_and_optional_keys_and_a_note() -> None:
    event_type, payload = parse_declaration(
        "invoice.paid: number, paid_minor?, payment? | when a payment paid it"
    )
    assert event_type == "invoice.paid"
    assert payload.keys == {"number", "paid_minor", "payment"}
    assert payload.required == {"number"}
    assert payload.note == "when a payment paid it"


def test_every_family_declares_its_types_under_its_own_prefix() -> None:
    declared = declared_payloads()
    assert len(declared) >= 60
    assert {"invoice.finalized", "due_work.parked", "dunning.resumed"} <= declared.keys()
    assert all(payload.keys for payload in declared.values())


def test_the_check_names_unknown_types_extra_keys_and_missing_ones() -> None:
    written = new_written()
    written["invoice.void"].add(frozenset({"number"}))  # as declared
    written["invoice.paid"].add(frozenset({"number"}))  # optional keys may be absent
    written["invoice.voided"].add(frozenset({"number"}))  # no such type
    written["credit_note.created"].add(frozenset({"invoice", "amount_minor", "total"}))
    written["rules.activated"].add(frozenset({"content_hash"}))  # `previous` is required
    assert undeclared(written) == [
        "credit_note.created: keys ['total'] written, not declared",
        "invoice.voided: written, but not in events.proto's catalog",
        "rules.activated: declared keys ['previous'] missing from a payload with keys"
        " ['content_hash']",
    ]

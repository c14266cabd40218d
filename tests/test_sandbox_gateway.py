"""The built-in `sandbox` gateway through the engine interface (no database): every token of
the shared vocabulary, idempotent replays, lookups, authorize/capture/void, refunds, chaos,
settings, webhooks, and its ledger shared by two processes and surviving a SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from billing.plugins.engines import (
    ChargeRequest,
    GatewayConnection,
    GatewayStatus,
    GatewayUnavailable,
    LookupRequest,
    RefundRequest,
    WebhookRejected,
)
from billing_builtin.sandbox import SandboxEngine, SandboxGateway, ledger, webhooks
from billing_builtin.sandbox.behaviour import chaos_pick, parse_chaos

S = GatewayStatus


def connect(endpoint: str = "", **settings: Any) -> SandboxGateway:
    gateway = SandboxEngine().connect(GatewayConnection("sandbox", settings, endpoint=endpoint))
    assert isinstance(gateway, SandboxGateway)
    return gateway


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def charge(key: str, token: str = "tok_visa", amount: int = 1250, **extra: Any) -> ChargeRequest:
    meta = {"tenant": "t1", "invoice": f"inv_{key}", "attempt": f"att_{key}"}
    return ChargeRequest(key, amount, "EUR", token, metadata=meta, **extra)


def lookup(gateway: SandboxGateway, key: str, kind: str = "charge") -> Any:
    return run(gateway.lookup(LookupRequest(key, kind=kind)))


# --- the vocabulary ------------------------------------------------------------------------

# token -> (purchase status, decline code, money taken, first lookup, second lookup)
VOCABULARY = {
    "tok_visa": (S.SUCCEEDED, "", 1250, S.SUCCEEDED, S.SUCCEEDED),
    "tok_mastercard_unlisted": (S.SUCCEEDED, "", 1250, S.SUCCEEDED, S.SUCCEEDED),
    "tok_decline": (S.FAILED, "generic_decline", 0, S.FAILED, S.FAILED),
    "tok_insufficient_funds": (S.FAILED, "insufficient_funds", 0, S.FAILED, S.FAILED),
    "tok_do_not_honor": (S.FAILED, "do_not_honor", 0, S.FAILED, S.FAILED),
    "tok_expired_card": (S.FAILED, "expired_card", 0, S.FAILED, S.FAILED),
    "tok_stolen_card": (S.FAILED, "stolen_card", 0, S.FAILED, S.FAILED),
    "tok_lost_card": (S.FAILED, "lost_card", 0, S.FAILED, S.FAILED),
    "tok_incorrect_cvc": (S.FAILED, "incorrect_cvc", 0, S.FAILED, S.FAILED),
    "tok_processing_error": (S.FAILED, "processing_error", 0, S.FAILED, S.FAILED),
    "tok_requires_action": (S.REQUIRES_ACTION, "", 0, S.REQUIRES_ACTION, S.REQUIRES_ACTION),
    "tok_timeout_charged": (S.UNKNOWN, "", 1250, S.SUCCEEDED, S.SUCCEEDED),
    "tok_timeout_not_charged": (S.UNKNOWN, "", 0, S.NOT_FOUND, S.NOT_FOUND),
    "tok_server_error": (S.UNKNOWN, "", 0, S.NOT_FOUND, S.NOT_FOUND),
    "tok_late_success": (S.PENDING, "", 1250, S.PENDING, S.SUCCEEDED),
}


@pytest.mark.parametrize("token", sorted(VOCABULARY))
def test_each_token_answers_as_the_vocabulary_says(token):
    status, decline, taken, first, second = VOCABULARY[token]
    gateway = connect()
    outcome = run(gateway.purchase(charge("k1", token)))
    assert (outcome.status, outcome.decline_code) == (status, decline)
    assert sum(e.moved_minor for e in gateway.ledger.entries("charge")) == taken
    looked = [lookup(gateway, "k1"), lookup(gateway, "k1")]
    assert [o.status for o in looked] == [first, second]
    if status is S.FAILED:
        assert looked[0].decline_code == decline
    if second is S.SUCCEEDED:
        assert looked[1].amount_minor == 1250
        assert looked[1].reference.startswith("ch_")


def test_a_lost_reply_carries_no_reference_and_the_lookup_finds_the_charge():
    gateway = connect()
    outcome = run(gateway.purchase(charge("k1", "tok_timeout_charged")))
    assert (outcome.status, outcome.reference, outcome.gateway_code) == (
        S.UNKNOWN,
        "",
        "timeout_charged",
    )
    found = lookup(gateway, "k1")
    [entry] = gateway.ledger.entries("charge")
    assert (found.status, found.reference, found.amount_minor) == (
        S.SUCCEEDED,
        entry.reference,
        1250,
    )


def test_requires_action_has_an_action_url_and_settles_when_the_customer_authenticates():
    gateway = connect()
    outcome = run(gateway.purchase(charge("k1", "tok_requires_action")))
    assert outcome.action_url == f"https://sandbox.billing.test/3ds/{outcome.reference}"
    passed = gateway.authenticate(outcome.reference)
    assert (passed.state, passed.moved_minor) == ("succeeded", 1250)
    assert lookup(gateway, "k1").status is S.SUCCEEDED

    other = run(gateway.purchase(charge("k2", "tok_requires_action")))
    gateway.authenticate(other.reference, succeeded=False)
    failed = lookup(gateway, "k2")
    assert (failed.status, failed.decline_code) == (S.FAILED, "authentication_required")
    with pytest.raises(ValueError, match="no charge awaiting authentication"):
        gateway.authenticate(other.reference)


def test_unavailable_raises_and_takes_nothing():
    gateway = connect()
    with pytest.raises(GatewayUnavailable):
        run(gateway.purchase(charge("k1", "tok_unavailable")))
    assert gateway.ledger.entries() == []
    assert lookup(gateway, "k1").status is S.NOT_FOUND
    assert [c.answered for c in gateway.ledger.calls()] == ["unavailable", "not_found"]


def test_an_outage_refuses_every_call_whatever_the_token_and_only_logs_it(tmp_path):
    path = str(tmp_path / "ledger.db")
    up = connect(path)
    run(up.purchase(charge("k0")))
    down = connect(path, outage=True)
    for token in ("tok_visa", "tok_decline", "tok_timeout_charged"):
        with pytest.raises(GatewayUnavailable, match="'sandbox' is down"):
            run(down.purchase(charge(f"k-{token}", token)))
    with pytest.raises(GatewayUnavailable):
        run(down.authorize(charge("k1")))
    with pytest.raises(GatewayUnavailable):
        lookup(down, "k0")
    charged = ledger.operations(path)[0].reference
    with pytest.raises(GatewayUnavailable):
        run(down.refund(RefundRequest("r1", charged, 100, "EUR")))
    with pytest.raises(GatewayUnavailable):
        run(down.capture("c1", charged, 100, "EUR"))
    with pytest.raises(GatewayUnavailable):
        run(down.void("v1", charged))
    assert [e.idempotency_key for e in ledger.operations(path)] == ["k0"]
    assert [(c.op, c.idempotency_key, c.answered) for c in ledger.calls(path)] == [
        ("purchase", "k0", "succeeded"),
        ("purchase", "k-tok_visa", "unavailable"),
        ("purchase", "k-tok_decline", "unavailable"),
        ("purchase", "k-tok_timeout_charged", "unavailable"),
        ("authorize", "k1", "unavailable"),
        ("lookup", "k0", "unavailable"),
        ("refund", "r1", "unavailable"),
        ("capture", "c1", "unavailable"),
        ("void", "v1", "unavailable"),
    ]
    # Back up (outage: false, the default): the same books, answering again.
    assert lookup(connect(path, outage=False), "k0").status is S.SUCCEEDED


def test_late_success_lookups_setting_moves_the_success():
    gateway = connect(late_success_lookups=4)
    run(gateway.purchase(charge("k1", "tok_late_success")))
    assert [lookup(gateway, "k1").status for _ in range(5)] == [
        S.PENDING,
        S.PENDING,
        S.PENDING,
        S.SUCCEEDED,
        S.SUCCEEDED,
    ]


# --- idempotency ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token", ["tok_visa", "tok_decline", "tok_timeout_charged", "tok_late_success"]
)
def test_the_same_key_twice_answers_the_same_and_charges_once(token):
    gateway = connect()
    first = run(gateway.purchase(charge("k1", token)))
    again = run(gateway.purchase(charge("k1", token)))
    assert again == first
    assert len(gateway.ledger.entries("charge")) == 1
    assert [c.op for c in gateway.ledger.calls()] == ["purchase", "purchase"]


def test_the_same_key_with_another_amount_is_refused_and_charges_nothing_more():
    gateway = connect()
    run(gateway.purchase(charge("k1", amount=1000)))
    other = run(gateway.purchase(charge("k1", amount=2000)))
    assert (other.status, other.gateway_code) == (S.FAILED, "idempotency_error")
    assert [(e.amount_minor, e.moved_minor) for e in gateway.ledger.entries()] == [(1000, 1000)]


def test_invalid_amounts_are_refused_unrecorded():
    gateway = connect()
    zero = run(gateway.purchase(charge("k1", amount=0)))
    bad = run(gateway.purchase(ChargeRequest("k2", 100, "eur", "tok_visa")))
    assert (zero.gateway_code, bad.gateway_code) == ("amount_invalid", "currency_invalid")
    assert gateway.ledger.entries() == []


def test_empty_endpoints_get_a_ledger_each():
    one, two = connect(), connect()
    run(one.purchase(charge("k1")))
    assert len(one.ledger.entries()) == 1
    assert two.ledger.entries() == []
    assert lookup(two, "k1").status is S.NOT_FOUND


# --- authorize, capture, void --------------------------------------------------------------


def test_authorize_takes_nothing_until_captured_once():
    gateway = connect()
    auth = run(gateway.authorize(charge("k1", amount=5000)))
    assert (auth.status, gateway.ledger.entries("charge")[0].moved_minor) == (S.SUCCEEDED, 0)
    too_much = run(gateway.capture("c0", auth.reference, 5001, "EUR"))
    assert (too_much.status, too_much.gateway_code) == (S.FAILED, "amount_too_large")
    captured = run(gateway.capture("c1", auth.reference, 4000, "EUR"))
    replay = run(gateway.capture("c1", auth.reference, 4000, "EUR"))
    second = run(gateway.capture("c2", auth.reference, 1000, "EUR"))
    assert (captured.status, captured.amount_minor, replay) == (S.SUCCEEDED, 4000, captured)
    assert (second.status, second.gateway_code) == (S.FAILED, "charge_not_capturable")
    assert [(c.invoice, c.moved_minor) for c in gateway.ledger.entries("charge")] == [
        ("inv_k1", 4000)
    ]
    refused = run(gateway.void("v1", auth.reference))
    assert (refused.status, refused.gateway_code) == (S.FAILED, "charge_already_captured")


def test_void_releases_an_authorization():
    gateway = connect()
    auth = run(gateway.authorize(charge("k1")))
    voided = run(gateway.void("v1", auth.reference))
    assert voided.status is S.SUCCEEDED
    assert run(gateway.void("v1", auth.reference)) == voided
    assert run(gateway.void("v2", auth.reference)).gateway_code == "charge_already_voided"
    assert run(gateway.capture("c1", auth.reference, 1250, "EUR")).status is S.FAILED
    after = lookup(gateway, "k1")
    assert (after.status, after.gateway_code) == (S.FAILED, "voided")
    assert gateway.ledger.entries("charge")[0].moved_minor == 0


# --- refunds -------------------------------------------------------------------------------


def test_partial_refunds_up_to_the_charge_each_once():
    gateway = connect()
    paid = run(gateway.purchase(charge("k1", amount=1000)))
    first = run(gateway.refund(RefundRequest("r1", paid.reference, 600, "EUR", "duplicate")))
    again = run(gateway.refund(RefundRequest("r1", paid.reference, 600, "EUR", "duplicate")))
    over = run(gateway.refund(RefundRequest("r2", paid.reference, 401, "EUR")))
    rest = run(gateway.refund(RefundRequest("r3", paid.reference, 400, "EUR")))
    assert (first.status, first.amount_minor, again) == (S.SUCCEEDED, 600, first)
    assert (over.status, over.gateway_code) == (S.FAILED, "amount_too_large")
    assert rest.status is S.SUCCEEDED
    assert [(r.moved_minor, r.target, r.invoice) for r in gateway.ledger.entries("refund")] == [
        (600, paid.reference, "inv_k1"),
        (400, paid.reference, "inv_k1"),
    ]
    assert lookup(gateway, "r1", kind="refund").status is S.SUCCEEDED
    assert lookup(gateway, "r2", kind="refund").status is S.NOT_FOUND
    assert lookup(gateway, "r1").status is S.NOT_FOUND  # a charge lookup never finds a refund


def test_refund_of_nothing_charged_is_refused():
    gateway = connect()
    declined = run(gateway.purchase(charge("k1", "tok_decline")))
    refused = run(gateway.refund(RefundRequest("r1", declined.reference, 100, "EUR")))
    missing = run(gateway.refund(RefundRequest("r2", "ch_nothing", 100, "EUR")))
    assert {refused.gateway_code, missing.gateway_code} == {"charge_not_refundable"}
    assert gateway.ledger.entries("refund") == []


@pytest.mark.parametrize(
    ("token", "answered", "moved", "looked"),
    [
        ("tok_refund_fails", S.FAILED, 0, [S.FAILED, S.FAILED]),
        ("tok_refund_timeout", S.UNKNOWN, 500, [S.SUCCEEDED, S.SUCCEEDED]),
        ("tok_refund_late", S.PENDING, 500, [S.PENDING, S.SUCCEEDED]),
    ],
)
def test_refund_faults_ride_on_the_charge_token(token, answered, moved, looked):
    gateway = connect()
    paid = run(gateway.purchase(charge("k1", token)))
    assert paid.status is S.SUCCEEDED
    outcome = run(gateway.refund(RefundRequest("r1", paid.reference, 500, "EUR")))
    assert outcome.status is answered
    assert [r.moved_minor for r in gateway.ledger.entries("refund")] == [moved]
    assert [lookup(gateway, "r1", "refund").status for _ in looked] == looked


# --- chaos ---------------------------------------------------------------------------------

CHAOS = {"timeout_charged": 0.2, "timeout_not_charged": 0.13, "late_success": 0.05}


def test_chaos_takes_its_fractions_of_keys_the_same_in_every_connection():
    keys = [f"billing-t1-att{i}" for i in range(3000)]
    one, two = connect(chaos=CHAOS), connect(chaos=dict(reversed(CHAOS.items())))
    first = [run(one.purchase(charge(k))) for k in keys]
    second = [run(two.purchase(charge(k))) for k in keys]
    assert [o.status for o in first] == [o.status for o in second]
    counts = Counter(o.gateway_code or o.status.value for o in first)
    # 3,000 draws: each fraction within 2 percentage points (over 4 standard deviations).
    assert abs(counts["timeout_charged"] / 3000 - 0.20) < 0.02, counts
    assert abs(counts["timeout_not_charged"] / 3000 - 0.13) < 0.02, counts
    assert abs(counts["pending"] / 3000 - 0.05) < 0.02, counts
    assert counts["succeeded"] == 3000 - sum(v for k, v in counts.items() if k != "succeeded")
    charged = {e.idempotency_key for e in one.ledger.entries("charge") if e.moved_minor}
    assert len(charged) == 3000 - counts["timeout_not_charged"]


def test_chaos_leaves_explicit_tokens_alone_and_can_decline():
    gateway = connect(chaos={"insufficient_funds": Decimal(1)})
    assert run(gateway.purchase(charge("k1"))).decline_code == "insufficient_funds"
    assert run(gateway.purchase(charge("k2", "tok_late_success"))).status is S.PENDING


def test_check_settings():
    check = SandboxEngine().check_settings
    assert check({}) == []
    assert check({"chaos": CHAOS, "webhook_secret": "s", "late_success_lookups": 3}) == []
    assert check({"chaos": {"timeout_charged": Decimal("0.33")}}) == []
    assert check({"latency": 5}) == [
        "unknown setting 'latency' (known: chaos, webhook_secret, late_success_lookups, outage)"
    ]
    assert check({"outage": True}) == check({"outage": False}) == []
    assert check({"outage": "yes"}) == ["settings.outage must be true or false, got 'yes'"]
    assert check({"chaos": [0.2]}) == [
        "settings.chaos must be a mapping of fault to fraction, got [0.2]"
    ]
    assert check({"chaos": {"timeout": 0.2, "server_error": 1.5, "late_success": True}}) == [
        "settings.chaos.timeout is not a sandbox fault (known: timeout_charged, "
        "timeout_not_charged, server_error, late_success, unavailable, requires_action, decline,"
        " insufficient_funds, do_not_honor, expired_card, stolen_card, lost_card, "
        "incorrect_cvc, processing_error)",
        "settings.chaos.server_error must be a fraction from 0 to 1, got 1.5",
        "settings.chaos.late_success must be a fraction from 0 to 1, got True",
    ]
    assert check({"chaos": {"timeout_charged": 0.6, "server_error": 0.5}}) == [
        "settings.chaos fractions add up to 1.1, more than 1"
    ]
    assert check({"late_success_lookups": 0, "webhook_secret": ""}) == [
        "settings.webhook_secret must be a non-empty string",
        "settings.late_success_lookups must be a whole number from 1 to 100, got 0",
    ]


# --- webhooks ------------------------------------------------------------------------------


def test_webhook_charge_event_verified_and_translated():
    body = webhooks.build(
        "charge.failed",
        created=1767225600,
        reference="ch_1",
        idempotency_key="billing-t1-a1",
        amount_minor=1250,
        currency="EUR",
        decline_code="card_velocity_exceeded",
    )
    event = connect().parse_webhook({"X-Sandbox-Signature": webhooks.sign(body)}, body)
    assert (event.kind, event.reference, event.idempotency_key, event.currency) == (
        "charge.failed",
        "ch_1",
        "billing-t1-a1",
        "EUR",
    )
    assert event.event_id.startswith("evt_")
    assert event.occurred_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert event.outcome is not None
    assert (event.outcome.status, event.outcome.decline_code, event.outcome.gateway_code) == (
        S.FAILED,
        "generic_decline",
        "card_velocity_exceeded",
    )


def test_webhook_dispute_event_and_unknown_types():
    body = webhooks.build(
        "dispute.lost", reference="ch_1", dispute_id="dp_1", amount_minor=900, fee_minor=1500
    )
    event = connect().parse_webhook(webhooks.signed_headers(body), body)
    assert (event.kind, event.dispute_id, event.amount_minor, event.fee_minor, event.outcome) == (
        "dispute.lost",
        "dp_1",
        900,
        1500,
        None,
    )
    other = webhooks.build("customer.updated", event_id="evt_x")
    assert connect().parse_webhook(webhooks.signed_headers(other), other).kind == "ignored"


def test_webhook_secret_from_credentials_then_settings_then_default():
    body = webhooks.build("refund.succeeded", reference="re_1", amount_minor=5)
    by_credential = SandboxEngine().connect(
        GatewayConnection("sb", {"webhook_secret": "set"}, {"webhook_secret": "cred"})
    )
    assert by_credential.parse_webhook(webhooks.signed_headers(body, "cred"), body).kind == (
        "refund.succeeded"
    )
    with pytest.raises(WebhookRejected, match="does not match"):
        by_credential.parse_webhook(webhooks.signed_headers(body, "set"), body)
    assert connect(webhook_secret="set").parse_webhook(
        webhooks.signed_headers(body, "set"), body
    ).outcome == (
        webhooks.parse(webhooks.signed_headers(body), body, webhooks.DEFAULT_SECRET).outcome
    )


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (b"{}", {}, "no x-sandbox-signature header"),
        (b'{"id": "evt_1"}', {"x-sandbox-signature": "00"}, "does not match"),
        (b"not json", None, "not JSON"),
        (b"[1]", None, "not a JSON object"),
        (b'{"id": "", "type": "charge.succeeded", "created": 1}', None, "id must be"),
        (b'{"id": "e", "type": "charge.succeeded", "created": -1}', None, "created must be"),
        (
            b'{"id": "e", "type": "charge.succeeded", "created": 1, "data": {"amount_minor": 1.5}}',
            None,
            "data.amount_minor must be a whole number",
        ),
        (
            b'{"id": "e", "type": "charge.succeeded", "created": 1, "data": {"reference": 7}}',
            None,
            "data.reference must be a string",
        ),
    ],
)
def test_bad_webhooks_are_rejected(body, headers, message):
    signed = webhooks.signed_headers(body) if headers is None else headers
    with pytest.raises(WebhookRejected, match=message):
        connect().parse_webhook(signed, body)


# --- the ledger file: shared by processes, surviving a SIGKILL ----------------------------

CHILD = textwrap.dedent(
    """
    import asyncio, json, sys
    from billing.plugins.engines import ChargeRequest, GatewayConnection
    from billing_builtin.sandbox import SandboxEngine

    path, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    chaos = json.loads(sys.argv[4])
    gateway = SandboxEngine().connect(GatewayConnection("sandbox", {"chaos": chaos}, endpoint=path))

    async def main():
        for i in range(first, first + count):
            key = f"key-{i}"
            meta = {"tenant": "t1", "invoice": f"inv-{i}", "attempt": f"att-{i}"}
            out = await gateway.purchase(ChargeRequest(key, 100 + i, "EUR", "tok_visa", metadata=meta))
            print(json.dumps([key, out.status.value, out.reference]), flush=True)

    asyncio.run(main())
    """
)


def start_child(
    path: str, first: int, count: int, chaos: Mapping[str, float]
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, path, str(first), str(count), json.dumps(chaos)],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_two_processes_racing_on_the_same_keys_charge_each_key_once(tmp_path):
    path = str(tmp_path / "ledger.db")
    children = [start_child(path, 0, 300, CHAOS) for _ in range(2)]
    answers = []
    for child in children:
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0
        answers.append([json.loads(line) for line in out.splitlines()])
    assert answers[0] == answers[1]  # the loser of each race got the winner's answer
    taken = ledger.charges(path)
    never_arrived = {f"key-{i}" for i in range(300)} & {
        key
        for key, _, _ in answers[0]
        if chaos_pick(key, parse_chaos(CHAOS)) == "timeout_not_charged"
    }
    assert 20 < len(never_arrived) < 60  # about 13 % of 300
    assert sorted(e.idempotency_key for e in taken) == sorted(
        f"key-{i}" for i in range(300) if f"key-{i}" not in never_arrived
    )
    assert all(n == 1 for n in Counter(e.invoice for e in taken).values())
    assert all(e.moved_minor == 100 + int(e.idempotency_key[4:]) for e in taken)
    assert all(e.attempt == "att-" + e.idempotency_key[4:] for e in taken)
    calls = ledger.calls(path)
    assert Counter(c.op for c in calls) == {"purchase": 600}
    assert len({c.pid for c in calls}) == 2


def test_the_ledger_survives_a_sigkill_of_the_writer(tmp_path):
    path = str(tmp_path / "ledger.db")
    child = start_child(path, 0, 100_000, {})
    assert child.stdout is not None
    acknowledged = [json.loads(child.stdout.readline()) for _ in range(200)]
    os.kill(child.pid, signal.SIGKILL)  # mid-stream: a transaction may be open
    child.wait(timeout=30)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    taken = {e.idempotency_key: e for e in ledger.charges(path)}
    # Every charge answered before the kill is in the books, with the reference answered.
    assert all(taken[key].reference == ref for key, _, ref in acknowledged)
    assert len(taken) >= 200
    assert set(taken) == {f"key-{i}" for i in range(len(taken))}  # no gap, nothing half-written
    # The books stay writable (no lock left behind), and a lookup settles the last call.
    gateway = connect(path)
    last = f"key-{len(taken)}"
    assert lookup(gateway, last).status is S.NOT_FOUND
    assert run(gateway.purchase(charge("after-kill"))).status is S.SUCCEEDED
    assert lookup(gateway, "key-0").status is S.SUCCEEDED
    assert len(ledger.charges(path)) == len(taken) + 1

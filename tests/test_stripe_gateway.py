"""The `stripe` gateway engine against a local server answering from recorded Stripe API
request/response pairs (tests/recordings/stripe/): each operation's request as Stripe's API
documents it (path, form fields, Idempotency-Key, bearer key), each documented error mapped to
its outcome, lost replies looked up, webhooks verified and translated."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import stripe

from billing.plugins.engines import (
    ChargeRequest,
    GatewayConnection,
    GatewayStatus,
    GatewayUnavailable,
    LookupRequest,
    PaymentGateway,
    RefundRequest,
    WebhookRejected,
)
from billing.plugins.registry import load_engines
from recorded_http import RecordedApi, RecordedServer
from workers import free_port

RECORDINGS = Path(__file__).parent / "recordings" / "stripe"
API_KEY = "sk_test_recorded"
SECRET = "whsec_recorded_test_secret"


@pytest.fixture(scope="module")
def api():
    with RecordedServer(RECORDINGS) as recorded:
        yield recorded
        assert recorded.mismatches == [], "requests no recording matched"


@pytest.fixture(scope="module")
def engine():
    return load_engines().get("payment_gateway", "stripe")


def connect(
    engine: Any,
    endpoint: str,
    *,
    api_key: str = API_KEY,
    timeout_s: float = 5.0,
    **settings: Any,
) -> PaymentGateway:
    credentials = {"api_key": api_key, "webhook_secret": SECRET} if api_key else {}
    return engine.connect(
        GatewayConnection("stripe_eu", settings, credentials, endpoint, timeout_s=timeout_s)
    )


def key(case: str) -> str:
    return f"billing-t1-att_{case}"


def charge(case: str, token: str = "pm_card_visa", **metadata: str) -> ChargeRequest:
    return ChargeRequest(
        key(case),
        2500,
        "EUR",
        token,
        description="INV-0001",
        metadata={"tenant": "t1", "invoice": "inv_1", "attempt": f"att_{case}", **metadata},
    )


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def assert_documented_post(api: RecordedApi, case: str, path: str, idempotency_key: str) -> None:
    got = api.only(case)
    assert (got.method, got.path) == ("POST", path)
    assert got.header("Idempotency-Key") == idempotency_key
    assert got.header("Authorization") == f"Bearer {API_KEY}"
    assert got.header("Content-Type") == "application/x-www-form-urlencoded"
    assert got.header("Stripe-Version") == stripe.api_version


# --- purchase ----------------------------------------------------------------------------


def test_purchase_creates_and_confirms_a_payment_intent_under_our_idempotency_key(engine, api):
    outcome = run(connect(engine, api.url).purchase(charge("purchase_succeeded")))

    assert (outcome.status, outcome.reference, outcome.amount_minor) == (
        GatewayStatus.SUCCEEDED,
        "pi_3PurchaseOk",
        2500,
    )
    assert_documented_post(
        api, "purchase_succeeded", "/v1/payment_intents", key("purchase_succeeded")
    )
    assert api.only("purchase_succeeded").form == {
        "amount": "2500",
        "currency": "eur",
        "payment_method": "pm_card_visa",
        "confirm": "true",
        "capture_method": "automatic",
        "description": "INV-0001",
        "metadata[billing_idempotency_key]": "billing-t1-att_purchase_succeeded",
        "metadata[tenant]": "t1",
        "metadata[invoice]": "inv_1",
        "metadata[attempt]": "att_purchase_succeeded",
        "automatic_payment_methods[enabled]": "true",
        "automatic_payment_methods[allow_redirects]": "never",
    }


def test_automatic_collection_charges_off_session_with_the_stripe_customer(engine, api):
    gateway = connect(engine, api.url, customer_in_token=True)
    outcome = run(
        gateway.purchase(
            charge(
                "purchase_off_session", "cus_Recorded1:pm_card_saved", source="automatic_collection"
            )
        )
    )

    assert (outcome.status, outcome.reference) == (GatewayStatus.SUCCEEDED, "pi_3OffSession")
    form = api.only("purchase_off_session").form
    assert (form["customer"], form["payment_method"], form["off_session"]) == (
        "cus_Recorded1",
        "pm_card_saved",
        "true",
    )


@pytest.mark.parametrize(
    ("case", "decline_code", "gateway_code"),
    [
        ("insufficient_funds", "insufficient_funds", "insufficient_funds"),
        ("do_not_honor", "do_not_honor", "do_not_honor"),
        ("generic_decline", "generic_decline", "generic_decline"),
        ("stolen_card", "stolen_card", "stolen_card"),
        ("lost_card", "lost_card", "lost_card"),
        ("fraudulent", "fraudulent", "fraudulent"),
        ("expired_card", "expired_card", "expired_card"),
        ("incorrect_cvc", "incorrect_cvc", "incorrect_cvc"),
        ("processing_error", "processing_error", "processing_error"),
        ("card_velocity_exceeded", "insufficient_funds", "card_velocity_exceeded"),
    ],
)
def test_card_errors_are_declines_with_our_codes(engine, api, case, decline_code, gateway_code):
    outcome = run(connect(engine, api.url).purchase(charge(f"decline_{case}")))

    assert outcome.status is GatewayStatus.FAILED
    assert (outcome.decline_code, outcome.gateway_code) == (decline_code, gateway_code)
    assert outcome.reference.startswith("pi_3Decline")
    assert len(api.answered(f"decline_{case}")) == 1  # no retry of a decline


def test_authentication_required_off_session_is_requires_action(engine, api):
    outcome = run(
        connect(engine, api.url).purchase(charge("authentication_required", source="dunning_retry"))
    )

    assert (outcome.status, outcome.reference, outcome.gateway_code) == (
        GatewayStatus.REQUIRES_ACTION,
        "pi_3AuthRequired",
        "authentication_required",
    )
    assert api.only("authentication_required").form["off_session"] == "true"


def test_on_session_3ds_returns_the_page_to_send_the_customer_to(engine, api):
    gateway = connect(engine, api.url, return_url="https://billing.example/return")
    outcome = run(gateway.purchase(charge("requires_action")))

    assert outcome.status is GatewayStatus.REQUIRES_ACTION
    assert outcome.action_url == (
        "https://hooks.stripe.com/3d_secure_2/hosted?merchant=acct_1&payment_intent=pi_3NeedsAction"
    )
    form = api.only("requires_action").form
    assert form["return_url"] == "https://billing.example/return"
    assert "off_session" not in form and "automatic_payment_methods[enabled]" not in form


def test_invalid_request_fails_with_a_clear_message_and_no_token_in_it(engine, api):
    outcome = run(connect(engine, api.url).purchase(charge("invalid_request", "pm_1Missing9Xy")))

    assert (outcome.status, outcome.decline_code, outcome.gateway_code) == (
        GatewayStatus.FAILED,
        "",
        "resource_missing",
    )
    assert outcome.message == (
        "Stripe refused the request (parameter payment_method): No such PaymentMethod: 'pm_…'"
    )


def test_a_reused_idempotency_key_is_unknown_not_failed(engine, api):
    outcome = run(connect(engine, api.url).purchase(charge("idempotency_reused")))

    assert (outcome.status, outcome.gateway_code) == (GatewayStatus.UNKNOWN, "idempotency_error")
    assert outcome.message.startswith("Stripe refused the Idempotency-Key: Keys for idempotent")


def test_a_409_conflict_on_the_key_is_unknown_with_a_message(engine, api):
    outcome = run(connect(engine, api.url).purchase(charge("idempotency_in_flight")))

    assert (outcome.status, outcome.gateway_code) == (GatewayStatus.UNKNOWN, "idempotency_conflict")
    assert outcome.message.startswith(
        "Stripe is still processing another request with this Idempotency-Key: There is currently"
    )


def test_rate_limited_is_unavailable_and_sent_once(engine, api):
    with pytest.raises(GatewayUnavailable, match="rate limited"):
        run(connect(engine, api.url).purchase(charge("rate_limited")))
    assert len(api.answered("rate_limited")) == 1  # the SDK does not retry: the core decides


def test_a_refused_api_key_is_unavailable(engine, api):
    with pytest.raises(GatewayUnavailable, match=r"refused our credentials \(401\)"):
        run(connect(engine, api.url, api_key="sk_test_revoked").purchase(charge("bad_api_key")))
    assert api.only("bad_api_key").header("Authorization") == "Bearer sk_test_revoked"


def test_no_api_key_is_unavailable_and_sends_nothing(engine, api):
    before = len(api.received)
    with pytest.raises(GatewayUnavailable, match="no api_key credential"):
        run(connect(engine, api.url, api_key="").purchase(charge("purchase_succeeded")))
    assert len(api.received) == before


def test_a_refused_connection_is_unavailable(engine):
    port = free_port()  # a port nothing listens on
    with pytest.raises(GatewayUnavailable, match="nothing was sent"):
        run(connect(engine, f"http://127.0.0.1:{port}").purchase(charge("purchase_succeeded")))


# --- unknown outcomes and lookups ----------------------------------------------------------


def test_a_500_is_unknown_and_the_lookup_proves_it_was_never_charged(engine, api):
    gateway = connect(engine, api.url)
    outcome = run(gateway.purchase(charge("server_error")))
    assert (outcome.status, outcome.gateway_code) == (GatewayStatus.UNKNOWN, "api_error")
    assert outcome.message == "Stripe answered 500: An unknown error occurred"

    found = run(
        gateway.lookup(LookupRequest(key("server_error"), amount_minor=2500, currency="EUR"))
    )

    assert found.status is GatewayStatus.NOT_FOUND
    search = api.only("lookup_server_error_search")
    assert (search.method, search.path, search.query) == (
        "GET",
        "/v1/payment_intents/search",
        {"query": "metadata['billing_idempotency_key']:'billing-t1-att_server_error'"},
    )
    assert search.header("Idempotency-Key") == key("server_error")
    listed = api.only("lookup_server_error_list")
    assert listed.query["limit"] == "100"
    assert abs(int(listed.query["created[gte]"]) - (time.time() - 48 * 3600)) < 60


def test_a_lost_reply_is_unknown_and_the_lookup_finds_the_charge(engine, api):
    gateway = connect(engine, api.url, timeout_s=0.5)
    started = time.monotonic()
    outcome = run(gateway.purchase(charge("timeout")))

    assert time.monotonic() - started < 3
    assert (outcome.status, outcome.message) == (
        GatewayStatus.UNKNOWN,
        "Stripe did not answer within 0.5 s",
    )
    assert len(api.answered("timeout")) == 1  # received once, never retried by the SDK

    found = run(gateway.lookup(LookupRequest(key("timeout"))))

    assert (found.status, found.reference, found.amount_minor) == (
        GatewayStatus.SUCCEEDED,
        "pi_3LostReply",
        2500,
    )
    assert api.answered("lookup_timeout_search")


def test_lookup_lists_recent_intents_when_search_lags_behind(engine, api):
    found = run(connect(engine, api.url).lookup(LookupRequest(key("lagging"))))

    assert (found.status, found.reference) == (GatewayStatus.PENDING, "pi_3Lagging")
    assert api.answered("lookup_lagging_search") and api.answered("lookup_lagging_list")


def test_lookup_says_unknown_not_not_found_when_the_window_is_too_crowded(engine, api):
    found = run(connect(engine, api.url, lookup_pages_max=1).lookup(LookupRequest(key("crowded"))))

    assert found.status is GatewayStatus.UNKNOWN
    assert "absence not proven" in found.message


def test_lookup_by_reference_retrieves_the_intent(engine, api):
    gateway = connect(engine, api.url)
    found = run(gateway.lookup(LookupRequest(key("purchase_succeeded"), "pi_3PurchaseOk")))
    missing = run(gateway.lookup(LookupRequest(key("gone"), "pi_3Gone")))

    assert (found.status, found.amount_minor) == (GatewayStatus.SUCCEEDED, 2500)
    assert api.only("lookup_by_reference").path == "/v1/payment_intents/pi_3PurchaseOk"
    assert missing.status is GatewayStatus.NOT_FOUND


# --- authorize, capture, void ------------------------------------------------------------------


def test_authorize_capture_and_void(engine, api):
    gateway = connect(engine, api.url)

    held = run(gateway.authorize(charge("authorize")))
    captured = run(gateway.capture("billing-t1-cap_1", "pi_3Authorized", 2000, "EUR"))
    voided = run(gateway.void("billing-t1-void_1", "pi_3ToVoid"))
    too_late = run(gateway.capture("billing-t1-cap_late", "pi_3ToVoid", 2500, "EUR"))

    assert (held.status, held.reference, held.amount_minor) == (
        GatewayStatus.SUCCEEDED,
        "pi_3Authorized",
        2500,
    )
    assert api.only("authorize").form["capture_method"] == "manual"
    assert (captured.status, captured.amount_minor) == (GatewayStatus.SUCCEEDED, 2000)
    assert_documented_post(
        api, "capture", "/v1/payment_intents/pi_3Authorized/capture", "billing-t1-cap_1"
    )
    assert api.only("capture").form == {"amount_to_capture": "2000"}
    assert (voided.status, voided.reference) == (GatewayStatus.SUCCEEDED, "pi_3ToVoid")
    assert_documented_post(
        api, "void", "/v1/payment_intents/pi_3ToVoid/cancel", "billing-t1-void_1"
    )
    assert (too_late.status, too_late.gateway_code) == (
        GatewayStatus.FAILED,
        "payment_intent_unexpected_state",
    )


# --- refunds ---------------------------------------------------------------------------------


def test_refunds(engine, api):
    gateway = connect(engine, api.url)

    done = run(
        gateway.refund(
            RefundRequest(
                "billing-t1-ref_1", "pi_3PurchaseOk", 1000, "EUR", "requested_by_customer"
            )
        )
    )
    pending = run(
        gateway.refund(
            RefundRequest("billing-t1-ref_2", "pi_3PurchaseOk", 500, "EUR", "credit note CN-0007")
        )
    )
    refused = run(gateway.refund(RefundRequest("billing-t1-ref_3", "pi_3PurchaseOk", 99999, "EUR")))

    assert (done.status, done.reference, done.amount_minor) == (
        GatewayStatus.SUCCEEDED,
        "re_3Refund1",
        1000,
    )
    assert_documented_post(api, "refund", "/v1/refunds", "billing-t1-ref_1")
    assert api.only("refund").form == {
        "amount": "1000",
        "payment_intent": "pi_3PurchaseOk",
        "reason": "requested_by_customer",
        "metadata[billing_idempotency_key]": "billing-t1-ref_1",
    }
    assert (pending.status, pending.reference) == (GatewayStatus.PENDING, "re_3Refund2")
    assert api.only("refund_pending").form["metadata[reason]"] == "credit note CN-0007"
    assert (refused.status, refused.gateway_code) == (GatewayStatus.FAILED, "amount_too_large")


def test_refund_lookups(engine, api):
    gateway = connect(engine, api.url)

    by_reference = run(gateway.lookup(LookupRequest("billing-t1-ref_2", "re_3Refund2", "refund")))
    by_charge = run(
        gateway.lookup(LookupRequest("billing-t1-ref_lost", "pi_3PurchaseOk", "refund"))
    )

    assert (by_reference.status, by_reference.amount_minor) == (GatewayStatus.SUCCEEDED, 500)
    assert (by_charge.status, by_charge.reference, by_charge.amount_minor) == (
        GatewayStatus.SUCCEEDED,
        "re_3RefundLost",
        700,
    )
    assert api.only("lookup_refund_by_charge").query["payment_intent"] == "pi_3PurchaseOk"


# --- webhooks --------------------------------------------------------------------------------


def signed(name: str, secret: str = SECRET, at: int | None = None) -> tuple[dict[str, str], bytes]:
    body = (RECORDINGS / "events" / f"{name}.json").read_bytes()
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={t},v1={mac}"}, body


def parse(engine: Any, name: str, **kw: Any) -> Any:
    headers, body = signed(name, **kw)
    return connect(engine, "http://127.0.0.1:9").parse_webhook(headers, body)


def test_webhook_charge_events(engine):
    succeeded = parse(engine, "payment_intent.succeeded")
    failed = parse(engine, "payment_intent.payment_failed")
    action = parse(engine, "payment_intent.requires_action")

    assert (succeeded.event_id, succeeded.kind, succeeded.reference) == (
        "evt_1Succeeded",
        "charge.succeeded",
        "pi_3PurchaseOk",
    )
    assert (succeeded.idempotency_key, succeeded.amount_minor, succeeded.currency) == (
        key("purchase_succeeded"),
        2500,
        "EUR",
    )
    assert succeeded.outcome.status is GatewayStatus.SUCCEEDED
    assert succeeded.occurred_at == datetime.fromtimestamp(1796000300, UTC)
    assert (failed.kind, failed.outcome.status, failed.outcome.decline_code) == (
        "charge.failed",
        GatewayStatus.FAILED,
        "insufficient_funds",
    )
    assert (action.kind, action.outcome.status) == (
        "charge.requires_action",
        GatewayStatus.REQUIRES_ACTION,
    )
    assert action.outcome.action_url.startswith("https://hooks.stripe.com/3d_secure_2/")


def test_webhook_refund_events(engine):
    updated = parse(engine, "refund.updated")
    failed = parse(engine, "refund.failed")
    summary = parse(engine, "charge.refunded")
    expanded = parse(engine, "charge.refunded.expanded")

    assert (updated.kind, updated.reference, updated.idempotency_key, updated.amount_minor) == (
        "refund.succeeded",
        "re_3Refund2",
        "billing-t1-ref_2",
        500,
    )
    assert (failed.kind, failed.reason, failed.outcome.status) == (
        "refund.failed",
        "expired_or_canceled_card",
        GatewayStatus.FAILED,
    )
    assert summary.kind == "ignored"  # the refund.* event for the refund carries it
    assert (expanded.kind, expanded.reference, expanded.amount_minor) == (
        "refund.succeeded",
        "re_3Refund1",
        1000,
    )


def test_webhook_dispute_events_with_their_fee(engine):
    opened = parse(engine, "charge.dispute.created")
    won = parse(engine, "charge.dispute.closed.won")
    lost = parse(engine, "charge.dispute.closed.lost")

    assert (opened.kind, opened.dispute_id, opened.reference, opened.amount_minor) == (
        "dispute.opened",
        "du_3Dispute1",
        "pi_3PurchaseOk",
        2500,
    )
    assert (opened.fee_minor, opened.currency, opened.reason) == (1500, "EUR", "fraudulent")
    assert (won.kind, won.fee_minor) == ("dispute.won", 0)  # the fee came back with the win
    assert (lost.kind, lost.fee_minor, lost.amount_minor) == ("dispute.lost", 1500, 2500)


def test_webhook_of_another_type_is_ignored(engine):
    assert parse(engine, "customer.created").kind == "ignored"


def test_webhook_duplicate_delivery_parses_identically(engine):
    # Stripe redelivers the same event (same id, same body) with a fresh signature.
    first = parse(engine, "payment_intent.succeeded", at=int(time.time()) - 30)
    again = parse(engine, "payment_intent.succeeded")

    assert first == again
    assert first.event_id == "evt_1Succeeded"


def test_webhook_bad_signatures_are_rejected(engine):
    gateway = connect(engine, "http://127.0.0.1:9")
    headers, body = signed("payment_intent.succeeded", secret="whsec_someone_else")
    with pytest.raises(WebhookRejected, match="signature"):
        gateway.parse_webhook(headers, body)

    headers, body = signed("payment_intent.succeeded")
    tampered = body.replace(b'"amount": 2500', b'"amount": 250000', 1)
    with pytest.raises(WebhookRejected, match="signature"):
        gateway.parse_webhook(headers, tampered)

    headers, body = signed("payment_intent.succeeded", at=int(time.time()) - 3600)
    with pytest.raises(WebhookRejected, match="signature"):
        gateway.parse_webhook(headers, body)  # a replay outside the tolerance

    with pytest.raises(WebhookRejected, match="no Stripe-Signature"):
        gateway.parse_webhook({}, body)


def test_webhook_without_a_secret_is_rejected(engine):
    headers, body = signed("payment_intent.succeeded")
    with pytest.raises(WebhookRejected, match="no webhook_secret"):
        connect(engine, "http://127.0.0.1:9", api_key="").parse_webhook(headers, body)


# --- the engine ------------------------------------------------------------------------------


def test_engine_settings_and_credentials(engine):
    assert engine.credential_names() == ("api_key", "webhook_secret")
    assert engine.check_settings({"off_session": "auto", "return_url": "https://x.example/r"}) == []
    assert engine.check_settings(
        {"off_session": "sometimes", "customer_in_token": "yes", "lookup_pages_max": 0, "colour": 1}
    ) == [
        "unknown setting 'colour'",
        "off_session must be one of auto, always, never, not 'sometimes'",
        "customer_in_token must be true or false",
        "lookup_pages_max must be a whole number from 1 to 50",
    ]


def test_recordings_are_stripe_shaped():
    # Every recorded POST names our key in the metadata it sends, and every answer is a
    # Stripe object or a Stripe error envelope.
    for path in RECORDINGS.glob("*.json"):
        recording = json.loads(path.read_text())
        request, body = recording["request"], recording["response"]["body"]
        assert request["headers"]["Authorization"].startswith("Bearer sk_test_"), path.name
        assert request["headers"]["Idempotency-Key"].startswith("billing-t1-"), path.name
        assert "object" in body or set(body) == {"error"}, path.name
        if (
            request["path"] in ("/v1/payment_intents", "/v1/refunds")
            and request["method"] == "POST"
        ):
            assert (
                request["form"]["metadata[billing_idempotency_key]"]
                == (request["headers"]["Idempotency-Key"])
            ), path.name


def test_a_connection_dropped_after_sending_is_unknown(engine, api):
    outcome = run(connect(engine, api.url).purchase(charge("connection_dropped")))

    assert (outcome.status, outcome.message) == (
        GatewayStatus.UNKNOWN,
        "the connection to Stripe was lost after the request was sent",
    )
    assert len(api.answered("connection_dropped")) == 1

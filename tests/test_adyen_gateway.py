"""The `adyen` engine against a local Adyen Checkout API answering from recordings
(tests/recordings/adyen/): each operation's request is the documented shape with our
Idempotency-Key, each documented answer maps to the right outcome, unknown outcomes are
settled by replaying the request under the same key (ADR 0038), and webhooks verify."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from adyen_recorded import API_KEY, HMAC_KEY, MERCHANT_ACCOUNT, AdyenServer, RecordedAdyen
from billing.plugins.engines import (
    DECLINE_CODES,
    ChargeRequest,
    GatewayConnection,
    GatewayStatus,
    GatewayUnavailable,
    LookupRequest,
    RefundRequest,
    WebhookRejected,
)
from billing_builtin.adyen import AdyenEngine
from billing_builtin.adyen.gateway import AdyenGateway, wire_key
from workers import free_port

TENANT = "t_acme"
WEBHOOKS = Path(__file__).parent / "recordings" / "adyen" / "webhooks"
TOKEN = "8415718415172200"
CUSTOMER = "cus_01JADYENSHOPPER0000000001"
INVOICE = "inv_01JADYENINVOICE000000001"


@pytest.fixture(scope="module")
def adyen() -> Iterator[RecordedAdyen]:
    with AdyenServer() as server:
        yield server


def gateway(adyen: RecordedAdyen, timeout_s: float = 0.5, **credentials: str) -> AdyenGateway:
    engine = AdyenEngine()
    connection = GatewayConnection(
        "adyen_eu",
        settings={"merchant_account": MERCHANT_ACCOUNT},
        credentials=credentials or {"api_key": API_KEY, "hmac_key": HMAC_KEY},
        endpoint=adyen.url,
        timeout_s=timeout_s,
    )
    connected = engine.connect(connection)
    assert isinstance(connected, AdyenGateway)
    return connected


def charge(case: str, *, capture: bool = True, amount: int = 2500) -> ChargeRequest:
    return ChargeRequest(
        idempotency_key=f"billing-{TENANT}-pat_{case}",
        amount_minor=amount,
        currency="EUR",
        token=TOKEN,
        customer_reference=CUSTOMER,
        capture=capture,
        metadata={"tenant": TENANT, "invoice": INVOICE, "attempt": f"pat_{case}"},
    )


def sent(adyen: RecordedAdyen, key: str) -> list[dict[str, object]]:
    """What reached the server for this key, as (path, headers, body)."""
    return [
        {"path": r.path, "headers": r.headers, "body": r.body}
        for r in adyen.received
        if r.headers.get("idempotency-key") == key
    ]


def assert_documented_request(adyen: RecordedAdyen, case: str, key: str) -> None:
    recording = adyen.recordings[case]
    requests = sent(adyen, key)
    assert requests, f"nothing reached the server for {key}"
    for request in requests:
        headers = request["headers"]
        assert isinstance(headers, dict)
        assert request["path"] == recording.path
        assert request["body"] == recording.body
        assert headers["x-api-key"] == API_KEY
        assert headers["idempotency-key"] == key
        assert headers["content-type"] == "application/json"
    assert not [m for m in adyen.mismatches if m.headers.get("idempotency-key") == key]


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


# --- purchase ---------------------------------------------------------------------------


def test_purchase_sends_the_documented_stored_method_request_and_succeeds(
    adyen: RecordedAdyen,
) -> None:
    request = charge("authorised")
    outcome = run(gateway(adyen).purchase(request))
    assert outcome.status is GatewayStatus.SUCCEEDED
    assert outcome.reference == "PSP0AUTHORISED01"
    assert outcome.amount_minor == 2500
    assert_documented_request(adyen, "authorised", request.idempotency_key)
    body = sent(adyen, request.idempotency_key)[0]["body"]
    assert body == {
        "merchantAccount": MERCHANT_ACCOUNT,
        "amount": {"value": 2500, "currency": "EUR"},
        "reference": request.idempotency_key,
        "paymentMethod": {"type": "scheme", "storedPaymentMethodId": TOKEN},
        "shopperReference": CUSTOMER,
        "shopperInteraction": "ContAuth",
        "recurringProcessingModel": "Subscription",
        "metadata": {"attempt": "pat_authorised", "invoice": INVOICE, "tenant": TENANT},
    }
    assert adyen.processed[request.idempotency_key] == 1


@pytest.mark.parametrize(
    ("case", "decline_code", "gateway_code"),
    [
        ("refused_balance", "insufficient_funds", "Refused:12"),
        ("refused_expired", "expired_card", "Refused:6"),
        ("refused_cvc", "incorrect_cvc", "Refused:24"),
        ("refused_do_not_honor", "do_not_honor", "Refused:2"),
        ("refused_stolen", "stolen_card", "Refused:5"),
        ("refused_lost", "lost_card", "Refused:5"),
        ("refused_fraud", "fraudulent", "Refused:31"),
    ],
)
def test_refusals_map_to_decline_codes(
    adyen: RecordedAdyen, case: str, decline_code: str, gateway_code: str
) -> None:
    request = charge(case)
    outcome = run(gateway(adyen).purchase(request))
    assert outcome.status is GatewayStatus.FAILED
    assert outcome.decline_code == decline_code
    assert outcome.decline_code in DECLINE_CODES
    assert outcome.gateway_code == gateway_code
    assert outcome.reference.startswith("PSP0REFUSED")
    assert_documented_request(adyen, case, request.idempotency_key)


def test_redirect_shopper_requires_action_with_the_action_url(adyen: RecordedAdyen) -> None:
    outcome = run(gateway(adyen).purchase(charge("redirect")))
    assert outcome.status is GatewayStatus.REQUIRES_ACTION
    assert outcome.action_url == (
        "https://checkoutshopper-test.adyen.com/checkoutshopper/threeDS/redirect"
        "?MD=M2RzMi1yZWRpcmVjdA%3D%3D"
    )
    assert outcome.gateway_code == "RedirectShopper"


def test_challenge_shopper_requires_action(adyen: RecordedAdyen) -> None:
    outcome = run(gateway(adyen).purchase(charge("challenge")))
    assert outcome.status is GatewayStatus.REQUIRES_ACTION
    assert outcome.reference == "PSP0CHALLENGE001"
    assert outcome.action_url == ""  # a native 3DS2 action has a token, not a URL


@pytest.mark.parametrize(
    ("case", "psp"), [("pending", "PSP0PENDING00001"), ("received", "PSP0RECEIVED0001")]
)
def test_pending_and_received_are_pending(adyen: RecordedAdyen, case: str, psp: str) -> None:
    outcome = run(gateway(adyen).purchase(charge(case)))
    assert outcome.status is GatewayStatus.PENDING
    assert outcome.reference == psp


def test_result_error_is_a_failed_processing_error(adyen: RecordedAdyen) -> None:
    outcome = run(gateway(adyen).purchase(charge("error")))
    assert outcome.status is GatewayStatus.FAILED
    assert outcome.decline_code == "processing_error"
    assert outcome.message == "Adyen answered Error: Acquirer Error"


def test_422_validation_fails_with_the_message(adyen: RecordedAdyen) -> None:
    outcome = run(gateway(adyen).purchase(charge("validation_422")))
    assert outcome.status is GatewayStatus.FAILED
    assert outcome.decline_code == "processing_error"
    assert outcome.gateway_code == "422:14_0417"
    assert outcome.message == (
        "Adyen refused the request: The payment method is not supported for recurring"
    )
    gone = run(gateway(adyen).purchase(charge("method_gone_422")))
    assert (gone.status, gone.decline_code) == (GatewayStatus.FAILED, "invalid_account")


def test_422_in_progress_is_unknown_not_failed(adyen: RecordedAdyen) -> None:
    outcome = run(gateway(adyen).purchase(charge("in_progress_422")))
    assert outcome.status is GatewayStatus.UNKNOWN
    assert outcome.gateway_code == "704"


def test_401_is_unavailable_never_charged(adyen: RecordedAdyen) -> None:
    with pytest.raises(GatewayUnavailable, match="HTTP 401"):
        run(gateway(adyen).purchase(charge("unauthorized_401")))


def test_connection_refused_is_unavailable() -> None:
    port = free_port()  # nothing listens there
    connection = GatewayConnection(
        "adyen_eu",
        settings={"merchant_account": MERCHANT_ACCOUNT},
        credentials={"api_key": API_KEY, "hmac_key": HMAC_KEY},
        endpoint=f"http://127.0.0.1:{port}/v72",
        timeout_s=0.5,
    )
    with pytest.raises(GatewayUnavailable, match="unreachable"):
        run(AdyenGateway(connection).purchase(charge("authorised")))


# --- unknown outcomes and their settlement by replay (ADR 0038) --------------------------


def test_500_is_unknown_and_the_replay_charges_once(adyen: RecordedAdyen) -> None:
    request = charge("server_error_500")
    first = run(gateway(adyen).purchase(request))
    assert first.status is GatewayStatus.UNKNOWN
    assert first.message.startswith("Adyen answered HTTP 500")
    # Adyen keeps no idempotent result for a 5xx: the replay is processed, once.
    settled = run(
        gateway(adyen).lookup(
            LookupRequest(
                request.idempotency_key, amount_minor=2500, currency="EUR", original=request
            )
        )
    )
    assert settled.status is GatewayStatus.SUCCEEDED
    assert settled.reference == "PSP0AFTER5XX0001"
    assert adyen.processed[request.idempotency_key] == 2  # the 500, then the charge
    again = run(gateway(adyen).lookup(LookupRequest(request.idempotency_key, original=request)))
    assert again.reference == "PSP0AFTER5XX0001"
    assert adyen.processed[request.idempotency_key] == 2  # answered from the store
    assert_documented_request(adyen, "server_error_500", request.idempotency_key)


def test_timeout_is_unknown_then_settled_from_the_idempotency_store(adyen: RecordedAdyen) -> None:
    request = charge("timeout_charged")
    outcome = run(gateway(adyen, timeout_s=0.3).purchase(request))
    assert outcome.status is GatewayStatus.UNKNOWN
    assert "TimeoutError" in outcome.message or "timed out" in outcome.message
    settled = run(gateway(adyen).lookup(LookupRequest(request.idempotency_key, original=request)))
    assert settled.status is GatewayStatus.SUCCEEDED
    assert settled.reference == "PSP0LATEREPLY001"
    # Adyen charged once; the lookup was answered from the store, not charged again.
    assert adyen.processed[request.idempotency_key] == 1
    assert adyen.replayed[request.idempotency_key] == 1
    assert_documented_request(adyen, "timeout_charged", request.idempotency_key)


def test_lost_reply_is_unknown_then_settled(adyen: RecordedAdyen) -> None:
    request = charge("lost_reply")
    outcome = run(gateway(adyen).purchase(request))
    assert outcome.status is GatewayStatus.UNKNOWN
    settled = run(gateway(adyen).lookup(LookupRequest(request.idempotency_key, original=request)))
    assert (settled.status, settled.reference) == (GatewayStatus.SUCCEEDED, "PSP0LOSTREPLY001")
    assert adyen.processed[request.idempotency_key] == 1


def test_lookup_without_the_original_waits_for_the_webhook(adyen: RecordedAdyen) -> None:
    before = len(adyen.received)
    outcome = run(gateway(adyen).lookup(LookupRequest(charge("authorised").idempotency_key)))
    assert outcome.status is GatewayStatus.UNKNOWN  # never not_found: Adyen cannot say so
    assert outcome.message == "Adyen has no status lookup; waiting for its webhook"
    assert len(adyen.received) == before


def test_lookup_refuses_an_original_with_another_key(adyen: RecordedAdyen) -> None:
    outcome = run(
        gateway(adyen).lookup(
            LookupRequest("billing-t_acme-pat_other", original=charge("authorised"))
        )
    )
    assert outcome.status is GatewayStatus.UNKNOWN


# --- authorize, capture, void, refund --------------------------------------------------


def test_authorize_asks_for_manual_capture_then_capture_and_void(adyen: RecordedAdyen) -> None:
    gw = gateway(adyen)
    request = charge("authorize_manual", capture=False)
    authorized = run(gw.authorize(request))
    assert (authorized.status, authorized.reference) == (
        GatewayStatus.SUCCEEDED,
        "PSP0MANUALCAPT01",
    )
    assert_documented_request(adyen, "authorize_manual", request.idempotency_key)
    body = sent(adyen, request.idempotency_key)[0]["body"]
    assert isinstance(body, dict) and body["additionalData"] == {"manualCapture": "true"}

    captured = run(gw.capture(f"billing-{TENANT}-cap_1", "PSP0MANUALCAPT01", 2500, "EUR"))
    assert captured.status is GatewayStatus.PENDING  # Adyen confirms by the CAPTURE webhook
    assert (captured.reference, captured.amount_minor) == ("PSP0CAPTURE00001", 2500)
    assert_documented_request(adyen, "cap_1", f"billing-{TENANT}-cap_1")

    voided = run(gw.void(f"billing-{TENANT}-void_1", "PSP0MANUALCAPT01"))
    assert (voided.status, voided.reference) == (GatewayStatus.PENDING, "PSP0CANCEL000001")
    assert_documented_request(adyen, "void_1", f"billing-{TENANT}-void_1")


def test_refund_is_received_and_pending(adyen: RecordedAdyen) -> None:
    refund = RefundRequest(f"billing-{TENANT}-ref_1", "PSP0AUTHORISED01", 1000, "EUR")
    outcome = run(gateway(adyen).refund(refund))
    assert outcome.status is GatewayStatus.PENDING
    assert (outcome.reference, outcome.amount_minor) == ("PSP0REFUND000001", 1000)
    assert_documented_request(adyen, "ref_1", refund.idempotency_key)


def test_refund_over_the_amount_fails_with_the_message(adyen: RecordedAdyen) -> None:
    refund = RefundRequest(f"billing-{TENANT}-ref_too_much", "PSP0AUTHORISED01", 999999, "EUR")
    outcome = run(gateway(adyen).refund(refund))
    assert outcome.status is GatewayStatus.FAILED
    assert outcome.message == "Adyen refused the request: Invalid amount specified"


def test_refund_timeout_settled_by_replay_without_a_second_refund(adyen: RecordedAdyen) -> None:
    refund = RefundRequest(f"billing-{TENANT}-ref_timeout", "PSP0AUTHORISED01", 500, "EUR")
    assert run(gateway(adyen, timeout_s=0.3).refund(refund)).status is GatewayStatus.UNKNOWN
    settled = run(
        gateway(adyen).lookup(LookupRequest(refund.idempotency_key, kind="refund", original=refund))
    )
    assert (settled.status, settled.reference) == (GatewayStatus.PENDING, "PSP0REFUND000002")
    assert adyen.processed[refund.idempotency_key] == 1


# --- keys and settings -------------------------------------------------------------------


def test_long_keys_become_a_stable_64_character_key() -> None:
    long_key = "billing-" + "t" * 60 + "-pat_01JADYEN"
    assert wire_key(long_key) == wire_key(long_key)
    assert len(wire_key(long_key)) == 64
    assert wire_key(long_key) != wire_key(long_key + "x")
    assert wire_key("billing-t_acme-pat_1") == "billing-t_acme-pat_1"


def test_check_settings_requires_the_merchant_account() -> None:
    engine = AdyenEngine()
    assert engine.check_settings({"merchant_account": "Acme"}) == []
    assert engine.check_settings({}) == [
        "adyen: settings.merchant_account is required (the merchant account)"
    ]
    assert engine.check_settings({"merchant_account": "Acme", "environment": "live"}) == [
        "adyen: settings.live_endpoint_prefix is required when live"
    ]
    assert engine.check_settings({"merchant_account": "Acme", "colour": "red"}) == [
        "adyen: unknown setting 'colour'"
    ]
    assert engine.credential_names() == ("api_key", "hmac_key")


def test_the_engine_is_registered_through_the_plugin_hook() -> None:
    from billing.plugins.registry import load_engines

    assert isinstance(load_engines().get("payment_gateway", "adyen"), AdyenEngine)


# --- webhooks ----------------------------------------------------------------------------


def hook(name: str) -> bytes:
    return (WEBHOOKS / f"{name}.json").read_bytes()


def test_authorisation_webhooks_parse(adyen: RecordedAdyen) -> None:
    gw = gateway(adyen)
    success = gw.parse_webhook({}, hook("authorisation_success"))
    assert success.kind == "charge.succeeded"
    assert success.event_id == "AUTHORISATION:PSP0AUTHORISED01:true"
    assert success.reference == "PSP0AUTHORISED01"
    assert success.idempotency_key == f"billing-{TENANT}-pat_authorised"
    assert success.outcome is not None and success.outcome.status is GatewayStatus.SUCCEEDED
    assert (success.amount_minor, success.currency) == (2500, "EUR")
    assert success.occurred_at is not None and success.occurred_at.isoformat() == (
        "2026-12-06T10:15:30+01:00"
    )
    failure = gw.parse_webhook({}, hook("authorisation_failure"))
    assert failure.kind == "charge.failed"
    assert failure.outcome is not None
    assert (failure.outcome.status, failure.outcome.decline_code) == (
        GatewayStatus.FAILED,
        "insufficient_funds",
    )


@pytest.mark.parametrize(
    ("name", "kind", "reference", "dispute_id"),
    [
        ("refund_success", "refund.succeeded", "PSP0REFUND000001", ""),
        ("refund_failed", "refund.failed", "PSP0REFUND000002", ""),
        ("notification_of_chargeback", "dispute.opened", "PSP0AUTHORISED01", "PSP0DISPUTE00001"),
        ("chargeback", "dispute.opened", "PSP0AUTHORISED01", "PSP0DISPUTE00001"),
        ("chargeback_reversed", "dispute.won", "PSP0AUTHORISED01", "PSP0DISPUTE00001"),
        ("second_chargeback", "dispute.lost", "PSP0AUTHORISED01", "PSP0DISPUTE00001"),
        ("capture", "ignored", "PSP0MANUALCAPT01", ""),
    ],
)
def test_webhook_kinds(
    adyen: RecordedAdyen, name: str, kind: str, reference: str, dispute_id: str
) -> None:
    event = gateway(adyen).parse_webhook({}, hook(name))
    assert (event.kind, event.reference, event.dispute_id) == (kind, reference, dispute_id)


def test_duplicate_webhook_parses_identically(adyen: RecordedAdyen) -> None:
    gw = gateway(adyen)
    assert gw.parse_webhook({}, hook("chargeback")) == gw.parse_webhook({}, hook("chargeback"))
    # The dispute's events share its pspReference but not their event id.
    assert (
        gw.parse_webhook({}, hook("chargeback")).event_id
        != gw.parse_webhook({}, hook("notification_of_chargeback")).event_id
    )


def test_tampered_webhook_is_rejected(adyen: RecordedAdyen) -> None:
    payload = json.loads(hook("authorisation_success"))
    payload["notificationItems"][0]["NotificationRequestItem"]["amount"]["value"] = 1
    with pytest.raises(WebhookRejected, match="does not verify"):
        gateway(adyen).parse_webhook({}, json.dumps(payload).encode())


def test_webhook_under_another_key_is_rejected(adyen: RecordedAdyen) -> None:
    other = gateway(adyen, api_key=API_KEY, hmac_key="00" * 32)
    with pytest.raises(WebhookRejected, match="does not verify"):
        other.parse_webhook({}, hook("authorisation_success"))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not JSON"),
        (b'{"live": "false", "notificationItems": []}', "exactly one"),
        (
            b'{"live": "false", "notificationItems": [{"NotificationRequestItem": {"amount": {"value": 1, "currency": "EUR"}}}]}',
            "not signed",
        ),
    ],
)
def test_malformed_webhooks_are_rejected(adyen: RecordedAdyen, body: bytes, message: str) -> None:
    with pytest.raises(WebhookRejected, match=message):
        gateway(adyen).parse_webhook({}, body)


def test_no_request_ever_mismatched_a_recording(adyen: RecordedAdyen) -> None:
    # Runs last in this module: every request sent above had the recorded shape.
    assert adyen.mismatches == []

"""The card-number refusal's two gaps, closed (ADR 0048, refining ADR 0039), and what must
stay accepted.

Accepted, first: ULID ids (ours are `<prefix>_<ULID>`), hexadecimal ids (uuid4, trace and
span ids, digests), invoice and credit-note numbers, long references whose digit runs are
not Luhn-valid card lengths, amounts, the repository's rule files, and a gateway's webhook
body (signed by the gateway, never stored whole: ADR 0039 leaves it unscanned on purpose).

Refused, then: a card number touching letters (`card4242…4242x`, `ref4242…`), and one in a
bytes field (a rule file). Over gRPC on both databases: INVALID_ARGUMENT with reason
CARD_NUMBER_REFUSED naming the field, never echoing the number.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ulid import ULID

from billing.api.validation import card_number_paths
from billing.domain.card_numbers import (
    holds_card_number,
    luhn_check_digit,
    luhn_valid,
    mask_card_numbers,
    may_hold_card_number,
)
from billing_builtin.sandbox import webhooks as sandbox_webhooks
from billing_client.v1 import (
    customers_pb2,
    customers_pb2_grpc,
    payments_pb2_grpc,
    rules_pb2,
    rules_pb2_grpc,
)
from billing_client.v1 import payments_pb2 as pp
from conftest import Tenant, rule_files
from grpc_helpers import error_info, field_violations

REPO = Path(__file__).parents[1]
CARD = "4242424242424242"
WHY = "must not hold a payment card number: tokenize the card at the gateway and send its token"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
HEX = "0123456789abcdef"


def card_numbers(min_size: int = 12, max_size: int = 18) -> st.SearchStrategy[str]:
    partial = st.text(alphabet="0123456789", min_size=min_size, max_size=max_size)
    return partial.map(lambda p: p + luhn_check_digit(p))


def not_luhn(run: str) -> str:
    """`run` with its last digit changed so the Luhn check fails."""
    return run if not luhn_valid(run) else run[:-1] + str((int(run[-1]) + 1) % 10)


# --- accepted: what must never be refused ---------------------------------------------------


@settings(max_examples=500, derandomize=True)
@given(
    st.datetimes(datetime(2020, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)),
    st.binary(min_size=10, max_size=10),
)
def test_ulid_ids_are_never_card_numbers(at: datetime, randomness: bytes) -> None:
    value = str(ULID.from_bytes(ULID.from_datetime(at).bytes[:6] + randomness))
    for text in (value, f"cus_{value}", f"customers/cus_{value}", value.lower()):
        assert not holds_card_number(text)


@settings(max_examples=300, derandomize=True)
@given(
    st.datetimes(datetime(2020, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)),
    card_numbers(12, 14),
    st.text(alphabet=CROCKFORD, min_size=16, max_size=16),
)
def test_a_ulid_whose_random_part_holds_a_card_length_luhn_run_is_still_an_id(
    at: datetime, run: str, fill: str
) -> None:
    """The random part of a ULID is base 32: a long decimal run in it is chance, and the
    id around it (its time part starts with digits) says so."""
    time_part = str(ULID.from_datetime(at))[:10]
    random_part = (run + fill)[:16]
    value = time_part + random_part
    assert len(value) == 26 and luhn_valid(run)
    assert not holds_card_number(value)
    assert not holds_card_number(f"pay_{value}")


def test_a_crafted_ulid_with_a_card_inside_is_an_id() -> None:
    assert not holds_card_number(f"pay_01J9ZK8Q{CARD}AB")
    assert not holds_card_number(f"customers/cus_01J9ZK8Q{CARD}AB")


@settings(max_examples=500, derandomize=True)
@given(
    st.text(alphabet=HEX, min_size=13, max_size=64).filter(lambda s: any(c in s for c in "abcdef"))
)
def test_a_hexadecimal_id_with_any_letter_is_never_a_card_number(value: str) -> None:
    """uuid4 hex, 16-hex trace ids, digests: a decimal run inside is chance."""
    assert not holds_card_number(value)
    assert not holds_card_number(value.upper())
    assert not holds_card_number(f"req-{value}")


@settings(max_examples=300, derandomize=True)
@given(st.uuids())
def test_uuids_in_every_spelling_are_never_card_numbers(value: object) -> None:
    for text in (value.hex, str(value), str(value).upper()):  # type: ignore[attr-defined]
        assert not holds_card_number(text)


@settings(max_examples=300, derandomize=True)
@given(st.integers(2000, 2999), st.integers(1, 999_999), st.sampled_from(["INV", "CN"]))
def test_invoice_and_credit_note_numbers_are_never_card_numbers(
    year: int, seq: int, prefix: str
) -> None:
    for text in (
        f"{prefix}-{year}-{seq:06d}",  # the default formats
        f"{prefix}{year}-{seq:06d}",
        f"{prefix}-{year}{seq:06d}",
        f"{prefix}{year}{seq:06d}",  # glued, 10 digits
    ):
        assert not holds_card_number(text)


@settings(max_examples=300, derandomize=True)
@given(
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8
    ),
    st.text(alphabet="0123456789", min_size=13, max_size=19),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", max_size=4),
)
def test_a_long_reference_that_is_not_a_luhn_valid_card_length_run_is_accepted(
    prefix: str, digits: str, suffix: str
) -> None:
    run = not_luhn(digits)
    assert not holds_card_number(f"{prefix}{run}{suffix}")
    assert not holds_card_number(f"{prefix}-{run}")
    assert not holds_card_number(f"{prefix}{digits}{run}")  # 26-38 digits: longer than a card


@pytest.mark.parametrize(
    "text",
    [
        "ORD-20260103-000000000042",  # a date then a counter: groups, not a card
        "PO20260103000000000042",  # 20 digits
        "order 2026 000 000 000 042",  # groups of 3 after a 4: 16 digits, not Luhn
        "1000000000000.00",  # amounts
        "USD1000000000000",
        "EUR 99999999999999.99",
        "1,234,567,890,123.45",
        "12345678901234 USD",
        "tax id DE123456789, order 4242424242424241",
    ],
)
def test_references_and_amounts_that_are_not_card_numbers(text: str) -> None:
    assert not holds_card_number(text)


def test_the_repositorys_rule_files_are_accepted_as_bytes() -> None:
    paths = sorted([*REPO.glob("rules/**/*.yaml"), *REPO.glob("tests/rules/**/*.yaml")])
    files = {str(p.relative_to(REPO)): p.read_bytes() for p in paths}
    assert len(files) > 40
    assert card_number_paths(rules_pb2.PushRuleSetRequest(files=files, request_id="r")) == []


def test_a_gateways_webhook_body_is_not_scanned() -> None:
    body = sandbox_webhooks.build("refund.succeeded", reference=CARD, amount_minor=100)
    request = pp.HandleGatewayEventRequest(gateway="sandbox", payload=body)
    assert may_hold_card_number(body)
    assert card_number_paths(request) == []


# --- refused: the gaps ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"card{CARD}x", "card************4242x"),
        (f"ref{CARD}", "ref************4242"),
        (f"ref:{CARD}", "ref:************4242"),  # found before too
        (f"{CARD}x", "************4242x"),
        (f"x{CARD}", "x************4242"),
        (f"abc{CARD}xyz", "abc************4242xyz"),
        ("card4242 4242 4242 4242", "card**** **** **** 4242"),
        ("VISA4242-4242-4242-4242 exp 12/29", "VISA****-****-****-4242 exp 12/29"),
        ("pan378282246310005amex", "pan***********0005amex"),
        (f"my card is{CARD}thanks", "my card is************4242thanks"),
    ],
)
def test_a_card_number_touching_letters_is_found_and_masked(text: str, masked: str) -> None:
    assert holds_card_number(text)
    assert may_hold_card_number(text.encode())
    assert mask_card_numbers(text) == masked


@settings(max_examples=300, derandomize=True)
@given(
    card_numbers(),
    st.text(alphabet="ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=6),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", max_size=6),
)
def test_a_card_number_glued_to_a_word_is_found(number: str, word: str, after: str) -> None:
    """A word with a letter no hexadecimal id has, before or after: not an id."""
    assert holds_card_number(f"{word}{number}{after}")
    assert holds_card_number(f"{after}{number}{word}")
    assert not holds_card_number(mask_card_numbers(f"{word}{number}{after}"))


def test_a_card_number_in_a_rule_file_is_refused_naming_the_file() -> None:
    files = {
        "catalog.yaml": rule_files()["catalog.yaml"],
        "notes.yaml": f"kind: catalog\n# card of the customer: {CARD}\n".encode(),
        "glued.yaml": f"kind: catalog\nref: card{CARD}x\n".encode(),
    }
    for request in (
        rules_pb2.PushRuleSetRequest(files=files, request_id="r"),
        rules_pb2.ValidateRuleSetRequest(files=files),
    ):
        assert sorted(card_number_paths(request)) == [
            ('files["glued.yaml"]', WHY),
            ('files["notes.yaml"]', WHY),
        ]


def test_map_values_are_scanned_for_glued_numbers_too() -> None:
    request = customers_pb2.CreateCustomerRequest(request_id="r")
    request.customer.metadata["order"] = f"ORD{not_luhn(CARD)}"
    request.customer.metadata["note"] = f"card{CARD}x"
    assert card_number_paths(request) == [('customer.metadata["note"]', WHY)]


# --- over gRPC, both databases --------------------------------------------------------------


@pytest.fixture
def stubs(channel: grpc.Channel) -> Iterator[tuple[object, object, object]]:
    yield (
        rules_pb2_grpc.RuleServiceStub(channel),
        customers_pb2_grpc.CustomerServiceStub(channel),
        payments_pb2_grpc.PaymentServiceStub(channel),
    )


def _refused(error: grpc.RpcError) -> dict[str, str]:
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(error).reason == "CARD_NUMBER_REFUSED"
    assert CARD not in (error.details() or "") and CARD[:12] not in str(field_violations(error))
    return field_violations(error)


def test_a_rule_set_holding_a_card_number_is_refused_naming_the_file(stubs, tenant: Tenant) -> None:
    rules, _, _ = stubs
    files = {**rule_files(), "notes.yaml": f"kind: catalog\n# {CARD}\n".encode()}
    with pytest.raises(grpc.RpcError) as refused:
        rules.PushRuleSet(
            rules_pb2.PushRuleSetRequest(files=files, request_id="push-1"),
            metadata=tenant.metadata,
        )
    assert _refused(refused.value) == {'files["notes.yaml"]': WHY}
    with pytest.raises(grpc.RpcError) as checked:
        rules.ValidateRuleSet(
            rules_pb2.ValidateRuleSetRequest(files=files), metadata=tenant.metadata
        )
    assert _refused(checked.value) == {'files["notes.yaml"]': WHY}
    # Nothing was stored under the request id: the same id with good files goes through.
    pushed = rules.PushRuleSet(
        rules_pb2.PushRuleSetRequest(files=rule_files(), request_id="push-1"),
        metadata=tenant.metadata,
    )
    assert pushed.content_hash


def test_glued_numbers_are_refused_and_ids_and_references_accepted(stubs, tenant: Tenant) -> None:
    rules, customers, _ = stubs
    rules.PushRuleSet(
        rules_pb2.PushRuleSetRequest(files=rule_files(), request_id="push"),
        metadata=tenant.metadata,
    )
    legit = customers_pb2.Customer(
        display_name=f"Order ORD{not_luhn(CARD)} for pay_01J9ZK8Q{CARD}AB",
        email="ap@example.com",
        currency_code="USD",
    )
    legit.metadata["invoice"] = "INV-2026-000123"
    legit.metadata["trace"] = "4242424242424242abcdef0123456789"
    legit.metadata["amount"] = "1000000000000.00"
    created = customers.CreateCustomer(
        customers_pb2.CreateCustomerRequest(customer=legit, request_id="c-ok"),
        metadata=tenant.metadata,
    )
    assert created.metadata["trace"] == "4242424242424242abcdef0123456789"

    bad = customers_pb2.Customer(display_name=f"ref{CARD}", currency_code="USD")
    bad.metadata["note"] = f"card{CARD}x"
    with pytest.raises(grpc.RpcError) as refused:
        customers.CreateCustomer(
            customers_pb2.CreateCustomerRequest(customer=bad, request_id="c-bad"),
            metadata=tenant.metadata,
        )
    assert _refused(refused.value) == {
        "customer.display_name": WHY,
        'customer.metadata["note"]': WHY,
    }


def test_a_signed_webhook_with_long_digit_runs_is_handled_not_refused(
    stubs, tenant: Tenant
) -> None:
    rules, _, payments = stubs
    rules.PushRuleSet(
        rules_pb2.PushRuleSetRequest(files=rule_files(), request_id="push"),
        metadata=tenant.metadata,
    )
    body = sandbox_webhooks.build("refund.succeeded", reference=CARD, amount_minor=100)

    handled = payments.HandleGatewayEvent(
        pp.HandleGatewayEventRequest(
            gateway="sandbox", headers=sandbox_webhooks.signed_headers(body), payload=body
        ),
        metadata=tenant.metadata,
    )

    assert (handled.duplicate, handled.outcome.startswith("ignored")) == (False, True)

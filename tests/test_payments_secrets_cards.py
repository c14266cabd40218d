"""What looks like a card number (`billing.domain.card_numbers`), and the log mask built on it
(ADR 0039): hand-checked examples, then properties over generated numbers and text."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.domain import card_numbers as card_module
from billing.domain.card_numbers import (
    holds_card_number,
    luhn_check_digit,
    luhn_valid,
    mask_card_numbers,
    may_hold_card_number,
)
from billing.observability.logs import EcsFormatter, SecretMask
from billing_client.v1 import usage_pb2

# Test numbers the networks publish (Luhn-valid), and their neighbours with the last digit off.
PUBLISHED = [
    "4242424242424242",  # Visa, 16
    "4222222222222",  # Visa, 13
    "5555555555554444",  # Mastercard
    "378282246310005",  # Amex, 15
    "30569309025904",  # Diners, 14
    "6011111111111117",  # Discover
    "6250941006528599",  # UnionPay
    "4000056655665556",
    "6011000000000000001",  # 19 digits
]


@pytest.mark.parametrize("number", PUBLISHED)
def test_published_test_numbers_pass_luhn_and_their_neighbours_do_not(number: str) -> None:
    assert luhn_valid(number)
    off = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert not luhn_valid(off)
    assert holds_card_number(number) and not holds_card_number(off)


@pytest.mark.parametrize(
    "text",
    [
        "4242 4242 4242 4242",
        "4242-4242-4242-4242",
        "3782 822463 10005",  # Amex 4-6-5
        "3056 930902 5904",  # Diners 4-6-4
        "6011 0000 0000 0000 001",  # 4-4-4-4-3
        "4222 2222 2222 2",  # Visa 13 as 4-4-4-1
        "card: 4242424242424242, exp 12/29",
        "4242 4242 4242 4242 12/29",  # the card is the first four groups of the run
        "cus_4242424242424242",
        "abc4242424242424242xyz",  # glued to letters no hexadecimal id has (ADR 0048)
    ],
)
def test_card_numbers_found_in_text(text: str) -> None:
    assert holds_card_number(text)
    assert may_hold_card_number(text.encode())


@pytest.mark.parametrize(
    "text",
    [
        "",
        "424242424242",  # 12 digits
        "42424242424242424241",  # 20 digits, no card inside a longer run
        "4242424242424241",  # Luhn fails
        "BE68 5390 0754 7034",  # an IBAN: the run starts with 2 check digits
        "DE89 3704 0044 0532 0130 00",
        "2026-01-03-12345",  # a date and a counter
        "bench-run-000-00000001-00042",
        "4242--4242--4242--4242",  # two separators: not one group run
        "\uff14\uff12" * 8,  # fullwidth digits are not ASCII digits
        "customers/cus_01JQ8Z6X4Y7W9V2T3S5R1P0N8M",
        "abc4242424242424242def",  # glued to hexadecimal letters only: part of an id
        "9f3a4242424242424242c1d0",  # a hex id with a long decimal stretch
        "4242424242424242ab",
    ],
)
def test_text_that_holds_no_card_number(text: str) -> None:
    assert not holds_card_number(text)


def test_masks_keep_the_last_four_and_the_separators() -> None:
    assert mask_card_numbers("4242424242424242") == "************4242"
    assert mask_card_numbers("pay 4242 4242 4242 4242 now") == "pay **** **** **** 4242 now"
    assert mask_card_numbers("a 378282246310005 b 5555-5555-5555-4444") == (
        "a ***********0005 b ****-****-****-4444"
    )
    assert mask_card_numbers("ref 4242424242424241") == "ref 4242424242424241"  # not Luhn


# --- properties -------------------------------------------------------------------------------

digits = st.text(alphabet="0123456789", min_size=12, max_size=18)


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    partial = draw(digits)
    return partial + luhn_check_digit(partial)


@st.composite
def grouped(draw: st.DrawFn) -> str:
    """A card number written in groups of 4, the last group 1-4 digits."""
    number = draw(card_numbers())
    separator = draw(st.sampled_from([" ", "-", ""]))
    return separator.join(number[i : i + 4] for i in range(0, len(number), 4))


surrounding = st.text(alphabet=st.characters(blacklist_categories=["Nd"]), max_size=20)


@settings(max_examples=300, derandomize=True)
@given(card_numbers())
def test_luhn_check_digit_makes_any_partial_valid(number: str) -> None:
    assert luhn_valid(number)
    for position in range(len(number)):  # any single changed digit breaks it
        changed = str((int(number[position]) + 1) % 10)
        assert not luhn_valid(number[:position] + changed + number[position + 1 :])


@settings(max_examples=300, derandomize=True)
@given(grouped(), surrounding, surrounding)
def test_a_card_number_is_found_and_masked_inside_any_text(
    number: str, before: str, after: str
) -> None:
    text = f"{before} {number} {after}"
    assert holds_card_number(text)
    assert may_hold_card_number(text.encode())
    masked = mask_card_numbers(text)
    assert not holds_card_number(masked)
    plain = number.replace(" ", "").replace("-", "")
    assert plain not in masked.replace(" ", "").replace("-", "")
    assert masked.replace(" ", "").replace("-", "").count(plain[-4:]) >= 1
    assert len(masked) == len(text)


@settings(max_examples=300, derandomize=True)
@given(st.text(max_size=60))
def test_the_byte_search_never_misses_what_the_text_search_finds(text: str) -> None:
    if holds_card_number(text):
        assert may_hold_card_number(text.encode())
    assert mask_card_numbers(mask_card_numbers(text)) == mask_card_numbers(text)


# Digits, both separators, letters and a byte that is neither: where stretches of digits and
# separators are dense, the byte search's shape rule is what decides.
dense = st.text(alphabet="0123456789 -x\n", min_size=13, max_size=60)


@settings(max_examples=2000, derandomize=True)
@given(dense)
def test_the_byte_search_never_misses_a_card_in_digit_dense_text(text: str) -> None:
    if holds_card_number(text):
        assert may_hold_card_number(text.encode())


@settings(max_examples=300, derandomize=True)
@given(grouped(), dense, dense)
def test_the_byte_search_finds_a_card_inside_a_protobuf_message(
    number: str, before: str, after: str
) -> None:
    # Framing bytes (tags, lengths) sit between the strings and may read as digits.
    events = [
        usage_pb2.UsageEvent(id=before, subscription=f"x {number} x", metric=after),
        usage_pb2.UsageEvent(id=after, metric=before),
    ]
    data = usage_pb2.StreamUsageRequest(events=events).SerializeToString()
    assert may_hold_card_number(data)


@settings(max_examples=1000, derandomize=True)
@given(st.text(alphabet="0123456789 -aFgZ.", min_size=13, max_size=40), st.randoms())
def test_a_text_of_remembered_classes_is_judged_by_its_own_digits(text: str, rnd: Any) -> None:
    """A text whose classes were judged card-free without a Luhn check is answered from
    memory; one of the same classes with other digits must get the answer it gets afresh."""
    other = "".join(str(rnd.randrange(10)) if c.isdigit() else c for c in text)
    holds_card_number(text)  # remembers its classes, when no Luhn check was needed
    remembered = holds_card_number(other)
    card_module._classes_without_cards.clear()
    assert remembered == holds_card_number(other)
    assert mask_card_numbers(other) == mask_card_numbers(other)


@pytest.mark.parametrize(
    "text",
    [
        "bench-a1-001-00000012-00034",  # 3-8-5: the 8-digit group cannot be followed
        "2026-01-03-12345 2026-01-04-12346",  # dates and counters
        "000-00000001-00001",
        "12 345 678 901 234",  # groups of 2 and 3 digits: 14 digits, no candidate
        "1234567890 123",  # a first group of 10 cannot be followed either
    ],
)
def test_digit_runs_of_ids_are_not_a_maybe(text: str) -> None:
    """These have 13 digits once separators are dropped (what the byte search looked at
    before), but no stretch shaped like a card number: a message of them is not walked."""
    assert not holds_card_number(text)
    data = usage_pb2.StreamUsageRequest(
        events=[usage_pb2.UsageEvent(id=text, subscription=text) for _ in range(3)]
    ).SerializeToString()
    assert not may_hold_card_number(data)


@settings(max_examples=300, derandomize=True)
@given(st.text(alphabet="0123456789", min_size=13, max_size=19))
def test_a_plain_run_is_a_card_number_exactly_when_luhn_says_so(run: str) -> None:
    assert holds_card_number(f"x({run})x") == luhn_valid(run)


# --- the log mask -----------------------------------------------------------------------------


def test_the_log_mask_covers_message_args_extra_and_exception() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(EcsFormatter())
    handler.addFilter(SecretMask())
    log = logging.getLogger("test.card_mask")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning(
            "charge for %s failed",
            "4242 4242 4242 4242",
            extra={
                "detail": "card 5555555555554444",
                "nested": {"4111111111111111": ["378282246310005"]},
                "count": 3,
            },
        )
        try:
            raise ValueError("bad number 6011111111111117")
        except ValueError:
            log.exception("crashed on %s", "4000056655665556")
    finally:
        log.removeHandler(handler)
    text = out.getvalue()
    for number in ("4242424242424242", "5555555555554444", "4111111111111111", "378282246310005"):
        assert number not in text
    for number in ("6011111111111117", "4000056655665556", "4242 4242 4242 4242"):
        assert number not in text
    first = json.loads(text.splitlines()[0])
    assert first["message"] == "charge for **** **** **** 4242 failed"
    assert first["detail"] == "card ************4444"
    assert first["nested"] == {"************1111": ["***********0005"]}
    assert first["count"] == 3
    assert "bad number ************1117" in text
    assert "crashed on ************5556" in text


@settings(max_examples=500, derandomize=True)
@given(st.uuids())
def test_uuid_hex_ids_are_never_card_numbers(value: object) -> None:
    assert not holds_card_number(value.hex)  # type: ignore[attr-defined]
    assert not holds_card_number(str(value))

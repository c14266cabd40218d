"""Ids are ULIDs as the `ulid` package reads them: its timestamp, sortable by time."""

from __future__ import annotations

import time

from ulid import ULID

from billing.app.ids import encode_ulid, new_id, new_ulid


def test_an_id_is_a_ulid_of_now():
    before = int(time.time() * 1000)
    value = new_ulid()
    after = int(time.time() * 1000)
    parsed = ULID.from_str(value)
    assert str(parsed) == value
    assert before <= parsed.milliseconds <= after
    assert len(value) == 26


def test_ids_made_a_millisecond_apart_sort_by_time():
    first = new_id("inv")
    time.sleep(0.002)
    second = new_id("inv")
    assert first.startswith("inv_") and first < second


def test_the_random_part_covers_every_character():
    seen = set("".join(new_ulid()[10:] for _ in range(2000)))
    assert seen == set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def test_the_same_bits_encode_as_the_ulid_package_does():
    for _ in range(200):
        reference = ULID()
        assert encode_ulid(int.from_bytes(reference.bytes, "big")) == str(reference)


def test_ids_made_in_one_millisecond_sort_in_the_order_made():
    made = [new_ulid() for _ in range(5000)]  # many share a millisecond
    assert made == sorted(made)
    assert len(set(made)) == len(made)

"""Hypothesis strategies built from message descriptors: boundary values for every field type
(empty, very long, NUL, unicode, numeric text that breaks parsers, int64 and int32 limits,
Timestamps out of range with bad nanos, enums out of range, long repeated fields and maps)
mixed with names that exist, in the caller's tenant and in another one."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

from fuzz_schema import _message_class

I32 = (-(2**31), 2**31 - 1)
I64 = (-(2**63), 2**63 - 1)
U32 = (0, 2**32 - 1)
U64 = (0, 2**64 - 1)
INT_RANGES = {
    FieldDescriptor.TYPE_INT32: I32,
    FieldDescriptor.TYPE_SINT32: I32,
    FieldDescriptor.TYPE_SFIXED32: I32,
    FieldDescriptor.TYPE_INT64: I64,
    FieldDescriptor.TYPE_SINT64: I64,
    FieldDescriptor.TYPE_SFIXED64: I64,
    FieldDescriptor.TYPE_UINT32: U32,
    FieldDescriptor.TYPE_FIXED32: U32,
    FieldDescriptor.TYPE_UINT64: U64,
    FieldDescriptor.TYPE_FIXED64: U64,
}
# Magnitudes where money math breaks: minor units past bigint once multiplied or summed.
INTERESTING_INTS = (0, 1, -1, 2, 12, 28, 31, 32, 1000, 10**9, 2**31, 2**53, 10**15, 10**18)

BOUNDARY_STRINGS = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\t\n\r",
    "é",
    "\U0001d518\U0001d52b ✓ 日本語",
    "\u202egnp.exe",
    "\ufeff",
    "0",
    "-0",
    "-1",
    "1.5",
    "-0.0000000001",
    "0.00000000000000000000000000000000000001",
    "1e400",
    "1E-400",
    "NaN",
    "-Infinity",
    "sNaN",
    "99999999999999999999999999999999999999",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "1,5",
    "0x10",
    "../../etc/passwd",
    "{{ 7*7 }}",
    "%s%s%n",
    "'; DROP TABLE customers; --",
    "customers/",
    "customers/cus_",
    "subscriptions/sub_00000000000000000000000000",
    "invoices/inv_00000000000000000000000000",
    "plans/",
    "prices/",
    "coupons/",
    "clocks/",
    "ruleSets/",
    "USD",
    "usd",
    "JPY",
    "XXX",
    "UTC",
    "Mars/Olympus",
    "en-US",
    "catalog.yaml",
    "nope.txt",
    "a/../b.yaml",
)
LONG_STRINGS = ("x" * 65, "x" * 129, "x" * 257, "x" * 1025, "é" * 4097, "x" * 70_000)

SECONDS_BOUNDARIES = (
    0,
    -1,
    1,
    -62135596800,  # 0001-01-01, protobuf's minimum
    -62135596801,
    253402300799,  # 9999-12-31T23:59:59, protobuf's maximum
    253402300800,
    32503680000,  # 3000-01-01
    1767225600,  # 2026-01-01
    1798761600,  # 2027-01-01
    I64[0],
    I64[1],
)
NANOS_BOUNDARIES = (0, 1, 999_999_999, 1_000_000_000, -1, I32[0], I32[1])
MANY = (100, 1001)  # a repeated field or map far past what a caller needs
MANY_BYTES_MAX = 2_000_000  # ...but a long list of long values stays a few MB (under 16 MB)


def _size(value: Any) -> int:
    if isinstance(value, str | bytes):
        return len(value) + 1
    return value.ByteSize() + 1 if isinstance(value, Message) else 8


def repeat(value: Any, n: int) -> int:
    """How many copies of `value` a long list gets: `n`, fewer for a large value."""
    return max(1, min(n, MANY_BYTES_MAX // _size(value)))


def ints(field_type: int) -> st.SearchStrategy[int]:
    lo, hi = INT_RANGES[field_type]
    edges = sorted({v for v in (*INTERESTING_INTS, lo, hi, lo + 1, hi - 1) if lo <= v <= hi})
    negative = [-v for v in INTERESTING_INTS if lo <= -v <= hi]
    return st.one_of(st.sampled_from(edges + negative), st.integers(lo, hi))


class Values:
    """Strategies for the fields of one API, with names from the fuzzing world."""

    def __init__(self, own_names: Sequence[str], other_names: Sequence[str]) -> None:
        self.own_names = list(own_names)
        self.other_names = list(other_names)

    def strings(self) -> st.SearchStrategy[str]:
        choices: list[st.SearchStrategy[str]] = [
            st.sampled_from(BOUNDARY_STRINGS),
            st.sampled_from(LONG_STRINGS),
            st.text(max_size=24),
        ]
        if self.own_names:
            choices.insert(0, st.sampled_from(self.own_names))
        if self.other_names:
            choices.append(st.sampled_from(self.other_names))
        return st.one_of(choices)

    def timestamp(self, descriptor: Descriptor) -> st.SearchStrategy[Message]:
        cls = _message_class(descriptor)
        seconds = st.one_of(st.sampled_from(SECONDS_BOUNDARIES), st.integers(*I64))
        nanos = st.one_of(st.sampled_from(NANOS_BOUNDARIES), st.integers(*I32))
        return st.builds(lambda s, n: cls(seconds=s, nanos=n), seconds, nanos)

    def scalar(self, field: FieldDescriptor) -> st.SearchStrategy[Any]:
        t = field.type
        if t in INT_RANGES:
            return ints(t)
        if t == FieldDescriptor.TYPE_BOOL:
            return st.booleans()
        if t == FieldDescriptor.TYPE_STRING:
            return self.strings()
        if t == FieldDescriptor.TYPE_BYTES:
            return st.one_of(
                st.binary(max_size=64),
                st.sampled_from([b"", b"\x00", b"kind: catalog\n", b"\xff\xfe", b"x" * 70_000]),
                self.strings().map(lambda s: s.encode()),
            )
        if t == FieldDescriptor.TYPE_ENUM:
            known = [v.number for v in field.enum_type.values]
            return st.one_of(st.sampled_from(known), st.sampled_from([-1, 99, *I32]))
        if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            return st.floats(allow_nan=True, allow_infinity=True, width=32)
        raise AssertionError(f"no strategy for field type {t} of {field.full_name}")

    def single(self, field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
        """One value of a field (an element, for a repeated one)."""
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            return self.message(field.message_type, depth + 1)
        return self.scalar(field)

    def field(self, field: FieldDescriptor, depth: int = 0) -> st.SearchStrategy[Any]:
        """A whole field's value: a list for repeated fields, a dict for maps."""
        if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
            key_field = field.message_type.fields_by_name["key"]
            value_field = field.message_type.fields_by_name["value"]
            keys, values = self.single(key_field, depth), self.single(value_field, depth)
            few = st.dictionaries(keys, values, max_size=3)
            many = st.builds(
                lambda k, v, n: {
                    f"{k}{i}" if isinstance(k, str) else i: v
                    for i in range(repeat(f"{k}{v}" if isinstance(v, str) else k, n))
                },
                keys,
                values,
                st.sampled_from(MANY),
            )
            return st.one_of(few, many)
        if field.is_repeated:
            element = self.single(field, depth)
            many = st.builds(lambda x, n: [x] * repeat(x, n), element, st.sampled_from(MANY))
            return st.one_of(st.lists(element, max_size=3), many)
        return self.single(field, depth)

    def message(self, descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
        if descriptor.full_name == "google.protobuf.Timestamp":
            return self.timestamp(descriptor)
        cls = _message_class(descriptor)
        if depth > 3:
            return st.just(cls())
        if descriptor.full_name == "google.protobuf.FieldMask":
            paths = st.sampled_from(
                ["display_name", "email", "memo", "clock", "name", "*", "", "a.b", "\x00"]
            )
            return st.lists(paths, max_size=4).map(lambda p: cls(paths=p))
        optional = {f.name: self.field(f, depth) for f in descriptor.fields}
        return st.fixed_dictionaries({}, optional=optional).map(
            lambda values: build(cls, descriptor, values)
        )


def build(cls: type[Message], descriptor: Descriptor, values: dict[str, Any]) -> Message:
    message = cls()
    for name, value in values.items():
        assign(message, descriptor.fields_by_name[name], value)
    return message


def assign(message: Message, field: FieldDescriptor, value: Any) -> None:
    """Sets one field (replacing what it held); a value protobuf itself refuses to hold
    (an enum number a closed enum lacks) leaves the field as it was."""
    with contextlib.suppress(ValueError, TypeError):
        _assign(message, field, value)


def _assign(message: Message, field: FieldDescriptor, value: Any) -> None:
    name = field.name
    if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
        target = getattr(message, name)
        target.clear()
        is_message = field.message_type.fields_by_name["value"].type == FieldDescriptor.TYPE_MESSAGE
        for k, v in value.items():
            if is_message:
                target[k].CopyFrom(v)
            else:
                target[k] = v
    elif field.is_repeated:
        target = getattr(message, name)
        del target[:]
        target.extend(value)
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        getattr(message, name).CopyFrom(value)
    else:
        setattr(message, name, value)

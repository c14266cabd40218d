"""The request checks at the edge, driven by the contract: every string, bytes, list, map,
Timestamp and bounded integer of a request, walked by its descriptor.

A field's bounds are its `(billing.v1.field)` option, else the default for its kind
(`billing.domain.limits`); fields of Google's messages take `EXTERNAL_LIMITS`. OUTPUT_ONLY
fields are skipped: the server ignores them. What this sees and what it does not:

- strings: at most `max_length` characters, no NUL (PostgreSQL text cannot hold one);
  invalid UTF-8 never gets here, protobuf refuses it when decoding;
- bytes: at most `max_length` bytes; repeated and map fields: at most `max_items` entries
  (past that the entries are not walked, so the work is bounded too);
- Timestamps: in [1970-01-01T00:00:00Z, 3000-01-01T00:00:00Z) with 0 <= nanos < 10^9;
- integers with `max_abs`: amounts and quantities within their bound;
- card numbers (ADR 0039, 0048): `card_number_paths` names every string and bytes field, at
  any depth, holding one (`billing.domain.card_numbers`; bytes read as text, a rule file);
  `CARD_SCAN_SKIPPED` names the one bytes field that is not looked at. The edge calls it only
  for a request whose raw bytes hold a long enough run of digits, so others pay one search.

Each message type gets a plan once (a tuple of small checks, cached per descriptor); a check
returns None when the field is fine, so a good request costs attribute reads and compares and
builds no path strings.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from google.api import field_behavior_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from billing.domain import limits
from billing.domain.card_numbers import (
    CARD_DIGITS_MIN,
    holds_card_number,
    mask_card_numbers,
    may_hold_card_number,
)
from billing.domain.errors import CardNumberRefused, FieldViolation, InvalidArgument
from billing_client.v1 import annotations_pb2

Found = list[tuple[str, str]] | None  # (path relative to the message checked, description)
Check = Callable[[Message], Found]
ValueCheck = Callable[[object], str | None]  # a description, or None when the value is fine
MessageCheck = Callable[[Message], Found]
EntryCheck = Callable[[object], Found]

TIMESTAMP = "google.protobuf.Timestamp"
STRING_TYPES = (FieldDescriptor.TYPE_STRING,)
INTEGER_TYPES = (
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_SFIXED64,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_FIXED32,
    FieldDescriptor.TYPE_FIXED64,
)


@dataclass(frozen=True)
class Limits:
    max_length: int = 0
    max_items: int = 0
    max_key_length: int = 0
    max_abs: int = 0


# Fields of messages we import but do not own; everything else in them takes the defaults.
EXTERNAL_LIMITS: dict[str, Limits] = {
    "google.type.PostalAddress.address_lines": Limits(
        max_length=limits.TEXT_CHARS_MAX, max_items=limits.ADDRESS_LINES_MAX
    ),
    "google.type.PostalAddress.recipients": Limits(
        max_length=limits.TEXT_CHARS_MAX, max_items=limits.ADDRESS_LINES_MAX
    ),
    "google.type.PostalAddress.organization": Limits(max_length=limits.TEXT_CHARS_MAX),
    "google.type.PostalAddress.locality": Limits(max_length=limits.TEXT_CHARS_MAX),
    "google.type.PostalAddress.sublocality": Limits(max_length=limits.TEXT_CHARS_MAX),
    "google.type.PostalAddress.administrative_area": Limits(max_length=limits.TEXT_CHARS_MAX),
}
INSTANT_RANGE = "must lie in [1970-01-01T00:00:00Z, 3000-01-01T00:00:00Z)"
NANOS_RANGE = "nanos must be in [0, 999999999]"
NUL_WHY = "must not contain NUL characters"

_plans: dict[str, MessageCheck] = {}


def check_request(message: Message) -> None:
    """InvalidArgument naming every field of `message` past its bounds (e.g.
    `items[3].description`); nothing when the request is within them."""
    found = plan_for(cast(Descriptor, message.DESCRIPTOR))(message)
    if found:
        raise InvalidArgument([FieldViolation(path, why) for path, why in found])


CARD_WHY = (
    "must not hold a payment card number: tokenize the card at the gateway and send its token"
)
# A gateway's webhook body: signed by the gateway (which masks card numbers itself), parsed
# by its plugin and never stored whole, and full of digit runs of its own (Adyen's numeric
# 16-digit pspReference passes Luhn one time in ten): refusing one would lose the event.
CARD_SCAN_SKIPPED = frozenset({"billing.v1.HandleGatewayEventRequest.payload"})
TEXT_TYPES = (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES)


def check_card_numbers(message: Message) -> None:
    """CardNumberRefused naming every string field of `message` that holds a card number;
    the paths and descriptions never quote the value (a map key holding one is masked)."""
    found = card_number_paths(message)
    if found:
        raise CardNumberRefused([FieldViolation(path, why) for path, why in found])


def card_number_paths(message: Message) -> list[tuple[str, str]]:
    """(path, why) of each string or bytes field (nested messages, list entries, map keys and
    values, output-only fields too) holding a card number, but `CARD_SCAN_SKIPPED`."""
    return _card_plan(cast(Descriptor, message.DESCRIPTOR))(message) or []


_card_plans: dict[str, MessageCheck] = {}


def _card_plan(descriptor: Descriptor) -> MessageCheck:
    """One generated function per message type, as the limit checks are: a string shorter
    than a card number costs a len(); only fields that can hold a string are read."""
    plan = _card_plans.get(descriptor.full_name)
    if plan is None:
        compiled: list[MessageCheck] = []

        def pending(message: Message) -> Found:  # only a type that contains itself calls this
            return compiled[0](message)

        _card_plans[descriptor.full_name] = pending
        compiled.append(_compile_card_plan(descriptor))
        plan = _card_plans[descriptor.full_name] = compiled[0]
    return plan


def _compile_card_plan(descriptor: Descriptor) -> MessageCheck:
    shortest = CARD_DIGITS_MIN
    env: dict[str, object] = {"_holds": _holds, "_why": CARD_WHY, "_join": _join}
    body: list[str] = []
    for i, field in enumerate(descriptor.fields):
        name = field.name
        read = f"getattr(m, {name!r})" if keyword.iskeyword(name) else f"m.{name}"
        if field.full_name in CARD_SCAN_SKIPPED:
            continue
        if field.type in TEXT_TYPES:
            if field.is_repeated:
                body += [
                    f"    for i, v in enumerate({read}):",
                    f"        if len(v) >= {shortest} and _holds(v):",
                    f"            found = (found or []) + [(f'{name}[{{i}}]', _why)]",
                ]
            else:
                body += [
                    f"    v = {read}",
                    f"    if len(v) >= {shortest} and _holds(v):",
                    f"        found = (found or []) + [({name!r}, _why)]",
                ]
        elif field.type == FieldDescriptor.TYPE_MESSAGE and _may_hold_strings(field):
            entry = _message_type(field)
            if entry.GetOptions().map_entry:
                env[f"c{i}"] = lambda entries, f=field: _card_numbers_in_map(f, entries)
                body += [f"    if {read}:", f"        bad = c{i}({read})"]
            elif field.is_repeated:
                env[f"c{i}"] = _card_plan(entry)
                body += [
                    f"    for i, e in enumerate({read}):",
                    f"        bad = c{i}(e)",
                    "        if bad:",
                    f"            at = f'{name}[{{i}}]'",
                    "            found = (found or []) + [(_join(at, p), w) for p, w in bad]",
                ]
                continue
            else:
                env[f"c{i}"] = _card_plan(entry)
                body += [f"    if m.HasField({name!r}):", f"        bad = c{i}({read})"]
            body += [
                "        if bad:",
                f"            found = (found or []) + [(_join({name!r}, p), w) for p, w in bad]",
            ]
    source = "\n".join(["def scan(m):", "    found = None", *body, "    return found"])
    exec(compile(source, f"<card scan of {descriptor.full_name}>", "exec"), env)
    return cast(MessageCheck, env["scan"])


def _may_hold_strings(field: FieldDescriptor, seen: frozenset[str] = frozenset()) -> bool:
    """Whether a message field can hold a string or bytes anywhere inside (Timestamps
    cannot)."""
    described = _message_type(field)
    if described.full_name in seen:
        return False  # a cycle: its strings, if any, are found on the way in
    for inner in described.fields:
        if inner.type in TEXT_TYPES and inner.full_name not in CARD_SCAN_SKIPPED:
            return True
        if inner.type == FieldDescriptor.TYPE_MESSAGE and _may_hold_strings(
            inner, seen | {described.full_name}
        ):
            return True
    return False


def _card_numbers_in_map(field: FieldDescriptor, entries: Any) -> Found:
    """Paths relative to the map field: `["key"]`, a key holding a card number masked."""
    found: list[tuple[str, str]] = []
    value_field = _message_type(field).fields_by_name["value"]
    for key, item in entries.items():
        key_holds = isinstance(key, str) and _holds(key)
        at = f"[{_key_text(mask_card_numbers(key) if key_holds else key)}]"
        if key_holds:
            found.append((at, f"key {CARD_WHY}"))
        if value_field.type == FieldDescriptor.TYPE_MESSAGE:
            bad = _card_plan(_message_type(value_field))(item)
            found += [(_join(at, p), w) for p, w in bad or []]
        elif isinstance(item, str | bytes) and _holds(item):
            found.append((at, CARD_WHY))
    return found or None


def _holds(value: str | bytes) -> bool:
    """A string, or bytes read as text: Latin-1 maps every byte to one character, so the
    ASCII digits, separators and letters the rule looks at read the same as in UTF-8 (and
    any byte string decodes)."""
    if isinstance(value, bytes):
        return may_hold_card_number(value) and holds_card_number(value.decode("latin-1"))
    return holds_card_number(value)


def plan_for(descriptor: Descriptor) -> MessageCheck:
    """The cached check of one message type; built on first use (recursive types included)."""
    plan = _plans.get(descriptor.full_name)
    if plan is None:
        compiled: list[MessageCheck] = []

        def pending(message: Message) -> Found:  # only a type that contains itself calls this
            return compiled[0](message)

        _plans[descriptor.full_name] = pending  # before the fields: a type may contain itself
        compiled.append(_compile(descriptor))
        plan = _plans[descriptor.full_name] = compiled[0]
    return plan


def _compile(descriptor: Descriptor) -> MessageCheck:
    """One function per message type, its scalar fields checked inline: the hot path (a
    usage event, thousands a call) pays attribute reads and compares, no call per field.
    Lists, maps and nested messages call their own checks, only when they hold something."""
    if descriptor.full_name == TIMESTAMP:
        return _timestamp_self
    env: dict[str, object] = {"_string_why": _string_why, "_timestamp_problem": timestamp_problem}
    body: list[str] = []
    for i, field in enumerate(descriptor.fields):
        if _output_only(field):
            continue
        name = field.name
        read = f"getattr(m, {name!r})" if keyword.iskeyword(name) else f"m.{name}"
        bounds = limits_of(field)
        entry = field.type == FieldDescriptor.TYPE_MESSAGE and _message_type(field)
        if field.is_repeated or (entry and not _is_timestamp(field)):
            env[f"c{i}"] = _complex_check(name, field, bounds)
            guard = f"if {read}:" if field.is_repeated else f"if m.HasField({name!r}):"
            body += [
                f"    {guard}",
                f"        bad = c{i}(m)",
                "        if bad:",
                "            found = (found or []) + bad",
            ]
        elif entry:
            low, high = limits.INSTANT_SECONDS_MIN, limits.INSTANT_SECONDS_MAX
            body += [
                f"    if m.HasField({name!r}):",
                f"        t = {read}",
                "        s, n = t.seconds, t.nanos",
                f"        if not (0 <= n < {limits.NANOS_PER_SECOND} and {low} <= s < {high}):",
                f"            found = (found or []) + [({name!r}, _timestamp_problem(s, n))]",
            ]
        elif field.type == FieldDescriptor.TYPE_STRING:
            most = bounds.max_length or limits.STRING_CHARS_DEFAULT
            body += [
                f"    v = {read}",
                f"    if v and (len(v) > {most} or '\\x00' in v):",
                f"        found = (found or []) + [({name!r}, _string_why(v, {most}))]",
            ]
        elif (value_check := _value_check(field, bounds.max_length, bounds.max_abs)) is not None:
            env[f"v{i}"] = value_check
            body += [
                f"    why = v{i}({read})",
                "    if why is not None:",
                f"        found = (found or []) + [({name!r}, why)]",
            ]
    source = "\n".join(["def check(m):", "    found = None", *body, "    return found"])
    exec(
        compile(source, f"<checks of {descriptor.full_name}>", "exec"), env
    )  # names are from descriptors
    return cast(MessageCheck, env["check"])


def _is_timestamp(field: FieldDescriptor) -> bool:
    return _message_type(field).full_name == TIMESTAMP


def _complex_check(name: str, field: FieldDescriptor, bounds: Limits) -> Check:
    if (
        _message_type(field).GetOptions().map_entry
        if field.type == FieldDescriptor.TYPE_MESSAGE
        else False
    ):
        return _map_check(name, field, bounds)
    if field.is_repeated:
        return _list_check(name, field, bounds)
    return _message_check(name, field)


def _string_why(text: str, most: int) -> str:
    return f"must be at most {most} characters (got {len(text)})" if len(text) > most else NUL_WHY


def timestamp_problem(seconds: int, nanos: int) -> str | None:
    """Why a Timestamp is outside the valid instants, or None."""
    if not 0 <= nanos < limits.NANOS_PER_SECOND:
        return NANOS_RANGE
    if not limits.INSTANT_SECONDS_MIN <= seconds < limits.INSTANT_SECONDS_MAX:
        return INSTANT_RANGE
    return None


def _timestamp_self(message: Message) -> Found:
    why = timestamp_problem(message.seconds, message.nanos)  # type: ignore[attr-defined]
    return None if why is None else [("", why)]


def limits_of(field: FieldDescriptor) -> Limits:
    external = EXTERNAL_LIMITS.get(field.full_name)
    if external is not None:
        return external
    options = field.GetOptions()
    if not options.HasExtension(annotations_pb2.field):  # type: ignore[arg-type]
        return Limits()
    declared: Any = options.Extensions[annotations_pb2.field]  # type: ignore[index]
    return Limits(
        declared.max_length, declared.max_items, declared.max_key_length, declared.max_abs
    )


def _output_only(field: FieldDescriptor) -> bool:
    behaviors: Any = field.GetOptions().Extensions[field_behavior_pb2.field_behavior]  # type: ignore[index]
    return field_behavior_pb2.OUTPUT_ONLY in behaviors


def _value_check(field: FieldDescriptor, max_length: int, max_abs: int) -> ValueCheck | None:
    """The check of one scalar value of `field` (a singular field, or a list or map entry)."""
    if field.type == FieldDescriptor.TYPE_STRING:
        return _string_check(max_length or limits.STRING_CHARS_DEFAULT)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return _bytes_check(max_length or limits.BYTES_DEFAULT)
    if field.type in INTEGER_TYPES and max_abs:
        return _integer_check(max_abs)
    return None


def _string_check(max_chars: int) -> ValueCheck:
    def check(value: object) -> str | None:
        text: str = value  # type: ignore[assignment]
        if len(text) > max_chars:
            return f"must be at most {max_chars} characters (got {len(text)})"
        if "\x00" in text:
            return NUL_WHY
        return None

    return check


def _bytes_check(max_bytes: int) -> ValueCheck:
    def check(value: object) -> str | None:
        size = len(value)  # type: ignore[arg-type]
        return f"must be at most {max_bytes} bytes (got {size})" if size > max_bytes else None

    return check


def _integer_check(max_abs: int) -> ValueCheck:
    def check(value: object) -> str | None:
        number: int = value  # type: ignore[assignment]
        return f"must be at most {max_abs:,} in size" if abs(number) > max_abs else None

    return check


def _message_check(name: str, field: FieldDescriptor) -> Check:
    sub_type = _message_type(field)
    if sub_type.full_name == TIMESTAMP:

        def timestamp(message: Message) -> Found:
            if not message.HasField(name):
                return None
            ts = getattr(message, name)
            why = timestamp_problem(ts.seconds, ts.nanos)
            return None if why is None else [(name, why)]

        return timestamp

    plan = plan_for(sub_type)

    def nested(message: Message) -> Found:
        if not message.HasField(name):
            return None
        bad = plan(getattr(message, name))
        return None if not bad else [(_join(name, path), why) for path, why in bad]

    return nested


def _list_check(name: str, field: FieldDescriptor, bounds: Limits) -> Check:
    most = bounds.max_items or limits.LIST_ITEMS_DEFAULT
    element = _entry_check(field, bounds.max_length, bounds.max_abs)

    def check(message: Message) -> Found:
        values = getattr(message, name)
        if len(values) > most:
            return [(name, f"must have at most {most} entries (got {len(values)})")]
        if element is _fine:
            return None
        found: Found = None
        for i, value in enumerate(values):
            bad = element(value)
            if bad:
                here = [(_join(f"{name}[{i}]", path), why) for path, why in bad]
                found = here if found is None else found + here
        return found

    return check


def _map_check(name: str, field: FieldDescriptor, bounds: Limits) -> Check:
    entry = _message_type(field)
    key_field, value_field = entry.fields_by_name["key"], entry.fields_by_name["value"]
    most = bounds.max_items or limits.LIST_ITEMS_DEFAULT
    key_check = _value_check(key_field, bounds.max_key_length, 0)
    value_check = _entry_check(value_field, bounds.max_length, bounds.max_abs)

    def check(message: Message) -> Found:
        entries = getattr(message, name)
        if len(entries) > most:
            return [(name, f"must have at most {most} entries (got {len(entries)})")]
        found: Found = None
        for key, value in entries.items():
            here: Found = None
            if key_check is not None and (why := key_check(key)) is not None:
                here = [(f"{name}[{_key_text(key)}]", f"key {why}")]
            bad = value_check(value)
            if bad:
                at = f"{name}[{_key_text(key)}]"
                here = (here or []) + [(_join(at, path), why) for path, why in bad]
            if here:
                found = here if found is None else found + here
        return found

    return check


def _entry_check(field: FieldDescriptor, max_length: int, max_abs: int) -> EntryCheck:
    """The check of one entry of a list, or one value of a map."""
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return plan_for(_message_type(field))  # type: ignore[return-value]
    scalar = _value_check(field, max_length, max_abs)
    if scalar is None:
        return _fine

    def check(value: object) -> Found:
        why = scalar(value)
        return None if why is None else [("", why)]

    return check


def _message_type(field: FieldDescriptor) -> Descriptor:
    described = field.message_type
    if described is None:
        raise TypeError(f"{field.full_name} is not a message field")
    return described


def _fine(value: object) -> Found:
    return None


def _join(head: str, tail: str) -> str:
    if not tail:
        return head
    return f"{head}{tail}" if tail.startswith("[") else f"{head}.{tail}"


def _key_text(key: object) -> str:
    if isinstance(key, str):
        return '"' + limits.echo(key.replace("\x00", "\\0")) + '"'
    return str(key)

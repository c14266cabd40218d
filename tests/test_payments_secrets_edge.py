"""A card number sent in any string field of any RPC is refused, and is then nowhere: not in
the error, not in the server's log records, not in any column of any table (issue 15,
ADR 0039).

The requests are built from the descriptors the server serves over reflection (as the fuzz
suite's are, ADR 0025): for every RPC, every string field reachable from its request (nested
messages, list entries, map keys and values; a type that contains itself is followed three
levels down) gets its own request holding the number there and nothing else, so an RPC added
later is covered the day it is served. The number is new each run, in four spellings.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from billing.domain.card_numbers import luhn_check_digit, mask_card_numbers
from conftest import Server, Tenant
from fuzz_schema import Rpc, ServedApi

DEPTH_MAX = 3  # levels of a message type inside itself (google.protobuf.Struct/Value)
CALL_TIMEOUT_S = 30.0


def new_card_number() -> str:
    partial = "4" + "".join(random.choice("0123456789") for _ in range(14))
    return partial + luhn_check_digit(partial)


NUMBER = new_card_number()
SPELLINGS = (
    NUMBER,
    " ".join(NUMBER[i : i + 4] for i in range(0, 16, 4)),
    "-".join(NUMBER[i : i + 4] for i in range(0, 16, 4)),
    f"my card is {NUMBER}, exp 12/29",
)
# What must appear nowhere: the number without its last four (a mask keeps those).
SECRET = NUMBER[:12]


@dataclass(frozen=True)
class Case:
    rpc: Rpc
    path: str  # the field path the refusal must name
    message: Message


def _set_at(message: Message, field: FieldDescriptor, value: str, path: str) -> str:
    """Puts `value` in string field `field` of `message`; the path the refusal names."""
    if field.is_repeated:
        getattr(message, field.name).extend(["ok", value])
        return f"{path}[1]"
    setattr(message, field.name, value)
    return path


def cases_for(rpc: Rpc, api: ServedApi, spelling: Iterator[str]) -> list[Case]:
    found: list[Case] = []

    def walk(
        descriptor: Descriptor, build: list[tuple[str, object]], prefix: str, seen: dict[str, int]
    ) -> None:
        for field in descriptor.fields:
            path = f"{prefix}.{field.name}" if prefix else field.name
            if field.type == FieldDescriptor.TYPE_STRING:
                found.append(_case(rpc, api, build, field, path, next(spelling)))
            elif field.type == FieldDescriptor.TYPE_MESSAGE:
                inner = field.message_type
                if seen.get(inner.full_name, 0) >= DEPTH_MAX:
                    continue
                deeper = {**seen, inner.full_name: seen.get(inner.full_name, 0) + 1}
                if inner.GetOptions().map_entry:
                    key, value = inner.fields_by_name["key"], inner.fields_by_name["value"]
                    if key.type == FieldDescriptor.TYPE_STRING:
                        found.append(_map_case(rpc, api, build, field, path, "key", next(spelling)))
                    if value.type == FieldDescriptor.TYPE_STRING:
                        found.append(
                            _map_case(rpc, api, build, field, path, "value", next(spelling))
                        )
                    elif value.type == FieldDescriptor.TYPE_MESSAGE:
                        key_text = "k" if key.type == FieldDescriptor.TYPE_STRING else 1
                        at = f'{path}["k"]' if key_text == "k" else f"{path}[1]"
                        walk(
                            value.message_type, [*build, ("map", field.name, key_text)], at, deeper
                        )  # type: ignore[list-item]
                elif field.is_repeated:
                    walk(inner, [*build, ("list", field.name)], f"{path}[0]", deeper)  # type: ignore[list-item]
                else:
                    walk(inner, [*build, ("one", field.name)], path, deeper)  # type: ignore[list-item]

    walk(rpc.input, [], "", {rpc.input.full_name: 1})
    return found


def _descend(message: Message, build: list[tuple[str, object]]) -> Message:
    for step in build:
        kind, name = step[0], step[1]
        if kind == "one":
            message = getattr(message, name)  # type: ignore[arg-type]
        elif kind == "list":
            message = getattr(message, name).add()  # type: ignore[arg-type]
        else:
            message = getattr(message, name)[step[2]]  # type: ignore[arg-type, misc, index]
    return message


def _case(
    rpc: Rpc,
    api: ServedApi,
    build: list,
    field: FieldDescriptor,
    path: str,
    value: str,  # type: ignore[type-arg]
) -> Case:
    root = api.message_class(rpc.input)()
    target = _descend(root, build)
    named = _set_at(target, field, value, path)
    return Case(rpc, named, root)


def _map_case(
    rpc: Rpc,
    api: ServedApi,
    build: list,  # type: ignore[type-arg]
    field: FieldDescriptor,
    path: str,
    where: str,
    value: str,
) -> Case:
    root = api.message_class(rpc.input)()
    entries = getattr(_descend(root, build), field.name)
    value_field = field.message_type.fields_by_name["value"]
    if where == "value":
        entries["k"] = value
        return Case(rpc, f'{path}["k"]', root)
    if value_field.type == FieldDescriptor.TYPE_MESSAGE:
        entries[value].SetInParent()  # a message map makes the entry on access
    elif value_field.type == FieldDescriptor.TYPE_STRING:
        entries[value] = "v"
    elif value_field.type == FieldDescriptor.TYPE_BYTES:
        entries[value] = b"v"
    else:
        entries[value] = False if value_field.type == FieldDescriptor.TYPE_BOOL else 1
    return Case(rpc, f'{path}["{mask_card_numbers(value)}"]', root)


def call(
    channel: grpc.Channel, case: Case, metadata: tuple[tuple[str, str], ...]
) -> grpc.RpcError | None:
    data = case.message.SerializeToString()
    options = {"metadata": metadata, "timeout": CALL_TIMEOUT_S}
    try:
        if case.rpc.client_streaming:
            channel.stream_unary(case.rpc.path)(iter([data]), **options)
        elif case.rpc.server_streaming:
            list(channel.unary_stream(case.rpc.path)(data, **options))
        else:
            channel.unary_unary(case.rpc.path)(data, **options)
    except grpc.RpcError as error:
        return error
    return None


class Records(logging.Handler):
    """Every record the server logs, as text, before any mask (the edge must not log it)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        parts = [record.getMessage(), json.dumps(record.__dict__, default=str)]
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
        self.texts.append("\n".join(parts))


@pytest.fixture
def captured() -> Iterator[Records]:
    records = Records()
    root = logging.getLogger()
    level = root.level
    root.addHandler(records)
    root.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(records)
        root.setLevel(level)


def test_a_card_number_in_any_string_field_of_any_rpc_is_refused_and_kept_nowhere(
    channel: grpc.Channel, server: Server, tenant: Tenant, captured: Records
) -> None:
    api = ServedApi(channel)
    spelling = iter(SPELLINGS * 100_000)
    cases = [case for rpc in api.rpcs for case in cases_for(rpc, api, spelling)]
    covered = {case.rpc.name for case in cases}
    with_strings = {rpc.name for rpc in api.rpcs if cases_for(rpc, api, iter(SPELLINGS * 1000))}
    assert covered == with_strings and len(covered) >= 40, covered
    problems: list[str] = []
    for case in cases:
        error = call(channel, case, tenant.metadata)
        where = f"{case.rpc.name} {case.path}"
        if error is None or error.code() != grpc.StatusCode.INVALID_ARGUMENT:
            problems.append(f"{where}: {error.code() if error else 'OK'}")
            continue
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
        assert status is not None
        violations: dict[str, str] = {}
        reason = ""
        for detail in status.details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations = {v.field: v.description for v in bad.field_violations}
            elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason = info.reason
        expected = f"[0].{case.path}" if case.rpc.client_streaming else case.path
        if reason != "CARD_NUMBER_REFUSED" or expected not in violations:
            problems.append(f"{where}: {reason} {sorted(violations)}")
        shown = (error.details() or "") + status.SerializeToString().decode("latin-1")
        if SECRET in shown.replace(" ", "").replace("-", ""):
            problems.append(f"{where}: the refusal quotes the number")
    assert not problems, f"{len(problems)} of {len(cases)}:\n" + "\n".join(problems[:30])

    logged = "\n".join(captured.texts)
    assert SECRET not in logged.replace(" ", "").replace("-", "")
    assert_nowhere_in_tables(server.database.sync_url)


def assert_nowhere_in_tables(sync_url: str) -> None:
    """Every column of every table of the database (idempotency keys, audit log and outbox
    included), read back as text."""
    engine = sa.create_engine(sync_url, poolclass=sa.pool.NullPool)
    try:
        tables = sa.inspect(engine).get_table_names()
        assert {"idempotency_keys", "audit_log", "outbox_events", "payment_methods"} <= set(tables)
        with engine.connect() as conn:
            for name in tables:
                table = sa.Table(name, sa.MetaData(), autoload_with=conn)
                for row in conn.execute(sa.select(table)):
                    text = json.dumps([_text(v) for v in row], default=str)
                    assert SECRET not in text.replace(" ", "").replace("-", ""), name
    finally:
        engine.dispose()


def _text(value: object) -> object:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    return value

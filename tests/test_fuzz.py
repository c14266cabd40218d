"""Fuzzing every RPC the server serves, from the descriptors it serves over reflection.

Each RPC gets requests that start from a valid one (real names of the caller's tenant, so
calls reach deep code) with one or two fields replaced by a boundary value, requests built
from the descriptor alone, and random bytes sent as the raw request. A call fails the test
when it answers INTERNAL or UNKNOWN, when it is refused but left a row behind in any of the
tenant's tables (audit, outbox and idempotency keys included), when its reply shows another
tenant's ids, or when the server stops answering its health check.

Hypothesis runs with a fixed seed (derandomize) and a small budget; set
`BILLING_FUZZ_EXAMPLES=20000` for that many requests per database (docs/fuzzing.md).
"""

from __future__ import annotations

import logging
import math
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf import text_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from billing.api.server import API_FILES
from conftest import Server
from fuzz_schema import ServedApi
from fuzz_values import Values, assign
from fuzz_world import ID_FIELDS, TEMPLATES, Outcome, World, diff, serving, strings_in

pytestmark = pytest.mark.fuzz

# Generated descriptors of the services the server registers; test_reflection_serves_them
# checks the server serves exactly these, so the parametrization below is what is served.
SERVED_RPCS = sorted(
    m.name for f in API_FILES for s in f.services_by_name.values() for m in s.methods
)
CI_EXAMPLES_PER_RPC = 4
HEALTH_EVERY = 25  # calls between health checks
# Refusals after which nothing may have been written; a streaming call that answered some
# messages first (a bill run's progress) may have committed that progress.
FAILED = frozenset(grpc.StatusCode) - {grpc.StatusCode.OK}
CRASH = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN})


def examples_per_rpc() -> int:
    total = int(os.environ.get("BILLING_FUZZ_EXAMPLES", "0"))
    if total <= 0:
        return CI_EXAMPLES_PER_RPC
    return max(1, math.ceil(total / len(SERVED_RPCS)))


@dataclass
class Tally:
    """What a backend's run saw, printed at the end."""

    sent: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    crashes: int = 0
    slow: list[str] = field(default_factory=list)


TALLIES: dict[str, Tally] = {}


@pytest.fixture(scope="module")
def api(channel: grpc.Channel) -> ServedApi:
    return ServedApi(channel)


@pytest.fixture(scope="module")
def world(channel: grpc.Channel, api: ServedApi, server: Server) -> Iterator[World]:
    w = World(channel, api, server.database.sync_url)
    api_log = logging.getLogger("billing.api")
    api_log.addHandler(w.crashes)
    yield w
    api_log.removeHandler(w.crashes)
    w.close()
    tally = TALLIES.get(server.backend)
    if tally is not None and (path := os.environ.get("BILLING_FUZZ_REPORT")):
        line = (
            f"fuzz {server.backend}: {tally.sent} requests, {tally.crashes} INTERNAL/UNKNOWN, "
            f"codes {dict(tally.codes.most_common())}, {len(tally.slow)} past the deadline"
        )
        with open(path, "a", encoding="utf-8") as out:
            out.write(line + "\n")


def test_reflection_serves_every_registered_rpc(api: ServedApi) -> None:
    assert sorted(r.name for r in api.rpcs) == SERVED_RPCS
    assert len(SERVED_RPCS) == len(set(SERVED_RPCS)), "RPC names must be unique across services"


def test_every_rpc_has_a_valid_request_to_start_from() -> None:
    assert not set(SERVED_RPCS) - set(TEMPLATES), "add a valid request to fuzz_world.TEMPLATES"


def field_paths(message: Message) -> list[tuple[str, ...]]:
    """Fields to replace: every top-level field, and the fields of set sub-messages."""
    paths: list[tuple[str, ...]] = []
    for f in message.DESCRIPTOR.fields:
        paths.append((f.name,))
        if (
            f.type == FieldDescriptor.TYPE_MESSAGE
            and not f.is_repeated
            and message.HasField(f.name)
            and f.message_type.full_name.startswith("billing.v1.")
        ):
            paths += [(f.name, g.name) for g in f.message_type.fields]
    return paths


def mutate(data: st.DataObject, message: Message, values: Values) -> None:
    paths = field_paths(message)
    if not paths:  # a request without fields (GetActiveRuleSet)
        return
    for _ in range(data.draw(st.integers(1, 2), label="mutations")):
        path = data.draw(st.sampled_from(paths), label="field")
        target = message
        for name in path[:-1]:
            target = getattr(target, name)
        descriptor = target.DESCRIPTOR.fields_by_name[path[-1]]
        assign(target, descriptor, data.draw(values.field(descriptor), label=".".join(path)))


@pytest.mark.parametrize("rpc_name", SERVED_RPCS)
def test_fuzz(rpc_name: str, world: World, server: Server) -> None:
    rpc = world.api.rpc(rpc_name)
    values = Values(world.own.names(), world.other.names())
    output = world.api.message_class(rpc.method.output_type)
    tally = TALLIES.setdefault(server.backend, Tally())
    other_ids = world.other.ids()
    problems: list[str] = []

    def requests(data: st.DataObject) -> list[Message | bytes]:
        mode = data.draw(st.sampled_from(["valid", "mutated", "mutated", "random", "bytes"]))
        count = data.draw(st.integers(1, 3), label="messages") if rpc.client_streaming else 1
        if mode == "bytes":
            return [data.draw(st.binary(max_size=256), label="bytes") for _ in range(count)]
        built: list[Message | bytes] = []
        for _ in range(count):
            if mode == "random":
                message = data.draw(values.message(rpc.input), label="message")
            else:
                message = world.request(rpc)
                if mode == "mutated":
                    mutate(data, message, values)
            built.append(message)
        return built

    @settings(
        max_examples=examples_per_rpc(),
        derandomize=True,  # a fixed seed: CI sees the same requests every run
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # report every finding, no shrinking calls
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def one_call(data: st.DataObject) -> None:
        chosen = requests(data)
        sent = [m if isinstance(m, bytes) else m.SerializeToString() for m in chosen]
        settled = world.rows.settle()
        before = world.rows.counts()
        outcome = world.caller.call(rpc, sent)
        tally.sent += 1
        tally.codes[outcome.code.name] += 1
        shown = f"{rpc_name}({_short(chosen)})"
        if outcome.code in CRASH:
            tally.crashes += 1
            cause = world.crashes.explain(outcome.details) or outcome.details
            problems.append(f"{outcome.code.name} [{cause}] for {shown}")
        elif outcome.code == grpc.StatusCode.DEADLINE_EXCEEDED:
            tally.slow.append(f"{rpc_name} {shown}")
            problems.append(f"no answer within the deadline for {shown}")
        if _check_writes(rpc, outcome) and settled:
            left = diff(before, world.rows.counts())
            if left:
                problems.append(f"{outcome.code.name} left rows {left} behind for {shown}")
        if outcome.ok:
            problems.extend(_leaks(outcome, output, other_ids, b"".join(sent), shown))
            if rpc_name == "PushRuleSet":
                world.restore_rules()
        if world.caller.sent % HEALTH_EVERY == 0 and not serving(world.channel):
            problems.append(f"server stopped answering its health check after {shown}")

    one_call()
    assert serving(world.channel), "server stopped answering its health check"
    assert not problems, f"{rpc_name}: {len(problems)} findings:\n" + "\n".join(problems[:20])


def _check_writes(rpc: Any, outcome: Outcome) -> bool:
    if outcome.code not in FAILED or outcome.code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return False
    if rpc.client_streaming:
        return False  # a stream keeps the batches before a bad one (documented)
    return not outcome.replies


def _leaks(
    outcome: Outcome, output: type[Message], other_ids: set[str], sent: bytes, shown: str
) -> list[str]:
    found: list[str] = []
    for raw in outcome.replies:
        reply = output.FromString(raw)
        for text in strings_in(reply, ID_FIELDS):
            for other in other_ids:
                if other in text and other.encode() not in sent:
                    found.append(f"reply shows another tenant's {other!r} for {shown}")
    return found


def _short(sent: list[Message | bytes], limit: int = 400) -> str:
    parts = [
        repr(m[:limit])
        if isinstance(m, bytes)
        else text_format.MessageToString(m, as_one_line=True)
        if m.ByteSize() < 20 * limit
        else f"<{m.ByteSize()} bytes> {m.SerializeToString()[:limit]!r}"
        for m in sent
    ]
    text = " | ".join(parts)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"

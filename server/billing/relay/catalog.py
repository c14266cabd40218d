"""The event catalog, docs/events.md, generated from proto/billing/v1/events.proto (run as
`python -m billing.relay.catalog`; `--check` fails when the checked-in catalog is stale, as
`make proto-check` runs it)."""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from billing.relay.envelope import TYPE_PREFIX
from billing_client.v1 import events_pb2

ROOT = Path(__file__).resolve().parents[3]
PROTO = ROOT / "proto" / "billing" / "v1" / "events.proto"
CATALOG = ROOT / "docs" / "events.md"
_COMMENT = re.compile(r"((?:^//.*\n)+)message (\w+) \{", re.MULTILINE)
_FIELD_COMMENT = re.compile(r"((?:^  //.*\n)+)  [\w.]+ (\w+) = \d+;", re.MULTILINE)

HEADER = """# Event catalog

<!-- Generated from proto/billing/v1/events.proto by `python -m billing.relay.catalog`;
do not edit by hand. `make proto-check` fails when it is stale. -->

The outbox relay (ADR 0057) publishes every committed outbox event to the RabbitMQ topic
exchange `BILLING_RELAY_EXCHANGE` (default `billing.events`), at least once, in commit order
per resource. Routing key: the event type (bind `invoice.*`, `#`, ...). Body: a CloudEvent
1.0 in structured JSON mode (`content-type: application/cloudevents+json`):

| attribute | value |
|---|---|
| `id` | `evt_<ULID>`: deduplicate by it (redeliveries and republished events repeat it) |
| `source` | `//billing/tenants/<tenant id>` |
| `type` | `{prefix}<event type>`, e.g. `{prefix}invoice.finalized` |
| `time` | when the change happened (the billing clock), RFC 3339 UTC |
| `subject` | the resource's name, e.g. `invoices/in_01J...` |
| `datacontenttype` | `application/json` |
| `data` | the family's message below, as proto JSON: `name` and `details` |

Money in `details` is integer minor units beside an ISO 4217 `currency`, always JSON
integers. Events the broker refuses (no queue bound for the routing key, or a nack) go to the
fanout exchange `BILLING_RELAY_DEAD_LETTER_EXCHANGE` (queue `<exchange>.dead`, header
`x-billing-refused`: `unroutable` or `nacked`) and are recorded on their outbox row.

The payload keys below are checked: the test suite reads every event its databases hold and
fails on an event type not listed here, a key not listed for its type, or a listed key (not
marked `?`) missing.
"""


@dataclass(frozen=True)
class DeclaredPayload:
    """An event type's payload keys as events.proto declares them: `type: key, key?, ... | note`
    (a `?` marks a key only some payloads carry)."""

    keys: frozenset[str]
    required: frozenset[str]
    note: str


def parse_declaration(entry: str) -> tuple[str, DeclaredPayload]:
    event_type, _, rest = entry.partition(":")
    listed, _, note = rest.partition("|")
    names = [name.strip() for name in listed.split(",") if name.strip()]
    keys = frozenset(name.rstrip("?") for name in names)
    required = frozenset(name for name in names if not name.endswith("?"))
    return event_type.strip(), DeclaredPayload(keys, required, note.strip())


def declared_payloads() -> dict[str, DeclaredPayload]:
    """Every event type of the catalog, with its declared payload."""
    declared: dict[str, DeclaredPayload] = {}
    for descriptor in events_pb2.DESCRIPTOR.message_types_by_name.values():
        options: Any = descriptor.GetOptions()
        for entry in options.Extensions[events_pb2.event_type]:
            event_type, payload = parse_declaration(str(entry))
            declared[event_type] = payload
    return declared


def _comments(pattern: re.Pattern[str], text: str) -> dict[str, str]:
    return {
        m.group(2): " ".join(line.strip().lstrip("/").strip() for line in m.group(1).splitlines())
        for m in pattern.finditer(text)
    }


def render() -> str:
    text = PROTO.read_text()
    described = _comments(_COMMENT, text)
    parts = [HEADER.replace("{prefix}", TYPE_PREFIX), "\n## Families\n"]
    rows = ["| family | message | for |", "|---|---|---|"]
    sections: list[str] = []
    for name, descriptor in events_pb2.DESCRIPTOR.message_types_by_name.items():
        options: Any = descriptor.GetOptions()
        family = str(options.Extensions[events_pb2.event_family])
        audience = str(options.Extensions[events_pb2.event_audience])
        types = [str(t) for t in options.Extensions[events_pb2.event_type]]
        rows.append(f"| `{family}` | [`{name}`](#{name.lower()}) | {audience} |")
        block = _message_block(text, name)
        fields = _comments(_FIELD_COMMENT, block)
        section = [f"\n### {name}\n", described.get(name, ""), "", f"For: {audience}.", ""]
        section += ["| field | type | meaning |", "|---|---|---|"]
        for field in descriptor.fields:
            kind = field.message_type.full_name if field.message_type else _scalar(field.type)
            section.append(f"| `{field.name}` | `{kind}` | {fields.get(field.name, '')} |")
        if types:
            section += [
                "",
                "| event type | routing key | `details` keys (`?`: not always present) | note |",
                "|---|---|---|---|",
            ]
            for entry in types:
                event_type, payload = parse_declaration(entry)
                keys = ", ".join(
                    f"`{key}`" if key in payload.required else f"`{key}?`"
                    for key in _listed_order(entry)
                )
                section.append(
                    f"| `{TYPE_PREFIX}{event_type}` | `{event_type}` | {keys} | {payload.note} |"
                )
        sections.append("\n".join(section))
    parts.append("\n".join(rows) + "\n")
    parts.append("\n## Messages\n")
    parts.extend(sections)
    return "\n".join(parts).rstrip() + "\n"


def _listed_order(entry: str) -> list[str]:
    listed = entry.partition(":")[2].partition("|")[0]
    return [name.strip().rstrip("?") for name in listed.split(",") if name.strip()]


def _message_block(text: str, name: str) -> str:
    start = text.index(f"message {name} {{")
    return text[start : text.index("\n}", start)]


def _scalar(kind: int) -> str:
    return {9: "string", 3: "int64", 5: "int32", 8: "bool"}.get(kind, str(kind))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if docs/events.md is stale")
    opts = parser.parse_args(argv)
    fresh = render()
    if opts.check:
        if not CATALOG.exists() or CATALOG.read_text() != fresh:
            print("docs/events.md is stale: run `make proto`", file=sys.stderr)
            return 1
        return 0
    CATALOG.write_text(fresh)
    print(f"wrote {CATALOG.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""An outbox event as a CloudEvent (structured JSON, spec 1.0) whose data is the event's proto
message (proto/billing/v1/events.proto) as proto JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from billing_client.v1 import events_pb2

SPEC_VERSION = "1.0"
TYPE_PREFIX = "billing.v1."
CONTENT_TYPE = "application/cloudevents+json"


def _families() -> dict[str, type[Message]]:
    found: dict[str, type[Message]] = {}
    for name, descriptor in events_pb2.DESCRIPTOR.message_types_by_name.items():
        options: Any = descriptor.GetOptions()  # the stubs type extensions loosely
        found[str(options.Extensions[events_pb2.event_family])] = getattr(events_pb2, name)
    return found


FAMILIES = _families()  # "invoice" -> InvoiceEvent, ..., "*" -> OtherEvent


class Unencodable(ValueError):
    """An outbox payload its event's message refuses: it can never be published."""


def family(event_type: str) -> str:
    return event_type.split(".", 1)[0]


def data_message(event_type: str, resource_name: str, payload: dict[str, Any]) -> Message:
    message = FAMILIES.get(family(event_type), FAMILIES["*"])()
    json_format.ParseDict({"name": resource_name, "details": payload}, message)
    return message


def cloud_event(
    *,
    event_id: str,
    tenant_id: str,
    event_type: str,
    resource_name: str,
    payload: dict[str, Any],
    occurred_at: datetime,
) -> dict[str, Any]:
    # Checked against the message, then sent as written: proto JSON of a Struct would carry
    # minor units as doubles (exact only below 2**53); JSON integers parse into it the same.
    try:
        data_message(event_type, resource_name, payload)
    except (json_format.Error, ValueError, TypeError) as exc:
        raise Unencodable(f"{event_id}: {exc}") from exc
    data = {"name": resource_name, "details": payload}
    return {
        "specversion": SPEC_VERSION,
        "id": event_id,
        "source": f"//billing/tenants/{tenant_id}",
        "type": TYPE_PREFIX + event_type,
        "time": occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "subject": resource_name,
        "datacontenttype": "application/json",
        "data": data,
    }


def encode(event: dict[str, Any]) -> bytes:
    try:
        return json.dumps(event, separators=(",", ":"), sort_keys=True, allow_nan=False).encode()
    except (ValueError, TypeError) as exc:
        raise Unencodable(f"{event.get('id')}: {exc}") from exc

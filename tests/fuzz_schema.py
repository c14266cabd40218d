"""The API as the server serves it: services, RPCs and message classes read over gRPC
reflection, so the fuzz suite and the isolation table cover whatever the server exposes,
including an RPC added after they were written."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import grpc
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

API_PACKAGE = "billing.v1."
# Fields that name a resource of the caller's tenant (by proto field name), beyond those the
# proto marks with a resource_reference: what the isolation table must try with another
# tenant's names. Catalog codes (plan, price) are rule content, not tenant ids.
NAME_FIELDS = frozenset(
    {
        "name",
        "customer",
        "subscription",
        "invoice",
        "coupon",
        "clock",
        "base_subscription",
        "event_id",
    }
)


@dataclass(frozen=True)
class Rpc:
    service: str  # full name, e.g. billing.v1.CustomerService
    method: MethodDescriptor

    @property
    def name(self) -> str:
        return self.method.name

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.method.name}"

    @property
    def input(self) -> Descriptor:
        return self.method.input_type

    @property
    def client_streaming(self) -> bool:
        return bool(self.method.client_streaming)

    @property
    def server_streaming(self) -> bool:
        return bool(self.method.server_streaming)

    def __repr__(self) -> str:
        return self.name


class ServedApi:
    """Descriptors fetched from a running server's reflection service."""

    def __init__(self, channel: grpc.Channel) -> None:
        database = ProtoReflectionDescriptorDatabase(channel)
        self.pool = descriptor_pool.DescriptorPool(database)
        self.services = sorted(s for s in database.get_services() if s.startswith(API_PACKAGE))
        self.rpcs = [
            Rpc(service, method)
            for service in self.services
            for method in self.pool.FindServiceByName(service).methods
        ]

    def rpc(self, name: str) -> Rpc:
        return next(r for r in self.rpcs if r.name == name)

    def message_class(self, descriptor: Descriptor) -> type[Message]:
        return _message_class(descriptor)


@cache
def _message_class(descriptor: Descriptor) -> type[Message]:
    return message_factory.GetMessageClass(descriptor)


def name_fields(descriptor: Descriptor, prefix: str = "", depth: int = 0) -> Iterator[str]:
    """Dotted paths of the string fields (top level and one message down) that name a
    tenant's resource."""
    for field in descriptor.fields:
        path = prefix + field.name
        if field.type == FieldDescriptor.TYPE_STRING and (
            field.name in NAME_FIELDS or _has_resource_reference(field)
        ):
            yield path
        elif (
            field.type == FieldDescriptor.TYPE_MESSAGE
            and depth == 0
            and not field.message_type.GetOptions().map_entry
            and field.message_type.full_name.startswith(API_PACKAGE)
        ):
            yield from name_fields(field.message_type, path + ".", depth + 1)


def _has_resource_reference(field: FieldDescriptor) -> bool:
    # The option's extension lives in google.api.resource; reading its serialized form
    # avoids depending on which pool the extension was registered in.
    return b"billing.v1/" in field.GetOptions().SerializeToString()

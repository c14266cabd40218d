"""An ergonomic client over the generated messages.

    from billing_client import Client
    from billing_client.v1 import customers_pb2

    with Client() as billing:
        customer = billing.customers.CreateCustomer(
            customers_pb2.CreateCustomerRequest(customer=..., request_id="create-acme-1")
        )

What it adds to a bare stub, and why:
- the token from an argument, `BILLING_TOKEN`, or the file `make run` writes
  (`BILLING_TOKEN_FILE`, default `var/dev-token`), sent on every call;
- a deadline on every call (a call without one can wait forever on a lost reply);
- a `request_id` filled in when a mutating request has none, so that a retry is the same
  request to the server and never a second write;
- retries on `UNAVAILABLE` and `ABORTED` with full-jitter backoff inside the one deadline,
  resending the same request (same `request_id`);
- `pages()` iterating every item of a List call across page tokens;
- failures raised as typed errors (`billing_client.errors`) carrying `ErrorInfo.reason`.

Services are found from the message modules' descriptors, so a new service needs no code
here: `billing.<module>` (e.g. `billing.customers`, `billing.due_work`) or
`billing.service("CustomerService")`.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message

from billing_client import v1
from billing_client.auth import bearer_metadata
from billing_client.errors import BillingError, from_rpc_error

DEFAULT_TARGET = "127.0.0.1:50051"
DEFAULT_TOKEN_FILE = "var/dev-token"  # written by `billing serve` on the embedded default
DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_ATTEMPTS = 4
RETRY_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED})
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 2.0
REQUEST_ID_FIELD = "request_id"
PAGE_TOKEN_FIELD = "page_token"
NEXT_PAGE_TOKEN_FIELD = "next_page_token"


def resolve_token(token: str | None = None) -> str | None:
    """The argument, else `BILLING_TOKEN`, else the token file, else None (no credentials)."""
    if token:
        return token
    if env := os.environ.get("BILLING_TOKEN", "").strip():
        return env
    path = Path(os.environ.get("BILLING_TOKEN_FILE", DEFAULT_TOKEN_FILE))
    if path.is_file():
        return path.read_text().strip() or None
    return None


def _services() -> dict[str, tuple[str, ServiceDescriptor]]:
    """Every service of the package by its name, with the module it is declared in."""
    found: dict[str, tuple[str, ServiceDescriptor]] = {}
    for info in pkgutil.iter_modules(v1.__path__):
        if not info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(f"{v1.__name__}.{info.name}")
        for name, service in module.DESCRIPTOR.services_by_name.items():
            found[name] = (info.name.removesuffix("_pb2"), service)
    return found


class Client:
    """One channel to the billing server and every service on it."""

    def __init__(
        self,
        target: str | None = None,
        *,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        attempts: int = DEFAULT_ATTEMPTS,
        credentials: grpc.ChannelCredentials | None = None,
        channel: grpc.Channel | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.target = target or os.environ.get("BILLING_TARGET", DEFAULT_TARGET)
        self.timeout = timeout
        self.attempts = attempts
        token = resolve_token(token)
        self._metadata: tuple[tuple[str, str], ...] = bearer_metadata(token) if token else ()
        if channel is not None:
            self._channel, self._owns_channel = channel, False
        elif credentials is not None:
            self._channel = grpc.secure_channel(self.target, credentials)
            self._owns_channel = True
        else:
            self._channel, self._owns_channel = grpc.insecure_channel(self.target), True
        self._by_name: dict[str, Service] = {}
        self._by_module: dict[str, list[Service]] = {}
        for name, (module, descriptor) in _services().items():
            service = Service(self, descriptor)
            self._by_name[name] = service
            self._by_module.setdefault(module, []).append(service)

    def service(self, name: str) -> Service:
        """A service by its proto name, e.g. `CustomerService`."""
        try:
            return self._by_name[name]
        except KeyError:
            raise AttributeError(f"no service {name!r} in billing.v1") from None

    def __getattr__(self, module: str) -> Service:
        # `billing.customers` is the one service declared in customers.proto.
        by_module: dict[str, list[Service]] = self.__dict__.get("_by_module", {})
        services = by_module.get(module)
        if not services:
            raise AttributeError(f"no service module {module!r} in billing.v1")
        if len(services) > 1:
            names = ", ".join(s.name for s in services)
            raise AttributeError(
                f"{module}.proto declares several services; use service(): {names}"
            )
        return services[0]

    def pages(
        self, method: Callable[..., Message], request: Message, **kwargs: Any
    ) -> Iterator[Any]:
        """Every item of a List call, following `next_page_token` until it is empty."""
        request_copy = type(request)()
        request_copy.CopyFrom(request)
        while True:
            page = method(request_copy, **kwargs)
            items = _items_field(page)
            yield from getattr(page, items)
            token = getattr(page, NEXT_PAGE_TOKEN_FIELD)
            if not token:
                return
            setattr(request_copy, PAGE_TOKEN_FIELD, token)

    def close(self) -> None:
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _items_field(page: Message) -> str:
    repeated = [
        f.name for f in page.DESCRIPTOR.fields if f.is_repeated and f.message_type is not None
    ]
    if len(repeated) != 1 or NEXT_PAGE_TOKEN_FIELD not in page.DESCRIPTOR.fields_by_name:
        raise TypeError(f"{page.DESCRIPTOR.name} is not a page of one repeated field")
    return repeated[0]


class Service:
    """The methods of one service as callables: `service.GetCustomer(request)`."""

    def __init__(self, client: Client, descriptor: ServiceDescriptor) -> None:
        self.name = descriptor.name
        self._client = client
        self._methods = {m.name: m for m in descriptor.methods}
        self._callables: dict[str, Method] = {}

    def __getattr__(self, name: str) -> Method:
        methods = self.__dict__.get("_methods", {})
        if name not in methods:
            raise AttributeError(f"{self.__dict__.get('name')} has no method {name!r}")
        if name not in self._callables:
            self._callables[name] = Method(self._client, methods[name])
        return self._callables[name]

    def __dir__(self) -> Iterable[str]:
        return [*super().__dir__(), *self._methods]


class Method:
    """One RPC: deadline, credentials, request id and retries around the channel's call."""

    def __init__(self, client: Client, descriptor: MethodDescriptor) -> None:
        self._client = client
        self.descriptor = descriptor
        request_cls = message_factory.GetMessageClass(descriptor.input_type)
        response_cls = message_factory.GetMessageClass(descriptor.output_type)
        path = f"/{descriptor.containing_service.full_name}/{descriptor.name}"
        serializer, deserializer = request_cls.SerializeToString, response_cls.FromString
        channel = client._channel
        streaming = (descriptor.client_streaming, descriptor.server_streaming)
        if streaming == (False, False):
            self._call: Any = channel.unary_unary(path, serializer, deserializer)
        elif streaming == (False, True):
            self._call = channel.unary_stream(path, serializer, deserializer)
        elif streaming == (True, False):
            self._call = channel.stream_unary(path, serializer, deserializer)
        else:
            self._call = channel.stream_stream(path, serializer, deserializer)
        self._has_request_id = REQUEST_ID_FIELD in descriptor.input_type.fields_by_name

    def __call__(
        self,
        request: Any,
        *,
        timeout: float | None = None,
        metadata: tuple[tuple[str, str], ...] = (),
    ) -> Any:
        timeout = self._client.timeout if timeout is None else timeout
        metadata = self._client._metadata + tuple(metadata)
        if self.descriptor.client_streaming:
            # A request stream is consumed by the first attempt: never resent.
            try:
                return self._call(request, timeout=timeout, metadata=metadata)
            except grpc.RpcError as error:
                raise from_rpc_error(error) from None
        if self.descriptor.server_streaming:
            return _translated(self._call(request, timeout=timeout, metadata=metadata))
        return self._unary(self._with_request_id(request), timeout, metadata)

    def _with_request_id(self, request: Message) -> Message:
        if not self._has_request_id or getattr(request, REQUEST_ID_FIELD):
            return request
        filled = type(request)()
        filled.CopyFrom(request)
        setattr(filled, REQUEST_ID_FIELD, uuid.uuid4().hex)  # one id for every attempt
        return filled

    def _unary(
        self, request: Message, timeout: float, metadata: tuple[tuple[str, str], ...]
    ) -> Any:
        deadline = time.monotonic() + timeout
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            try:
                return self._call(request, timeout=max(remaining, 0.001), metadata=metadata)
            except grpc.RpcError as error:
                failure: BillingError = from_rpc_error(error)
            backoff = random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt))
            if (
                failure.code not in RETRY_CODES
                or attempt >= self._client.attempts
                or time.monotonic() + backoff >= deadline
            ):
                raise failure
            time.sleep(backoff)


def _translated(responses: Any) -> Iterator[Any]:
    try:
        yield from responses
    except grpc.RpcError as error:
        raise from_rpc_error(error) from None
    finally:
        responses.cancel()  # a reader that stops early ends the call; no-op once finished

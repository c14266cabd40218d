"""Cross-cutting concerns as interceptors, outermost first: tracing, errors, auth, rate.

Each wraps a method's behaviour once (cached per method), so a call pays one extra coroutine
frame per interceptor and no per-call handler construction. Unary, client-streaming and
server-streaming calls are wrapped; bidirectional ones are passed through (there are none).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from ulid import ULID

from billing.api.auth import Principal, TokenVerifier
from billing.api.errors import internal_status, rich_status, status_code_for
from billing.api.rate_limit import TenantRateLimiter
from billing.app.turns import interactive
from billing.domain.errors import BillingError, PermissionDenied, Unauthenticated

log = logging.getLogger("billing.api")

Behavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
StreamBehavior = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]
Deserializer = Callable[[bytes], Any]

current_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("principal")
current_correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "correlation_id", default=""
)

# Methods anyone may call: load balancers and tools probe these without a token.
PUBLIC_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")
STATUS_DETAILS_KEY = "grpc-status-details-bin"


class _WrappingInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[Any, Any]] = {}

    async def intercept_service(
        self, continuation: Callable[[Any], Awaitable[Any]], details: Any
    ) -> Any:
        handler = await continuation(details)
        if handler is None or (handler.request_streaming and handler.response_streaming):
            return handler
        cached = self._wrapped.get(details.method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        deserialize = self.deserializer(handler.request_deserializer)
        if handler.response_streaming:
            wrapped = grpc.unary_stream_rpc_method_handler(
                self.wrap_stream(details.method, handler.unary_stream),
                request_deserializer=deserialize,
                response_serializer=handler.response_serializer,
            )
        elif handler.request_streaming:
            wrapped = grpc.stream_unary_rpc_method_handler(
                self.wrap_request_stream(details.method, handler.stream_unary),
                request_deserializer=deserialize,
                response_serializer=handler.response_serializer,
            )
        else:
            wrapped = grpc.unary_unary_rpc_method_handler(
                self.wrap(details.method, handler.unary_unary),
                request_deserializer=deserialize,
                response_serializer=handler.response_serializer,
            )
        self._wrapped[details.method] = (handler, wrapped)
        return wrapped

    def deserializer(self, deserialize: Deserializer | None) -> Deserializer | None:
        """The request deserializer the rebuilt handler uses: the method's own, unless an
        interceptor must see what the bytes did not decode to (the edge's checks)."""
        return deserialize

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        raise NotImplementedError

    def wrap_stream(self, method: str, behavior: StreamBehavior) -> StreamBehavior:
        raise NotImplementedError

    def wrap_request_stream(self, method: str, behavior: Behavior) -> Behavior:
        """A client-streaming method: `behavior` takes the requests' async iterator."""
        return self.wrap(method, behavior)


class ErrorInterceptor(_WrappingInterceptor):
    """Domain errors become their status code with google.rpc.Status details; anything else
    becomes INTERNAL with a correlation id, its trace going only to the log."""

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        async def handle(request: Any, context: grpc.aio.ServicerContext) -> Any:
            correlation_id = _start(context)
            try:
                return await behavior(request, context)
            except grpc.aio.AbortError:
                raise
            except Exception as error:
                await _fail(context, method, correlation_id, error)

        return handle

    def wrap_stream(self, method: str, behavior: StreamBehavior) -> StreamBehavior:
        async def handle(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            correlation_id = _start(context)
            try:
                async for message in behavior(request, context):
                    yield message
            except grpc.aio.AbortError:
                raise
            except Exception as error:
                await _fail(context, method, correlation_id, error)

        return handle


def _start(context: grpc.aio.ServicerContext) -> str:
    correlation_id = _metadata_value(context, "x-request-id") or f"req_{ULID()}"
    current_correlation_id.set(correlation_id)
    return correlation_id


async def _fail(
    context: grpc.aio.ServicerContext, method: str, correlation_id: str, error: Exception
) -> None:
    """Abort the call: a domain error with its code and details; anything else as INTERNAL
    with only a correlation id (the trace goes to the log)."""
    if isinstance(error, BillingError):
        code = status_code_for(error)
        status = rich_status(error, code)
        message = status.message  # bounded: it travels in a trailer
    else:
        log.error(
            "unexpected error",
            exc_info=error,
            extra={"method": method, "correlation_id": correlation_id},
        )
        code = grpc.StatusCode.INTERNAL
        status = internal_status(correlation_id)
        message = status.message
    await context.abort(
        code, message, trailing_metadata=((STATUS_DETAILS_KEY, status.SerializeToString()),)
    )


class InteractiveInterceptor(_WrappingInterceptor):
    """Counts the unary calls in flight, which bulk work (a stream's ingestion) gives way
    to between its slices (`app.turns`); streaming calls pass through uncounted."""

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        async def handle(request: Any, context: grpc.aio.ServicerContext) -> Any:
            with interactive():
                return await behavior(request, context)

        return handle

    def wrap_stream(self, method: str, behavior: StreamBehavior) -> StreamBehavior:
        return behavior

    def wrap_request_stream(self, method: str, behavior: Behavior) -> Behavior:
        return behavior


class AuthInterceptor(_WrappingInterceptor):
    """Verifies the bearer token and the scope the method declares in the proto."""

    def __init__(self, verifier: TokenVerifier, scopes: dict[str, str]) -> None:
        super().__init__()
        self._verifier = verifier
        self._scopes = scopes

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        required = self._scopes.get(method)
        if required is None and method.startswith(PUBLIC_PREFIXES):
            return behavior

        async def check(request: Any, context: grpc.aio.ServicerContext) -> Any:
            token = self._token(method, required, context)
            principal = self._verifier.cached(token) or await self._verifier.authenticate(token)
            self._admit(principal, method, required)
            return await behavior(request, context)

        return check

    def wrap_stream(self, method: str, behavior: StreamBehavior) -> StreamBehavior:
        required = self._scopes.get(method)
        if required is None and method.startswith(PUBLIC_PREFIXES):
            return behavior

        async def check(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            token = self._token(method, required, context)
            principal = self._verifier.cached(token) or await self._verifier.authenticate(token)
            self._admit(principal, method, required)
            async for message in behavior(request, context):
                yield message

        return check

    # A token seen before costs a hash and a lookup, no await (`cached`); only a new one, or
    # keys due for a refresh, takes the full path (`authenticate`).

    @staticmethod
    def _token(method: str, required: str | None, context: grpc.aio.ServicerContext) -> str:
        if required is None:
            raise PermissionDenied(f"{method} declares no scope and cannot be called")
        header = _metadata_value(context, "authorization")
        scheme, _, token = header.partition(" ")
        if not token or scheme.lower() != "bearer":
            raise Unauthenticated("missing bearer token in the authorization metadata")
        return token.strip()

    @staticmethod
    def _admit(principal: Principal, method: str, required: str | None) -> None:
        if required not in principal.scopes:
            raise PermissionDenied(f"the token lacks the {required!r} scope {method} needs")
        current_principal.set(principal)


class RateLimitInterceptor(_WrappingInterceptor):
    """After auth: one token of the caller's tenant's bucket per call (a stream counts once).
    Public methods (health, reflection) carry no principal and are not limited."""

    def __init__(self, limiter: TenantRateLimiter) -> None:
        super().__init__()
        self._limiter = limiter

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        if method.startswith(PUBLIC_PREFIXES):
            return behavior
        take = self._limiter.take

        async def limited(request: Any, context: grpc.aio.ServicerContext) -> Any:
            take(current_principal.get().tenant_id)
            return await behavior(request, context)

        return limited

    def wrap_stream(self, method: str, behavior: StreamBehavior) -> StreamBehavior:
        if method.startswith(PUBLIC_PREFIXES):
            return behavior
        take = self._limiter.take

        async def limited(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            take(current_principal.get().tenant_id)
            async for message in behavior(request, context):
                yield message

        return limited


class TracingInterceptor(_WrappingInterceptor):
    """One server span per call, continuing the caller's trace from its metadata."""

    def __init__(self, tracer: trace.Tracer) -> None:
        super().__init__()
        self._tracer = tracer

    def _span(self, method: str, context: grpc.aio.ServicerContext) -> Any:
        service, _, rpc = method.strip("/").partition("/")
        carrier = {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
        return self._tracer.start_as_current_span(
            method.strip("/"),
            context=propagate.extract(carrier),
            kind=SpanKind.SERVER,
            attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": rpc},
            record_exception=False,
            set_status_on_exception=False,
        )

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        async def traced(request: Any, context: grpc.aio.ServicerContext) -> Any:
            with self._span(method, context) as span:
                try:
                    return await behavior(request, context)
                except BaseException as exc:
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    raise

        return traced

    def wrap_stream(self, method: str, behavior: StreamBehavior) -> StreamBehavior:
        async def traced(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            with self._span(method, context) as span:
                try:
                    async for message in behavior(request, context):
                        yield message
                except BaseException as exc:
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    raise

        return traced


def _metadata_value(context: grpc.aio.ServicerContext, key: str) -> str:
    for k, v in context.invocation_metadata() or ():
        if k == key:
            return str(v)
    return ""

"""Cross-cutting concerns folded into one interceptor, in this order, outermost first:
RED metrics (only with metrics on, ADR 0061), tracing (only with a tracer), interactive-turn
accounting (unary calls), errors, auth, the per-tenant rate limit, the request checks
(`billing.api.edge`), then the method.

The parts are small functions and classes below; `EdgeInterceptor` composes them once per
method into one wrapper (cached by method name, so a call pays neither the handler lookup nor
a handler construction, and one coroutine frame instead of one per concern). Unary,
client-streaming and server-streaming calls are wrapped; bidirectional ones are passed
through (there are none).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from billing.api.auth import Principal, TokenVerifier
from billing.api.edge import Deserializer, check, checked_each, tolerant
from billing.api.errors import internal_status, rich_status, status_code_for
from billing.api.rate_limit import RateLimiter
from billing.app.ids import new_id
from billing.app.turns import current_turns
from billing.domain.errors import BillingError, PermissionDenied, Unauthenticated
from billing.observability.context import call_method, call_request_id, call_tenant
from billing.observability.metrics.rpc import RpcMetrics

log = logging.getLogger("billing.api")

Behavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
StreamBehavior = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]

current_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("principal")
current_correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "correlation_id", default=""
)

# Methods anyone may call: load balancers and tools probe these without a token.
PUBLIC_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")
STATUS_DETAILS_KEY = "grpc-status-details-bin"


class EdgeInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Every concern of the edge in one wrapper per method (see the module's docstring).

    `check_requests=False` leaves the request checks out (the auth-cost bench measures
    the rest); the server always checks."""

    def __init__(
        self,
        verifier: TokenVerifier,
        scopes: dict[str, str],
        *,
        tracer: trace.Tracer | None = None,
        limiter: RateLimiter | None = None,
        check_requests: bool = True,
        metrics: RpcMetrics | None = None,
    ) -> None:
        self._verifier = verifier
        self._scopes = scopes
        self._tracing = None if tracer is None else Tracing(tracer)
        self._limiter = limiter
        self._check_requests = check_requests
        self._metrics = metrics  # None: metrics off, no work per call
        self._wrapped: dict[str, Any] = {}

    async def intercept_service(
        self, continuation: Callable[[Any], Awaitable[Any]], details: Any
    ) -> Any:
        wrapped = self._wrapped.get(details.method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(details)
        if handler is None:  # unknown method: not cached, gRPC answers UNIMPLEMENTED
            return None
        wrapped = self.wrap_handler(details.method, handler)
        self._wrapped[details.method] = wrapped
        return wrapped

    def wrap_handler(self, method: str, handler: Any) -> Any:
        if handler.request_streaming and handler.response_streaming:
            return handler
        deserialize: Deserializer | None = handler.request_deserializer
        if self._check_requests and deserialize is not None:
            deserialize = tolerant(deserialize)
        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(
                self.wrap_stream(method, handler.unary_stream),
                request_deserializer=deserialize,
                response_serializer=handler.response_serializer,
            )
        if handler.request_streaming:
            return grpc.stream_unary_rpc_method_handler(
                self.wrap_request_stream(method, handler.stream_unary),
                request_deserializer=deserialize,
                response_serializer=handler.response_serializer,
            )
        return grpc.unary_unary_rpc_method_handler(
            self.wrap(method, handler.unary_unary),
            request_deserializer=deserialize,
            response_serializer=handler.response_serializer,
        )

    def _steps(self, method: str) -> tuple[bool, str | None, Any, bool]:
        """What a call of `method` runs: auth (and the scope it needs), the limiter's take,
        the request check; decided once per method."""
        required = self._scopes.get(method)
        authenticates = not (required is None and method.startswith(PUBLIC_PREFIXES))
        take = None
        if self._limiter is not None and not method.startswith(PUBLIC_PREFIXES):
            take = self._limiter.take
        return authenticates, required, take, self._check_requests

    def _authorizer(self, method: str) -> Callable[[str], Awaitable[None]]:
        """One call's auth and rate steps for `method`, decided once per method: the bearer
        token, its principal (cached or verified), the scope, then the tenant's rate."""
        _, required, take, _ = self._steps(method)
        cached, authenticate = self._verifier.cached, self._verifier.authenticate

        async def authorize(authorization: str) -> None:
            token = bearer_token(method, required, authorization)
            principal = cached(token) or await authenticate(token)
            admit(principal, method, required)
            if take is not None and (shared := take(principal.tenant_id)) is not None:
                await shared  # the bucket in Redis (ADR 0066)

        return authorize

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        """A unary method: counted as interactive, then errors, auth, rate, checks."""
        authenticates, _, _, checks = self._steps(method)
        authorize = self._authorizer(method)

        async def handle(request: Any, context: grpc.aio.ServicerContext) -> Any:
            turns = current_turns()
            turns.enter()
            try:
                correlation_id, authorization = start_call(context, method)
                try:
                    if authenticates:
                        await authorize(authorization)
                    if checks:
                        request = check(request)
                    return await behavior(request, context)
                except grpc.aio.AbortError:
                    raise
                except Exception as error:
                    await fail(context, method, correlation_id, error)
            finally:
                turns.leave()

        return self._traced(method, handle)

    def wrap_request_stream(self, method: str, behavior: Behavior) -> Behavior:
        """A client-streaming method: not counted as interactive; each request is checked
        as it arrives."""
        authenticates, _, _, checks = self._steps(method)
        authorize = self._authorizer(method)

        async def handle(requests: Any, context: grpc.aio.ServicerContext) -> Any:
            correlation_id, authorization = start_call(context, method)
            try:
                if authenticates:
                    await authorize(authorization)
                return await behavior(checked_each(requests) if checks else requests, context)
            except grpc.aio.AbortError:
                raise
            except Exception as error:
                await fail(context, method, correlation_id, error)

        return self._traced(method, handle)

    def wrap_stream(self, method: str, behavior: StreamBehavior) -> StreamBehavior:
        """A server-streaming method: not counted as interactive."""
        authenticates, _, _, checks = self._steps(method)
        authorize = self._authorizer(method)

        async def handle(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            correlation_id, authorization = start_call(context, method)
            try:
                if authenticates:
                    await authorize(authorization)
                if checks:
                    request = check(request)
                async for message in behavior(request, context):
                    yield message
            except grpc.aio.AbortError:
                raise
            except Exception as error:
                await fail(context, method, correlation_id, error)

        traced = handle if self._tracing is None else self._tracing.wrap_stream(method, handle)
        return traced if self._metrics is None else self._metrics.wrap_stream(method, traced)

    def _traced(self, method: str, behavior: Behavior) -> Behavior:
        """Tracing, then (outermost) the RED metrics: the whole call, its final code."""
        traced = behavior if self._tracing is None else self._tracing.wrap(method, behavior)
        return traced if self._metrics is None else self._metrics.wrap(method, traced)


# Auth: a token seen before costs a hash and a lookup, no await (`TokenVerifier.cached`); only
# a new one, or keys due for a refresh, takes the full path (`authenticate`).


def bearer_token(method: str, required: str | None, header: str) -> str:
    """The token of the call's `authorization` header (`Bearer <token>`)."""
    if required is None:
        raise PermissionDenied(f"{method} declares no scope and cannot be called")
    scheme, _, token = header.partition(" ")
    if not token or scheme.lower() != "bearer":
        raise Unauthenticated("missing bearer token in the authorization metadata")
    return token.strip()


def admit(principal: Principal, method: str, required: str | None) -> None:
    if required not in principal.scopes:
        raise PermissionDenied(f"the token lacks the {required!r} scope {method} needs")
    current_principal.set(principal)
    call_tenant.set(principal.tenant_id)  # for the log lines and the span (ADR 0060)


def start_call(context: grpc.aio.ServicerContext, method: str) -> tuple[str, str]:
    """The call's correlation id, set for its logs and spans, and its `authorization` header:
    one pass over the metadata (grpc builds its tuple anew on each `invocation_metadata()`)."""
    request_id, authorization = _call_headers(context)
    correlation_id = request_id or new_id("req")
    current_correlation_id.set(correlation_id)
    call_method.set(method)
    call_request_id.set(correlation_id)
    return correlation_id, authorization


async def fail(
    context: grpc.aio.ServicerContext, method: str, correlation_id: str, error: Exception
) -> None:
    """Abort the call: a domain error with its code and details; anything else as INTERNAL
    with only a correlation id (the trace goes to the log)."""
    if isinstance(error, BillingError):
        code = status_code_for(error)
        status = rich_status(error, code)
        message = status.message  # bounded: it travels in a trailer
        # DEBUG: a flood of refusals (a client's bug, a rate limit) must not flood the logs.
        log.debug("call refused", extra={"rpc.grpc.status_code": code.name, "reason": message})
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


class Tracing:
    """One server span per call, continuing the caller's trace from its metadata."""

    def __init__(self, tracer: trace.Tracer) -> None:
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
                finally:
                    _end_attributes(span, context)

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
                finally:
                    _end_attributes(span, context)

        return traced


def _end_attributes(span: Any, context: grpc.aio.ServicerContext) -> None:
    """What is known only once the call ran: its tenant (after auth) and its status code."""
    if not span.is_recording():
        return
    if tenant := call_tenant.get():
        span.set_attribute("billing.tenant_id", tenant)
    code = context.code() if hasattr(context, "code") else None
    span.set_attribute("rpc.grpc.status_code", code.value[0] if code is not None else 0)


def _call_headers(context: grpc.aio.ServicerContext) -> tuple[str, str]:
    """(x-request-id, authorization), each the first of its key, "" when absent."""
    request_id: str | None = None
    authorization: str | None = None
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and authorization is None:
            authorization = str(value)
        elif key == "x-request-id" and request_id is None:
            request_id = str(value)
    return request_id or "", authorization or ""

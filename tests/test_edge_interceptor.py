"""The folded edge interceptor on its own: one handler lookup per method, and the tracing
step (the server tests run without a tracer) with the span's status on success and refusal."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from billing.api.auth import TokenVerifier, mint_hs256_token
from billing.api.interceptors import EdgeInterceptor, current_principal

METHOD = "/billing.v1.CustomerService/GetCustomer"
SECRET = "edge-test-secret-0123456789abcdef0123"


class _Aborted(grpc.aio.AbortError):  # type: ignore[misc]
    pass


class _Context:
    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self._metadata = metadata
        self.aborted: tuple[Any, str] | None = None

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    async def abort(self, code: Any, message: str, trailing_metadata: Any = ()) -> None:
        self.aborted = (code, message)
        raise _Aborted()


class _Details:
    def __init__(self, method: str) -> None:
        self.method = method


def _verifier() -> TokenVerifier:
    return TokenVerifier(
        issuer="edge", audience="billing", tenant_claim="tenant_id", hs256_secret=SECRET
    )


def _token() -> str:
    return mint_hs256_token(
        SECRET, tenant_id="t1", subject="s", issuer="edge", audience="billing", lifetime_s=600
    )


async def _tenant_of_caller(request: Any, context: Any) -> str:
    return current_principal.get().tenant_id


def test_the_handler_is_looked_up_and_wrapped_once_per_method() -> None:
    edge = EdgeInterceptor(_verifier(), {METHOD: "billing.read"}, check_requests=False)
    looked_up: list[str] = []
    handler = grpc.unary_unary_rpc_method_handler(_tenant_of_caller)

    async def continuation(details: Any) -> Any:
        looked_up.append(details.method)
        return handler if details.method == METHOD else None

    async def run() -> list[Any]:
        return [
            await edge.intercept_service(continuation, _Details(METHOD)),
            await edge.intercept_service(continuation, _Details(METHOD)),
            await edge.intercept_service(continuation, _Details("/x.Y/Unknown")),
            await edge.intercept_service(continuation, _Details("/x.Y/Unknown")),
        ]

    first, second, unknown, unknown_again = asyncio.run(run())
    assert first is second
    assert unknown is None and unknown_again is None
    assert looked_up == [METHOD, "/x.Y/Unknown", "/x.Y/Unknown"]
    context = _Context((("authorization", f"Bearer {_token()}"),))
    assert asyncio.run(first.unary_unary(None, context)) == "t1"


@pytest.fixture
def spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_a_traced_call_has_one_server_span(spans: tuple[TracerProvider, Any]) -> None:
    provider, exporter = spans
    edge = EdgeInterceptor(
        _verifier(),
        {METHOD: "billing.read"},
        tracer=provider.get_tracer("test"),
        check_requests=False,
    )
    handle = edge.wrap(METHOD, _tenant_of_caller)
    context = _Context((("authorization", f"Bearer {_token()}"),))
    assert asyncio.run(handle(None, context)) == "t1"
    (span,) = exporter.get_finished_spans()
    assert span.name == "billing.v1.CustomerService/GetCustomer"
    assert span.attributes["rpc.service"] == "billing.v1.CustomerService"
    assert span.attributes["rpc.method"] == "GetCustomer"
    assert span.status.status_code is StatusCode.UNSET


def test_a_refused_traced_call_marks_its_span_as_an_error(
    spans: tuple[TracerProvider, Any],
) -> None:
    provider, exporter = spans
    edge = EdgeInterceptor(
        _verifier(), {METHOD: "billing.read"}, tracer=provider.get_tracer("test")
    )
    handle = edge.wrap(METHOD, _tenant_of_caller)
    context = _Context(())
    with pytest.raises(_Aborted):
        asyncio.run(handle(None, context))
    assert context.aborted is not None
    assert context.aborted[0] is grpc.StatusCode.UNAUTHENTICATED
    assert context.aborted[1] == "missing bearer token in the authorization metadata"
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "_Aborted"

"""One generic handler serves every method (ADR 0075): the table, and the server built on it."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health, health_pb2_grpc

from billing.api.method_table import MethodTable
from billing.api.server import API_FILES


class _Details(grpc.HandlerCallDetails):  # type: ignore[misc]
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


def _unary(value: bytes) -> grpc.RpcMethodHandler:
    async def answer(request: bytes, context: object) -> bytes:
        return value

    return grpc.unary_unary_rpc_method_handler(answer)


def test_generated_registration_lands_in_the_table():
    table = MethodTable()
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), table)
    assert table.methods() == [
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/List",
        "/grpc.health.v1.Health/Watch",
    ]
    found = table.service(_Details("/grpc.health.v1.Health/Check"))
    assert found is not None and not found.request_streaming and not found.response_streaming
    assert table.service(_Details("/grpc.health.v1.Health/Watch")).response_streaming
    assert table.service(_Details("/grpc.health.v1.Health/Nothing")) is None


def test_a_generic_only_handler_is_asked_after_the_table():
    table = MethodTable()
    table.add_registered_method_handlers("a.S", {"M": _unary(b"registered")})
    generic = grpc.method_handlers_generic_handler(
        "a.S", {"M": _unary(b"generic"), "Other": _unary(b"other")}
    )
    table.add_generic_rpc_handlers((generic,))
    assert table.service(_Details("/a.S/M")) is table._handlers["/a.S/M"]
    assert table.service(_Details("/a.S/Other")) is not None
    assert table.service(_Details("/a.S/Missing")) is None


def test_a_method_registered_twice_is_refused():
    table = MethodTable()
    table.add_registered_method_handlers("a.S", {"M": _unary(b"1")})
    with pytest.raises(ValueError, match=r"/a\.S/M registered twice"):
        table.add_registered_method_handlers("a.S", {"M": _unary(b"2")})


def _invoke_without_a_token(channel: grpc.Channel, path: str, method) -> grpc.StatusCode:
    kind = (method.client_streaming, method.server_streaming)
    try:
        if kind == (False, False):
            channel.unary_unary(path)(b"", timeout=10)
        elif kind == (False, True):
            list(channel.unary_stream(path)(b"", timeout=10))
        elif kind == (True, False):
            channel.stream_unary(path)(iter([b""]), timeout=10)
        else:
            list(channel.stream_stream(path)(iter([b""]), timeout=10))
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def test_every_declared_method_is_served(channel):
    """No token: a served method answers UNAUTHENTICATED, one the table lacks UNIMPLEMENTED."""
    codes = {}
    for file in API_FILES:
        for service in file.services_by_name.values():
            for method in service.methods:
                path = f"/{service.full_name}/{method.name}"
                codes[path] = _invoke_without_a_token(channel, path, method)
    unserved = {
        path: code for path, code in codes.items() if code != grpc.StatusCode.UNAUTHENTICATED
    }
    assert unserved == {}
    assert len(codes) > 90

"""Every service's methods in one table, served to grpc.aio as one generic handler (ADR 0075).

The generated `add_*Servicer_to_server` functions register each method with the server
("registered methods", grpcio >= 1.63). grpc.aio then keeps one pending request per registered
method and, for every call it accepts, runs `asyncio.wait` over all of them: with ~100 methods
that is ~100 done-callbacks added and removed per call, 9-10% of a serving process's
GIL-holding time under GetCustomer (py-spy). One generic handler keeps one pending request,
whatever the number of methods. The generated functions are pointed at a `MethodTable` instead
of the server; it keeps the method handlers they register, and the server gets the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import grpc


class MethodTable(grpc.GenericRpcHandler):  # type: ignore[misc]
    """Stands in for the server in the generated `add_*_to_server` functions."""

    def __init__(self) -> None:
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}
        # What registers only a generic handler (no method table of its own) is asked last.
        self._generic: list[grpc.GenericRpcHandler] = []

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: Mapping[str, grpc.RpcMethodHandler]
    ) -> None:
        for name, handler in method_handlers.items():
            path = f"/{service_name}/{name}"
            if path in self._handlers:
                raise ValueError(f"method {path} registered twice")
            self._handlers[path] = handler

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        # The generated functions pass the same methods here and as registered ones: the
        # registered table answers them first, so this list only serves what it alone holds.
        self._generic.extend(handlers)

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = self._handlers.get(handler_call_details.method)
        if handler is not None:
            return handler
        for generic in self._generic:
            handler = generic.service(handler_call_details)
            if handler is not None:
                return handler
        return None

    def methods(self) -> list[str]:
        return sorted(self._handlers)

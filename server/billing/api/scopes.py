"""The scope each RPC needs, read from the `(billing.v1.required_scope)` method option.

Declared beside the RPC in the proto; a billing.v1 method without one stops the server at
start-up, so no method is ever reachable unchecked.
"""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf.descriptor import FileDescriptor

from billing.api.auth import SCOPES
from billing_client.v1 import annotations_pb2


def required_scopes(files: Iterable[FileDescriptor]) -> dict[str, str]:
    """Map full method paths (`/billing.v1.CustomerService/GetCustomer`) to their scope."""
    scopes: dict[str, str] = {}
    for file in files:
        for service in file.services_by_name.values():
            for method in service.methods:
                options = method.GetOptions()
                scope: str = options.Extensions[annotations_pb2.required_scope]  # type: ignore[index]
                path = f"/{service.full_name}/{method.name}"
                if scope not in SCOPES:
                    raise RuntimeError(f"{path} declares no valid required_scope ({scope!r})")
                scopes[path] = scope
    return scopes

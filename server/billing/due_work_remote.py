"""`billing due-work … --target HOST:PORT`: the operator's view of due work over gRPC
(DueWorkService, ADR 0058), with a token holding `billing.admin` (--token or BILLING_TOKEN).

The server does the work: `retry` runs the item in the call and prints it as that attempt
left it; the tenant is the token's. One JSON object a line, like the database commands.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from typing import Any

LIST_MAX = 1000  # items printed by one `list` (pages of the RPC's maximum)
FILTERS = {  # DueWorkFilter by the flag's name
    "parked": "DUE_WORK_FILTER_PARKED",
    "failing": "DUE_WORK_FILTER_FAILING",
    "stuck": "DUE_WORK_FILTER_STUCK",
    "": "DUE_WORK_FILTER_UNSPECIFIED",
}


def run(command: str, target: str, token: str | None, **options: Any) -> int:
    import grpc

    from billing_client import bearer_metadata
    from billing_client.v1 import due_work_pb2 as pb
    from billing_client.v1 import due_work_pb2_grpc

    token = token or os.environ.get("BILLING_TOKEN")
    if not token:
        print("billing: give --token or set BILLING_TOKEN (scope billing.admin)", file=sys.stderr)
        return 2
    metadata = bearer_metadata(token)
    name = f"dueWork/{options['id']}" if options.get("id") else ""
    request_id = str(uuid.uuid4())
    with grpc.insecure_channel(target) as channel:
        stub = due_work_pb2_grpc.DueWorkServiceStub(channel)
        try:
            if command == "list":
                return _list(stub, metadata, FILTERS[options["which"]], options.get("kind") or "")
            if command == "retry":
                request: Any = pb.RetryDueWorkRequest(name=name, request_id=request_id)
                item = stub.RetryDueWork(request, metadata=metadata, timeout=300)
            elif command == "park":
                reason = options.get("reason") or ""
                request = pb.ParkDueWorkRequest(name=name, reason=reason, request_id=request_id)
                item = stub.ParkDueWork(request, metadata=metadata, timeout=60)
            else:
                request = pb.UnparkDueWorkRequest(name=name, request_id=request_id)
                item = stub.UnparkDueWork(request, metadata=metadata, timeout=60)
        except grpc.RpcError as error:
            print(f"billing: {command} refused: {error.code().name}: {error.details()}")
            return 1
    print(json.dumps(_shown(item)))
    return 0


def _list(stub: Any, metadata: Any, which: str, kind: str) -> int:
    from billing_client.v1 import due_work_pb2 as pb

    token, shown = "", 0
    while shown < LIST_MAX:
        page = stub.ListDueWork(
            pb.ListDueWorkRequest(filter=which, kind=kind, page_size=1000, page_token=token),
            metadata=metadata,
            timeout=60,
        )
        for item in page.due_work:
            print(json.dumps(_shown(item)))
            shown += 1
        token = page.next_page_token
        if not token:
            break
    print(f"billing: {shown} item(s)" + (f", first {LIST_MAX} shown" if token else ""))
    return 0


def _shown(item: Any) -> dict[str, Any]:
    from billing_client.v1 import due_work_pb2 as pb

    def when(field: str) -> str | None:
        return getattr(item, field).ToJsonString() if item.HasField(field) else None

    return {
        "id": item.name.removeprefix("dueWork/"),
        "kind": item.kind,
        "subject": item.subject,
        "state": pb.DueWorkState.Name(item.state).removeprefix("DUE_WORK_STATE_").lower(),
        "due_time": when("due_time"),
        "attempts": item.attempts,
        "last_error": item.last_error,
        "next_attempt_time": when("next_attempt_time"),
        "park_time": when("park_time"),
    }

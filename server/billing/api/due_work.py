"""DueWorkService (ADR 0058): translation only."""

from __future__ import annotations

import grpc

from billing.api.context import ContextFactory
from billing.api.convert import body_hash, timestamp
from billing.app.context import Write
from billing.app.due_work_admin import DueState, DueView, DueWorkAdmin, ParkOrder
from billing.app.due_work_ports import DueFilter
from billing.domain.errors import InvalidArgument
from billing_client.v1 import due_work_pb2 as pb
from billing_client.v1 import due_work_pb2_grpc

STATES = {
    DueState.PENDING: pb.DUE_WORK_STATE_PENDING,
    DueState.RUNNING: pb.DUE_WORK_STATE_RUNNING,
    DueState.FAILING: pb.DUE_WORK_STATE_FAILING,
    DueState.PARKED: pb.DUE_WORK_STATE_PARKED,
    DueState.DONE: pb.DUE_WORK_STATE_DONE,
}
FILTERS = {
    pb.DUE_WORK_FILTER_UNSPECIFIED: DueFilter.ALL,
    pb.DUE_WORK_FILTER_STUCK: DueFilter.STUCK,
    pb.DUE_WORK_FILTER_FAILING: DueFilter.FAILING,
    pb.DUE_WORK_FILTER_PARKED: DueFilter.PARKED,
}


def due_to_proto(view: DueView) -> pb.DueWork:
    row = view.row
    message = pb.DueWork(
        name=view.name,
        kind=row.kind,
        subject=view.subject,
        state=STATES[view.state],
        due_time=timestamp(row.due_at),
        clock=f"clocks/{row.clock_id}" if row.clock_id else "",
        attempts=row.attempts,
        last_error=row.last_error,
    )
    if view.next_attempt_at is not None:
        message.next_attempt_time.CopyFrom(timestamp(view.next_attempt_at))
    if row.parked_at is not None and view.state is DueState.PARKED:
        message.park_time.CopyFrom(timestamp(row.parked_at))
    return message


class DueWorkServicer(due_work_pb2_grpc.DueWorkServiceServicer):  # type: ignore[misc]
    def __init__(self, admin: DueWorkAdmin, call_context: ContextFactory) -> None:
        self._admin = admin
        self._ctx = call_context

    async def ListDueWork(
        self, request: pb.ListDueWorkRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDueWorkResponse:
        ctx = self._ctx("ListDueWork", context)
        which = FILTERS.get(request.filter)
        if which is None:
            raise InvalidArgument.single("filter", f"is not a DueWorkFilter ({request.filter})")
        page = await self._admin.list(
            ctx, which, request.kind, request.page_size, request.page_token
        )
        return pb.ListDueWorkResponse(
            due_work=[due_to_proto(v) for v in page.items], next_page_token=page.next_page_token
        )

    async def RetryDueWork(
        self, request: pb.RetryDueWorkRequest, context: grpc.aio.ServicerContext
    ) -> pb.DueWork:
        ctx = self._ctx("RetryDueWork", context)
        write = Write(request.request_id, body_hash(request), request.name)
        return due_to_proto(await self._admin.retry(ctx, write))

    async def ParkDueWork(
        self, request: pb.ParkDueWorkRequest, context: grpc.aio.ServicerContext
    ) -> pb.DueWork:
        ctx = self._ctx("ParkDueWork", context)
        order = ParkOrder(request.name, request.reason)
        return due_to_proto(
            await self._admin.park(ctx, Write(request.request_id, body_hash(request), order))
        )

    async def UnparkDueWork(
        self, request: pb.UnparkDueWorkRequest, context: grpc.aio.ServicerContext
    ) -> pb.DueWork:
        ctx = self._ctx("UnparkDueWork", context)
        write = Write(request.request_id, body_hash(request), request.name)
        return due_to_proto(await self._admin.unpark(ctx, write))

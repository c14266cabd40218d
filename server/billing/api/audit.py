"""AuditService: translation only."""

from __future__ import annotations

import json

import grpc

from billing.api.context import ContextFactory
from billing.api.convert import instant, timestamp
from billing.app.audit import AuditUseCases
from billing.app.records import AuditQuery, AuditRecord
from billing_client.v1 import audit_pb2 as pb
from billing_client.v1 import audit_pb2_grpc


def audit_record_to_proto(record: AuditRecord) -> pb.AuditRecord:
    return pb.AuditRecord(
        name=f"auditRecords/{record.id}",
        tenant=record.tenant_id,
        actor=record.actor,
        method=record.method,
        request_id=record.request_id,
        request_digest=record.request_digest,
        resource=record.resource_name,
        action=record.action,
        changes_json=json.dumps(record.changes, sort_keys=True, separators=(",", ":")),
        create_time=timestamp(record.occurred_at),
    )


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):  # type: ignore[misc]
    def __init__(self, audit: AuditUseCases, call_context: ContextFactory) -> None:
        self._audit = audit
        self._ctx = call_context

    async def ListAuditRecords(
        self, request: pb.ListAuditRecordsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAuditRecordsResponse:
        ctx = self._ctx("ListAuditRecords", context)
        query = AuditQuery(
            resource_name=request.resource,
            actor=request.actor,
            method=request.method,
            start=instant(request.start_time, request.HasField("start_time"), "start_time"),
            end=instant(request.end_time, request.HasField("end_time"), "end_time"),
        )
        page = await self._audit.list(ctx, query, request.page_size, request.page_token)
        return pb.ListAuditRecordsResponse(
            audit_records=[audit_record_to_proto(r) for r in page.records],
            next_page_token=page.next_page_token,
        )

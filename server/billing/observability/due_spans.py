"""A span per due item (ADR 0060): the child of the call that ran it (AdvanceClock,
RunBilling), or a root sampled like any other when the worker's own loop runs it; its
statements are its children. The log lines written meanwhile name its tenant."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from billing.app.due_work import Handler
from billing.app.ports import DueItem, Transaction
from billing.observability.context import call_tenant


def traced_handler(handler: Handler, tracer: trace.Tracer) -> Handler:
    async def traced(tx: Transaction, item: DueItem) -> str:
        tenant = call_tenant.set(item.tenant_id)
        try:
            with tracer.start_as_current_span(
                f"due_work {item.kind}",
                kind=SpanKind.INTERNAL,
                attributes={
                    "billing.tenant_id": item.tenant_id,
                    "billing.due_work.kind": item.kind,
                    "billing.due_work.item": item.id,
                    "billing.due_work.attempts": item.attempts,
                },
                record_exception=False,
                set_status_on_exception=False,
            ) as span:
                try:
                    return await handler(tx, item)
                except BaseException as exc:
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    raise
        finally:
            call_tenant.reset(tenant)

    return traced

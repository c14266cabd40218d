"""DunningService (ADR 0043): translation only."""

from __future__ import annotations

import grpc
from google.protobuf import duration_pb2

from billing.api.billing_convert import money
from billing.api.context import ContextFactory
from billing.api.convert import body_hash, instant, timestamp
from billing.app.context import Write
from billing.app.dunning_admin import DunningAdmin, PauseOrder
from billing.app.dunning_ports import ReportWindow
from billing.app.dunning_report import DunningReport, ReportRow
from billing.app.dunning_views import CaseView, HoldResult
from billing.domain.dunning import CaseStatus
from billing.domain.errors import InvalidArgument
from billing_client.v1 import dunning_pb2 as pb
from billing_client.v1 import dunning_pb2_grpc

CASE_STATUS = {
    CaseStatus.ACTIVE: pb.DUNNING_CASE_STATUS_ACTIVE,
    CaseStatus.PAUSED: pb.DUNNING_CASE_STATUS_PAUSED,
    CaseStatus.RECOVERED: pb.DUNNING_CASE_STATUS_RECOVERED,
    CaseStatus.EXHAUSTED: pb.DUNNING_CASE_STATUS_EXHAUSTED,
    CaseStatus.CLOSED: pb.DUNNING_CASE_STATUS_CLOSED,
}
STATUS_FILTER = {v: k for k, v in CASE_STATUS.items()}


def case_to_proto(view: CaseView) -> pb.DunningCase:
    c = view.case
    message = pb.DunningCase(
        name=c.name,
        customer=f"customers/{c.customer_id}",
        invoice=f"invoices/{c.invoice_id}",
        subscription=f"subscriptions/{c.subscription_id}" if c.subscription_id else "",
        policy=c.policy,
        rule_set=f"ruleSets/{c.rule_set}",
        status=CASE_STATUS[c.status],
        start_time=timestamp(c.started_at),
        amount=money(c.currency, c.amount_minor),
        recovered=money(c.currency, c.recovered_minor),
        first_decline_code=c.first_decline_code,
        decline_code=c.decline_code,
        retries_stopped=c.retries_stopped,
        suspended=c.suspended,
        retries_done=c.retries_done,
        steps_done=c.steps_done,
        timeline=[
            pb.DunningTimelineEntry(
                time=timestamp(e.at),
                kind=e.kind.value,
                what=e.what,
                detail=e.detail,
                payment_attempt=f"paymentAttempts/{e.attempt_id}" if e.attempt_id else "",
            )
            for e in c.timeline
        ],
        payment_attempts=[f"paymentAttempts/{a}" for a in view.attempts],
        etag=f'W/"{c.version}"',
        paused_duration=_duration(c.shift.total_seconds()),
    )
    if view.next_event is not None:
        e = view.next_event
        message.next_event.CopyFrom(
            pb.DunningNextEvent(
                time=timestamp(e.at), kind=e.kind.value, what=e.what, action=e.action
            )
        )
    if c.ended_at is not None:
        message.end_time.CopyFrom(timestamp(c.ended_at))
    if c.paused_at is not None:
        message.pause_time.CopyFrom(timestamp(c.paused_at))
    return message


def _duration(seconds: float) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromMicroseconds(round(seconds * 1_000_000))
    return duration


def _row(row: ReportRow) -> pb.DunningReportRow:
    s = row.sums
    return pb.DunningReportRow(
        key=row.key,
        cases=s.cases,
        in_dunning=money(row.currency, s.in_dunning_minor),
        recovered=money(row.currency, s.recovered_minor),
        lost=money(row.currency, s.lost_minor),
    )


def report_to_proto(report: DunningReport) -> pb.DunningReport:
    return pb.DunningReport(
        totals=[_row(r) for r in report.totals],
        by_step=[_row(r) for r in report.by_step],
        by_decline=[_row(r) for r in report.by_decline],
    )


class DunningServicer(dunning_pb2_grpc.DunningServiceServicer):  # type: ignore[misc]
    def __init__(self, dunning: DunningAdmin, call_context: ContextFactory) -> None:
        self._dunning = dunning
        self._ctx = call_context

    async def GetDunningCase(
        self, request: pb.GetDunningCaseRequest, context: grpc.aio.ServicerContext
    ) -> pb.DunningCase:
        ctx = self._ctx("GetDunningCase", context)
        return case_to_proto(await self._dunning.get(ctx, request.name))

    async def ListDunningCases(
        self, request: pb.ListDunningCasesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDunningCasesResponse:
        ctx = self._ctx("ListDunningCases", context)
        status = None
        if request.status != pb.DUNNING_CASE_STATUS_UNSPECIFIED:
            status = STATUS_FILTER.get(request.status)
            if status is None:
                raise InvalidArgument.single(
                    "status", f"is not a DunningCaseStatus ({request.status})"
                )
        page = await self._dunning.list(
            ctx, request.customer, status, request.page_size, request.page_token
        )
        return pb.ListDunningCasesResponse(
            dunning_cases=[case_to_proto(v) for v in page.cases],
            next_page_token=page.next_page_token,
        )

    async def PauseDunning(
        self, request: pb.PauseDunningRequest, context: grpc.aio.ServicerContext
    ) -> pb.PauseDunningResponse:
        ctx = self._ctx("PauseDunning", context)
        order = PauseOrder(request.customer, request.reason)
        result = await self._dunning.pause(
            ctx, Write(request.request_id, body_hash(request), order)
        )
        return pb.PauseDunningResponse(customer=result.customer, dunning_cases=_cases(result))

    async def ResumeDunning(
        self, request: pb.ResumeDunningRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResumeDunningResponse:
        ctx = self._ctx("ResumeDunning", context)
        write = Write(request.request_id, body_hash(request), request.customer)
        result = await self._dunning.resume(ctx, write)
        return pb.ResumeDunningResponse(customer=result.customer, dunning_cases=_cases(result))

    async def GetDunningReport(
        self, request: pb.GetDunningReportRequest, context: grpc.aio.ServicerContext
    ) -> pb.DunningReport:
        ctx = self._ctx("GetDunningReport", context)
        window = ReportWindow(
            instant(request.start_time, request.HasField("start_time"), "start_time"),
            instant(request.end_time, request.HasField("end_time"), "end_time"),
        )
        return report_to_proto(await self._dunning.report(ctx, window))


def _cases(result: HoldResult) -> list[pb.DunningCase]:
    return [case_to_proto(v) for v in result.cases]

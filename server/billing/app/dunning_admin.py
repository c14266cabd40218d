"""DunningService's use cases (ADR 0043 "API"): read cases, finance's pause and resumption
of a customer's dunning, and the report.

Pausing puts the customer's hold (a case the engine opens meanwhile opens paused) and pauses
the customer's active cases; resuming lifts it, adds the time each case spent paused to its
`shift` and schedules its next event. Each is one transaction with its events and audit
records, idempotent on its request id. Raises InvalidArgument, NotFound, InvalidState,
IdempotencyKeyReused, RequestInProgress, TransactionConflict.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from billing.app.audit_records import audit_of
from billing.app.billing_time import BillingTime
from billing.app.context import CallContext, Write
from billing.app.dunning_ports import DunningHold, ReportWindow
from billing.app.dunning_report import DunningReport, check_window, dunning_report
from billing.app.dunning_schedule import schedule_next
from billing.app.dunning_views import HOLD_CODEC, CasePolicies, CaseView, HoldResult, view_of
from billing.app.ids import new_id
from billing.app.paging import decode_page_token, encode_page_token, page_limit
from billing.app.ports import RetryableConflict, Store, Transaction
from billing.app.records import OutboxEvent
from billing.app.rules import RuleUseCases
from billing.app.writes import WriteRunner
from billing.domain.customers import Customer
from billing.domain.dunning import CaseStatus, DunningCase
from billing.domain.dunning_pause import pause_case, resume_case
from billing.domain.errors import InvalidArgument, InvariantBroken, NotFound
from billing.domain.names import parse_name
from billing.domain.text import check_text

log = logging.getLogger("billing.dunning")

REASON_MAX = 500  # the hold's column


@dataclass(frozen=True)
class PauseOrder:
    customer: str  # customers/cus_<ULID>
    reason: str


@dataclass(frozen=True)
class CasePage:
    cases: list[CaseView]
    next_page_token: str


class DunningAdmin:
    def __init__(
        self, store: Store, writes: WriteRunner, rules: RuleUseCases, time: BillingTime
    ) -> None:
        self._store = store
        self._writes = writes
        self._rules = rules
        self._time = time

    async def get(self, ctx: CallContext, name: str) -> CaseView:
        """By `dunningCases/<id>`, or `invoices/<id>` for the invoice's case."""
        collection, resource_id = _case_or_invoice(name)
        async with self._store.read() as tx:
            if collection == "invoices":
                case = await tx.dunning_cases.for_invoice(ctx.tenant_id, resource_id)
            else:
                case = await tx.dunning_cases.get(ctx.tenant_id, resource_id)
            if case is None:
                raise NotFound(name)
            return await CasePolicies(self._rules, tx, ctx.tenant_id).view(case)

    async def list(
        self,
        ctx: CallContext,
        customer: str,
        status: CaseStatus | None,
        page_size: int,
        page_token: str,
    ) -> CasePage:
        """The tenant's cases, or a customer's, newest first."""
        customer_id = parse_name(customer, "customers", "customer") if customer else None
        limit = page_limit(page_size)
        after = decode_page_token(page_token)
        async with self._store.read() as tx:
            rows = await tx.dunning_cases.list_after(
                ctx.tenant_id, customer_id, status, after, limit + 1
            )
            if customer_id is not None and not rows:
                await self._customer(tx, ctx, customer, customer_id)
            page = rows[:limit]
            policies = CasePolicies(self._rules, tx, ctx.tenant_id)
            views = [await policies.view(case) for case in page]
        return CasePage(views, encode_page_token(page[-1].id) if len(rows) > limit else "")

    async def pause(self, ctx: CallContext, write: Write[PauseOrder]) -> HoldResult:
        """The customer's hold, and its active cases paused; the answer lists its open
        cases (those already paused too)."""
        order = write.input
        customer_id = parse_name(order.customer, "customers", "customer")
        check_text("reason", order.reason, REASON_MAX)

        async def work(tx: Transaction, now: datetime) -> HoldResult:
            customer = await self._customer(tx, ctx, order.customer, customer_id)
            at = await self._time.now(tx, ctx.tenant_id, customer.clock_id)
            hold = DunningHold(customer_id, order.reason, ctx.actor, at)
            await tx.dunning_cases.put_hold(ctx.tenant_id, hold)
            views: list[CaseView] = []
            for case in await tx.dunning_cases.open_for_customer(
                ctx.tenant_id, customer_id, lock=True
            ):
                paused = case
                if case.status is CaseStatus.ACTIVE:
                    paused = await self._save(tx, ctx, case, pause_case(case, at, order.reason))
                    shown = {**_about(case), "reason": order.reason, "paused_at": at.isoformat()}
                    await self._record(tx, ctx, write, case.name, "paused", shown, now, at)
                views.append(view_of(paused, None))
            shown = {"reason": order.reason, "dunning_cases": [v.case.name for v in views]}
            await tx.audit.add(audit_of(ctx, write, order.customer, "dunning_paused", shown, now))
            return HoldResult(order.customer, tuple(views))

        return await self._writes.run(ctx, write, HOLD_CODEC, work)

    async def resume(self, ctx: CallContext, write: Write[str]) -> HoldResult:
        """The hold lifted and every paused case of the customer active again, each event
        still to come moved later by the time the case was paused; the answer lists the
        cases resumed with their next events."""
        name = write.input
        customer_id = parse_name(name, "customers", "customer")

        async def work(tx: Transaction, now: datetime) -> HoldResult:
            customer = await self._customer(tx, ctx, name, customer_id)
            at = await self._time.now(tx, ctx.tenant_id, customer.clock_id)
            await tx.dunning_cases.release_hold(ctx.tenant_id, customer_id)
            policies = CasePolicies(self._rules, tx, ctx.tenant_id)
            views: list[CaseView] = []
            for case in await tx.dunning_cases.open_for_customer(
                ctx.tenant_id, customer_id, lock=True
            ):
                if case.status is not CaseStatus.PAUSED:
                    continue
                policy = await policies.of(case)
                if policy is None:
                    raise InvariantBroken(f"{case.name}: policy {case.policy!r} is not stored")
                resumed = await schedule_next(tx, ctx.tenant_id, resume_case(case, at), policy, at)
                if resumed.next_at is None:  # never: a case ends when its last event is done
                    log.warning("resumed a case with nothing to do", extra={"case": case.id})
                resumed = await self._save(tx, ctx, case, resumed)
                shown = {
                    **_about(resumed),
                    "paused_for_seconds": (resumed.shift - case.shift).total_seconds(),
                    "next_at": resumed.next_at.isoformat() if resumed.next_at else None,
                }
                await self._record(tx, ctx, write, resumed.name, "resumed", shown, now, at)
                views.append(view_of(resumed, policy))
            shown = {"dunning_cases": [v.case.name for v in views]}
            await tx.audit.add(audit_of(ctx, write, name, "dunning_resumed", shown, now))
            return HoldResult(name, tuple(views))

        return await self._writes.run(ctx, write, HOLD_CODEC, work)

    async def report(self, ctx: CallContext, window: ReportWindow) -> DunningReport:
        check_window(window)
        async with self._store.read() as tx:
            return await dunning_report(tx, self._rules, ctx.tenant_id, window)

    # --- helpers ---------------------------------------------------------------------------

    @staticmethod
    async def _customer(tx: Transaction, ctx: CallContext, name: str, customer_id: str) -> Customer:
        customer = await tx.customers.get(ctx.tenant_id, customer_id)
        if customer is None:
            raise NotFound(name)
        return customer

    @staticmethod
    async def _save(
        tx: Transaction, ctx: CallContext, read: DunningCase, changed: DunningCase
    ) -> DunningCase:
        if not await tx.dunning_cases.update(ctx.tenant_id, changed, read.version):
            raise RetryableConflict(f"{read.name} changed while it was paused or resumed")
        return changed

    async def _record(
        self,
        tx: Transaction,
        ctx: CallContext,
        write: Write[Any],
        resource: str,
        what: str,
        shown: dict[str, Any],
        now: datetime,
        at: datetime,
    ) -> None:
        event = OutboxEvent(new_id("evt"), ctx.tenant_id, f"dunning.{what}", resource, shown, at)
        await tx.outbox.add(event)
        await tx.audit.add(audit_of(ctx, write, resource, what, shown, now))


def _about(case: DunningCase) -> dict[str, Any]:
    return {
        "customer": f"customers/{case.customer_id}",
        "invoice": f"invoices/{case.invoice_id}",
        "policy": case.policy,
    }


def _case_or_invoice(name: str) -> tuple[str, str]:
    """('dunningCases', id) or ('invoices', id), or InvalidArgument naming `name`."""
    head = name.partition("/")[0]
    if name and head in {"dunningCases", "invoices"}:
        return head, parse_name(name, head)
    raise InvalidArgument.single(
        "name",
        "is required"
        if not name
        else f"must be dunningCases/dun_<ULID> or invoices/inv_<ULID>, got {name!r}",
    )

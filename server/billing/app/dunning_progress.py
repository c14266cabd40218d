"""Moving an active case along its policy (ADR 0043), in the transaction that moved it: every
step due by now done in order (steps of one instant, or a step sharing its instant with the
retry just made, run right there, each exactly at its instant), then the next event's item
scheduled, or the case ended `exhausted` when its timeline is spent. A retry is never made
here: it needs its charge first, outside any transaction (the step item's prepare)."""

from __future__ import annotations

from dataclasses import replace

from billing.app.dunning_actions import Actions, StepRun
from billing.app.dunning_records import Moment, noted
from billing.app.dunning_schedule import schedule_next
from billing.app.ports import ParkItem, Transaction
from billing.app.rules import RuleUseCases
from billing.domain.dunning import (
    CaseStatus,
    DunningCase,
    DunningPolicy,
    EntryKind,
    EventKind,
    next_event,
    step_name,
)
from billing.domain.invoices import Invoice


class Progress:
    def __init__(self, rules: RuleUseCases, actions: Actions) -> None:
        self._rules = rules
        self._actions = actions

    async def policy_of(self, tx: Transaction, tenant_id: str, case: DunningCase) -> DunningPolicy:
        """The policy a case started under, from the rule set it started under: a later push
        does not change a running case."""
        version = await self._rules.rules_of_version(tx, tenant_id, case.rule_set)
        policy = version.rules.dunning.policies.get(case.policy) if version is not None else None
        if policy is None:
            raise ParkItem(
                f"{case.name}: policy {case.policy!r} of ruleSets/{case.rule_set} is gone"
            )
        return policy

    async def advance(
        self,
        tx: Transaction,
        now: Moment,
        case: DunningCase,
        policy: DunningPolicy,
        invoice: Invoice,
    ) -> tuple[DunningCase, list[str]]:
        """`case` (not saved) with the steps due by `now` done and its next item scheduled,
        or exhausted; what was done, in plain words."""
        done: list[str] = []
        while case.status is CaseStatus.ACTIVE:
            event = next_event(policy, case)
            if event is None or event.kind is EventKind.RETRY or event.at > now.at:
                break
            case, what = await self.step(tx, now, case, policy, event.index, invoice)
            done.append(what)
        if case.status is CaseStatus.ACTIVE:
            case = await schedule_next(tx, now.tenant_id, case, policy, now.at)
            if case.next_at is None:
                case = await self.exhaust(tx, now, case)
        return case, done

    async def step(
        self,
        tx: Transaction,
        now: Moment,
        case: DunningCase,
        policy: DunningPolicy,
        index: int,
        invoice: Invoice,
    ) -> tuple[DunningCase, str]:
        """Step `index` done: its action, its timeline entry, `dunning.step_done`, the audit
        record."""
        step, name = policy.steps[index], step_name(policy, index)
        case, detail = await self._actions.do(tx, StepRun(now, case, step, name, invoice))
        case = noted(
            replace(case, steps_done=case.steps_done + 1), now.at, EntryKind.STEP, name, detail
        )
        await now.event(
            tx,
            "dunning.step_done",
            case,
            step=name,
            index=index,
            action=step.action.value,
            template=step.template,
            detail=detail,
        )
        await now.audit(
            tx, case.name, "step", {"step": name, "action": step.action.value, "detail": detail}
        )
        return case, f"{name}: {detail}"

    async def exhaust(self, tx: Transaction, now: Moment, case: DunningCase) -> DunningCase:
        """Every retry and step done and the invoice still unpaid: the case ends `exhausted`
        (a late payment still recovers it)."""
        ended = noted(
            replace(case, status=CaseStatus.EXHAUSTED, next_at=None, ended_at=now.at),
            now.at,
            EntryKind.EXHAUSTED,
        )
        await now.event(tx, "dunning.exhausted", ended, decline_code=ended.decline_code)
        await now.audit(tx, ended.name, "exhaust", {})
        return ended

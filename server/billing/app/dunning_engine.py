"""The dunning case engine (ADR 0043): the due work of `dunning_attempt_failed` (a case
opened, or an outcome applied to it) and `dunning_step` (a retry made or a step done). The
composition root sets it as `DueWorkHandlers.dunning`."""

from __future__ import annotations

from billing.app.dunning_actions import Actions
from billing.app.dunning_kinds import DUNNING_ATTEMPT_FAILED, DUNNING_STEP
from billing.app.dunning_opening import attempt_failed
from billing.app.dunning_progress import Progress
from billing.app.dunning_steps import Steps
from billing.app.payment_charges import Charges
from billing.app.ports import DueItem, Store, Transaction
from billing.app.rules import RuleUseCases
from billing.app.subscriptions import SubscriptionUseCases


class DunningEngine:
    def __init__(
        self,
        store: Store,
        charges: Charges,
        rules: RuleUseCases,
        subscriptions: SubscriptionUseCases,
    ) -> None:
        self._rules = rules
        self._progress = Progress(rules, Actions(subscriptions))
        self._steps = Steps(store, charges, self._progress)

    async def prepare(self, item: DueItem) -> DueItem:
        if item.kind == DUNNING_STEP:
            return await self._steps.prepare(item)
        return item

    async def handle(self, tx: Transaction, item: DueItem) -> str:
        if item.kind == DUNNING_ATTEMPT_FAILED:
            return await attempt_failed(tx, item, self._rules, self._progress)
        if item.kind == DUNNING_STEP:
            return await self._steps.handle(tx, item)
        return f"skip {item.kind}: not the case engine's"

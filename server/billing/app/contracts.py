"""ApplyContract and GetContract (issue 18): a Sales deal's lines as subscriptions.

A revision is applied in ONE transaction, made of the same steps CreateSubscription,
ChangeSubscription and CancelSubscription run (their `*_work`), so a deal is never half
applied, and the contract row's revision is the idempotency of the deal: the same revision
again answers the contract without a write, whatever the request_id.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from billing.app.audit_records import audit_of
from billing.app.context import CallContext, Write
from billing.app.ids import new_id
from billing.app.ports import Store, Transaction
from billing.app.records import OutboxEvent
from billing.app.subscriptions import (
    Cancellation,
    ChangeRequest,
    NewSubscription,
    SubscriptionUseCases,
)
from billing.app.writes import WriteRunner
from billing.domain.contracts import (
    DEAL_ID,
    ENDED_REASON,
    Contract,
    ContractLine,
    amend,
    check,
    contract_from_terms,
    contract_terms,
)
from billing.domain.errors import InvalidArgument, InvalidState, NotFound, TransactionConflict
from billing.domain.subscriptions import Status


class _ContractCodec:
    def encode(self, result: Contract) -> bytes:
        return json.dumps(
            {
                "deal_id": result.deal_id,
                "customer_id": result.customer_id,
                "revision": result.revision,
                "terms": contract_terms(result),
                "body_hash": result.body_hash,
                "updated_at": result.updated_at.isoformat() if result.updated_at else None,
            }
        ).encode()

    def decode(self, data: bytes) -> Contract:
        raw = json.loads(data)
        updated = raw["updated_at"]
        return contract_from_terms(
            raw["deal_id"],
            raw["customer_id"],
            raw["revision"],
            raw["terms"],
            raw["body_hash"],
            datetime.fromisoformat(updated) if updated else None,
        )


CONTRACT_CODEC = _ContractCodec()


class ContractUseCases:
    def __init__(
        self,
        store: Store,
        writes: WriteRunner,
        subscriptions: SubscriptionUseCases,
        work_added: Callable[[], None],
    ) -> None:
        self._store = store
        self._writes = writes
        self._subs = subscriptions
        self._work_added = work_added

    async def get(self, ctx: CallContext, name: str) -> Contract:
        head, _, deal_id = name.partition("/")
        if head != "contracts" or not DEAL_ID.fullmatch(deal_id):
            raise InvalidArgument.single(
                "name", f"must look like contracts/<deal_id>, got {name!r}"
            )
        async with self._store.read() as tx:
            contract = await tx.contracts.get(ctx.tenant_id, deal_id)
        if contract is None:
            raise NotFound(name)
        return contract

    async def apply(self, ctx: CallContext, write: Write[Contract]) -> Contract:
        agreed = replace(write.input, body_hash=write.body_hash.hex())
        check(agreed)

        async def work(tx: Transaction, now: datetime) -> Contract:
            billed = await tx.contracts.get(ctx.tenant_id, agreed.deal_id, for_update=True)
            if billed is not None:
                if agreed.revision < billed.revision:
                    raise InvalidState(
                        f"{billed.name} is at revision {billed.revision};"
                        f" revision {agreed.revision} is older",
                        "CONTRACT_REVISION_STALE",
                    )
                if agreed.revision == billed.revision:
                    if agreed.body_hash == billed.body_hash:
                        return billed  # applied already: nothing to do
                    raise InvalidState(
                        f"{billed.name} revision {billed.revision} was applied with other"
                        " terms; send the amendment as a higher revision",
                        "CONTRACT_REVISION_CONFLICT",
                    )
            applied = await self._apply_lines(tx, ctx, write, billed, agreed, now)
            if billed is None:
                stored = await tx.contracts.insert(ctx.tenant_id, applied)
            else:
                stored = await tx.contracts.update(ctx.tenant_id, applied, billed.revision)
            if not stored:
                raise TransactionConflict(
                    f"{agreed.name} was applied concurrently; retry with the same request_id"
                )
            await self._record(tx, ctx, write, applied, billed, now)
            return applied

        result = await self._writes.run(ctx, write, CONTRACT_CODEC, work)
        self._work_added()
        return result

    async def _apply_lines(
        self,
        tx: Transaction,
        ctx: CallContext,
        write: Write[Contract],
        billed: Contract | None,
        agreed: Contract,
        now: datetime,
    ) -> Contract:
        amendment = amend(billed, agreed)
        lines: dict[str, ContractLine] = {line.line_id: line for line in amendment.keeps}
        customer = f"customers/{agreed.customer_id}"
        for line in amendment.creates:
            new = NewSubscription(
                customer=customer,
                plan=line.plan,
                quantities=dict(line.quantities),
                price_overrides=dict(line.price_overrides),
                # The first revision starts when the deal says; a line added later, now.
                start_time=agreed.start_time if billed is None else None,
                trial_days=0,  # a signed deal bills from its start
                term_periods=agreed.term_periods,
                auto_renew=agreed.auto_renew or not agreed.term_periods,
                phases=line.phases,
            )
            step = self._subs.create_work(ctx, Write(write.request_id, write.body_hash, new))
            sub = await step(tx, now)
            lines[line.line_id] = replace(line, subscription_id=sub.id)
        for old, new_line in amendment.changes:
            current = await tx.subscriptions.get(ctx.tenant_id, old.subscription_id)
            if current is None or current.status == Status.CANCELED:
                raise InvalidState(
                    f"line {old.line_id}'s subscriptions/{old.subscription_id} has ended;"
                    " add the line again with a new line_id",
                    "CONTRACT_LINE_ENDED",
                )
            change = ChangeRequest(
                subscription=current.name,
                plan=new_line.plan if new_line.plan != old.plan else "",
                quantities=dict(new_line.quantities),
                proration_time=None,
                etag=current.etag,
            )
            step_change = self._subs.change_work(
                ctx, Write(write.request_id, write.body_hash, change)
            )
            await step_change(tx, now)
            lines[new_line.line_id] = new_line
        for old in amendment.ends:
            current = await tx.subscriptions.get(ctx.tenant_id, old.subscription_id)
            if (
                current is None
                or current.status == Status.CANCELED
                or current.cancel_at
                or current.cancel_at_period_end
            ):
                continue  # already ending: the amendment asks for nothing more
            cancellation = Cancellation(
                current.name,
                "at_period_end",
                None,
                "",
                ENDED_REASON,
                f"{agreed.name} revision {agreed.revision} leaves out line {old.line_id}",
            )
            step_cancel = self._subs.cancel_work(
                ctx, Write(write.request_id, write.body_hash, cancellation)
            )
            await step_cancel(tx, now)
        return replace(
            agreed,
            lines=tuple(lines[line.line_id] for line in agreed.lines),
            updated_at=now,
        )

    async def _record(
        self,
        tx: Transaction,
        ctx: CallContext,
        write: Write[Contract],
        applied: Contract,
        billed: Contract | None,
        now: datetime,
    ) -> None:
        changes = {
            "revision": applied.revision,
            "previous_revision": billed.revision if billed else 0,
            "subscriptions": {line.line_id: line.subscription_id for line in applied.lines},
        }
        event = "contract.applied" if billed is None else "contract.amended"
        await tx.outbox.add(
            OutboxEvent(new_id("evt"), ctx.tenant_id, event, applied.name, changes, now)
        )
        await tx.audit.add(
            audit_of(
                ctx,
                write,
                applied.name,
                "apply" if billed is None else "amend",
                changes,
                now,
            )
        )

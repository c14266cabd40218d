"""Online tax id checks (VIES...) as due work, never inside a request's transaction (ADR 0031).

A customer write that adds or changes a tax id of a type a configured verifier checks
schedules a `verify_tax_ids` item in its own transaction (its payload names the customer).
The worker then:

1. `prepare` (outside any transaction): asks the registry for each listed number, through
   an in-process cache of definite answers (valid, invalid) kept `cache_ttl`;
2. if the registry could not answer for some number, writes `unknown` with the reason in a
   short transaction of its own and raises `RegistryUnavailable`: the worker retries the item
   with its backoff and parks it after its last attempt (`billing due-work retry`);
3. else `handle` (in the item's transaction) writes each answer onto the customer, if the
   customer still has that number, as a new version with a `customer.tax_id_checked` event.

Whether an `unknown` number is trusted is the tax rules' `policy.unknown_tax_id`, decided by
the engines; this module only records what is known.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from billing.app.clock import Clock
from billing.app.ids import new_id
from billing.app.ports import DueItem, RetryableConflict, Store, Transaction
from billing.app.records import OutboxEvent
from billing.domain import customers as domain
from billing.domain.customers import Customer, TaxId, TaxIdVerification
from billing.domain.tax import TaxIdStatus
from billing.plugins.engines import TaxIdCheck, TaxIdCheckRequest, TaxIdVerifier

log = logging.getLogger("billing.tax_id_checks")

VERIFY_TAX_IDS = "verify_tax_ids"
CACHE_ENTRIES_MAX = 10_000


class RegistryUnavailable(RuntimeError):
    """The registry could not answer for some number; the item is retried with backoff."""


@dataclass(frozen=True)
class ConfiguredVerifier:
    name: str
    verifier: TaxIdVerifier
    endpoint: str


@dataclass(frozen=True)
class _Answer:
    type: str
    value: str
    verification: TaxIdVerification


class TaxIdChecks:
    def __init__(
        self,
        store: Store,
        verifiers: Sequence[ConfiguredVerifier],
        wall: Clock,
        *,
        timeout_s: float,
        cache_ttl: timedelta,
    ) -> None:
        self._store = store
        self._by_type: dict[str, ConfiguredVerifier] = {}
        for configured in verifiers:
            for tax_id_type in configured.verifier.types:
                self._by_type.setdefault(tax_id_type, configured)
        self._wall = wall
        self._timeout_s = timeout_s
        self._cache_ttl = cache_ttl
        self._cache: OrderedDict[tuple[str, str], tuple[datetime, TaxIdCheck]] = OrderedDict()
        self.asked = 0  # registry calls made (the cache's misses), for tests and metrics

    @property
    def types(self) -> frozenset[str]:
        """The tax id types an online check is configured for."""
        return frozenset(self._by_type)

    async def schedule(
        self, tx: Transaction, tenant_id: str, customer: Customer, before: tuple[TaxId, ...]
    ) -> bool:
        """In the customer write's transaction: a check of its new or changed numbers."""
        due = domain.tax_ids_to_verify(before, customer.fields.tax_ids, self.types)
        if not due:
            return False
        payload = {
            "customer_id": customer.id,
            "tax_ids": [{"type": t.type, "value": t.value} for t in due],
        }
        item_id = new_id("due")
        await tx.due_work.schedule(
            DueItem(
                tenant_id,
                item_id,
                VERIFY_TAX_IDS,
                # A lane of its own: a check parked while the registry is down never holds
                # back a later one (each applies only to numbers the customer still has).
                item_id,
                None,  # wall time: a registry answers now, whatever a simulation clock says
                self._wall.now(),
                json.dumps(payload),
            )
        )
        return True

    async def prepare(self, item: DueItem) -> DueItem:
        """Outside any transaction: ask the registry; the answers ride on the item."""
        payload = json.loads(item.payload)
        answers: list[_Answer] = []
        for listed in payload["tax_ids"]:
            check, checked_time = await self._check(listed["type"], listed["value"])
            answers.append(
                _Answer(listed["type"], listed["value"], _verification(check, checked_time))
            )
        down = [a for a in answers if a.verification.status is TaxIdStatus.UNKNOWN]
        if down:
            async with self._store.write(None) as tx:
                await self._apply(tx, item, payload["customer_id"], answers)
            raise RegistryUnavailable("; ".join(a.verification.reason for a in down))
        answered = [_answer_to_dict(a) for a in answers]
        return replace(item, payload=json.dumps({**payload, "answers": answered}))

    async def handle(self, tx: Transaction, item: DueItem) -> str:
        payload = json.loads(item.payload)
        answers = [_answer_from_dict(a) for a in payload.get("answers", ())]
        return await self._apply(tx, item, payload["customer_id"], answers)

    async def _apply(
        self, tx: Transaction, item: DueItem, customer_id: str, answers: Sequence[_Answer]
    ) -> str:
        customer = await tx.customers.get(item.tenant_id, customer_id)
        if customer is None:
            return f"skip tax id check of customers/{customer_id}: gone"
        fields = customer.fields
        changed: list[_Answer] = []
        for answer in answers:
            updated = domain.with_verification(
                fields, answer.type, answer.value, answer.verification
            )
            if updated is not None:
                fields = updated
                changed.append(answer)
        if not changed:
            return f"tax ids of {customer.name}: nothing to record"
        now = self._wall.now()
        updated_customer = replace(
            customer, fields=fields, version=customer.version + 1, update_time=now
        )
        if not await tx.customers.update(item.tenant_id, updated_customer, customer.version):
            raise RetryableConflict(f"{customer.name} changed during its tax id check")
        await tx.outbox.add(
            OutboxEvent(
                new_id("evt"),
                item.tenant_id,
                "customer.tax_id_checked",
                customer.name,
                {
                    "tax_ids": [
                        {"type": a.type, "value": a.value, **a.verification.to_dict()}
                        for a in changed
                    ]
                },
                now,
            )
        )
        statuses = ", ".join(f"{a.value} {a.verification.status.value}" for a in changed)
        return f"tax ids of {customer.name}: {statuses}"

    async def _check(self, tax_id_type: str, value: str) -> tuple[TaxIdCheck, datetime]:
        key = (tax_id_type, value)
        now = self._wall.now()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self._cache_ttl:
            return cached[1], cached[0]
        configured = self._by_type.get(tax_id_type)
        if configured is None:
            return TaxIdCheck(TaxIdStatus.UNKNOWN, reason="no verifier for this type"), now
        self.asked += 1
        try:
            check = await configured.verifier.check(
                TaxIdCheckRequest(tax_id_type, value, configured.endpoint, self._timeout_s)
            )
        except Exception as exc:  # a plugin's bug is an unknown answer, retried, and logged
            log.exception("tax id verifier failed", extra={"verifier": configured.name})
            check = TaxIdCheck(TaxIdStatus.UNKNOWN, reason=f"{configured.name} failed: {exc}")
        if check.status in {TaxIdStatus.VALID, TaxIdStatus.INVALID}:
            self._cache[key] = (now, check)
            self._cache.move_to_end(key)
            while len(self._cache) > CACHE_ENTRIES_MAX:
                self._cache.popitem(last=False)
        return check, now


def _verification(check: TaxIdCheck, checked_time: datetime) -> TaxIdVerification:
    if check.status is TaxIdStatus.UNKNOWN:
        return TaxIdVerification(TaxIdStatus.UNKNOWN, checked_time, reason=check.reason)
    return TaxIdVerification(check.status, checked_time, check.name, check.address, check.reason)


def _answer_to_dict(answer: _Answer) -> dict[str, Any]:
    return {"type": answer.type, "value": answer.value, **answer.verification.to_dict()}


def _answer_from_dict(data: Mapping[str, Any]) -> _Answer:
    return _Answer(data["type"], data["value"], TaxIdVerification.from_dict(dict(data)))

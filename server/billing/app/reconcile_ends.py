"""How a reconciler's status lookup ends (ADR 0035 "Reconcile"), for attempts and refunds.

A lookup is recorded in its due item's transaction, with the next lookup scheduled there,
all or nothing. The schedule's last lookup is the exception: when the answer leaves the
attempt or refund unsettled, the item is parked for a person (`ParkItem`), and parking rolls
the item's transaction back. So the last lookup is recorded in a transaction of its own
first (the lookup's count, a move to unknown or requires_action, their events), and the
item is parked after that commits: what the gateway said last is kept. A crash between the
two costs one more lookup when the item is claimed again, never a lost answer.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from billing.app.ports import DueItem, ParkItem, Store, Transaction
from billing.app.writes import retry_on_conflict

OUTCOME_TRIES = 5  # like the outcomes' own short transactions


@dataclass(frozen=True)
class Reconciled:
    text: str  # what the item did, or why it is parked
    park: bool = False  # the schedule is spent and it is still unsettled


Reconcile = Callable[[Transaction, DueItem, dict[str, Any]], Awaitable[Reconciled]]


def ended(result: Reconciled) -> str:
    """The item's description, or ParkItem (in the item's transaction: rolled back)."""
    if result.park:
        raise ParkItem(result.text)
    return result.text


async def record_last_lookup(
    store: Store, item: DueItem, payload: dict[str, Any], reconcile: Reconcile
) -> DueItem:
    """The last lookup's answer (`payload`) recorded by `reconcile` in a transaction of its
    own; then ParkItem if it is still unsettled, else the item whose payload says what was
    done (`done`), for its own transaction to mark it done."""
    result = await retry_on_conflict(
        store, lambda tx: reconcile(tx, item, payload), tries=OUTCOME_TRIES
    )
    if result.park:
        raise ParkItem(result.text)
    return replace(item, payload=json.dumps({"done": result.text}))

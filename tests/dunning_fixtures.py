"""Dunning rules and cases for the API tests (ADR 0043). Cases are written through the store,
beside customers and invoices made over gRPC, so the API is tested apart from the engine that
opens and walks cases in production."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from billing.app.ids import new_id
from billing.domain.dunning import CaseStatus, DunningCase
from billing.store.engine import create_engine
from billing.store.sql_store import SqlStore

# Two policies: `standard` with retries at 10:00 past weekends and named steps, `gentle`
# whose first step shares a name with standard's (the report merges them) and whose second
# is unnamed (`steps[1]`).
DUNNING_YAML = """kind: dunning
policies:
  - name: standard
    grace: 10d
    retries: {after: [1d, 3d, 5d], at: "10:00", skip_weekends: true}
    steps:
      - {name: first_notice, after: 0d, action: notice, template: payment_failed}
      - {name: past_due, after: 2d, action: mark_past_due}
      - {name: final_notice, after: 7d, action: notice, template: final_notice}
      - {name: suspend, after: 14d, action: suspend}
  - name: gentle
    steps:
      - {name: first_notice, after: 0d, action: notice, template: payment_reminder}
      - {after: 20d, action: mark_past_due}
cases:
  - {when: {segments: [gentle]}, policy: gentle}
  - {policy: standard}
"""


def with_dunning(files: dict[str, bytes], marker: str = "") -> dict[str, bytes]:
    """`files` plus the dunning rules; `marker` makes the rule set's hash a tenant's own."""
    return {**files, "dunning.yaml": (DUNNING_YAML + f"# {marker}\n").encode()}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def make_case(
    customer: str, invoice: str, rule_set: str, started: datetime, **fields: Any
) -> DunningCase:
    """A case of `customers/...` for `invoices/...` under `ruleSets/...` (names as the API
    gives them), active, under `standard`, of 100.00 USD unless `fields` say otherwise."""
    base = DunningCase(
        id=new_id("dun"),
        customer_id=customer.removeprefix("customers/"),
        invoice_id=invoice.removeprefix("invoices/"),
        subscription_id=None,
        clock_id=None,
        policy="standard",
        rule_set=rule_set.removeprefix("ruleSets/"),
        status=CaseStatus.ACTIVE,
        started_at=started,
        amount_minor=10_000,
        currency="USD",
        time_zone="UTC",
        first_decline_code="insufficient_funds",
        decline_code="insufficient_funds",
        created_at=started,
        updated_at=started,
    )
    return replace(base, **fields)


def insert_cases(database_url: str, tenant_id: str, cases: list[DunningCase]) -> None:
    """Writes the cases through the SQL store into the server's database (its async URL, or
    the sync one the tests read rows with)."""

    async def main() -> None:
        url = database_url
        if url.startswith("sqlite:///"):
            url = "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
        engine = create_engine(url)
        try:
            async with SqlStore(engine).write(None) as tx:
                for case in cases:
                    await tx.dunning_cases.insert(tenant_id, case)
        finally:
            await engine.dispose()

    asyncio.run(main())


def rid() -> str:
    return uuid.uuid4().hex

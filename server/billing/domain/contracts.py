"""Sales deals as billing applies them: the deal's lines, and what an amendment does to the
subscriptions of the revision before. Pure; ApplyContract runs the steps."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from billing.domain.errors import FieldViolation, InvalidArgument, InvalidState
from billing.domain.subscriptions import Phase

DEAL_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
LINE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
ENDED_REASON = "contract_amended"  # the reason code of a line an amendment leaves out


@dataclass(frozen=True)
class ContractLine:
    line_id: str
    plan: str  # plans/<code>
    quantities: Mapping[str, int]
    price_overrides: Mapping[str, str]
    phases: tuple[Phase, ...]
    subscription_id: str = ""  # set once the line is billed

    def fixed_terms(self) -> tuple[object, ...]:
        """What may not change on a line once it is billed."""
        return (dict(self.price_overrides), self.phases)


@dataclass(frozen=True)
class Contract:
    deal_id: str
    customer_id: str
    revision: int
    start_time: datetime | None
    term_periods: int
    auto_renew: bool
    lines: tuple[ContractLine, ...]
    body_hash: str = ""  # of the revision's terms as first sent
    updated_at: datetime | None = None

    @property
    def name(self) -> str:
        return f"contracts/{self.deal_id}"


@dataclass(frozen=True)
class Amendment:
    """From one revision to the next: lines to create, to change, to end."""

    creates: tuple[ContractLine, ...]
    changes: tuple[tuple[ContractLine, ContractLine], ...]  # (as billed, as now agreed)
    ends: tuple[ContractLine, ...]
    keeps: tuple[ContractLine, ...]


def check(contract: Contract) -> None:
    """The deal's shape, every problem named by field."""
    problems: list[FieldViolation] = []
    if not DEAL_ID.fullmatch(contract.deal_id):
        problems.append(
            FieldViolation("contract.deal_id", "must be 1-128 letters, digits, '.', '_' or '-'")
        )
    if contract.revision < 1:
        problems.append(FieldViolation("contract.revision", "must be at least 1"))
    if contract.term_periods < 0:
        problems.append(FieldViolation("contract.term_periods", "must not be negative"))
    if not contract.lines:
        problems.append(FieldViolation("contract.lines", "a deal has at least one line"))
    seen: set[str] = set()
    for i, line in enumerate(contract.lines):
        if not LINE_ID.fullmatch(line.line_id):
            problems.append(
                FieldViolation(
                    f"contract.lines[{i}].line_id", "must be 1-64 letters, digits, '.', '_' or '-'"
                )
            )
        elif line.line_id in seen:
            problems.append(
                FieldViolation(f"contract.lines[{i}].line_id", f"{line.line_id} appears twice")
            )
        seen.add(line.line_id)
        if not line.plan.startswith("plans/") or len(line.plan) == len("plans/"):
            problems.append(FieldViolation(f"contract.lines[{i}].plan", "must be plans/<code>"))
    if problems:
        raise InvalidArgument(problems)


def amend(billed: Contract | None, agreed: Contract) -> Amendment:
    """What applying `agreed` over the revision `billed` does (None: the deal is new)."""
    if billed is None:
        return Amendment(agreed.lines, (), (), ())
    if agreed.customer_id != billed.customer_id:
        raise InvalidArgument.single(
            "contract.customer", f"is customers/{billed.customer_id} on every revision"
        )
    before = {line.line_id: line for line in billed.lines}
    creates: list[ContractLine] = []
    changes: list[tuple[ContractLine, ContractLine]] = []
    keeps: list[ContractLine] = []
    for i, line in enumerate(agreed.lines):
        old = before.pop(line.line_id, None)
        if old is None:
            creates.append(line)
            continue
        if line.fixed_terms() != old.fixed_terms():
            raise InvalidState(
                f"contract.lines[{i}] ({line.line_id}): negotiated prices and ramps are fixed"
                " for a line's life; end the line and add one with a new line_id",
                "CONTRACT_LINE_TERMS_FIXED",
            )
        kept = replace(line, subscription_id=old.subscription_id)
        if line.plan != old.plan or dict(line.quantities) != dict(old.quantities):
            changes.append((old, kept))
        else:
            keeps.append(kept)
    return Amendment(tuple(creates), tuple(changes), tuple(before.values()), tuple(keeps))


def contract_terms(contract: Contract) -> dict[str, Any]:
    """The revision's terms and lines as JSON-able data (kept, and replayed to callers)."""
    return {
        "start_time": contract.start_time.isoformat() if contract.start_time else None,
        "term_periods": contract.term_periods,
        "auto_renew": contract.auto_renew,
        "lines": [
            {
                "line_id": line.line_id,
                "plan": line.plan,
                "quantities": dict(line.quantities),
                "price_overrides": dict(line.price_overrides),
                "phases": [
                    {
                        "start_period": p.start_period,
                        "plan_code": p.plan_code,
                        "quantities": dict(p.quantities),
                        "price_overrides": dict(p.price_overrides),
                    }
                    for p in line.phases
                ],
                "subscription_id": line.subscription_id,
            }
            for line in contract.lines
        ],
    }


def contract_from_terms(
    deal_id: str,
    customer_id: str,
    revision: int,
    terms: Mapping[str, Any],
    body_hash: str,
    updated_at: datetime | None,
) -> Contract:
    start = terms["start_time"]
    return Contract(
        deal_id=deal_id,
        customer_id=customer_id,
        revision=revision,
        start_time=datetime.fromisoformat(start) if start else None,
        term_periods=terms["term_periods"],
        auto_renew=terms["auto_renew"],
        lines=tuple(
            ContractLine(
                line["line_id"],
                line["plan"],
                line["quantities"],
                line["price_overrides"],
                tuple(
                    Phase(p["start_period"], p["plan_code"], p["quantities"], p["price_overrides"])
                    for p in line["phases"]
                ),
                line["subscription_id"],
            )
            for line in terms["lines"]
        ),
        body_hash=body_hash,
        updated_at=updated_at,
    )

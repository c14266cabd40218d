"""GetDunningReport (ADR 0043): per currency, what is in dunning, recovered and lost, in
total, by the last step cases reached and by the decline that opened them.

The database sums the cases (one row per group, however many cases); this module names the
step groups from each case's own policy and merges groups that share a name (two policies'
`payment_failed` steps are one row). Raises InvalidArgument (a window that ends before it
starts) and InvalidState (more groups than a report holds).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from billing.app.dunning_ports import CaseSums, DeclineGroup, ReportWindow, StepGroup
from billing.app.dunning_views import CasePolicies
from billing.app.ports import Transaction
from billing.app.rules import RuleUseCases
from billing.domain.dunning import step_name
from billing.domain.errors import InvalidArgument, InvalidState

# Groups a report reads per grouping: currencies x policies x steps stays far below this;
# past it, a narrower window is the answer.
REPORT_GROUPS_MAX = 5000
OPENED = "opened"  # the step key of cases that reached no step yet


@dataclass(frozen=True, slots=True)
class ReportRow:
    currency: str
    key: str  # a step's name or `opened`, a decline code; empty in a total
    sums: CaseSums


@dataclass(frozen=True, slots=True)
class DunningReport:
    totals: tuple[ReportRow, ...]  # per currency
    by_step: tuple[ReportRow, ...]  # per currency, in the order steps are reached
    by_decline: tuple[ReportRow, ...]  # per currency, by decline code


def check_window(window: ReportWindow) -> None:
    if window.start is not None and window.end is not None and window.end <= window.start:
        raise InvalidArgument.single("end_time", "must be after start_time")


async def dunning_report(
    tx: Transaction, rules: RuleUseCases, tenant_id: str, window: ReportWindow
) -> DunningReport:
    steps = await tx.dunning_cases.step_groups(tenant_id, window, REPORT_GROUPS_MAX + 1)
    declines = await tx.dunning_cases.decline_groups(tenant_id, window, REPORT_GROUPS_MAX + 1)
    if len(steps) > REPORT_GROUPS_MAX or len(declines) > REPORT_GROUPS_MAX:
        raise InvalidState(
            f"the window holds more than {REPORT_GROUPS_MAX} report groups; ask for a shorter one",
            "DUNNING_REPORT_TOO_WIDE",
        )
    policies = CasePolicies(rules, tx, tenant_id)
    named = [(await _step_key(policies, group), group) for group in steps]
    return DunningReport(_totals(declines), _by_step(named), _by_decline(declines))


async def _step_key(policies: CasePolicies, group: StepGroup) -> str:
    if group.steps_done == 0:
        return OPENED
    index = group.steps_done - 1
    policy = await policies.named(group.rule_set, group.policy)
    if policy is None or index >= len(policy.steps):  # never: cases start under stored rules
        return f"steps[{index}]"
    return step_name(policy, index)


def _totals(declines: Iterable[DeclineGroup]) -> tuple[ReportRow, ...]:
    # Every case has exactly one first decline code: the decline groups add up to all cases.
    totals: dict[str, CaseSums] = {}
    for group in declines:
        totals[group.currency] = _add(totals.get(group.currency), group.sums)
    return tuple(ReportRow(currency, "", sums) for currency, sums in sorted(totals.items()))


def _by_step(named: Iterable[tuple[str, StepGroup]]) -> tuple[ReportRow, ...]:
    merged: dict[tuple[str, str], CaseSums] = {}
    reached: dict[tuple[str, str], int] = {}  # how far a step is, for the order
    for key, group in named:
        at = (group.currency, key)
        merged[at] = _add(merged.get(at), group.sums)
        reached[at] = min(reached.get(at, group.steps_done), group.steps_done)
    order = sorted(merged, key=lambda at: (at[0], reached[at], at[1]))
    return tuple(ReportRow(currency, key, merged[(currency, key)]) for currency, key in order)


def _by_decline(declines: Iterable[DeclineGroup]) -> tuple[ReportRow, ...]:
    ordered = sorted(declines, key=lambda g: (g.currency, g.decline_code))
    return tuple(ReportRow(g.currency, g.decline_code, g.sums) for g in ordered)


def _add(total: CaseSums | None, sums: CaseSums) -> CaseSums:
    return sums if total is None else total + sums

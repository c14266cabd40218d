"""Finance's pause of a dunning case and its resumption (ADR 0043, PauseDunning and
ResumeDunning): pure transitions of one case.

A pause stops the case where it is; the resumption adds the time paused to the case's
`shift`, so every retry and step still to come moves later by exactly that time (the
timeline is computed from `started_at + shift`, never stored ahead).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from billing.domain.dunning import CaseStatus, DunningCase, EntryKind, TimelineEntry

# Pause and resume entries a timeline keeps (the latest): the timeline is bounded by the
# policy's size, and pausing and resuming again and again must not grow it without end.
# What was dropped is still counted in `shift`.
PAUSE_ENTRIES_MAX = 40
_PAUSE_KINDS = frozenset({EntryKind.PAUSED, EntryKind.RESUMED})


def pause_case(case: DunningCase, at: datetime, reason: str) -> DunningCase:
    """An active case paused at `at`. Its scheduled item goes stale (a paused case does
    nothing), so `next_at` is cleared until the resumption schedules the next one."""
    if case.status is not CaseStatus.ACTIVE:
        raise ValueError(f"{case.name} is {case.status.value}, not active")
    entry = TimelineEntry(at, EntryKind.PAUSED, detail=reason or "paused")
    return replace(
        case,
        status=CaseStatus.PAUSED,
        paused_at=at,
        next_at=None,
        timeline=_bounded((*case.timeline, entry)),
        updated_at=at,
        version=case.version + 1,
    )


def resume_case(case: DunningCase, at: datetime) -> DunningCase:
    """A paused case active again at `at`, its `shift` grown by the time it was paused (a
    clock set back before the pause counts as no time). The caller schedules its next
    event."""
    if case.status is not CaseStatus.PAUSED:
        raise ValueError(f"{case.name} is {case.status.value}, not paused")
    paused_for = max(at - (case.paused_at or at), timedelta(0))
    entry = TimelineEntry(at, EntryKind.RESUMED, detail=f"after {duration_words(paused_for)}")
    return replace(
        case,
        status=CaseStatus.ACTIVE,
        paused_at=None,
        shift=case.shift + paused_for,
        timeline=_bounded((*case.timeline, entry)),
        updated_at=at,
        version=case.version + 1,
    )


def duration_words(span: timedelta) -> str:
    """'3 days 4 hours', '15 minutes', '0 minutes': whole units, the largest first."""
    minutes = int(span.total_seconds()) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [
        f"{n} {unit}{'' if n == 1 else 's'}"
        for n, unit in ((days, "day"), (hours, "hour"), (minutes, "minute"))
        if n
    ]
    return " ".join(parts) or "0 minutes"


def _bounded(timeline: tuple[TimelineEntry, ...]) -> tuple[TimelineEntry, ...]:
    marks = [i for i, entry in enumerate(timeline) if entry.kind in _PAUSE_KINDS]
    dropped = set(marks[:-PAUSE_ENTRIES_MAX])
    return tuple(e for i, e in enumerate(timeline) if i not in dropped)

"""What a stream's events became, in bounded memory: three counts and the first refused
events, however long the stream (ADR 0022). A batch's outcomes are added and then dropped."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from billing.app.usage_intake import EVENT_ID_MAX, Outcome

ACCEPTED, DUPLICATE, REFUSED = "accepted", "duplicate", "refused"
REFUSED_LISTED_MAX = 1_000  # refused events a stream's answer lists; the rest are counted
REASON_CHARS_MAX = 256  # a reason may quote the event's fields
ELLIPSIS = "…"


def shown(text: str, limit: int) -> str:
    """`text` as an answer echoes it: cut to `limit` characters, with an ellipsis if cut."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def echoed(outcome: Outcome) -> Outcome:
    """The outcome as it is answered: an id past EVENT_ID_MAX was refused, so its first
    characters name it well enough; a reason is cut so a reply stays small."""
    if len(outcome.id) <= EVENT_ID_MAX and len(outcome.reason) <= REASON_CHARS_MAX:
        return outcome
    return Outcome(
        outcome.position,
        shown(outcome.id, EVENT_ID_MAX + 1),
        outcome.outcome,
        shown(outcome.reason, REASON_CHARS_MAX),
    )


@dataclass
class StreamTally:
    accepted: int = 0
    duplicates: int = 0
    refused: int = 0
    listed: list[Outcome] = field(default_factory=list)  # the first refused, in order

    @property
    def events(self) -> int:
        return self.accepted + self.duplicates + self.refused

    @property
    def refused_unlisted(self) -> int:
        return self.refused - len(self.listed)

    def add(self, outcomes: Iterable[Outcome]) -> None:
        for o in outcomes:
            if o.outcome == ACCEPTED:
                self.accepted += 1
            elif o.outcome == DUPLICATE:
                self.duplicates += 1
            else:
                self.refused += 1
                if len(self.listed) < REFUSED_LISTED_MAX:
                    self.listed.append(echoed(o))

    def summary(self) -> str:
        return (
            f"{self.accepted:,} accepted, {self.duplicates:,} duplicates, {self.refused:,} refused"
        )

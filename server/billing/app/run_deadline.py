"""How long a bill run or a clock advance may keep its caller waiting.

Both stream progress until the work in their scope is done. They stop at the caller's
deadline, a little before it so that the caller reads why (DEADLINE_EXCEEDED with what is
left) rather than its own cut-off, and at the server's maximum
(`BILLING_DUE_WORK_CALL_MAX_SECONDS`) whatever the caller asked: a call without a deadline
never holds a stream, a connection and a slot of the worker open for ever. What was done is
committed; the same request_id continues.
"""

from __future__ import annotations

import time

from billing.domain.errors import DeadlineExceeded

DEADLINE_MARGIN_S = 0.5  # answered this long before the caller's deadline
CALL_MAX_S = 3600.0  # the server's maximum for one call, by default


class RunDeadline:
    def __init__(self, caller_remaining_s: float | None, max_s: float = CALL_MAX_S) -> None:
        allowed = max_s
        if caller_remaining_s is not None:
            allowed = min(allowed, max(caller_remaining_s - DEADLINE_MARGIN_S, 0.0))
        self.seconds = allowed
        self._until = time.monotonic() + allowed

    def passed(self) -> bool:
        return time.monotonic() >= self._until

    def exceeded(self, what: str, remaining: int, parked: int) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"{what} did not finish within {self.seconds:.1f} s: {remaining} items still due"
            f" ({parked} parked); what was done is committed, and the same request_id"
            " continues",
            metadata={"remaining": str(remaining), "parked": str(parked)},
        )

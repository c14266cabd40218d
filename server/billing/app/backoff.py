"""Retry delays: exponential backoff with full jitter, capped.

Every retry loop of the server (a write's transaction after a serialization failure, a due
item after its handler raised) waits `full_jitter(attempt, ...)` before trying again. The
delay doubles with each attempt up to a cap, and is drawn uniformly below that bound ("full
jitter"), so callers that collided once do not collide again in lockstep, and a failing item
never spins. Bounded attempts are the caller's business: the delay alone never stops a loop.
"""

from __future__ import annotations

import random
from collections.abc import Callable


def backoff_bound(attempt: int, base_s: float, cap_s: float) -> float:
    """The most a retry after `attempt` failures (1 = the first) waits: base · 2^(attempt-1),
    at most `cap_s`."""
    exponent = min(max(attempt - 1, 0), 62)  # 2**62 · base is past any cap; no overflow
    return float(min(cap_s, base_s * 2**exponent))


def full_jitter(
    attempt: int, base_s: float, cap_s: float, draw: Callable[[], float] = random.random
) -> float:
    """A delay drawn uniformly in [0, backoff_bound(attempt, base_s, cap_s))."""
    return draw() * backoff_bound(attempt, base_s, cap_s)

"""Dunning's due-work kinds (ADR 0043), apart so payments can schedule them without
importing the dunning machinery."""

from __future__ import annotations

# subject: the failed attempt. Scheduled in the outcome transaction of a failed or
# requires-action attempt of source automatic_collection or dunning_retry: opens the case for
# its invoice, or applies the decline to the open one (a hard decline stops the retries).
DUNNING_ATTEMPT_FAILED = "dunning_attempt_failed"
# subject: the case. The one scheduled item of an open case, due at `next_event`: makes the
# retry (in prepare, outside any transaction) or does the step, then schedules the next.
DUNNING_STEP = "dunning_step"
# subject: the case; payload names the template and the step. Sends one notice (email or a
# plugin's channel) after the commit that decided it, like invoice delivery.
SEND_DUNNING_NOTICE = "send_dunning_notice"

DUNNING_KINDS = frozenset({DUNNING_ATTEMPT_FAILED, DUNNING_STEP, SEND_DUNNING_NOTICE})

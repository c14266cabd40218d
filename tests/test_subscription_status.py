"""The subscription status machine: the table, and the one function every change goes through."""

from __future__ import annotations

import pytest

from billing.domain.errors import InvalidState
from billing.domain.subscriptions import INITIAL, TRANSITIONS, Status, can_move, moved

S = Status
# The table written out by hand: (from, to) pairs that are allowed, and nothing else.
ALLOWED = {
    (S.INCOMPLETE, S.ACTIVE),
    (S.INCOMPLETE, S.CANCELED),
    (S.TRIALING, S.ACTIVE),
    (S.TRIALING, S.PAST_DUE),
    (S.TRIALING, S.PAUSED),
    (S.TRIALING, S.CANCELED),
    (S.ACTIVE, S.PAST_DUE),
    (S.ACTIVE, S.PAUSED),
    (S.ACTIVE, S.CANCELED),
    (S.PAST_DUE, S.ACTIVE),
    (S.PAST_DUE, S.UNPAID),
    (S.PAST_DUE, S.PAUSED),
    (S.PAST_DUE, S.CANCELED),
    (S.UNPAID, S.ACTIVE),
    (S.UNPAID, S.CANCELED),
    (S.PAUSED, S.ACTIVE),
    (S.PAUSED, S.CANCELED),
}


def test_every_status_has_a_row():
    assert set(TRANSITIONS) == set(Status)


@pytest.mark.parametrize("current", list(Status))
@pytest.mark.parametrize("target", list(Status))
def test_the_table_allows_exactly_the_listed_moves(current, target):
    assert can_move(current, target) == ((current, target) in ALLOWED)
    if current == target:
        assert moved(current, target) == target  # staying put is no move
    elif (current, target) in ALLOWED:
        assert moved(current, target) == target
    else:
        with pytest.raises(InvalidState) as raised:
            moved(current, target)
        assert raised.value.reason == "SUBSCRIPTION_TRANSITION"
        assert f"a {current.value} subscription cannot become {target.value}" in str(raised.value)


def test_canceled_is_final():
    assert TRANSITIONS[S.CANCELED] == frozenset()


def test_every_status_is_reachable_from_a_new_subscription():
    # Dunning needs past_due and unpaid: both must be reachable, as must every other status.
    seen, frontier = set(INITIAL), list(INITIAL)
    while frontier:
        for target in TRANSITIONS[frontier.pop()]:
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(Status)


def test_dunning_paths():
    # active -> past_due -> unpaid -> active (paid late) and past_due -> canceled.
    assert moved(moved(moved(S.ACTIVE, S.PAST_DUE), S.UNPAID), S.ACTIVE) == S.ACTIVE
    assert moved(S.PAST_DUE, S.CANCELED) == S.CANCELED
    with pytest.raises(InvalidState):
        moved(S.UNPAID, S.PAUSED)

"""The case loop's table: every action from every state, legal or refused with the state named."""

from __future__ import annotations

import pytest

from core.errors import Conflict, InvalidInput
from events.lifecycle import TERMINAL, TRANSITIONS, actions_from, next_state
from events.types import CaseAction, CaseState

S, A = CaseState, CaseAction

# The loop written out by hand (not derived from TRANSITIONS), so the table is checked, not echoed.
LEGAL = {
    (S.REPORTED, A.REGISTER): S.REGISTERED,
    (S.REGISTERED, A.DISPATCH): S.DISPATCHED,
    (S.ESCALATED, A.DISPATCH): S.DISPATCHED,
    (S.REOPENED, A.DISPATCH): S.DISPATCHED,
    (S.DISPATCHED, A.DISPATCH): S.DISPATCHED,  # handed to another holder before anyone accepted
    (S.DISPATCHED, A.ACCEPT): S.ACCEPTED,
    (S.ACCEPTED, A.START): S.IN_PROGRESS,
    (S.ACCEPTED, A.RESOLVE): S.RESOLVED,
    (S.IN_PROGRESS, A.RESOLVE): S.RESOLVED,
    (S.RESOLVED, A.VERIFY): S.VERIFIED,
    (S.VERIFIED, A.CLOSE): S.CLOSED,
    (S.RESOLVED, A.REOPEN): S.REOPENED,
    (S.VERIFIED, A.REOPEN): S.REOPENED,
    (S.REPORTED, A.DISMISS): S.DISMISSED,
    (S.REGISTERED, A.DISMISS): S.DISMISSED,
    (S.DISPATCHED, A.DISMISS): S.DISMISSED,
    (S.ESCALATED, A.DISMISS): S.DISMISSED,
    (S.REGISTERED, A.ESCALATE): S.ESCALATED,
    (S.DISPATCHED, A.ESCALATE): S.ESCALATED,
    (S.ACCEPTED, A.ESCALATE): S.ESCALATED,
    (S.IN_PROGRESS, A.ESCALATE): S.ESCALATED,
    (S.ESCALATED, A.ESCALATE): S.ESCALATED,
    (S.REOPENED, A.ESCALATE): S.ESCALATED,
}
ALL = [(state, action) for state in CaseState for action in CaseAction]


@pytest.mark.parametrize(("state", "action"), [p for p in ALL if p in LEGAL])
def test_legal_moves(state: CaseState, action: CaseAction) -> None:
    assert next_state(state, action, note="because") == LEGAL[state, action]


@pytest.mark.parametrize(("state", "action"), [p for p in ALL if p not in LEGAL])
def test_every_illegal_move_is_refused_naming_the_state(state: CaseState, action: CaseAction) -> None:
    with pytest.raises(Conflict) as err:
        next_state(state, action, note="because")
    assert f"cannot {action.value} a case that is {state.value}" in str(err.value)


def test_final_states_allow_nothing() -> None:
    assert {S.CLOSED, S.DISMISSED} == TERMINAL
    for state in TERMINAL:
        assert not any(state in move.sources for move in TRANSITIONS.values())
        with pytest.raises(Conflict, match="it is final"):
            next_state(state, A.REOPEN, note="x")


@pytest.mark.parametrize("action", [A.RESOLVE, A.DISMISS, A.REOPEN])
def test_some_moves_need_a_reason(action: CaseAction) -> None:
    state = next(s for s, a in LEGAL if a is action)
    with pytest.raises(InvalidInput, match="note"):
        next_state(state, action, note="  ")


@pytest.mark.parametrize("state", list(CaseState))
def test_actions_from_a_state_are_exactly_its_legal_moves(state: CaseState) -> None:
    assert set(actions_from(state)) == {a for (s, a) in LEGAL if s is state}

"""The case loop as a table: which action may move a case from which state, and where it leads.

Pure and table-driven so that every legal and every illegal move can be tested without a database.
The loop is GB/T 30428's (report → register → dispatch → handle → feedback → verify → close) with the
side states dismissed (false alarm or not a matter), escalated (taken up a level) and reopened
(verification failed).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import Conflict, InvalidInput, Issue
from events.types import CaseAction, CaseState

S = CaseState
A = CaseAction


@dataclass(frozen=True, slots=True)
class Move:
    sources: frozenset[CaseState]
    target: CaseState
    needs_note: bool = False
    """Resolving needs feedback, dismissing and reopening need a reason."""


BEFORE_RESOLVED = frozenset(
    {S.REPORTED, S.REGISTERED, S.DISPATCHED, S.ACCEPTED, S.IN_PROGRESS, S.ESCALATED, S.REOPENED}
)

TRANSITIONS: dict[CaseAction, Move] = {
    A.REGISTER: Move(frozenset({S.REPORTED}), S.REGISTERED),
    # Dispatched again before anyone accepted: handed to another holder (a partner unit, another worker).
    A.DISPATCH: Move(frozenset({S.REGISTERED, S.DISPATCHED, S.ESCALATED, S.REOPENED}), S.DISPATCHED),
    A.ACCEPT: Move(frozenset({S.DISPATCHED}), S.ACCEPTED),
    A.START: Move(frozenset({S.ACCEPTED}), S.IN_PROGRESS),
    A.RESOLVE: Move(frozenset({S.ACCEPTED, S.IN_PROGRESS}), S.RESOLVED, needs_note=True),
    A.VERIFY: Move(frozenset({S.RESOLVED}), S.VERIFIED),
    A.CLOSE: Move(frozenset({S.VERIFIED}), S.CLOSED),
    A.REOPEN: Move(frozenset({S.RESOLVED, S.VERIFIED}), S.REOPENED, needs_note=True),
    A.DISMISS: Move(frozenset({S.REPORTED, S.REGISTERED, S.DISPATCHED, S.ESCALATED}), S.DISMISSED, needs_note=True),
    A.ESCALATE: Move(
        frozenset({S.REGISTERED, S.DISPATCHED, S.ACCEPTED, S.IN_PROGRESS, S.ESCALATED, S.REOPENED}), S.ESCALATED
    ),
}

TERMINAL = frozenset({S.CLOSED, S.DISMISSED})
OPEN = frozenset(CaseState) - TERMINAL
OVERDUE_CAN_ESCALATE = BEFORE_RESOLVED - {S.REPORTED}
"""A case nobody has registered yet is the centre's, not the grid's: it is not escalated by the clock."""


def actions_from(current: CaseState) -> list[CaseAction]:
    """The actions the table allows from ``current``, in the table's order (none from a final state)."""
    return [a for a, m in TRANSITIONS.items() if current in m.sources]


def next_state(current: CaseState, action: CaseAction, note: str = "") -> CaseState:
    """Where ``action`` takes a case in ``current``; refuses anything the table does not allow."""
    move = TRANSITIONS[action]
    if current not in move.sources:
        allowed = sorted(a.value for a in actions_from(current))
        hint = f"; allowed: {', '.join(allowed)}" if allowed else "; it is final"
        raise Conflict(f"cannot {action.value} a case that is {current.value}{hint}").with_code(
            "transition_refused", action=action.value, state=current.value
        )
    if move.needs_note and not note.strip():
        raise InvalidInput(Issue("note", f"{action.value} needs a note saying why"))
    return move.target

"""Filters, keyset pagination and figures: the read side of alerts and cases.

Lists are keyset-paginated (``WHERE (key, id) < (last key, last id) ORDER BY key, id LIMIT n``) so a
page deep in a million alerts costs what the first page costs; each filter has an index whose
leading columns match it (see `events.orm`).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select, true, tuple_
from sqlalchemy.orm import Session

from camera_config.db import UtcDateTime
from camera_config.errors import InvalidInput, Issue
from detectors.types import HazardType, Severity
from events.orm import ALERTS, CASES, AlertRow, CaseRow
from events.types import (
    AlertStatus,
    CaseSource,
    CaseState,
    Level,
    RuleFigures,
    TriageClass,
    UnitFigures,
)

MAX_LIMIT = 500
CaseOrder = Literal["deadline", "newest"]


@dataclass(frozen=True, slots=True)
class AlertFilter:
    camera_id: str | None = None
    grid_id: str | None = None
    community_id: str | None = None
    street_id: str | None = None
    status: AlertStatus | None = None
    hazard: HazardType | None = None
    severity: Severity | None = None
    case_id: int | None = None
    grid_ids: frozenset[str] | None = None
    """Only alerts of these grids (a caller's scope); None: any grid."""
    since: datetime | None = None
    """Received at or after."""
    until: datetime | None = None
    """Received before."""


@dataclass(frozen=True, slots=True)
class CaseFilter:
    states: tuple[CaseState, ...] = ()
    """Any of these; empty: any state (subject to ``open``)."""
    open: bool | None = None
    """True: not closed or dismissed; False: only those; None: both."""
    grid_id: str | None = None
    community_id: str | None = None
    street_id: str | None = None
    assignee_id: str | None = None
    triage: TriageClass | None = None
    level: Level | None = None
    source: CaseSource | None = None
    hazard: HazardType | None = None
    camera_id: str | None = None
    grid_ids: frozenset[str] | None = None
    """Only cases of these grids (a caller's scope); None: any grid."""
    overdue_at: datetime | None = None
    """Only open cases whose deadline passed before this moment."""
    late_at: datetime | None = None
    """Only open cases whose first deadline (``due_at``) passed before this moment."""
    on_time_at: datetime | None = None
    """The complement of ``late_at``: cases closed, or still within their first deadline at this moment."""
    since: datetime | None = None
    """Created at or after."""
    until: datetime | None = None
    """Created before."""


def encode_cursor(key: datetime, id_: int) -> str:
    raw = json.dumps([key.isoformat(), id_]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        iso, id_ = json.loads(raw)
        key = datetime.fromisoformat(iso)
        if key.tzinfo is None or not isinstance(id_, int):
            raise ValueError
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise InvalidInput(Issue("cursor", "not a cursor this list handed out")) from None
    return key, id_


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(Issue("limit", f"must be 1 to {MAX_LIMIT}, got {limit}"))
    return limit


def alert_query(f: AlertFilter, cursor: str | None, limit: int) -> Select[Any]:
    """Newest first; the caller fetches ``limit + 1`` to know whether there is a next page."""
    conds: list[ColumnElement[bool]] = []
    for col, value in (
        (AlertRow.camera_id, f.camera_id),
        (AlertRow.grid_id, f.grid_id),
        (AlertRow.community_id, f.community_id),
        (AlertRow.street_id, f.street_id),
        (AlertRow.status, f.status),
        (AlertRow.hazard, f.hazard),
        (AlertRow.severity, f.severity),
        (AlertRow.case_id, f.case_id),
    ):
        if value is not None:
            conds.append(col == value)
    if f.grid_ids is not None:
        conds.append(AlertRow.grid_id.in_(sorted(f.grid_ids)))
    if f.since is not None:
        conds.append(AlertRow.received_at >= f.since)
    if f.until is not None:
        conds.append(AlertRow.received_at < f.until)
    if cursor is not None:
        key, id_ = decode_cursor(cursor)
        conds.append(tuple_(AlertRow.received_at, AlertRow.id) < tuple_(_at(key), id_))
    return (
        select(ALERTS)  # plain rows, not ORM objects: a page is read, never written back
        .where(and_(True, *conds))
        .order_by(AlertRow.received_at.desc(), AlertRow.id.desc())
        .limit(check_limit(limit) + 1)
    )


def case_query(f: CaseFilter, cursor: str | None, limit: int, order: CaseOrder) -> Select[Any]:
    """``deadline``: most urgent first (the board); ``newest``: most recently created first."""
    conds: list[ColumnElement[bool]] = []
    if f.states:
        conds.append(CaseRow.state.in_([s.value for s in f.states]))
    if f.open is not None:
        conds.append(CaseRow.is_open == f.open)
    for col, value in (
        (CaseRow.grid_id, f.grid_id),
        (CaseRow.community_id, f.community_id),
        (CaseRow.street_id, f.street_id),
        (CaseRow.assignee_id, f.assignee_id),
        (CaseRow.triage, f.triage),
        (CaseRow.level, f.level),
        (CaseRow.source, f.source),
        (CaseRow.hazard, f.hazard),
        (CaseRow.camera_id, f.camera_id),
    ):
        if value is not None:
            conds.append(col == value)
    if f.grid_ids is not None:
        conds.append(CaseRow.grid_id.in_(sorted(f.grid_ids)))
    if f.overdue_at is not None:
        conds += [CaseRow.is_open == true(), CaseRow.deadline_at < f.overdue_at]
    if f.late_at is not None:
        conds += [CaseRow.is_open == true(), CaseRow.due_at < f.late_at]
    if f.on_time_at is not None:
        conds.append(or_(CaseRow.is_open != true(), CaseRow.due_at >= f.on_time_at))
    if f.since is not None:
        conds.append(CaseRow.created_at >= f.since)
    if f.until is not None:
        conds.append(CaseRow.created_at < f.until)
    key_col = CaseRow.deadline_at if order == "deadline" else CaseRow.created_at
    if cursor is not None:
        key, id_ = decode_cursor(cursor)
        pair = tuple_(key_col, CaseRow.id)
        conds.append(pair > tuple_(_at(key), id_) if order == "deadline" else pair < tuple_(_at(key), id_))
    ordering = (key_col.asc(), CaseRow.id.asc()) if order == "deadline" else (key_col.desc(), CaseRow.id.desc())
    return select(CASES).where(and_(True, *conds)).order_by(*ordering).limit(check_limit(limit) + 1)


def _at(value: datetime) -> Any:
    """A bound datetime typed like the columns, so SQLite compares it in the stored text form."""
    return literal(value, UtcDateTime())


# ----------------------------------------------------------------------------- figures


def p90(values: Sequence[float]) -> float | None:
    """Nearest-rank 90th percentile: the smallest value with at least 90 % of values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(0.9 * len(ordered)), 1) - 1]


def unit_figures(
    level: Level,
    unit_id: str,
    cases: Sequence[tuple[str, datetime, datetime | None, datetime]],
    rules: Sequence[RuleFigures] = (),
) -> UnitFigures:
    """Figures of one unit from its cases as (state, created_at, closed_at, due_at)."""
    received = len(cases)
    closed = [(created, closed_at, due) for state, created, closed_at, due in cases if state == CaseState.CLOSED]
    dismissed = sum(1 for state, *_ in cases if state == CaseState.DISMISSED)
    durations = [(c - created).total_seconds() for created, c, _ in closed if c is not None]
    on_time = sum(1 for _, c, due in closed if c is not None and c <= due)
    countable = received - dismissed
    return UnitFigures(
        level=level,
        unit_id=unit_id,
        received=received,
        closed=len(closed),
        dismissed=dismissed,
        closed_on_time=on_time,
        completion_rate=len(closed) / countable if countable else None,
        on_time_rate=on_time / len(closed) if closed else None,
        mean_close_s=sum(durations) / len(durations) if durations else None,
        p90_close_s=p90(durations),
        rules=tuple(sorted(rules, key=lambda r: r.hazard.value)),
    )


def figures(s: Session, level: Level, since: datetime, until: datetime) -> list[UnitFigures]:
    """Per unit of ``level``, for cases created and alerts received in [since, until)."""
    if until <= since:
        raise InvalidInput(Issue("until", "must be after since"))
    case_unit = {Level.GRID: CaseRow.grid_id, Level.COMMUNITY: CaseRow.community_id, Level.STREET: CaseRow.street_id}
    alert_unit = {
        Level.GRID: AlertRow.grid_id,
        Level.COMMUNITY: AlertRow.community_id,
        Level.STREET: AlertRow.street_id,
    }
    per_unit: dict[str, list[tuple[str, datetime, datetime | None, datetime]]] = defaultdict(list)
    rows = s.execute(
        select(case_unit[level], CaseRow.state, CaseRow.created_at, CaseRow.closed_at, CaseRow.due_at).where(
            CaseRow.created_at >= since, CaseRow.created_at < until
        )
    )
    for unit, state, created, closed_at, due in rows:
        per_unit[unit].append((state, created, closed_at, due))
    dismissed = func.sum(case((AlertRow.status == AlertStatus.DISMISSED.value, 1), else_=0))
    rules: dict[str, list[RuleFigures]] = defaultdict(list)
    for unit, hazard, total, n_dismissed in s.execute(
        select(alert_unit[level], AlertRow.hazard, func.count(), dismissed)
        .where(AlertRow.received_at >= since, AlertRow.received_at < until)
        .group_by(alert_unit[level], AlertRow.hazard)
    ):
        rules[unit].append(RuleFigures(HazardType(hazard), int(total), int(n_dismissed or 0)))
    units = sorted(set(per_unit) | set(rules))
    return [unit_figures(level, u, per_unit.get(u, []), rules.get(u, [])) for u in units]

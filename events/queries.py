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
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Integer, Select, and_, case, func, literal, or_, select, true, tuple_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from core.db import UtcDateTime
from core.errors import InvalidInput, Issue
from detectors.types import HazardType, Severity
from events.orm import ALERTS, CASES, AlertRow, CaseRow
from events.types import (
    AlertBucket,
    AlertFigures,
    AlertStatus,
    CameraAlertCount,
    CaseSource,
    CaseState,
    FigureLevel,
    GridActivity,
    HolderKind,
    Level,
    RuleFigures,
    TriageClass,
    UnitFigures,
    holder_key,
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
    holder: str | None = None
    """Only cases this holder holds now (``company:PC-01``)."""
    holders: frozenset[str] | None = None
    """Only cases held by one of these (a property company's or partner unit's scope); None: any holder."""
    compound_ids: frozenset[str] | None = None
    """Only cases at these compounds (compound staff's scope); None: any."""
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


def _equal(*pairs: tuple[Any, object]) -> list[ColumnElement[bool]]:
    """``column == value`` for every filter that is set (None: not filtered)."""
    return [col == value for col, value in pairs if value is not None]


def alert_query(f: AlertFilter, cursor: str | None, limit: int) -> Select[Any]:
    """Newest first; the caller fetches ``limit + 1`` to know whether there is a next page."""
    conds = _equal(
        (AlertRow.camera_id, f.camera_id),
        (AlertRow.grid_id, f.grid_id),
        (AlertRow.community_id, f.community_id),
        (AlertRow.street_id, f.street_id),
        (AlertRow.status, f.status),
        (AlertRow.hazard, f.hazard),
        (AlertRow.severity, f.severity),
        (AlertRow.case_id, f.case_id),
    )
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
    conds += _equal(
        (CaseRow.grid_id, f.grid_id),
        (CaseRow.community_id, f.community_id),
        (CaseRow.street_id, f.street_id),
        (CaseRow.assignee_id, f.assignee_id),
        (CaseRow.triage, f.triage),
        (CaseRow.level, f.level),
        (CaseRow.source, f.source),
        (CaseRow.hazard, f.hazard),
        (CaseRow.camera_id, f.camera_id),
        (CaseRow.holder, f.holder),
    )
    if f.grid_ids is not None:
        conds.append(CaseRow.grid_id.in_(sorted(f.grid_ids)))
    if f.holders is not None:
        conds.append(CaseRow.holder.in_(sorted(f.holders)))
    if f.compound_ids is not None:
        conds.append(CaseRow.compound_id.in_(sorted(f.compound_ids)))
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
    level: FigureLevel,
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


_HOLDER_KIND = {FigureLevel.PROPERTY_COMPANY: HolderKind.COMPANY, FigureLevel.PARTNER_UNIT: HolderKind.PARTNER}


def holder_figures(s: Session, level: FigureLevel, since: datetime, until: datetime) -> list[UnitFigures]:
    """Per property company or partner unit, for the cases created in [since, until) that it holds now."""
    prefix = holder_key(_HOLDER_KIND[level], "")
    per_unit: dict[str, list[tuple[str, datetime, datetime | None, datetime]]] = defaultdict(list)
    rows = s.execute(
        select(CaseRow.holder, CaseRow.state, CaseRow.created_at, CaseRow.closed_at, CaseRow.due_at).where(
            CaseRow.created_at >= since, CaseRow.created_at < until, CaseRow.holder.startswith(prefix, autoescape=True)
        )
    )
    for holder, state, created, closed_at, due in rows:
        per_unit[holder[len(prefix) :]].append((state, created, closed_at, due))
    return [unit_figures(level, u, per_unit[u]) for u in sorted(per_unit)]


def figures(s: Session, level: FigureLevel, since: datetime, until: datetime) -> list[UnitFigures]:
    """Per unit of ``level``, for cases created and alerts received in [since, until)."""
    if until <= since:
        raise InvalidInput(Issue("until", "must be after since"))
    if level in _HOLDER_KIND:
        return holder_figures(s, level, since, until)
    case_unit = {
        FigureLevel.GRID: CaseRow.grid_id,
        FigureLevel.COMMUNITY: CaseRow.community_id,
        FigureLevel.STREET: CaseRow.street_id,
    }
    alert_unit = {
        FigureLevel.GRID: AlertRow.grid_id,
        FigureLevel.COMMUNITY: AlertRow.community_id,
        FigureLevel.STREET: AlertRow.street_id,
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


def grid_activity(s: Session, since: datetime, grid_ids: frozenset[str] | None = None) -> list[GridActivity]:
    """Cases open now and alerts received since ``since``, per grid (of ``grid_ids``; None: every grid),
    counted in SQL; a grid with neither is left out."""
    open_cases = select(CaseRow.grid_id, func.count()).where(CaseRow.is_open == true())
    alerts = select(AlertRow.grid_id, func.count()).where(AlertRow.received_at >= _at(since))
    if grid_ids is not None:
        wanted = sorted(grid_ids)
        open_cases = open_cases.where(CaseRow.grid_id.in_(wanted))
        alerts = alerts.where(AlertRow.grid_id.in_(wanted))
    cases_of = {grid: int(n) for grid, n in s.execute(open_cases.group_by(CaseRow.grid_id))}
    alerts_of = {grid: int(n) for grid, n in s.execute(alerts.group_by(AlertRow.grid_id))}
    return [GridActivity(g, cases_of.get(g, 0), alerts_of.get(g, 0)) for g in sorted(set(cases_of) | set(alerts_of))]


MAX_BUCKETS = 2000
"""Buckets per answer: 83 days by the hour, 5 years by the day."""


class _Bucket(FunctionElement[int]):
    """Which bucket of ``size_s`` seconds after ``origin_s`` (epoch seconds) a datetime column falls in.

    Origin and size are bound parameters, so one cached statement serves every period and length.
    """

    type = Integer()
    inherit_cache = True
    name = "gw_bucket"

    def __init__(self, column: Any, origin_s: int, size_s: int) -> None:
        super().__init__(column, literal(int(origin_s), Integer()), literal(int(size_s), Integer()))


def _parts(element: _Bucket, compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(c, **kw) for c in element.clauses]


@compiles(_Bucket)
def _bucket_pg(element: _Bucket, compiler: SQLCompiler, **kw: Any) -> str:
    column, origin, size = _parts(element, compiler, **kw)
    return f"CAST(FLOOR((EXTRACT(EPOCH FROM {column}) - {origin}) / {size}) AS INTEGER)"


@compiles(_Bucket, "sqlite")
def _bucket_sqlite(element: _Bucket, compiler: SQLCompiler, **kw: Any) -> str:
    # integer division of non-negative integers: the floor
    column, origin, size = _parts(element, compiler, **kw)
    return f"((CAST(strftime('%s', {column}) AS INTEGER) - {origin}) / {size})"


def alert_figures(
    s: Session, since: datetime, until: datetime, bucket_s: int, grid_ids: frozenset[str] | None = None
) -> AlertFigures:
    """Alerts received in [since, until) per hazard in buckets of ``bucket_s`` starting at ``since``
    (so a ``since`` at local midnight gives local days), and per camera with the false alarms among
    them; counted in SQL. ``grid_ids`` None: every grid."""
    if until <= since:
        raise InvalidInput(Issue("until", "must be after since"))
    n = math.ceil((until - since).total_seconds() / bucket_s)
    if n > MAX_BUCKETS:
        raise InvalidInput(
            Issue("until", f"{n} buckets asked for; at most {MAX_BUCKETS}: a shorter period or bigger buckets")
        )
    conds: list[ColumnElement[bool]] = [AlertRow.received_at >= _at(since), AlertRow.received_at < _at(until)]
    if grid_ids is not None:
        conds.append(AlertRow.grid_id.in_(sorted(grid_ids)))
    origin = math.floor(since.timestamp())
    bucket = _Bucket(AlertRow.received_at, origin, bucket_s).label("bucket")
    counts: list[dict[HazardType, int]] = [{} for _ in range(n)]
    for index, hazard, count in s.execute(
        select(bucket, AlertRow.hazard, func.count()).where(*conds).group_by(bucket, AlertRow.hazard)
    ):
        # whole seconds in SQL: with a fraction in since or until, an alert may land one bucket out
        into = counts[min(max(int(index), 0), n - 1)]
        into[HazardType(hazard)] = into.get(HazardType(hazard), 0) + int(count)
    dismissed = func.sum(case((AlertRow.status == AlertStatus.DISMISSED.value, 1), else_=0))
    cameras = [
        CameraAlertCount(camera_id, int(total), int(n_dismissed or 0))
        for camera_id, total, n_dismissed in s.execute(
            select(AlertRow.camera_id, func.count(), dismissed).where(*conds).group_by(AlertRow.camera_id)
        )
    ]
    cameras.sort(key=lambda c: (-(c.false_alarm_rate or 0.0), -c.alerts, c.camera_id))
    return AlertFigures(
        since=since,
        until=until,
        bucket_s=bucket_s,
        buckets=tuple(
            AlertBucket(since + timedelta(seconds=i * bucket_s), dict(sorted(c.items()))) for i, c in enumerate(counts)
        ),
        cameras=tuple(cameras),
    )

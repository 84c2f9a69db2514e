"""Risk for one coming week, read from the stored alerts and cases: what the API and console show.

History is the complete weeks before the forecast week, back to the first recorded event and at most
``MAX_HISTORY_WEEKS``. What counts (see events.risk.model): camera alerts, except camera faults, dismissed
alerts and alerts a cooldown held back; patrol reports, 12345 tickets and residents' reports (Open311), as the
cases they became, each its own source. Cases opened from alerts are not counted again.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import and_, not_, or_, select
from sqlalchemy.orm import Session

from detectors.types import HazardType
from events.orm import AlertRow, CaseRow
from events.queries import _at
from events.risk.history import WEEK, RiskEvent, bin_events, week_start
from events.risk.model import MIN_HISTORY_WEEKS, UnitRisk, forecast
from events.types import AlertStatus, CaseSource

MAX_HISTORY_WEEKS = 52
CAMERA_FAULTS = frozenset(h.value for h in HazardType if h.value.startswith("camera_"))
"""The camera's own state, not a risk of the place it watches."""
COOLDOWN = "cooldown"


class RiskLevel(enum.StrEnum):
    GRID = "grid"
    COMPOUND = "compound"


@dataclass(frozen=True, slots=True)
class RiskReport:
    level: RiskLevel
    week_start: datetime
    week_end: datetime
    history_start: datetime | None
    """Start of the first week of history used; None when nothing was ever recorded before the week."""
    history_weeks: int
    units: tuple[UnitRisk, ...]
    """Every unit of the level, highest risk first; empty when the history is too short."""

    @property
    def enough_history(self) -> bool:
        return self.history_weeks >= MIN_HISTORY_WEEKS


def stored_events(
    s: Session, since: datetime, until: datetime, compound_of: Mapping[str, str | None]
) -> Iterator[RiskEvent]:
    """Alerts and reported cases in [since, until), one source each (see module doc)."""
    alerts = (
        select(AlertRow.received_at, AlertRow.grid_id, AlertRow.camera_id, AlertRow.hazard)
        .where(
            AlertRow.received_at >= _at(since),
            AlertRow.received_at < _at(until),
            AlertRow.status != AlertStatus.DISMISSED.value,
            AlertRow.hazard.not_in(sorted(CAMERA_FAULTS)),
            or_(AlertRow.held_back.is_(None), AlertRow.held_back != COOLDOWN),
        )
        .execution_options(yield_per=5000)
    )
    for at, grid_id, camera_id, hazard in s.execute(alerts):
        yield RiskEvent(at, grid_id, compound_of.get(camera_id), CaseSource.CAMERA.value, hazard)
    reports = (
        select(
            CaseRow.created_at, CaseRow.grid_id, CaseRow.camera_id, CaseRow.hazard, CaseRow.source, CaseRow.compound_id
        )
        .where(
            CaseRow.created_at >= _at(since),
            CaseRow.created_at < _at(until),
            CaseRow.source.in_([CaseSource.PATROL.value, CaseSource.HOTLINE.value, CaseSource.RESIDENT.value]),
            not_(and_(CaseRow.hazard.is_not(None), CaseRow.hazard.in_(sorted(CAMERA_FAULTS)))),
        )
        .execution_options(yield_per=5000)
    )
    for at, grid_id, camera, named, source, placed in s.execute(reports):
        compound = compound_of.get(camera) if camera else placed  # a resident's point may lie in a compound
        yield RiskEvent(at, grid_id, compound, source, named or "other")


def first_event_at(s: Session, until: datetime) -> datetime | None:
    """When the first alert or reported case before ``until`` arrived."""
    first_alert = s.scalar(
        select(AlertRow.received_at).where(AlertRow.received_at < _at(until)).order_by(AlertRow.received_at).limit(1)
    )
    first_case = s.scalar(
        select(CaseRow.created_at)
        .where(CaseRow.created_at < _at(until), CaseRow.source != CaseSource.CAMERA.value)
        .order_by(CaseRow.created_at)
        .limit(1)
    )
    moments = [m for m in (first_alert, first_case) if m is not None]
    return min(moments) if moments else None


def risk_report(
    s: Session,
    *,
    level: RiskLevel,
    unit_ids: Sequence[str],
    compound_of: Mapping[str, str | None],
    week: datetime,
    tz: tzinfo,
) -> RiskReport:
    """The forecast for the week (in ``tz``) holding ``week``, from the weeks before it."""
    start = week_start(week, tz)
    end = week_start(start + timedelta(days=8), tz)  # next Monday, local (a DST change makes it 167 or 169 h)
    first = first_event_at(s, start)
    if first is None:
        return RiskReport(level, start, end, None, 0, ())
    history_start = max(week_start(first, tz), week_start(start - MAX_HISTORY_WEEKS * WEEK, tz))
    weeks = round((start - history_start) / WEEK)
    if weeks < MIN_HISTORY_WEEKS:
        return RiskReport(level, start, end, history_start, weeks, ())
    history = bin_events(stored_events(s, history_start, start, compound_of), unit_ids, level, history_start, weeks, tz)
    return RiskReport(level, start, end, history_start, weeks, tuple(forecast(history)))

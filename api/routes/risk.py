"""Risk foresight per grid or compound for a coming week: expected events, reasons, early warnings, hot hours.

Ranks and bands are the whole site's (a grid is ``high`` when it is in the site's top 5 %), so a community
sees where its grids stand; the caller sees only the units its scope covers entirely, as with figures.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.auth import CaseReader, Principal
from api.errors import AUTH, responses
from api.runtime import Runtime, RuntimeDep
from api.work import EventsDep
from core.errors import InvalidInput, Issue, NotFound
from events.risk.model import MIN_HISTORY_WEEKS, HotHour, Reason, RiseTest, UnitRisk
from events.risk.report import RiskLevel, RiskReport

router = APIRouter(prefix="/api/risk", tags=["risk"])

DEFAULT_TZ = "Asia/Shanghai"


class ReasonPublic(BaseModel):
    """One source/hazard part of a unit's forecast."""

    source: str = Field(
        description="camera (alerts), patrol (reports), hotline (12345 tickets) or resident (reports through Open311)."
    )
    hazard: str = Field(description="Hazard type, or other for a report that names none.", examples=["crowd"])
    expected: float = Field(description="Events of this part expected in the week.", examples=[2.4])
    share: float = Field(description="Share of the unit's expected events.", examples=[0.6])

    @classmethod
    def of(cls, r: Reason) -> ReasonPublic:
        return cls(source=r.source, hazard=r.hazard, expected=round(r.expected, 3), share=round(r.share, 3))


class WarningPublic(BaseModel):
    """The early-warning test: the last 4 weeks' rate against the unit's own earlier weeks."""

    warning: bool = Field(description="Rejected at a 5 % false discovery rate across the site's units.")
    recent_rate: float = Field(description="Events per week in the last 4 weeks.")
    earlier_rate: float = Field(description="Events per week before them.")
    p_value: float = Field(description="One-sided conditional Poisson test (before the FDR correction).")

    @classmethod
    def of(cls, t: RiseTest) -> WarningPublic:
        return cls(
            warning=t.warning,
            recent_rate=round(t.recent_rate, 3),
            earlier_rate=round(t.earlier_rate, 3),
            p_value=t.p_value,
        )


class HotHourPublic(BaseModel):
    hour: int = Field(ge=0, le=23, description="Hour of the day, local to the report's time zone.")
    count: int = Field(description="Events in this hour over the history.")
    share: float = Field(description="Share of the unit's events.")

    @classmethod
    def of(cls, h: HotHour) -> HotHourPublic:
        return cls(hour=h.hour, count=h.count, share=round(h.share, 3))


class RiskUnitPublic(BaseModel):
    level: RiskLevel
    id: str = Field(examples=["G-001"])
    name: str = Field(examples=["Compound 1 grid 1"])
    expected: float = Field(description="Events expected in the week, all sources.", examples=[5.2])
    rank: int = Field(description="1 = the site's unit with the most expected events.")
    band: str = Field(description="high (site's top 5 %), elevated (top 20 % or a warning) or low.")
    events: int = Field(description="Events in the history the forecast was made from.")
    reasons: list[ReasonPublic] = Field(description="Parts of at least 10 % of the forecast, largest first.")
    warning: WarningPublic | None = Field(description="None when the history is too short for the test.")
    hot_hours: list[HotHourPublic] = Field(description="Hours significantly busier than a uniform day.")

    @classmethod
    def of(cls, level: RiskLevel, name: str, u: UnitRisk) -> RiskUnitPublic:
        return cls(
            level=level,
            id=u.unit_id,
            name=name,
            expected=round(u.expected, 3),
            rank=u.rank,
            band=u.band,
            events=u.events,
            reasons=[ReasonPublic.of(r) for r in u.reasons],
            warning=WarningPublic.of(u.rise) if u.rise is not None else None,
            hot_hours=[HotHourPublic.of(h) for h in u.hot_hours],
        )


class RiskReportPublic(BaseModel):
    level: RiskLevel
    week_start: datetime = Field(description="The forecast week is [week_start, week_end), local Monday 00:00.")
    week_end: datetime
    time_zone: str = Field(examples=[DEFAULT_TZ])
    history_start: datetime | None = Field(description="First week of history used; None: nothing recorded.")
    history_weeks: int = Field(description="Complete weeks of history before the forecast week.")
    weeks_needed: int = Field(description="Weeks of history a forecast needs.", examples=[MIN_HISTORY_WEEKS])
    enough_history: bool
    message: str | None = Field(description="Why there is no forecast, when there is none.")
    units: list[RiskUnitPublic] = Field(description="The caller's units, highest risk first.")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(Issue("query.tz", f'"{name}" is not an IANA time zone such as {DEFAULT_TZ}')) from None


def _names_and_visible(runtime: Runtime, principal: Principal, level: RiskLevel) -> tuple[dict[str, str], set[str]]:
    """Names of the level's units, and the ids the caller's scope covers entirely."""
    site = runtime.context.site
    grids = site.grids()
    allowed = principal.scope.grid_ids
    if level is RiskLevel.GRID:
        names = {g.id: g.name for g in grids}
        return names, set(names) if allowed is None else set(names) & allowed
    names = {c.id: c.name for c in site.compounds()}
    if allowed is None:
        return names, set(names)
    covering: dict[str, set[str]] = defaultdict(set)
    for g in grids:
        for compound in g.compound_ids:
            covering[compound].add(g.id)
    return names, {c for c, gs in covering.items() if gs <= allowed}


def _message(report: RiskReport) -> str | None:
    if report.enough_history:
        return None
    if report.history_start is None:
        return "not enough history: nothing was recorded before this week"
    return (
        f"not enough history: {report.history_weeks} complete weeks before this week, "
        f"a forecast needs {MIN_HISTORY_WEEKS}"
    )


@router.get("", responses=responses(*AUTH, 404, 422, 503))
def risk(
    principal: CaseReader,
    runtime: RuntimeDep,
    events: EventsDep,
    level: Annotated[RiskLevel, Query(description="grid or compound.")] = RiskLevel.GRID,
    week: Annotated[date | None, Query(description="A day of the forecast week; default: today (this week).")] = None,
    tz: Annotated[str, Query(max_length=64, description="IANA time zone of weeks and hours.")] = DEFAULT_TZ,
    unit: Annotated[str | None, Query(max_length=64, description="Only this grid or compound.")] = None,
) -> RiskReportPublic:
    """Each unit's expected events for the week, from the complete weeks before it (at most 52): camera alerts
    (not camera faults, dismissed ones or cooldown repeats), patrol reports and 12345 tickets, kept apart by
    source. With fewer than 4 weeks of history the answer says so and lists no unit."""
    zone = _zone(tz)
    names, visible = _names_and_visible(runtime, principal, level)
    if unit is not None and unit not in visible:
        raise NotFound.of(level.value, unit)
    day = week or runtime.context.clock.now().astimezone(zone).date()
    report = events.risk(level, datetime.combine(day, time(12), zone), zone)
    wanted = {unit} if unit is not None else visible
    return RiskReportPublic(
        level=level,
        week_start=report.week_start,
        week_end=report.week_end,
        time_zone=tz,
        history_start=report.history_start,
        history_weeks=report.history_weeks,
        weeks_needed=MIN_HISTORY_WEEKS,
        enough_history=report.enough_history,
        message=_message(report),
        units=[
            RiskUnitPublic.of(level, names.get(u.unit_id, u.unit_id), u) for u in report.units if u.unit_id in wanted
        ],
    )

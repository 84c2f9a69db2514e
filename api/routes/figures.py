"""Closed-loop figures per grid, community or street, and false alarms per camera and rule.

A unit's figures are shown to a caller whose scope covers the whole unit: a grid worker sees their
grids, a community operator their community and its grids, the street only a street or site scope.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.access import ScopeKind
from api.auth import CaseReader, Principal
from api.errors import AUTH, responses
from api.runtime import Runtime, RuntimeDep
from api.schemas import Moment
from api.work import EventsDep
from api.work_schemas import AlertFiguresPublic, FalseAlarmPublic, UnitFiguresPublic
from core.errors import InvalidInput, Issue
from events.types import FigureLevel, HolderKind, split_holder

router = APIRouter(prefix="/api/figures", tags=["figures"])

DEFAULT_PERIOD = timedelta(days=30)
Since = Annotated[
    Moment | None, Query(description="Start of the period (with time zone); default: 30 days before until.")
]
Until = Annotated[Moment | None, Query(description="End of the period, exclusive; default: now.")]


def _period(runtime: Runtime, since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    end = until or runtime.context.clock.now()
    start = since or end - DEFAULT_PERIOD
    if end <= start:
        raise InvalidInput(Issue("query.until", "must be after since"))
    return start, end


def _visible_units(runtime: Runtime, principal: Principal, level: FigureLevel) -> set[str] | None:
    """Ids of the units of ``level`` the caller's scope covers entirely; None: every unit.

    A property company's or partner unit's own people see their own figures; others see a company's when
    their grids cover all its compounds, a partner unit's when their communities hold all it serves."""
    scope = principal.scope
    if scope.whole_site:
        return None
    holder_kind = {FigureLevel.PROPERTY_COMPANY: HolderKind.COMPANY, FigureLevel.PARTNER_UNIT: HolderKind.PARTNER}
    if scope.holders is not None:
        # Their own company's or unit's figures; a compound's staff and the grid levels would count others' cases.
        if scope.compound_ids is not None or level not in holder_kind:
            return set()
        return {ident for kind, ident in map(split_holder, scope.holders) if kind is holder_kind[level]}
    allowed = scope.grid_ids or frozenset()
    site = runtime.context.site
    grids = site.grids()
    if level is FigureLevel.GRID:
        return set(allowed)
    if level is FigureLevel.STREET:
        own = principal.user.scope
        return set(own.ids) if own.kind is ScopeKind.STREET else set()
    grids_of: dict[str, set[str]] = defaultdict(set)
    for grid in grids:
        grids_of[grid.community_id].add(grid.id)
    communities = {community for community, ids in grids_of.items() if ids <= allowed}
    if level is FigureLevel.COMMUNITY:
        return communities
    if level is FigureLevel.PARTNER_UNIT:
        return {u.id for u in site.partner_units() if set(u.community_ids) <= communities}
    covering: dict[str, set[str]] = defaultdict(set)
    for grid in grids:
        for compound in grid.compound_ids:
            covering[compound].add(grid.id)
    companies: dict[str, bool] = {}
    for k in site.compounds():
        companies[k.property_company_id] = companies.get(k.property_company_id, True) and (
            bool(covering[k.id]) and covering[k.id] <= allowed
        )
    return {company for company, covered in companies.items() if covered}


@router.get("", responses=responses(*AUTH, 422, 503))
def figures(
    principal: CaseReader,
    runtime: RuntimeDep,
    events: EventsDep,
    level: Annotated[
        FigureLevel,
        Query(description="grid, community, street, or property_company / partner_unit (by who holds the cases)."),
    ] = FigureLevel.GRID,
    since: Since = None,
    until: Until = None,
) -> list[UnitFiguresPublic]:
    """Received, closed, completion and on-time rates, times to close and false alarms, per unit, for
    cases created and alerts received in [since, until)."""
    start, end = _period(runtime, since, until)
    visible = _visible_units(runtime, principal, level)
    return [
        UnitFiguresPublic.of(u) for u in events.figures(level, start, end) if visible is None or u.unit_id in visible
    ]


BUCKET_S = {"hour": 3600, "day": 86400}


@router.get("/alerts", responses=responses(*AUTH, 422, 503))
def alert_figures(
    principal: CaseReader,
    runtime: RuntimeDep,
    events: EventsDep,
    since: Since = None,
    until: Until = None,
    bucket: Annotated[
        Literal["hour", "day"], Query(description="Bucket length; buckets start at since (send a local midnight).")
    ] = "day",
) -> AlertFiguresPublic:
    """Alerts received in [since, until) in the caller's scope, counted in the database: per hazard in
    each bucket, and per camera with how many were dismissed as false alarms (the rate to tune by)."""
    start, end = _period(runtime, since, until)
    try:
        figures = events.alert_figures(start, end, BUCKET_S[bucket], grid_ids=principal.scope.grid_ids)
    except InvalidInput as exc:  # the service names its arguments; callers know them as query parameters
        raise InvalidInput([Issue(f"query.{i.where}" if i.where else "query", i.message) for i in exc.issues]) from None
    names = runtime.names.names(c.camera_id for c in figures.cameras)
    return AlertFiguresPublic.of(figures, bucket, names)


@router.get("/false-alarms", responses=responses(*AUTH, 422, 503))
def false_alarms(
    principal: CaseReader,
    runtime: RuntimeDep,
    events: EventsDep,
    since: Since = None,
    until: Until = None,
    camera_id: Annotated[str | None, Query(max_length=64, description="Only this camera.")] = None,
) -> list[FalseAlarmPublic]:
    """Dismissed alerts per camera, rule (hazard type) and reason, most frequent first: what to tune."""
    start, end = _period(runtime, since, until)
    rows = events.false_alarms(start, end, camera_id=camera_id)
    if not principal.scope.whole_site:
        cameras = {c.id for c in runtime.context.site.cameras(grid_ids=principal.scope.as_filter())}
        rows = [r for r in rows if r.camera_id in cameras]
    names = runtime.names.names(r.camera_id for r in rows)
    return [FalseAlarmPublic.of(r, names.get(r.camera_id)) for r in rows]

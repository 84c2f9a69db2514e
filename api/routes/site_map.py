"""The map: the caller's grids, compounds and cameras as shapes and points, with each grid's open cases and
recent alerts, so that a centre sees at a glance where work is piling up.

What a caller sees is exactly what the rest of the API shows them: their grids, the compounds those grids cover
and the cameras routed to them. A street's own outline belongs to whoever oversees the whole street.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from api.access import Permission, ScopeKind
from api.auth import Principal, SiteReader
from api.errors import AUTH, responses
from api.map_schemas import MapCameraPublic, MapCompoundPublic, MapGridPublic, MapPublic, MapStreetPublic
from api.runtime import Runtime, RuntimeDep
from camera_config.types import Street
from events.types import GridActivity

router = APIRouter(prefix="/api/map", tags=["site"])

ALERT_WINDOW = timedelta(hours=24)


def _streets(runtime: Runtime, principal: Principal) -> list[Street]:
    """The streets the caller oversees whole: every one for a site-wide scope, their own for a street scope."""
    streets = runtime.context.site.streets()
    if principal.scope.whole_site:
        return streets
    own = principal.user.scope
    return [s for s in streets if own.kind is ScopeKind.STREET and s.id in own.ids]


@router.get("", responses=responses(*AUTH, 404, 422))
def site_map(
    principal: SiteReader,
    runtime: RuntimeDep,
    grid: Annotated[
        str | None,
        Query(max_length=64, description="Only this grid, its compounds and its cameras.", examples=["G-01"]),
    ] = None,
) -> MapPublic:
    """The grids, compounds and cameras in the caller's scope, as [lon, lat] shapes and points, with each grid's
    open cases and its alerts of the last 24 hours; a grid outside the scope is 404 like one that does not exist."""
    context = runtime.context
    site = context.site
    grids = principal.scope.visible(site.grids(), grid_of="id")
    if grid is not None:
        principal.scope.check(grid, "grid", grid)
        grids = [g for g in grids if g.id == grid]
        if not grids:
            site.grid(grid)  # NotFound, named as every route names a missing grid
    grid_ids = [g.id for g in grids]
    places = site.camera_places(grid_ids)
    compound_ids = {k for g in grids for k in g.compound_ids} | {p.compound_id for p in places if p.compound_id}
    compounds = site.compounds(sorted(compound_ids))
    outlines = {k.id: k.outline for k in compounds}
    per_grid = Counter(p.grid_id for p in places)
    communities = site.community_names()
    since = context.clock.now() - ALERT_WINDOW
    activity: dict[str, GridActivity] = {}
    if context.events is not None and grid_ids:
        found = context.events.grid_activity(since, grid_ids=frozenset(grid_ids))
        activity = {a.grid_id: a for a in found}
    cases = context.events is not None and principal.can(Permission.CASES_READ)
    alerts = context.events is not None and principal.can(Permission.ALERTS_READ)

    def figures(grid_id: str) -> tuple[int | None, int | None]:
        got = activity.get(grid_id)
        return (
            (got.open_cases if got else 0) if cases else None,
            (got.alerts if got else 0) if alerts else None,
        )

    return MapPublic(
        streets=[MapStreetPublic.of(s) for s in _streets(runtime, principal)],
        grids=[
            MapGridPublic.of(
                g, communities.get(g.community_id, g.community_id), outlines, per_grid[g.id], *figures(g.id)
            )
            for g in grids
        ],
        compounds=[MapCompoundPublic.of(k) for k in compounds],
        cameras=[MapCameraPublic.of(p, context.health(p.id)) for p in places],
        alerts_since=since,
    )

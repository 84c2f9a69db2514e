"""The box's headroom: whole-box totals from the live pipeline and its cameras' rates, like Frigate's stats page."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import SiteReader
from api.errors import AUTH, responses
from api.runtime import RuntimeDep
from api.stats_schemas import BoxPublic, CameraRowPublic, StatsPublic
from core.errors import Unavailable

router = APIRouter(tags=["service"])

DESCRIPTION = """\
What the box is doing now: its cameras' input, ingest's decoding, the detector's analyses, the model's
time against its budget, capture→detections latency, the process's CPU and memory; and one row per
pulled camera in the caller's scope.

**Who sees what.** The totals (`box`) are figures of the whole box, i.e. of every camera on the site,
so they are shown only to callers whose scope is the whole site: admins, and integrators, viewers and
worker accounts given a `site` scope. Every other caller (operators, who are always scoped to a street
or community; grid workers; anyone with a narrower scope) gets `box: null` and the rows of their own
cameras only, exactly as the camera list would show them.

**503** when no live pipeline runs (`gridwatch run --no-detect`): there is nothing to measure.
"""


@router.get("/api/stats", description=DESCRIPTION, responses=responses(*AUTH, 503))
def box_stats(principal: SiteReader, runtime: RuntimeDep) -> StatsPublic:
    """Box totals and the caller's cameras; the scope rule is in DESCRIPTION (the OpenAPI text)."""
    context = runtime.context
    box = context.box()
    if box is None:
        raise Unavailable("no live pipeline runs on this server (started with --no-detect): nothing to measure")
    visible = {c.id: c.name for c in context.site.cameras(grid_ids=principal.scope.as_filter())}
    rows = sorted(
        (CameraRowPublic.of(f, visible[f.camera_id]) for f in context.camera_figures() if f.camera_id in visible),
        key=lambda r: r.camera_id,
    )
    return StatsPublic(box=BoxPublic.of(box) if principal.scope.whole_site else None, cameras=rows)

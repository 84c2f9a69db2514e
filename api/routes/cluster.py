"""Camera shards' health for people and Prometheus: ``GET /api/cluster`` and the ``gridwatch_shard_*`` gauges.

Both compare the site model with the shards' heartbeats (`api.cluster_view`); nothing here calls Ray.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.auth import SiteReader
from api.cluster_view import ClusterView, ShardState, ShardView, reconcile
from api.errors import AUTH, responses
from api.metrics import GaugeSpec, Readings
from api.runtime import Runtime, RuntimeDep
from api.workers import LOST_S, STALE_S, WorkerRegistry
from camera_config.store import SiteStore
from core.clock import Clock

router = APIRouter(prefix="/api/cluster", tags=["worker"])


class ShardWorkerPublic(BaseModel):
    """One worker reporting the shard."""

    worker: str = Field(description="account/name, as in /api/workers.", examples=["box-3/gridwatch-shard-2-of-4"])
    last_seen: datetime
    stale: bool = Field(description=f"Not heard from for {STALE_S:.0f} s.")
    cameras: int = Field(description="Cameras it pulls (all of them, in scope or not).")
    spool_depth: int
    delivery_state: str


class ShardPublic(BaseModel):
    """One shard: the cameras the site model gives it against what its workers report."""

    shard: str = Field(description="K/N.", examples=["2/4"])
    state: ShardState = Field(
        description="ok: reporting, runs exactly its wanted cameras; behind: reporting, but `missing` or `extra` "
        f"is not empty (a camera edit looks like this for a few seconds); stale: not heard from for {STALE_S:.0f} s "
        "(dead, restarting, its node lost, or Ray cannot place it); never reported: not since the API started. "
        "The shard's own state, over all of its cameras."
    )
    wanted_count: int = Field(description="Enabled cameras whose rendezvous hash picks this shard.")
    wanted: list[str]
    running_count: int = Field(description="Cameras its reporting workers pull.")
    running: list[str]
    missing: list[str] = Field(description="Wanted but not running (while reporting).")
    extra: list[str] = Field(description="Running but not wanted: another shard's, disabled or deleted.")
    workers: list[ShardWorkerPublic]
    last_seen: datetime | None = Field(description="Its newest report.")
    spool_depth: int = Field(description="Observations its workers' spools held at their last reports.")
    delivery_state: str | None = Field(description="ok, idle, or what is wrong, from the newest report.")


class ClusterPublic(BaseModel):
    """The shard assignment the site model wants against the shards' reports."""

    shard_count: int | None = Field(
        description="The N in use: the one most reporting shards have (null: no shard reports).", examples=[4]
    )
    shard_counts: list[int] = Field(description="Every N reported; more than one while the cluster is being changed.")
    changing: bool = Field(description="Reports disagree on N: shards of an old and a new cluster both report.")
    shards: list[ShardPublic] = Field(description="Every shard of every N reported, by N then K.")
    unserved_count: int = Field(description="Enabled cameras whose shard is stale or never reported.")
    unserved: list[str]
    stale_after_s: float = Field(STALE_S, description="Silence after which a shard is stale.")
    lost: list[str] = Field(
        description="Shards silent for lost_after_s (Ray could not bring them back): their cameras are wanted by "
        "the other shards, each camera by its next shard, until they report again.",
        examples=[["3/4"]],
    )
    lost_after_s: float = Field(LOST_S, description="Silence after which a shard's cameras go to the others.")


def cluster_view(site: SiteStore, workers: WorkerRegistry, now: datetime) -> ClusterView:
    """Over every enabled camera, whoever asks: a shard's state is over all of its cameras."""
    return reconcile([c.id for c in site.cameras(enabled_only=True)], workers.all(), now)


def _public(view: ShardView, visible: set[str] | None) -> ShardPublic | None:
    def seen(ids: Collection[str]) -> list[str]:
        return sorted(ids) if visible is None else sorted(i for i in ids if i in visible)

    wanted, running = seen(view.wanted), seen(view.running)
    if visible is not None and not wanted and not running:
        return None
    return ShardPublic(
        shard=str(view.shard),
        state=view.state,
        wanted_count=len(wanted),
        wanted=wanted,
        running_count=len(running),
        running=running,
        missing=seen(view.missing),
        extra=seen(view.extra),
        workers=[
            ShardWorkerPublic(
                worker=w.worker,
                last_seen=w.last_seen,
                stale=w.stale,
                cameras=len(w.cameras),
                spool_depth=w.spool_depth,
                delivery_state=w.delivery_state,
            )
            for w in view.workers
        ],
        last_seen=view.last_seen,
        spool_depth=view.spool_depth,
        delivery_state=view.delivery_state,
    )


@router.get("", responses=responses(*AUTH))
def get_cluster(principal: SiteReader, runtime: RuntimeDep) -> ClusterPublic:
    """Camera shards (``gridwatch cluster up``, ``gridwatch worker --shard K/N``) as the API hears them: per
    shard its wanted cameras, the workers reporting it, its state, spool and delivery; and the cameras no
    reporting shard runs. A scoped caller sees the shards with a camera of theirs, and only those cameras."""
    view = cluster_view(runtime.context.site, runtime.workers, runtime.context.clock.now())
    visible: set[str] | None = None
    if not principal.scope.whole_site:
        visible = {c.id for c in runtime.context.site.cameras(grid_ids=principal.scope.as_filter())}
    shards = [p for p in (_public(s, visible) for s in view.shards) if p is not None]
    unserved = [c for c in view.unserved if visible is None or c in visible]
    return ClusterPublic(
        shard_count=view.shard_count,
        shard_counts=list(view.shard_counts),
        changing=view.changing,
        shards=shards,
        unserved_count=len(unserved),
        unserved=unserved,
        lost=[str(s) for s in view.lost],
    )


# ---------------------------------------------------------------------------- Prometheus

UP = "gridwatch_shard_up"
CAMERAS = "gridwatch_shard_cameras"
AGE = "gridwatch_shard_report_age_seconds"
SPOOL = "gridwatch_shard_spool_depth"
UNSERVED = "gridwatch_cluster_unserved_cameras"
GAUGES = (
    GaugeSpec(UP, "1 while a camera shard reports (ok or behind), 0 when stale or never reported.", ("shard",)),
    GaugeSpec(CAMERAS, "A camera shard's cameras: wanted (site model), running, missing, extra.", ("shard", "kind")),
    GaugeSpec(AGE, "Seconds since a camera shard last reported.", ("shard",)),
    GaugeSpec(SPOOL, "Observations waiting in a camera shard's spools at their last reports.", ("shard",)),
    GaugeSpec(UNSERVED, "Enabled cameras whose shard is stale or never reported.", ()),
)


def shard_readings(site: SiteStore, workers: WorkerRegistry, clock: Clock) -> Readings:
    """The ``gridwatch_shard_*`` figures; none (not even the unserved count) while no shard reports."""
    now = clock.now()
    view = cluster_view(site, workers, now)
    out: dict[str, dict[tuple[str, ...], float]] = {spec.name: {} for spec in GAUGES}
    for s in view.shards:
        label = str(s.shard)
        out[UP][(label,)] = 1.0 if s.up else 0.0
        for kind, ids in (("wanted", s.wanted), ("running", s.running), ("missing", s.missing), ("extra", s.extra)):
            out[CAMERAS][(label, kind)] = float(len(ids))
        if s.last_seen is not None:
            out[AGE][(label,)] = (now - s.last_seen).total_seconds()
            out[SPOOL][(label,)] = float(s.spool_depth)
    if view.shard_count is not None:
        out[UNSERVED][()] = float(len(view.unserved))
    return out


def register_gauges(runtime: Runtime) -> None:
    """Read at scrape time, so a shard that went silent shows at the next scrape."""
    runtime.metrics.gauge_families(
        GAUGES, lambda: shard_readings(runtime.context.site, runtime.workers, runtime.context.clock)
    )

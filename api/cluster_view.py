"""Camera shards as the coordinator sees them: the assignment the site model wants against what shards report.

The API is the coordinator's seat: it holds the site model and hears every shard's heartbeat, so comparing the
two needs no call into the Ray cluster. Wanted is rendezvous hashing over the enabled cameras (one camera edit
moves one camera). A camera edit shows as both shards `behind` until their next poll and report (a few
seconds); a shard whose process or node died, or that Ray cannot place, stops reporting and turns `stale`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache

from api.workers import LOST_S, STALE_S, WorkerHealth
from camera_config.wire import Shard, shard_of


class ShardState(StrEnum):
    OK = "ok"
    """Reporting, and runs exactly its wanted cameras."""
    BEHIND = "behind"
    """Reporting, but some wanted cameras are missing or some others run there (an edit on its way)."""
    STALE = "stale"
    """Not heard from for `STALE_S`: dead, restarting, its node lost, or not placed."""
    NEVER = "never reported"
    """No report since the API started."""


@dataclass(frozen=True, slots=True)
class ShardWorker:
    """One worker reporting a shard; a shard may have two for a while (a restart under a new name, a manual
    worker draining an old spool)."""

    worker: str
    """``account/name``, as `/api/workers` and the worker gauges name it."""
    last_seen: datetime
    stale: bool
    cameras: frozenset[str]
    spool_depth: int
    delivery_state: str


@dataclass(frozen=True, slots=True)
class ShardView:
    shard: Shard
    state: ShardState
    wanted: tuple[str, ...]
    running: tuple[str, ...]
    """What its reporting (not stale) workers pull."""
    missing: tuple[str, ...]
    """Wanted, not running (only while reporting)."""
    extra: tuple[str, ...]
    """Running, not wanted: another shard's, disabled or deleted (only while reporting)."""
    workers: tuple[ShardWorker, ...]
    last_seen: datetime | None
    spool_depth: int
    """Summed over its workers' last reports, stale ones included: what their spools held last."""
    delivery_state: str | None
    """The newest report's."""

    @property
    def up(self) -> bool:
        return self.state in (ShardState.OK, ShardState.BEHIND)


@dataclass(frozen=True, slots=True)
class ClusterView:
    shard_count: int | None
    """The N the cluster runs (None: no shard reports); see `reconcile` when reports disagree."""
    shard_counts: tuple[int, ...]
    """Every N reported; more than one while the cluster is being changed."""
    shards: tuple[ShardView, ...]
    """Every shard K of every N in `shard_counts`, by N then K."""
    unserved: tuple[str, ...]
    """Enabled cameras whose shard (of `shard_count`) is stale or never reported: nobody runs them."""
    lost: tuple[Shard, ...] = ()
    """Shards of `shard_count` silent for `LOST_S`: their cameras are wanted by the others until they report."""

    @property
    def changing(self) -> bool:
        return len(self.shard_counts) > 1


def lost_shards(workers: Iterable[WorkerHealth], count: int, now: datetime, lost_s: float = LOST_S) -> frozenset[int]:
    """The shards K of ``count`` that reported once and have been silent for ``lost_s``: Ray did not bring them
    back (no node with room, say), so their cameras go to the others. A shard that never reported is not lost:
    `gridwatch cluster up` waits for every shard, and refuses shards that do not fit."""
    newest: dict[int, datetime] = {}
    for w in workers:
        part = w.report.part
        if part is not None and part.count == count:
            newest[part.index] = max(w.last_seen, newest.get(part.index, w.last_seen))
    return frozenset(k for k, seen in newest.items() if (now - seen).total_seconds() > lost_s)


def reconcile(
    enabled: Iterable[str],
    workers: Iterable[WorkerHealth],
    now: datetime,
    stale_s: float = STALE_S,
    lost_s: float = LOST_S,
) -> ClusterView:
    """Compare the wanted assignment of the ``enabled`` camera ids with the shards' reports at ``now``.

    The counts in use are those of the reports heard within ``stale_s`` (all of them when none is: a stopped
    cluster shows its shards stale rather than vanishing); of those, `shard_count` is the one most shards
    report, ties going to the most recently heard — during a re-shard that is the new count once it has started.
    Workers that run no shard (given cameras, or all of their grids) take no part.
    """
    cameras = sorted(set(enabled))
    workers = list(workers)
    by_shard: dict[Shard, list[ShardWorker]] = defaultdict(list)
    for w in workers:
        part = w.report.part
        if part is None:
            continue
        by_shard[part].append(
            ShardWorker(
                worker=f"{w.username}/{w.report.name}",
                last_seen=w.last_seen,
                stale=(now - w.last_seen).total_seconds() > stale_s,
                cameras=frozenset(w.report.cameras),
                spool_depth=w.report.spool_depth,
                delivery_state=w.report.delivery_state,
            )
        )
    if not by_shard:
        return ClusterView(None, (), (), ())
    fresh = [(s, r) for s, rs in by_shard.items() for r in rs if not r.stale]
    heard = fresh or [(s, r) for s, rs in by_shard.items() for r in rs]
    shards_per_count = Counter(s.count for s in {s for s, _ in heard})
    newest = {n: max(r.last_seen for s, r in heard if s.count == n) for n in shards_per_count}
    count = max(shards_per_count, key=lambda n: (shards_per_count[n], newest[n]))
    counts = tuple(sorted(shards_per_count))

    lost = lost_shards(workers, count, now, lost_s)
    views: list[ShardView] = []
    unserved: list[str] = []
    for n in counts:
        wanted: dict[int, list[str]] = defaultdict(list)
        for camera_id in cameras:
            wanted[_shard_of(camera_id, n, lost if n == count else frozenset())].append(camera_id)
        for k in range(1, n + 1):
            view = _shard_view(Shard(k, n), tuple(wanted[k]), by_shard.get(Shard(k, n), []))
            views.append(view)
            if n == count and not view.up:
                unserved += view.wanted
    return ClusterView(
        count, counts, tuple(views), tuple(sorted(unserved)), tuple(Shard(k, count) for k in sorted(lost))
    )


@lru_cache(maxsize=1 << 16)
def _shard_of(camera_id: str, count: int, lost: frozenset[int]) -> int:
    """Remembered: hashing costs N digests per camera, and the view is read at every scrape and console visit."""
    return shard_of(camera_id, count, lost)


def _shard_view(shard: Shard, wanted: tuple[str, ...], reports: list[ShardWorker]) -> ShardView:
    reports = sorted(reports, key=lambda r: r.worker)
    if not reports:
        return ShardView(shard, ShardState.NEVER, wanted, (), (), (), (), None, 0, None)
    newest = max(reports, key=lambda r: r.last_seen)
    live = [r for r in reports if not r.stale]
    running = sorted(set[str]().union(*(r.cameras for r in live)))
    if live:
        missing = tuple(sorted(set(wanted) - set(running)))
        extra = tuple(sorted(set(running) - set(wanted)))
        state = ShardState.BEHIND if missing or extra else ShardState.OK
    else:
        missing, extra, state = (), (), ShardState.STALE
    return ShardView(
        shard=shard,
        state=state,
        wanted=wanted,
        running=tuple(running),
        missing=missing,
        extra=extra,
        workers=tuple(reports),
        last_seen=newest.last_seen,
        spool_depth=sum(r.spool_depth for r in reports),
        delivery_state=newest.delivery_state,
    )

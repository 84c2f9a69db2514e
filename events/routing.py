"""Who answers for a camera or a grid, read from the site model through camera_config's SiteStore.

Cameras and the organisation around grids (communities, streets, people) are cached for ``ttl_s``
(a few seconds: alerts arrive hundreds of times a second, site changes rarely), so a change, such as
a camera being disabled, takes effect within about ``ttl_s``. When the cache is due, it is re-read
by a background thread while alerts go on being routed with what is known (re-reading the site
takes a while and must not stall ingestion); a camera or grid not in the cache is looked up at once.
With ``ttl_s=0`` every lookup reads the site first.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar

from camera_config.geo import point_in_polygon
from camera_config.store import SiteStore
from camera_config.types import Camera, Compound, Grid, PersonRole
from core.clock import Clock
from core.errors import Conflict, NotFound
from events.types import Route

log = logging.getLogger(__name__)
T = TypeVar("T")

_BULK = 100
"""More changed cameras than this are reloaded in one query rather than one by one."""


@dataclass(slots=True)
class _Directory:
    grids: dict[str, Grid] = field(default_factory=dict)
    street_of: dict[str, str] = field(default_factory=dict)  # community -> street
    worker_of: dict[str, str] = field(default_factory=dict)  # grid -> grid worker
    leaders_of: dict[str, list[str]] = field(default_factory=dict)  # grid -> building leaders
    members_of: dict[str, list[str]] = field(default_factory=dict)  # party group -> members
    company_of: dict[str, str] = field(default_factory=dict)  # compound -> property company
    compounds: list[Compound] = field(default_factory=list)  # those with an outline, by id
    loaded_at: float = float("-inf")


class Router:
    def __init__(self, site: SiteStore, clock: Clock, *, ttl_s: float = 30.0) -> None:
        self._site = site
        self._clock = clock
        self._ttl_s = ttl_s
        self._dir = _Directory()
        self._cameras: dict[str, Camera] = {}
        self._cameras_checked_at = float("-inf")
        self._lock = threading.RLock()
        self._refreshing = threading.Lock()

    def camera(self, camera_id: str, *, allow_disabled: bool = False) -> Camera:
        """The camera, if it exists and is enabled (or ``allow_disabled``); a disabled camera raises Conflict."""
        self._refresh_if_due()
        with self._lock:
            cam = self._cameras.get(camera_id)
            if cam is None:
                cam = self._cameras[camera_id] = self._site.camera(camera_id)
        if not cam.enabled and not allow_disabled:
            raise Conflict(f'camera "{camera_id}" is disabled: its alerts are refused')
        return cam

    def _refresh_if_due(self) -> None:
        now = self._clock.monotonic()
        due = now - min(self._cameras_checked_at, self._dir.loaded_at) >= self._ttl_s
        if not due:
            return
        if self._ttl_s <= 0 or not self._cameras:
            with self._lock:
                self._check_cameras(now)
                self._dir = self._load()
            return
        if self._refreshing.acquire(blocking=False):
            threading.Thread(target=self._background_refresh, name="site-refresh", daemon=True).start()

    def _background_refresh(self) -> None:
        try:
            now = self._clock.monotonic()
            directory = self._load()
            with self._lock:
                self._check_cameras(now)
                self._dir = directory
        except Exception:
            log.exception("re-reading the site failed; routing goes on with what it knew")
        finally:
            self._refreshing.release()

    def _check_cameras(self, now: float) -> None:
        """One cheap revision poll, then reload only the cameras that changed."""
        revisions = self._site.revisions()
        changed = [cid for cid, rev in revisions.items() if cid in self._cameras and self._cameras[cid].revision != rev]
        if not self._cameras or len(changed) > _BULK:
            self._cameras = {c.id: c for c in self._site.cameras()}
        else:
            for cid in [cid for cid in self._cameras if cid not in revisions]:
                del self._cameras[cid]
            for cid in changed:
                self._cameras[cid] = self._site.camera(cid)
        self._cameras_checked_at = now

    def grid(self, grid_id: str) -> Route:
        """Grid → community → street, the grid's worker, and its building leaders and party group members."""
        self._refresh_if_due()
        d = self._directory(need=grid_id)
        grid = _known(d.grids, grid_id, "grid")
        informed = list(d.leaders_of.get(grid_id, []))
        if grid.party_group_id is not None:
            informed += d.members_of.get(grid.party_group_id, [])
        return Route(
            grid_id=grid.id,
            community_id=grid.community_id,
            street_id=d.street_of.get(grid.community_id, ""),
            assignee_id=d.worker_of.get(grid_id),
            informed_ids=tuple(dict.fromkeys(informed)),
        )

    def camera_route(self, cam: Camera) -> Route:
        """The camera's grid's route, with the camera's compound and that compound's property company."""
        route = self.grid(cam.grid_id)
        if cam.compound_id is None:
            return route
        company = self._directory(need=None).company_of.get(cam.compound_id)
        return replace(route, compound_id=cam.compound_id, company_id=company)

    def locate(self, lat: float, lon: float) -> Route | None:
        """The route of the grid a point (WGS84) lies in, or None when it lies in no grid.

        The point is tried against compound outlines and grid polygons (a grid without a polygon is drawn by
        its compounds'). Which grid, in order:

        1. a grid covering the compound whose outline holds the point, and whose own polygon holds it too;
        2. a grid covering that compound (a compound says whose it is before a drawn polygon does; a
           compound split between grids without polygons to tell them apart goes to the lowest grid id);
        3. a grid whose own polygon holds the point: the smallest polygon (the most specific drawing),
           then the lowest grid id.

        The route carries the compound (and its property company) when the chosen grid covers it, so a
        collective matter there can go to the company as a camera's would.
        """
        self._refresh_if_due()
        d = self._directory(need=None)
        point = (lon, lat)
        compound = next((k for k in d.compounds if point_in_polygon(point, k.outline)), None)
        grids = sorted(d.grids.values(), key=lambda g: g.id)
        drawn = [g for g in grids if g.polygon and point_in_polygon(point, g.polygon)]
        covering = [g for g in grids if compound is not None and compound.id in g.compound_ids]
        both = [g for g in covering if g in drawn]
        if covering:
            chosen = (both or covering)[0]
        elif drawn:
            chosen = min(drawn, key=lambda g: (_area(g.polygon), g.id))
        else:
            return None
        route = self.grid(chosen.id)
        if compound is None or compound.id not in chosen.compound_ids:
            return route
        return replace(route, compound_id=compound.id, company_id=d.company_of.get(compound.id))

    def community_street(self, community_id: str) -> str:
        self._refresh_if_due()
        d = self._directory(need=None)
        return _known(d.street_of, community_id, "community")

    def refresh(self) -> None:
        """Re-read everything now (also fills the cache before the first alert, on start)."""
        with self._lock:
            self._dir = self._load()
            self._cameras.clear()
            self._check_cameras(self._clock.monotonic())

    def _directory(self, need: str | None) -> _Directory:
        with self._lock:
            d = self._dir
            if need is not None and need not in d.grids:
                self._dir = d = self._load()
            return d

    def _load(self) -> _Directory:
        d = _Directory(loaded_at=self._clock.monotonic())
        d.grids = {g.id: g for g in self._site.grids()}
        d.street_of = self._site.community_streets()
        compounds = self._site.compounds()
        d.company_of = {k.id: k.property_company_id for k in compounds}
        d.compounds = sorted((k for k in compounds if k.outline), key=lambda k: k.id)
        leaders: dict[str, list[str]] = defaultdict(list)
        members: dict[str, list[str]] = defaultdict(list)
        for person in self._site.people():  # ordered by id: the first worker of a grid is its assignee
            if person.role is PersonRole.GRID_WORKER and person.grid_id is not None:
                d.worker_of.setdefault(person.grid_id, person.id)
            elif person.role is PersonRole.BUILDING_LEADER and person.grid_id is not None:
                leaders[person.grid_id].append(person.id)
            elif person.role is PersonRole.PARTY_MEMBER and person.party_group_id is not None:
                members[person.party_group_id].append(person.id)
        d.leaders_of = dict(leaders)
        d.members_of = dict(members)
        return d


def _area(polygon: tuple[tuple[float, float], ...]) -> float:
    """Shoelace area (square degrees: only compared with other polygons')."""
    n = len(polygon)
    twice = sum(polygon[i][0] * polygon[(i + 1) % n][1] - polygon[(i + 1) % n][0] * polygon[i][1] for i in range(n))
    return abs(twice) / 2


def _known(table: Mapping[str, T], key: str, noun: str) -> T:
    """``table[key]``, or NotFound naming the missing thing."""
    value = table.get(key)
    if value is None:
        raise NotFound.of(noun, key)
    return value

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

from camera_config.store import SiteStore
from camera_config.types import Camera, Grid, PersonRole
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
        d.company_of = {k.id: k.property_company_id for k in self._site.compounds()}
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


def _known(table: Mapping[str, T], key: str, noun: str) -> T:
    """``table[key]``, or NotFound naming the missing thing."""
    value = table.get(key)
    if value is None:
        raise NotFound.of(noun, key)
    return value

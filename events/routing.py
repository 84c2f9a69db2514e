"""Who answers for a camera or a grid, read from the site model through camera_config's SiteStore.

The camera is read fresh on every call (a camera disabled a moment ago must refuse alerts at once);
the organisation around grids (communities, streets, people) changes rarely and is cached for
``ttl_s``, and re-read at once when a grid is not in the cache.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field

from camera_config.clock import Clock
from camera_config.errors import Conflict, NotFound
from camera_config.model import Camera, Grid, PersonRole
from camera_config.store import SiteStore
from events.types import Route


@dataclass(slots=True)
class _Directory:
    grids: dict[str, Grid] = field(default_factory=dict)
    street_of: dict[str, str] = field(default_factory=dict)  # community -> street
    worker_of: dict[str, str] = field(default_factory=dict)  # grid -> grid worker
    leaders_of: dict[str, list[str]] = field(default_factory=dict)  # grid -> building leaders
    members_of: dict[str, list[str]] = field(default_factory=dict)  # party group -> members
    loaded_at: float = float("-inf")


class Router:
    def __init__(self, site: SiteStore, clock: Clock, *, ttl_s: float = 30.0) -> None:
        self._site = site
        self._clock = clock
        self._ttl_s = ttl_s
        self._dir = _Directory()
        self._lock = threading.Lock()

    def camera(self, camera_id: str) -> Camera:
        """The camera, if it exists and is enabled; a disabled camera raises Conflict."""
        cam = self._site.camera(camera_id)
        if not cam.enabled:
            raise Conflict(f'camera "{camera_id}" is disabled: its alerts are refused')
        return cam

    def grid(self, grid_id: str) -> Route:
        """Grid → community → street, the grid's worker, and its building leaders and party group members."""
        d = self._directory(need=grid_id)
        grid = d.grids.get(grid_id)
        if grid is None:
            raise NotFound(f'grid "{grid_id}" does not exist')
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

    def community_street(self, community_id: str) -> str:
        d = self._directory(need=None)
        street = d.street_of.get(community_id)
        if street is None:
            raise NotFound(f'community "{community_id}" does not exist')
        return street

    def refresh(self) -> None:
        with self._lock:
            self._dir = self._load()

    def _directory(self, need: str | None) -> _Directory:
        with self._lock:
            d = self._dir
            stale = self._clock.monotonic() - d.loaded_at >= self._ttl_s
            if stale or (need is not None and need not in d.grids):
                self._dir = d = self._load()
            return d

    def _load(self) -> _Directory:
        d = _Directory(loaded_at=self._clock.monotonic())
        d.grids = {g.id: g for g in self._site.grids()}
        for street in self._site.tree():
            for community in street.children:
                if community.kind == "community":
                    d.street_of[community.id] = street.id
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

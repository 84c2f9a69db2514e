"""Camera and person names for lists of alerts and cases, without a site query per row."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from camera_config.store import SiteStore


class Names:
    """id → name from a site query: run once per ``ttl_s``, and again (at most once a second) when an
    unknown id turns up, e.g. a camera added or a person imported a moment ago."""

    def __init__(self, load: Callable[[], dict[str, str]], *, ttl_s: float = 10.0) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._names: dict[str, str] = {}
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def names(self, ids: Iterable[str | None]) -> dict[str, str]:
        wanted = {i for i in ids if i is not None}
        now = time.monotonic()
        with self._lock:
            age = now - self._loaded_at
            if age >= self._ttl_s or (age >= 1.0 and not wanted <= self._names.keys()):
                self._names = self._load()
                self._loaded_at = now
            return {i: self._names[i] for i in wanted if i in self._names}

    def name(self, ident: str | None) -> str | None:
        return self.names([ident]).get(ident) if ident is not None else None


class CameraNames(Names):
    """camera id → name (alerts, cases)."""

    def __init__(self, site: SiteStore, *, ttl_s: float = 10.0) -> None:
        super().__init__(site.camera_names, ttl_s=ttl_s)


class PersonNames(Names):
    """person id → name of the site model's people (a case's assignee)."""

    def __init__(self, site: SiteStore, *, ttl_s: float = 10.0) -> None:
        super().__init__(site.person_names, ttl_s=ttl_s)

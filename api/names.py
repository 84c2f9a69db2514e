"""Camera names for lists of alerts and cases, without a site query per row."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from camera_config.store import SiteStore


class CameraNames:
    """camera id → name for lists of alerts and cases: one query per ``ttl_s``, and again (at most
    once a second) when an unknown id turns up, e.g. a camera added a moment ago."""

    def __init__(self, site: SiteStore, *, ttl_s: float = 10.0) -> None:
        self._site = site
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
                self._names = self._site.camera_names()
                self._loaded_at = now
            return {i: self._names[i] for i in wanted if i in self._names}

    def name(self, camera_id: str | None) -> str | None:
        return self.names([camera_id]).get(camera_id) if camera_id is not None else None

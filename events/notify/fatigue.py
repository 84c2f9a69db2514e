"""Alert-fatigue controls that hold back notifications and new auto-cases: a cooldown per camera,
zone and hazard, and time-boxed suspends of a camera or a grid. (The third control, a cap per
channel and period, sits with the deliveries: `events.notify.sink`.)

Held-back alerts are still recorded, shown and counted: the alert carries the name of the control
in ``held_back``. Escalations are never held back: they are the moment a person asked for attention.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from detectors.types import HazardType, Severity


class SuspendKind(enum.StrEnum):
    CAMERA = "camera"
    GRID = "grid"


class Held(enum.StrEnum):
    """Why a notification or auto-case was held back (the value is stored on the alert or delivery)."""

    COOLDOWN = "cooldown"
    SUSPEND_CAMERA = "suspend:camera"
    SUSPEND_GRID = "suspend:grid"
    CAP = "cap"


@dataclass(frozen=True, slots=True)
class Suspend:
    id: int
    kind: SuspendKind
    target_id: str
    reason: str
    created_by: str
    created_at: datetime
    until: datetime
    lifted_at: datetime | None = None
    lifted_by: str | None = None

    def active(self, now: datetime) -> bool:
        return self.lifted_at is None and self.created_at <= now < self.until


class Fatigue:
    """The cooldown memory and the active suspends of the one process that writes alerts.

    ``cooldown_s``: seconds after an alert that passed during which a new alert of the same camera,
    zone and hazard is held back; ``by_hazard`` overrides it per hazard; 0 turns it off. Critical
    alerts are never cooled down (a suspend still holds them: someone chose to silence that place).
    """

    def __init__(self, cooldown_s: float = 0.0, by_hazard: Mapping[HazardType, float] | None = None) -> None:
        self.cooldown_s = cooldown_s
        self.by_hazard = dict(by_hazard or {})
        self._passed: dict[tuple[str, str | None, str], tuple[datetime, str]] = {}
        """Per camera, zone and hazard: when the last alert passed, and its episode."""
        self._suspends: dict[tuple[SuspendKind, str], list[Suspend]] = {}
        self._lock = threading.Lock()

    def set_suspends(self, suspends: Iterable[Suspend]) -> None:
        table: dict[tuple[SuspendKind, str], list[Suspend]] = {}
        for s in suspends:
            if s.lifted_at is None:
                table.setdefault((s.kind, s.target_id), []).append(s)
        with self._lock:
            self._suspends = table

    def suspended(self, kind: SuspendKind, target_id: str, now: datetime) -> Suspend | None:
        with self._lock:
            found = [s for s in self._suspends.get((kind, target_id), ()) if s.active(now)]
        return max(found, key=lambda s: s.until) if found else None

    def hold(
        self,
        camera_id: str,
        zone_id: str | None,
        hazard: HazardType,
        severity: Severity,
        grid_id: str,
        now: datetime,
        episode_id: str = "",
    ) -> Held | None:
        """The control that holds back a new alert, or None; a passing alert restarts its cooldown. Asked again
        for the episode that passed last (its transaction lost a race and runs again), the answer stays."""
        if self.suspended(SuspendKind.CAMERA, camera_id, now) is not None:
            return Held.SUSPEND_CAMERA
        if self.suspended(SuspendKind.GRID, grid_id, now) is not None:
            return Held.SUSPEND_GRID
        window = self.by_hazard.get(hazard, self.cooldown_s)
        key = (camera_id, zone_id, hazard.value)
        with self._lock:
            last = self._passed.get(key)
            if last is not None and episode_id and last[1] == episode_id:
                return None
            cooling = severity is not Severity.CRITICAL and window > 0 and last is not None
            if cooling and last is not None and now - last[0] < timedelta(seconds=window):
                return Held.COOLDOWN
            self._passed[key] = (now, episode_id)
            if len(self._passed) > 100_000:  # forget the oldest half rather than grow without bound
                for k, _ in sorted(self._passed.items(), key=lambda kv: kv[1][0])[:50_000]:
                    del self._passed[k]
        return None

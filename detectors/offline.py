"""Camera offline as a hazard: ingest reports health, this rule turns a lasting outage into one episode.

An RTSP session that drops for a second is ingest's business (it reconnects); a camera that stays
unreachable for `offline_after_s` is a fault someone must go and fix, so it becomes an alert, updated
when the reason changes and closed once the camera has streamed again for `online_clear_s`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from camera_config.hazard_settings import TamperSettings
from camera_config.types import Camera
from detectors.episodes import EpisodeWriter, Persistence, Report
from detectors.types import HazardType, Observation, Severity
from ingest.types import CameraHealth, HealthState

MIN_GAP_S = 15.0
"""Health arrives every few seconds: shorter online spells than this do not restart the offline wait."""


class _CameraOffline:
    def __init__(self, camera_id: str, settings: TamperSettings) -> None:
        # Back online for longer than the gap restarts the wait; a camera flapping faster stays "offline".
        gap_s = max(settings.online_clear_s, MIN_GAP_S)
        self.persistence = Persistence(on_s=settings.offline_after_s, off_s=settings.online_clear_s, gap_s=gap_s)
        self.writer = EpisodeWriter(camera_id, HazardType.CAMERA_OFFLINE, Severity.HIGH, update_every_s=600.0)

    def step(self, health: CameraHealth, now_s: float, now_at: datetime) -> Observation | None:
        offline = health.state is HealthState.OFFLINE
        reason = (health.reason.value if health.reason else "unknown") if offline else None
        summary = f"camera offline ({reason})" if offline else "camera streaming again"
        if health.detail and offline:
            summary += f": {health.detail}"
        measurements = {"reconnects_last_hour": float(health.reconnects_last_hour)}
        step = self.persistence.step(now_s, offline)
        said = self.writer.follow(
            step, now_s, now_at, lambda _: Report(summary, measurements), holds=offline, key=reason
        )
        return said[0] if said else None


class OfflineRule:
    """One outage state per camera; feed it every camera's health now and then (every few seconds)."""

    def __init__(self) -> None:
        self._cameras: dict[str, tuple[TamperSettings, _CameraOffline]] = {}

    def apply_cameras(self, cameras: Iterable[Camera], now_at: datetime) -> list[Observation]:
        """Track these cameras; a removed or disabled camera's open outage is closed, not left hanging."""
        wanted = {c.id: c.hazards.tamper for c in cameras if c.enabled and c.hazards.tamper.enabled}
        closed: list[Observation] = []
        for cid in list(self._cameras):
            settings, state = self._cameras[cid]
            if cid not in wanted or wanted[cid] != settings:
                if state.writer.open:
                    closed.append(state.writer.finish(now_at, Report("camera no longer watched")))
                del self._cameras[cid]
        for cid, settings in wanted.items():
            if cid not in self._cameras:
                self._cameras[cid] = (settings, _CameraOffline(cid, settings))
        return closed

    def step(self, health: Iterable[CameraHealth], now_s: float, now_at: datetime) -> list[Observation]:
        out: list[Observation] = []
        for h in health:
            entry = self._cameras.get(h.camera_id)
            if entry is None:
                continue
            obs = entry[1].step(h, now_s, now_at)
            if obs is not None:
                out.append(obs)
        return out

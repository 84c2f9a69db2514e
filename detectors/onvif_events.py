"""A camera's own ONVIF events (motion, tamper) as hazard observations, marked as coming from the device.

The device decides, not gridwatch's model: an event with its state true opens an episode, the same source's
state false closes it. Tamper (``VideoSource/GlobalSceneChange/…``: the picture changed as a whole, i.e. the
lens was covered, sprayed or turned) is `HazardType.CAMERA_COVERED`; motion (``VideoSource/MotionAlarm``,
``RuleEngine/CellMotionDetector/Motion``) is `HazardType.INTRUSION`. Other topics are not hazards here.

Each observation says where it came from: its summary begins "ONVIF 设备事件 / ONVIF device event" and its
measurements carry ``onvif_device_event`` = 1 (`ONVIF_MARK`), which the alert keeps and the console shows.

Episode ids are derived from the camera, hazard, the event's source items and the device's UtcTime of the
event that opened it, so an event delivered again (the device resends it, or gridwatch restarted and pulled
it anew) names the same episode and events makes no second alert.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from detectors.types import EpisodeState, HazardType, Observation, Severity
from ingest.onvif import OnvifEvent

ONVIF_MARK = "onvif_device_event"
"""Measurement key every ONVIF observation carries (value 1): the alert came from the device, not a model."""
SOURCE_LABEL = "ONVIF 设备事件 / ONVIF device event"

TAMPER_TOPICS = ("VideoSource/GlobalSceneChange",)
MOTION_TOPICS = ("VideoSource/MotionAlarm", "RuleEngine/CellMotionDetector/Motion")
_STATE_KEYS = ("State", "IsMotion", "IsTamper", "IsGlobalSceneChange")
SEVERITY = {HazardType.CAMERA_COVERED: Severity.HIGH, HazardType.INTRUSION: Severity.HIGH}
_WHAT = {HazardType.CAMERA_COVERED: "tamper (画面被遮挡/改变)", HazardType.INTRUSION: "motion (移动侦测)"}


def hazard_of(topic: str) -> HazardType | None:
    """The hazard an ONVIF topic (without namespace prefixes) stands for; None for other topics."""
    if any(topic == t or topic.startswith(t + "/") for t in TAMPER_TOPICS):
        return HazardType.CAMERA_COVERED
    if topic in MOTION_TOPICS:
        return HazardType.INTRUSION
    return None


def state_of(event: OnvifEvent) -> bool | None:
    """The event's boolean state (State, IsMotion, ...); None when it carries none."""
    for key in _STATE_KEYS:
        value = event.data.get(key)
        if value is not None:
            text = value.strip().lower()
            if text in ("true", "1"):
                return True
            if text in ("false", "0"):
                return False
    return None


@dataclass
class _Open:
    episode_id: str
    started_at: datetime
    summary: str


class OnvifEventMapper:
    """One camera's ONVIF events to observations; remembers which episodes are open (per hazard and source)."""

    def __init__(self, camera_id: str) -> None:
        self.camera_id = camera_id
        self._open: dict[tuple[HazardType, str], _Open] = {}

    def _source_key(self, event: OnvifEvent) -> str:
        return ",".join(f"{k}={v}" for k, v in sorted(event.source.items()))

    def observe(self, event: OnvifEvent) -> Observation | None:
        """The observation an event makes: an episode opened (state true) or closed (false); else None."""
        hazard = hazard_of(event.topic)
        state = state_of(event)
        if hazard is None or state is None:
            return None
        source = self._source_key(event)
        key = (hazard, source)
        current = self._open.get(key)
        if state:
            if current is not None:
                return None  # still active: the episode is open already (or this is a redelivery)
            digest = hashlib.sha1(f"{hazard.value}\x00{source}".encode()).hexdigest()[:10]
            episode_id = f"onvif-{self.camera_id}-{hazard.value}-{digest}-{event.utc_time.strftime('%Y%m%dT%H%M%S%fZ')}"
            where = f" ({source})" if source else ""
            summary = f"{SOURCE_LABEL}: {_WHAT[hazard]} — {event.topic}{where}"
            self._open[key] = _Open(episode_id, event.utc_time, summary)
            return self._observation(
                hazard, episode_id, EpisodeState.OPENED, 0, event.utc_time, event.utc_time, summary
            )
        if current is None:
            return None  # inactive and nothing open (e.g. the Initialized state at subscription)
        del self._open[key]
        ended = max(event.utc_time, current.started_at)
        return self._observation(
            hazard, current.episode_id, EpisodeState.CLOSED, 1, current.started_at, ended, current.summary + " — ended"
        )

    def close_all(self, now: datetime, reason: str) -> list[Observation]:
        """Close every open episode (the camera was removed, or gridwatch stops)."""
        closing = [
            self._observation(
                hazard,
                ep.episode_id,
                EpisodeState.CLOSED,
                1,
                ep.started_at,
                max(now, ep.started_at),
                f"{ep.summary} — {reason}",
            )
            for (hazard, _), ep in self._open.items()
        ]
        self._open.clear()
        return closing

    def _observation(
        self,
        hazard: HazardType,
        episode_id: str,
        state: EpisodeState,
        seq: int,
        started_at: datetime,
        observed_at: datetime,
        summary: str,
    ) -> Observation:
        return Observation(
            episode_id=episode_id,
            camera_id=self.camera_id,
            hazard=hazard,
            state=state,
            severity=SEVERITY[hazard],
            started_at=started_at,
            observed_at=observed_at,
            seq=seq,
            summary=summary,
            measurements={ONVIF_MARK: 1.0},
        )

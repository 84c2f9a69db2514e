"""Turning a noisy per-frame condition into one hazard episode: opened once, updated while it lasts, closed once.

Every rule uses the same two pieces: `Persistence` (how long a condition must hold before an episode opens,
how long it must be gone before it closes, and a cooldown before the next one), and `EpisodeWriter`
(ids, sequence numbers and the `Observation` values); `EpisodeWriter.follow` says what a rule owes at each
`Step`. Time comes from the frames, which ingest stamps with its injected clock, so a rule runs the same on
live streams, on a file's timeline and under a fake clock.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import cv2
import numpy as np

from detectors.types import Detection, EpisodeState, HazardType, Observation, Severity
from detectors.zones import PixelZone
from ingest.types import Image


class Step(enum.Enum):
    """What `Persistence.step` says about the episode at one moment."""

    IDLE = "idle"
    """Nothing open, nothing to say."""
    OPEN = "open"
    """An episode starts now."""
    ONGOING = "ongoing"
    """The open episode goes on."""
    CLOSE = "close"
    """The open episode ends now."""


@dataclass(slots=True)
class Persistence:
    """Hysteresis in time for one condition.

    Opens after the condition has held for ``on_s`` (a flicker shorter than ``gap_s`` does not reset that
    wait), closes after it has been false for ``off_s``, and will not open again until ``cooldown_s`` after a
    close — so one gathering that thins out for a moment stays one alert.
    """

    on_s: float
    off_s: float
    cooldown_s: float = 0.0
    gap_s: float = 1.0
    active: bool = False
    _since: float | None = None
    _last_true: float | None = None
    _closed_at: float | None = None

    def step(self, now_s: float, condition: bool) -> Step:
        if condition:
            gap = self._last_true is not None and now_s - self._last_true > self.gap_s
            if (self._since is None or gap) and not self.active:
                self._since = now_s
            self._last_true = now_s
        if self.active:
            if not condition and self._last_true is not None and now_s - self._last_true >= self.off_s:
                self.active = False
                self._since = None
                self._closed_at = now_s
                return Step.CLOSE
            return Step.ONGOING
        if not condition:
            if self._last_true is None or now_s - self._last_true > self.gap_s:
                self._since = None
            return Step.IDLE
        cooling = self._closed_at is not None and now_s - self._closed_at < self.cooldown_s
        if self._since is not None and now_s - self._since >= self.on_s and not cooling:
            self.active = True
            return Step.OPEN
        return Step.IDLE

    def held_s(self, now_s: float) -> float:
        return 0.0 if self._since is None else now_s - self._since


@dataclass(frozen=True, slots=True)
class Report:
    """What one Observation of an episode says; opening, updating and closing each take one."""

    summary: str
    measurements: Mapping[str, float] = field(default_factory=dict)
    detections: Sequence[Detection] = ()
    evidence: bytes | None = None
    """The annotated snapshot (`evidence_jpeg`), when this step has a picture worth showing."""


@dataclass(slots=True)
class EpisodeWriter:
    """Makes the Observations of one rule on one camera (and zone): stable ids, increasing seq, rate-limited updates."""

    camera_id: str
    hazard: HazardType
    severity: Severity
    zone_id: str | None = None
    update_every_s: float = 10.0
    episode_id: str | None = None
    started_at: datetime | None = None
    seq: int = 0
    _last_update_s: float = 0.0
    _last_key: object = None
    history: list[Observation] = field(default_factory=list, repr=False)

    @property
    def open(self) -> bool:
        return self.episode_id is not None

    def _make(self, state: EpisodeState, now_at: datetime, report: Report) -> Observation:
        assert self.episode_id is not None
        assert self.started_at is not None
        obs = Observation(
            episode_id=self.episode_id,
            camera_id=self.camera_id,
            hazard=self.hazard,
            state=state,
            severity=self.severity,
            started_at=self.started_at,
            observed_at=now_at,
            seq=self.seq,
            zone_id=self.zone_id,
            summary=report.summary,
            measurements=dict(report.measurements),
            detections=tuple(report.detections),
            evidence_jpeg=report.evidence,
        )
        self.seq += 1
        return obs

    def start(self, now_s: float, now_at: datetime, report: Report, key: object = None) -> Observation:
        """Open a new episode: a fresh id (events make one alert of it), seq from 0."""
        zone = self.zone_id or "camera"
        self.episode_id = f"{self.camera_id}:{zone}:{self.hazard.value}:{uuid.uuid4().hex[:16]}"
        self.started_at = now_at
        self.seq = 0
        self._last_update_s = now_s
        self._last_key = key
        return self._make(EpisodeState.OPENED, now_at, report)

    def due(self, now_s: float, key: object = None) -> bool:
        """An update is worth sending when ``key`` (e.g. the count) changed or ``update_every_s`` passed."""
        return self.open and (key != self._last_key or now_s - self._last_update_s >= self.update_every_s)

    def update(self, now_s: float, now_at: datetime, report: Report, key: object = None) -> Observation:
        """Say more about the open episode; ``key`` and the time are what `due` compares the next one with."""
        self._last_update_s = now_s
        self._last_key = key
        return self._make(EpisodeState.UPDATED, now_at, report)

    def finish(self, now_at: datetime, report: Report) -> Observation:
        """Close the open episode; the next `start` is a new episode with a new id."""
        obs = self._make(EpisodeState.CLOSED, now_at, report)
        self.episode_id = None
        self.started_at = None
        return obs

    def follow(
        self,
        step: Step,
        now_s: float,
        now_at: datetime,
        report: Callable[[Step], Report],
        *,
        holds: bool = True,
        key: object = None,
    ) -> list[Observation]:
        """What a rule says at ``step`` of its `Persistence` (nothing, or one Observation): open, close, or
        update while its condition still ``holds`` and an update is `due`. ``report`` is asked only when
        something is said, so evidence pictures are drawn only then."""
        if step is Step.OPEN:
            return [self.start(now_s, now_at, report(step), key=key)]
        if step is Step.CLOSE:
            return [self.finish(now_at, report(step))]
        if step is Step.ONGOING and holds and self.due(now_s, key=key):
            return [self.update(now_s, now_at, report(step), key=key)]
        return []


# ---------------------------------------------------------------------------- evidence

_COLOURS = {
    "person": (60, 200, 60),
    "fallen_person": (0, 0, 255),
    "vehicle": (255, 160, 0),
    "bicycle": (255, 200, 0),
}


def evidence_jpeg(
    image: Image,
    *,
    detections: Sequence[Detection] = (),
    zones: Sequence[PixelZone] = (),
    title: str = "",
    highlight: Sequence[tuple[int, int, int, int]] = (),
    max_width: int = 960,
    quality: int = 80,
) -> bytes:
    """The frame with zones, boxes (track ids) and a title drawn on it, as a JPEG for people to judge the alert."""
    canvas = np.ascontiguousarray(image).copy()
    for z in zones:
        cv2.polylines(canvas, [z.polygon], True, (0, 220, 255), 2)
        x, y = int(z.polygon[0, 0, 0]), int(z.polygon[0, 0, 1])
        cv2.putText(canvas, z.id, (x + 3, max(12, y + 14)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 220, 255), 1)
    for x1, y1, x2, y2 in highlight:
        cv2.rectangle(canvas, (x1, y1), (x2, y2), (0, 0, 255), 2)
    for d in detections:
        colour = _COLOURS.get(d.label, (200, 200, 200))
        b = d.box
        cv2.rectangle(canvas, (int(b.x1), int(b.y1)), (int(b.x2), int(b.y2)), colour, 2)
        tag = d.label + (f" #{d.track_id}" if d.track_id is not None else "") + f" {d.confidence:.2f}"
        cv2.putText(canvas, tag, (int(b.x1), max(10, int(b.y1) - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1)
    if title:
        cv2.rectangle(canvas, (0, 0), (canvas.shape[1], 22), (0, 0, 0), -1)
        cv2.putText(canvas, title, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    if canvas.shape[1] > max_width:
        scale = max_width / canvas.shape[1]
        size = (max_width, round(canvas.shape[0] * scale))
        canvas = np.asarray(cv2.resize(canvas, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - encoding a valid uint8 image does not fail
        raise RuntimeError("JPEG encoding failed")
    return bytes(buf.tobytes())


def zone_report(
    image: Image,
    zone: PixelZone,
    summary: str,
    measurements: Mapping[str, float],
    people: Sequence[Detection],
    title: str,
) -> Report:
    """Who is in a zone, with the picture that shows them there (the zone drawn, their boxes marked)."""
    return Report(summary, measurements, people, evidence_jpeg(image, detections=people, zones=[zone], title=title))

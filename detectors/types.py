"""What detectors hand downstream: detections and hazard observations (one episode, many updates)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ingest.types import CameraHealth, CameraStats


class HazardType(enum.StrEnum):
    CROWD = "crowd"
    FALLEN_PERSON = "fallen_person"
    STRUCTURE = "structure"
    INTRUSION = "intrusion"
    LOITERING = "loitering"
    CAMERA_OFFLINE = "camera_offline"
    CAMERA_COVERED = "camera_covered"
    CAMERA_DEFOCUSED = "camera_defocused"
    CAMERA_MOVED = "camera_moved"
    CAMERA_FROZEN = "camera_frozen"
    FIRE_LANE_BLOCKED = "fire_lane_blocked"
    EBIKE_INDOORS = "ebike_indoors"


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class EpisodeState(enum.StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Box:
    """Pixel coordinates in the analysed frame."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def bottom_centre(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2, self.y2)

    def iou(self, other: Box) -> float:
        """Intersection over union; 0 for boxes without area."""
        ix = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        inter = ix * iy
        union = (self.x2 - self.x1) * (self.y2 - self.y1) + (other.x2 - other.x1) * (other.y2 - other.y1) - inter
        return inter / union if union > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Detection:
    label: str
    """gridwatch label: person, fallen_person, vehicle, bicycle, ..."""
    confidence: float
    box: Box
    track_id: int | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    """One step of a hazard episode on one camera (and zone), as a rule saw it.

    ``episode_id`` is the producer's alert id: events use it as the idempotency key, so a redelivered
    observation never makes a second alert. ``seq`` orders the updates of one episode.
    """

    episode_id: str
    camera_id: str
    hazard: HazardType
    state: EpisodeState
    severity: Severity
    started_at: datetime
    observed_at: datetime
    seq: int = 0
    zone_id: str | None = None
    summary: str = ""
    measurements: Mapping[str, float] = field(default_factory=dict)
    detections: tuple[Detection, ...] = ()
    evidence_jpeg: bytes | None = field(default=None, repr=False)
    """Annotated snapshot (boxes and zone drawn), JPEG."""


@dataclass(frozen=True, slots=True)
class CameraFigures:
    """One camera in the running service: ingest's health and rates, and the detector's figures.

    The one type for these figures: the shell's monitor makes them, the API shows them, metrics count them.
    """

    camera_id: str
    health: CameraHealth
    ingest: CameraStats
    detecting: bool = False
    """False when the camera is ingested but not analysed (its zones could not be used, or no detector runs)."""
    detected_frames: int = 0
    """Frames the detector analysed (motion-gated frames only, plus keep-alive samples)."""
    people: int = 0
    """People found in the last analysed frame."""
    inference_ms: float | None = None
    """Model time of the detector's last batch (shared by the cameras in it), when the camera is detected."""
    need: str | None = None
    """Why the analysis scheduler last served or passed over the camera (episode, overdue, alerted, motion,
    quiet); None before its first offer."""
    deferred: int = 0
    """Offers the scheduler passed over for more urgent cameras."""
    starved: int = 0
    """Analyses that missed the guaranteed minimum cadence."""
    longest_gap_s: float = 0.0
    """Longest time between two analyses of the camera."""


@dataclass(frozen=True, slots=True)
class BoxFigures:
    """The whole box's headroom: what its cameras send, what ingest decodes, what the models spend and what the
    process costs (the figures Frigate's stats page shows, plus the analysis scheduler's)."""

    cameras: int
    online: int
    detecting: int
    input_fps: float
    """Frames arriving from all cameras per second."""
    decoded_fps: float
    analysed_fps: float
    """Frames the detector analysed per second, all cameras."""
    dropped: int
    skipped_quiet: int
    deferred: int
    starved: int
    inference_ms: float | None
    """Model time of the last batch."""
    budget: float
    """Model seconds per second the scheduler may spend."""
    busy: float
    """Model seconds per second spent over the last few seconds (against ``budget``: the headroom)."""
    latency_p95_s: float | None
    """Recent frames, from capture to detections."""
    cpu_percent: float | None
    """The process, % of one core since the previous reading (None on the first)."""
    rss_mib: float | None

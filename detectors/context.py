"""What every hazard rule receives for one frame of one camera."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from camera_config.types import Camera
from detectors.episodes import EpisodeWriter
from detectors.labels import PERSON_LABELS
from detectors.types import Detection, Observation
from detectors.zones import CameraZones
from ingest.types import Frame


@dataclass(frozen=True, slots=True)
class FrameContext:
    camera: Camera
    frame: Frame
    zones: CameraZones
    detections: tuple[Detection, ...]
    """Tracked detections outside mask zones, in frame pixels; empty when the detector did not run."""
    analysed: bool = True
    """The detector ran on this frame (rules about people only learn from analysed frames)."""
    falls: tuple[Detection, ...] = ()
    """Fallen people the fall stage found where the counting model sees nobody: for the fall rule, never counted."""

    @property
    def now_s(self) -> float:
        return self.frame.monotonic_s

    @property
    def now_at(self) -> datetime:
        return self.frame.wall_at

    def people(self) -> list[Detection]:
        return [d for d in self.detections if d.label in PERSON_LABELS]


class Rule(Protocol):
    """A hazard rule: pure apart from its own state; time only from the frames."""

    def observe(self, ctx: FrameContext) -> list[Observation]: ...

    def episodes(self) -> list[EpisodeWriter]:
        """Its episode writers (to close what is open when the rule is taken down)."""
        ...

"""What every hazard rule receives for one frame of one camera."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from camera_config.types import Camera, Zone
from detectors.episodes import EpisodeWriter, Persistence
from detectors.labels import PERSON_LABELS
from detectors.types import Detection, HazardType, Observation, Severity
from detectors.zones import CameraZones, PixelZone
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


class ZoneRule:
    """What the rules on one zone share: one episode at a time, and judgement only on frames the detector
    analysed (elsewhere nothing is seen, which is not the same as nothing there). Subclasses name their
    zones (`_zones`) and judge one (`_observe`)."""

    def __init__(
        self, camera_id: str, zone: Zone, hazard: HazardType, severity: Severity, persistence: Persistence
    ) -> None:
        self.zone_id = zone.id
        self.persistence = persistence
        self.writer = EpisodeWriter(camera_id, hazard, severity, zone_id=zone.id)

    def episodes(self) -> list[EpisodeWriter]:
        return [self.writer]

    def observe(self, ctx: FrameContext) -> list[Observation]:
        zone = next((z for z in self._zones(ctx) if z.id == self.zone_id), None)
        if zone is None or not ctx.analysed:
            return []
        return self._observe(ctx, zone)

    def _zones(self, ctx: FrameContext) -> tuple[PixelZone, ...]:
        raise NotImplementedError

    def _observe(self, ctx: FrameContext, zone: PixelZone) -> list[Observation]:
        raise NotImplementedError

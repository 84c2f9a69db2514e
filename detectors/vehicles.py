"""Vehicles where they must not be: a fire lane blocked, a bicycle or e-bike inside a building.

Both read the COCO model's classes: cars, buses and trucks are vehicles; bicycles and motorcycles are two
wheelers (COCO has no e-bike class: most e-bikes and scooters are seen as motorcycles, some as bicycles, and
a pushed e-bike may be missed behind its rider; these rules are a first approximation of the real hazard).
"""

from __future__ import annotations

from dataclasses import dataclass

from camera_config.hazard_settings import EbikeSettings, FireLaneSettings
from camera_config.types import Zone
from detectors.context import FrameContext, ZoneRule
from detectors.episodes import Persistence, Report, Step, zone_report
from detectors.labels import TWO_WHEELER_LABELS, VEHICLE
from detectors.types import Box, Detection, HazardType, Observation, Severity
from detectors.zones import PixelZone

SAME_SPOT = 0.5
"""A vehicle box overlapping where a standing vehicle stopped this much (IoU) is that vehicle, still there (a
parked car's box barely moves; one creeping along in a queue soon leaves its first box)."""


@dataclass(slots=True)
class _Standing:
    box: Box
    since_s: float
    last_s: float
    detection: Detection


class FireLaneRule(ZoneRule):
    """One fire-lane zone: a vehicle standing in it (same place, frame after frame) for ``stand_s`` opens one
    episode, which closes once no vehicle has stood there for ``clear_s``. Vehicles driving through never
    stand long enough; one hidden for a moment by passers-by keeps its time (``gone_s``)."""

    def __init__(self, camera_id: str, zone: Zone, settings: FireLaneSettings) -> None:
        persistence = Persistence(on_s=0.0, off_s=settings.clear_s)
        super().__init__(camera_id, zone, HazardType.FIRE_LANE_BLOCKED, Severity.HIGH, persistence)
        self.settings = settings
        self.stand_s = zone.settings.stand_s if zone.settings.stand_s is not None else settings.stand_s
        self.standing: list[_Standing] = []

    def _zones(self, ctx: FrameContext) -> tuple[PixelZone, ...]:
        return ctx.zones.fire_lane

    def _observe(self, ctx: FrameContext, zone: PixelZone) -> list[Observation]:
        now = ctx.now_s
        for d in (d for d in ctx.detections if d.label == VEHICLE and zone.holds(d)):
            spot = max(self.standing, key=lambda s: s.box.iou(d.box), default=None)
            if spot is not None and spot.box.iou(d.box) >= SAME_SPOT:
                spot.last_s, spot.detection = now, d  # the box stays where it stopped: creeping is not standing
            else:
                self.standing.append(_Standing(d.box, now, now, d))
        self.standing = [s for s in self.standing if now - s.last_s <= self.settings.gone_s]
        blocking = [s for s in self.standing if now - s.since_s >= self.stand_s]
        step = self.persistence.step(now, bool(blocking))
        longest = max((now - s.since_s for s in blocking), default=0.0)
        measures = {"vehicles": float(len(blocking)), "standing_s": longest, "stand_s": self.stand_s}

        def report(step: Step) -> Report:
            name = zone.zone.name
            if step is Step.CLOSE:
                return zone_report(ctx.frame.image, zone, f"fire lane {name} clear again", measures, [], "lane clear")
            summary = f"{len(blocking)} vehicle(s) standing in fire lane {name} for {longest / 60:.0f} min"
            dets = [s.detection for s in blocking]
            return zone_report(ctx.frame.image, zone, summary, measures, dets, f"fire lane {zone.id} blocked")

        return self.writer.follow(step, now, ctx.now_at, report, holds=bool(blocking), key=len(blocking))


class EbikeRule(ZoneRule):
    """One entrance zone (building entrance, corridor, lift lobby): a bicycle or motorcycle inside for
    ``min_duration_s`` opens one episode; it closes once none has been inside for ``clear_s``."""

    def __init__(self, camera_id: str, zone: Zone, settings: EbikeSettings) -> None:
        persistence = Persistence(on_s=settings.min_duration_s, off_s=settings.clear_s)
        super().__init__(camera_id, zone, HazardType.EBIKE_INDOORS, Severity.HIGH, persistence)

    def _zones(self, ctx: FrameContext) -> tuple[PixelZone, ...]:
        return ctx.zones.entrance

    def _observe(self, ctx: FrameContext, zone: PixelZone) -> list[Observation]:
        inside = [d for d in ctx.detections if d.label in TWO_WHEELER_LABELS and zone.holds(d)]
        step = self.persistence.step(ctx.now_s, bool(inside))
        measures = {"two_wheelers": float(len(inside))}

        def report(step: Step) -> Report:
            name = zone.zone.name
            if step is Step.CLOSE:
                return zone_report(ctx.frame.image, zone, f"no bicycle in {name} any more", measures, [], "clear")
            held = self.persistence.held_s(ctx.now_s)
            summary = f"{len(inside)} bicycle(s) or e-bike(s) in {name} for {held:.0f} s"
            return zone_report(ctx.frame.image, zone, summary, measures, inside, f"e-bike in {zone.id}")

        return self.writer.follow(step, ctx.now_s, ctx.now_at, report, holds=bool(inside), key=len(inside))

"""Crowd gathering: at least N people stand in a crowd zone for at least T seconds."""

from __future__ import annotations

from camera_config.hazard_settings import CrowdSettings
from camera_config.types import Zone
from detectors.context import FrameContext
from detectors.episodes import EpisodeWriter, Persistence, Report, Step, zone_report
from detectors.types import HazardType, Observation, Severity


def crowd_thresholds(settings: CrowdSettings, zone: Zone) -> tuple[int, float]:
    """(min_people, min_duration_s) for a zone: its own overrides, else the camera's."""
    n = zone.settings.min_people if zone.settings.min_people is not None else settings.min_people
    t = zone.settings.min_duration_s if zone.settings.min_duration_s is not None else settings.min_duration_s
    return n, t


class CrowdRule:
    """One crowd zone. Opens at ≥ min_people held for min_duration_s; stays open while at least
    min_people − hysteresis_people remain; closes after clear_s below that; then cools down."""

    def __init__(self, camera_id: str, zone: Zone, settings: CrowdSettings) -> None:
        self.zone_id = zone.id
        self.settings = settings
        self.min_people, self.min_duration_s = crowd_thresholds(settings, zone)
        self.keep_people = max(1, self.min_people - settings.hysteresis_people)
        self.persistence = Persistence(on_s=self.min_duration_s, off_s=settings.clear_s, cooldown_s=settings.cooldown_s)
        self.writer = EpisodeWriter(
            camera_id, HazardType.CROWD, Severity.MEDIUM, zone_id=zone.id, update_every_s=settings.update_every_s
        )
        self.peak = 0

    def episodes(self) -> list[EpisodeWriter]:
        return [self.writer]

    def observe(self, ctx: FrameContext) -> list[Observation]:
        if not ctx.analysed:
            return []
        zone = next((z for z in ctx.zones.crowd if z.id == self.zone_id), None)
        if zone is None:
            return []
        inside = [d for d in ctx.people() if zone.holds(d)]
        count = len(inside)
        needed = self.keep_people if self.persistence.active else self.min_people
        step = self.persistence.step(ctx.now_s, count >= needed)
        if step is Step.OPEN:
            self.peak = count
        elif step is Step.ONGOING:
            self.peak = max(self.peak, count)
        measures = {"people": float(count), "min_people": float(self.min_people)}

        def report(step: Step) -> Report:
            if step is Step.OPEN:
                held = self.persistence.held_s(ctx.now_s)
                summary = f"{count} people gathered in {zone.zone.name} for {held:.0f} s"
                figures, title = measures | {"held_s": held}, f"crowd: {count} people in {zone.id}"
            elif step is Step.CLOSE:
                summary = f"gathering in {zone.zone.name} dispersed (peak {self.peak})"
                figures, title = measures | {"peak_people": float(self.peak)}, f"crowd dispersed in {zone.id}"
            else:
                summary = f"{count} people in {zone.zone.name}"
                figures, title = measures | {"peak_people": float(self.peak)}, f"crowd: {count} people in {zone.id}"
            return zone_report(ctx.frame.image, zone, summary, figures, inside, title)

        return self.writer.follow(step, ctx.now_s, ctx.now_at, report, holds=count >= self.keep_people, key=count)

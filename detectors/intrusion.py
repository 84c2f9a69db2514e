"""Restricted zones: intrusion (anyone inside, optionally only at scheduled times) and loitering (one tracked
person staying longer than loiter_s)."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from camera_config.hazard_settings import IntrusionSettings, parse_window
from camera_config.types import Zone
from detectors.context import FrameContext, ZoneRule
from detectors.episodes import Persistence, Report, Step, zone_report
from detectors.types import Detection, HazardType, Observation, Severity
from detectors.zones import PixelZone


def in_schedule(settings: IntrusionSettings, at: datetime) -> bool:
    """Whether the zone is restricted at this instant (no schedule = always). Windows may cross midnight."""
    if not settings.schedule:
        return True
    local = at.astimezone(ZoneInfo(settings.timezone)).time()
    for window in settings.schedule:
        start, end = parse_window(window)
        if end is None:
            end = time.max
        if start <= end:
            if start <= local < end:
                return True
        elif local >= start or local < end:
            return True
    return False


class _RestrictedZoneRule(ZoneRule):
    """What intrusion and loitering share: a restricted zone."""

    def _zones(self, ctx: FrameContext) -> tuple[PixelZone, ...]:
        return ctx.zones.restricted


class IntrusionRule(_RestrictedZoneRule):
    """Anyone inside the zone while it is restricted (its schedule) for min_duration_s opens one episode,
    which closes once the zone has been clear for clear_s."""

    def __init__(self, camera_id: str, zone: Zone, settings: IntrusionSettings) -> None:
        persistence = Persistence(on_s=settings.min_duration_s, off_s=settings.clear_s)
        super().__init__(camera_id, zone, HazardType.INTRUSION, Severity.HIGH, persistence)
        self.settings = settings

    def _observe(self, ctx: FrameContext, zone: PixelZone) -> list[Observation]:
        active = in_schedule(self.settings, ctx.now_at)
        inside = [d for d in ctx.people() if zone.holds(d)] if active else []
        step = self.persistence.step(ctx.now_s, bool(inside))
        measures = {"people": float(len(inside))}

        def report(step: Step) -> Report:
            if step is Step.CLOSE:
                return Report(f"{zone.zone.name} clear", measures)
            where = f"restricted zone {zone.zone.name}" if step is Step.OPEN else zone.zone.name
            title = f"intrusion: {len(inside)} in {zone.id}"
            return zone_report(ctx.frame.image, zone, f"{len(inside)} person(s) in {where}", measures, inside, title)

        return self.writer.follow(step, ctx.now_s, ctx.now_at, report, holds=bool(inside), key=len(inside))


class LoiterRule(_RestrictedZoneRule):
    """Dwell per track id: a person who stays in the zone (brief misses of up to ``gap_s`` forgiven) beyond
    loiter_s opens one episode for the zone, which closes when no loiterer is left."""

    def __init__(self, camera_id: str, zone: Zone, settings: IntrusionSettings, *, gap_s: float = 3.0) -> None:
        persistence = Persistence(on_s=0.0, off_s=settings.clear_s)
        super().__init__(camera_id, zone, HazardType.LOITERING, Severity.MEDIUM, persistence)
        self.loiter_s = zone.settings.loiter_s if zone.settings.loiter_s is not None else settings.loiter_s
        self.gap_s = gap_s
        self.entered: dict[int, float] = {}
        self.last_seen: dict[int, float] = {}

    def dwell_s(self, track_id: int, now_s: float) -> float:
        return now_s - self.entered[track_id] if track_id in self.entered else 0.0

    def _observe(self, ctx: FrameContext, zone: PixelZone) -> list[Observation]:
        now = ctx.now_s
        inside: list[Detection] = [d for d in ctx.people() if d.track_id is not None and zone.holds(d)]
        for d in inside:
            assert d.track_id is not None
            self.entered.setdefault(d.track_id, now)
            self.last_seen[d.track_id] = now
        for tid in [t for t, seen in self.last_seen.items() if now - seen > self.gap_s]:
            del self.last_seen[tid]
            self.entered.pop(tid, None)
        loiterers = [d for d in inside if d.track_id is not None and self.dwell_s(d.track_id, now) >= self.loiter_s]
        step = self.persistence.step(now, bool(loiterers))
        longest = max((self.dwell_s(d.track_id, now) for d in loiterers if d.track_id is not None), default=0.0)
        measures = {"loiterers": float(len(loiterers)), "longest_dwell_s": longest}

        def report(step: Step) -> Report:
            if step is Step.CLOSE:
                return Report(f"nobody loitering in {zone.zone.name}", measures)
            if step is Step.OPEN:
                summary = f"person loitering in {zone.zone.name} for {longest:.0f} s"
            else:
                summary = f"{len(loiterers)} loitering in {zone.zone.name}"
            title = f"loitering in {zone.id}: {longest:.0f} s"
            return zone_report(ctx.frame.image, zone, summary, measures, loiterers, title)

        return self.writer.follow(step, now, ctx.now_at, report, holds=bool(loiterers), key=len(loiterers))

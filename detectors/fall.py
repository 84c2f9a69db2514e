"""Fallen person: the model's fall class (or, for models without one, a lying person box) persisting."""

from __future__ import annotations

import math
from dataclasses import dataclass

from camera_config.hazard_settings import FallSettings
from detectors.context import FrameContext
from detectors.episodes import EpisodeWriter, Persistence, Report, Step, evidence_jpeg
from detectors.labels import FALLEN_PERSON, PERSON
from detectors.types import Box, Detection, HazardType, Observation, Severity


def is_fallen(det: Detection, settings: FallSettings, *, model_has_fall_class: bool) -> bool:
    """The model's fall class, sure enough and not upright; or, for a model without one, a lying person box."""
    width, height = det.box.x2 - det.box.x1, det.box.y2 - det.box.y1
    if height <= 0:
        return False
    if det.label == FALLEN_PERSON:
        return det.confidence >= settings.min_confidence and width / height >= settings.min_aspect
    if model_has_fall_class or det.label != PERSON:
        return False
    return width / height >= settings.lying_aspect


@dataclass(slots=True)
class _Spot:
    """Where something has been lying, and since when (kept across track id changes)."""

    box: Box
    first_s: float
    last_s: float


GRACE_S = 1.0
"""Standing and lying may overlap by this much (one detector frame can still see both)."""
FORGET_SPOT_S = 30.0


class FallRule:
    """One episode per camera while someone stays down; min_duration_s filters a stumble or a bend.

    A fall is something that happens: with ``upright_first`` a lying shape counts only when someone stood at
    that spot shortly before it appeared there and is not standing now. That keeps out what lies there all
    along (a coat on the lawn that the model calls a fall) and passers-by who stand next to it.
    """

    def __init__(self, camera_id: str, settings: FallSettings, *, model_has_fall_class: bool = True) -> None:
        self.settings = settings
        self.model_has_fall_class = model_has_fall_class
        self.persistence = Persistence(on_s=settings.min_duration_s, off_s=settings.clear_s)
        self.writer = EpisodeWriter(camera_id, HazardType.FALLEN_PERSON, Severity.HIGH)
        self.upright: dict[int, tuple[float, float, float, float]] = {}
        """Track id → (when, feet x, feet y, height) last seen upright."""
        self.spots: list[_Spot] = []

    def _spot(self, box: Box, now: float) -> _Spot:
        best = max(self.spots, key=lambda s: s.box.iou(box), default=None)
        if best is not None and best.box.iou(box) > 0.3:
            best.box, best.last_s = box, now
            return best
        spot = _Spot(box, now, now)
        self.spots.append(spot)
        return spot

    def _stood_here(self, d: Detection, spot: _Spot, standing_now: set[int]) -> bool:
        b = d.box
        cx, cy = (b.x1 + b.x2) / 2, (b.y1 + b.y2) / 2
        reach = max(b.x2 - b.x1, b.y2 - b.y1)
        for tid, (at, fx, fy, height) in self.upright.items():
            if tid in standing_now or at > spot.first_s + GRACE_S:
                continue  # still on their feet, or stood there only after it was already lying
            if spot.first_s - at <= self.settings.upright_window_s and math.hypot(fx - cx, fy - cy) <= max(
                reach, height
            ):
                return True
        return False

    def episodes(self) -> list[EpisodeWriter]:
        return [self.writer]

    def observe(self, ctx: FrameContext) -> list[Observation]:
        if not ctx.analysed:
            return []
        now = ctx.now_s
        people = ctx.people() + list(ctx.falls)
        standing_now: set[int] = set()
        lying: list[Detection] = []
        for d in people:
            if is_fallen(d, self.settings, model_has_fall_class=self.model_has_fall_class):
                lying.append(d)
            elif d.track_id is not None and d.box.y2 - d.box.y1 > d.box.x2 - d.box.x1:
                b = d.box
                self.upright[d.track_id] = (now, (b.x1 + b.x2) / 2, b.y2, b.y2 - b.y1)
                standing_now.add(d.track_id)
        window = self.settings.upright_window_s + GRACE_S
        self.upright = {t: rec for t, rec in self.upright.items() if now - rec[0] <= window}
        spots = [(d, self._spot(d.box, now)) for d in lying]
        self.spots = [s for s in self.spots if now - s.last_s <= FORGET_SPOT_S]
        down = [
            d
            for d, spot in spots
            # once a fall is confirmed, the person stays down however long ago they stood
            if not self.settings.upright_first or self.persistence.active or self._stood_here(d, spot, standing_now)
        ]
        step = self.persistence.step(ctx.now_s, bool(down))
        measures = {"fallen": float(len(down))}

        def report(step: Step) -> Report:
            if step is Step.CLOSE:
                return Report(
                    "nobody down any more", measures, evidence=evidence_jpeg(ctx.frame.image, title="cleared")
                )
            if step is Step.OPEN:
                held = self.persistence.held_s(ctx.now_s)
                summary, figures = f"person down for {held:.0f} s", measures | {"held_s": held}
            else:
                summary, figures = f"{len(down)} person(s) down", measures
            return Report(
                summary, figures, down, evidence_jpeg(ctx.frame.image, detections=down, title="fallen person")
            )

        return self.writer.follow(step, ctx.now_s, ctx.now_at, report, holds=bool(down), key=len(down))

"""Fallen person: the model's fall class (or, for models without one, a lying person box) persisting."""

from __future__ import annotations

from camera_config.hazard_settings import FallSettings
from detectors.context import FrameContext
from detectors.episodes import EpisodeWriter, Persistence, Step, evidence_jpeg
from detectors.model import FALLEN_PERSON, PERSON
from detectors.types import Detection, HazardType, Observation, Severity


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


class FallRule:
    """One episode per camera while someone stays down; min_duration_s filters a stumble or a bend."""

    def __init__(self, camera_id: str, settings: FallSettings, *, model_has_fall_class: bool = True) -> None:
        self.settings = settings
        self.model_has_fall_class = model_has_fall_class
        self.persistence = Persistence(on_s=settings.min_duration_s, off_s=settings.clear_s)
        self.writer = EpisodeWriter(camera_id, HazardType.FALLEN_PERSON, Severity.HIGH)
        self.upright: dict[int, float] = {}
        """Track id → when last seen upright (kept for a while: a fall follows standing)."""

    def observe(self, ctx: FrameContext) -> list[Observation]:
        if not ctx.analysed:
            return []
        now = ctx.now_s
        down = []
        for d in ctx.people():
            if is_fallen(d, self.settings, model_has_fall_class=self.model_has_fall_class):
                if not self.settings.upright_first or (d.track_id is not None and d.track_id in self.upright):
                    down.append(d)
            elif d.track_id is not None and d.box.y2 - d.box.y1 > d.box.x2 - d.box.x1:
                self.upright[d.track_id] = now
        for tid in [t for t, at in self.upright.items() if now - at > 600]:
            del self.upright[tid]
        step = self.persistence.step(ctx.now_s, bool(down))
        if step is Step.IDLE:
            return []
        measures = {"fallen": float(len(down))}
        if step is Step.OPEN:
            held = self.persistence.held_s(ctx.now_s)
            return [
                self.writer.start(
                    ctx.now_s,
                    ctx.now_at,
                    f"person down for {held:.0f} s",
                    measures | {"held_s": held},
                    down,
                    evidence_jpeg(ctx.frame.image, detections=down, title="fallen person"),
                    key=len(down),
                )
            ]
        if step is Step.CLOSE:
            return [
                self.writer.finish(
                    ctx.now_at, "nobody down any more", measures, (), evidence_jpeg(ctx.frame.image, title="cleared")
                )
            ]
        if down and self.writer.due(ctx.now_s, key=len(down)):
            return [
                self.writer.update(
                    ctx.now_s,
                    ctx.now_at,
                    f"{len(down)} person(s) down",
                    measures,
                    down,
                    evidence_jpeg(ctx.frame.image, detections=down, title="fallen person"),
                    key=len(down),
                )
            ]
        return []

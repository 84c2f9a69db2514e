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
        self.upright: dict[int, tuple[float, float, float, float]] = {}
        """Track id → (when, feet x, feet y, height) last seen upright: a fall follows standing."""

    def _stood_here(self, d: Detection, standing_now: set[int]) -> bool:
        """Someone stood where this fall is and no longer stands: the same track, or a person seen upright
        at this spot who is not upright anywhere now (the tracker may give the lying body a new id)."""
        if d.track_id is not None and d.track_id in self.upright and d.track_id not in standing_now:
            return True
        b = d.box
        cx, cy = (b.x1 + b.x2) / 2, (b.y1 + b.y2) / 2
        reach = max(b.x2 - b.x1, b.y2 - b.y1)
        return any(
            tid not in standing_now and ((fx - cx) ** 2 + (fy - cy) ** 2) ** 0.5 <= max(reach, height)
            for tid, (_, fx, fy, height) in self.upright.items()
        )

    def observe(self, ctx: FrameContext) -> list[Observation]:
        if not ctx.analysed:
            return []
        now = ctx.now_s
        people = ctx.people()
        standing_now: set[int] = set()
        for d in people:
            if d.track_id is not None and not is_fallen(
                d, self.settings, model_has_fall_class=self.model_has_fall_class
            ):
                b = d.box
                if b.y2 - b.y1 > b.x2 - b.x1:
                    self.upright[d.track_id] = (now, (b.x1 + b.x2) / 2, b.y2, b.y2 - b.y1)
                    standing_now.add(d.track_id)
        for tid in [t for t, (at, *_) in self.upright.items() if now - at > self.settings.upright_window_s]:
            del self.upright[tid]
        down = [
            d
            for d in people
            if is_fallen(d, self.settings, model_has_fall_class=self.model_has_fall_class)
            # once a fall is confirmed, the person stays down however long ago they stood
            and (not self.settings.upright_first or self.persistence.active or self._stood_here(d, standing_now))
        ]
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

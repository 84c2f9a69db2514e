"""Structural change in a structure zone (a wall that collapsed, a fence pushed over).

Samples of the zone are compared with a reference learned slowly from earlier samples: a structural change
is where the picture is no longer similar (SSIM) *and* the edge structure — the wall's outline — is gone
or buried in clutter. Pixels covered by detected people or vehicles are left out (a person in front of a wall is not a
collapse), the change must persist over several samples, and a jump in whole-picture brightness (day and
night, lights) re-learns the reference instead of alerting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from camera_config.hazard_settings import StructureSettings
from camera_config.types import Zone
from detectors.context import FrameContext
from detectors.episodes import EpisodeWriter, Persistence, Report, Step, evidence_jpeg
from detectors.tamper import ViewWatch
from detectors.types import Detection, HazardType, Observation, Severity
from detectors.zones import PixelZone

WORK_WIDTH = 200
"""Zone crops are compared at most this wide: enough for a wall's outline, cheap to compute."""
SSIM_CHANGED = 0.4
"""Local SSIM below this marks a pixel as changed."""

Gray = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]


def ssim_map(a: Gray, b: Gray) -> Gray:
    """Local structural similarity (Wang et al. 2004) with a Gaussian window, on 0..255 grey images."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: Gray) -> Gray:
        return np.asarray(cv2.GaussianBlur(x, (7, 7), 1.5), dtype=np.float32)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a * mu_a
    var_b = blur(b * b) - mu_b * mu_b
    cov = blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2)
    return np.asarray(num / den, dtype=np.float32)


def edges(gray: Gray) -> Mask:
    return np.asarray(cv2.Canny(np.clip(gray, 0, 255).astype(np.uint8), 50, 150) > 0)


@dataclass(frozen=True, slots=True)
class Comparison:
    changed: float
    """Share of the visible zone that is no longer similar to the reference."""
    edge_change: float
    """How much of the edge structure differs: 1 − (reference edges still found) / (edges then or now, the more)."""
    visible: float
    """Share of the zone not hidden by detected objects."""


def compare(reference: Gray, gray: Gray, valid: Mask) -> Comparison:
    n = int(valid.sum())
    if n == 0:
        return Comparison(0.0, 0.0, 0.0)
    changed = float((ssim_map(reference, gray)[valid] < SSIM_CHANGED).mean())
    ref_edges = edges(reference) & valid
    cur_edges = edges(gray) & valid
    near_now = cv2.dilate(cur_edges.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    # A wall gone (its outline missing) and a wall turned to rubble (its outline drowned in clutter) both count.
    most = max(int(ref_edges.sum()), int(cur_edges.sum()))
    edge_change = 1.0 - float((ref_edges & near_now).sum()) / most if most >= 20 else 0.0
    return Comparison(changed, edge_change, 1.0)


class StructureRule:
    """One structure zone, sampled every sample_every_s (a wall does not fall twice a second): an episode
    once min_samples samples in a row differ from the slowly learned reference."""

    def __init__(self, camera_id: str, zone: Zone, settings: StructureSettings, view: ViewWatch | None = None) -> None:
        """``view``: the camera's whole-view watch; while it sees the view disturbed (covered, defocused,
        moved, frozen, relit) this rule holds its fire and re-learns its reference once the view is stable."""
        self.zone_id = zone.id
        self.view = view
        self.settings = settings
        self.reference: Gray | None = None
        self.reference_brightness: float | None = None
        self.next_sample_s: float | None = None
        self.streak = 0
        self.last: Comparison | None = None
        self.persistence = Persistence(on_s=0.0, off_s=settings.sample_every_s * settings.min_samples, gap_s=1e9)
        self.writer = EpisodeWriter(camera_id, HazardType.STRUCTURE, Severity.HIGH, zone_id=zone.id, update_every_s=60)

    def _crop(self, ctx: FrameContext, zone: PixelZone, hide: Sequence[Detection]) -> tuple[Gray, Mask]:
        x1, y1, x2, y2 = zone.bbox
        image = ctx.frame.image[y1:y2, x1:x2]
        inside = zone.mask[y1:y2, x1:x2].copy()
        for d in hide:  # leave out what stands in front of the structure, with a margin
            b = d.box
            mx, my = 0.15 * (b.x2 - b.x1), 0.1 * (b.y2 - b.y1)
            bx1, by1 = int(max(b.x1 - mx - x1, 0)), int(max(b.y1 - my - y1, 0))
            bx2, by2 = int(max(b.x2 + mx - x1, 0)), int(max(b.y2 + my - y1, 0))
            inside[by1:by2, bx1:bx2] = False
        scale = min(1.0, WORK_WIDTH / max(image.shape[1], 1))
        size = (max(8, round(image.shape[1] * scale)), max(8, round(image.shape[0] * scale)))
        gray = cv2.cvtColor(cv2.resize(image, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        valid = cv2.resize(inside.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        return gray.astype(np.float32), valid

    def episodes(self) -> list[EpisodeWriter]:
        return [self.writer]

    def observe(self, ctx: FrameContext) -> list[Observation]:
        now = ctx.now_s
        if self.next_sample_s is not None and now < self.next_sample_s:
            return []
        zone = next((z for z in ctx.zones.structure if z.id == self.zone_id), None)
        if zone is None:
            return []
        self.next_sample_s = now + self.settings.sample_every_s
        if self.view is not None:
            self.view.sample(ctx.frame.image, now)
            if not self.view.stable(now):
                # The whole view changed: that is the tamper rule's alert, and this reference no longer holds.
                self.view.held.setdefault(f"structure in {zone.zone.name}", None)
                self.reference = self.reference_brightness = None
                self.streak = 0
                return []
        gray, valid = self._crop(ctx, zone, ctx.detections)
        zone_pixels = int(
            (
                cv2.resize(
                    zone.mask[zone.bbox[1] : zone.bbox[3], zone.bbox[0] : zone.bbox[2]].astype(np.uint8),
                    (gray.shape[1], gray.shape[0]),
                    interpolation=cv2.INTER_NEAREST,
                )
                > 0
            ).sum()
        )
        visible = float(valid.sum()) / max(zone_pixels, 1)
        brightness = float(cv2.cvtColor(ctx.frame.image, cv2.COLOR_BGR2GRAY).mean())
        if self.reference is None or self.reference_brightness is None or self.reference.shape != gray.shape:
            self.reference, self.reference_brightness = gray, brightness
            return []
        jump = abs(brightness - self.reference_brightness) / max(self.reference_brightness, 1.0)
        if jump > self.settings.relearn_brightness and not self.writer.open:
            self.reference, self.reference_brightness, self.streak = gray, brightness, 0
            return []
        if visible < 0.3:
            return []  # mostly hidden by people: this sample says nothing
        result = compare(self.reference, gray, valid)
        self.last = Comparison(result.changed, result.edge_change, visible)
        changed = result.changed >= self.settings.min_changed and result.edge_change >= self.settings.min_edge_change
        self.streak = self.streak + 1 if changed else 0
        if result.changed < self.settings.min_changed / 2 and not self.writer.open:
            # Learn only from samples clearly like the reference, so a real change is never absorbed.
            rate = self.settings.learn_rate
            self.reference = np.where(valid, self.reference + rate * (gray - self.reference), self.reference).astype(
                np.float32
            )
            self.reference_brightness += rate * (brightness - self.reference_brightness)
        step = self.persistence.step(now, self.streak >= self.settings.min_samples)
        measures = {"changed": result.changed, "edge_change": result.edge_change, "visible": visible}

        def report(step: Step) -> Report:
            if step is Step.CLOSE:
                return Report(f"{zone.zone.name} back to its reference", measures)
            if step is Step.ONGOING:
                return Report(f"structure in {zone.zone.name} still changed", measures)
            x1, y1, x2, y2 = zone.bbox
            return Report(
                f"structure in {zone.zone.name} changed: {result.changed:.0%} differs, "
                f"edges {result.edge_change:.0%} different",
                measures,
                evidence=evidence_jpeg(
                    ctx.frame.image, zones=[zone], highlight=[(x1, y1, x2, y2)], title=f"structure change in {zone.id}"
                ),
            )

        return self.writer.follow(step, now, ctx.now_at, report)

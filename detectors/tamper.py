"""Camera faults judged from the picture alone: covered, defocused, moved, frozen.

Each camera is compared with itself: its own sharpness baseline and reference view, learned over the first
samples and followed slowly while the camera is healthy. Whole-picture brightness jumps (lights on, dusk,
an infrared switch) re-learn the baseline instead of raising a fault. The judgement (`ViewWatch`) is shared
with the rules that compare the picture with a reference, which hold their fire while the view is disturbed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

import cv2
import numpy as np
import numpy.typing as npt

from camera_config.hazard_settings import TamperSettings
from detectors.context import FrameContext
from detectors.episodes import EpisodeWriter, Persistence, Report, Step, evidence_jpeg
from detectors.types import HazardType, Observation, Severity
from ingest.types import Image

WORK_WIDTH = 320
"""Pictures are judged at this width: cheap, and independent of the stream's resolution."""
FOLLOW = 0.02
"""Per healthy sample: how fast the baseline and the reference view follow slow change."""

Gray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class PictureStats:
    entropy_bits: float
    sharpness: float
    brightness: float
    gray: Gray


def picture_stats(image: Image) -> PictureStats:
    h, w = image.shape[:2]
    scale = WORK_WIDTH / w
    small = cv2.resize(image, (WORK_WIDTH, max(8, round(h * scale))), interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    hist = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    p = hist[hist > 0] / hist.sum()
    entropy = float(-(p * np.log2(p)).sum())
    sharpness = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    return PictureStats(entropy, sharpness, float(gray.mean()), gray.astype(np.float32))


def shift_fraction(reference: Gray, gray: Gray) -> tuple[float, float]:
    """How far the picture slid against the reference (share of the width), and the correlation peak."""
    window = cv2.createHanningWindow((gray.shape[1], gray.shape[0]), cv2.CV_32F)
    ref = reference - reference.mean()
    cur = gray - gray.mean()
    (dx, dy), response = cv2.phaseCorrelate(ref, cur, window)
    return float(np.hypot(dx, dy) / gray.shape[1]), float(response)


_FAULTS = {
    HazardType.CAMERA_COVERED: Severity.HIGH,
    HazardType.CAMERA_DEFOCUSED: Severity.MEDIUM,
    HazardType.CAMERA_MOVED: Severity.MEDIUM,
    HazardType.CAMERA_FROZEN: Severity.HIGH,
}


@dataclass(frozen=True, slots=True)
class ViewSample:
    """One judged picture: which faults it shows, and whether the lighting jumped (baseline started again)."""

    at_s: float
    faults: Mapping[HazardType, bool]
    relit: bool
    measures: Mapping[str, float]

    @property
    def disturbed(self) -> bool:
        return self.relit or any(self.faults.values())


class ViewWatch:
    """One camera's whole view, judged every ``sample_every_s`` against its own baseline: covered, defocused,
    moved, frozen, or relit (a lighting jump, which starts the baseline again instead of being a fault).

    Shared by the rules that compare the picture with a reference: the tamper rule raises the faults, and the
    others (structure) hold their fire while the view is disturbed and re-learn once it is stable again, so one
    cause makes one alert."""

    def __init__(self, settings: TamperSettings) -> None:
        self.settings = settings
        self.next_sample_s: float | None = None
        self.baseline_sharpness: float | None = None
        self.baseline_brightness: float | None = None
        self.reference: Gray | None = None
        self._learning: list[PictureStats] = []
        self._previous: Gray | None = None
        self.latest: ViewSample | None = None
        self.disturbed_at_s: float | None = None
        """When a sample last showed a fault or a lighting jump."""
        self.open_faults: set[HazardType] = set()
        """Faults the tamper rule has an open episode for (the baseline stands still meanwhile)."""
        self.held: dict[str, None] = {}
        """What held its fire while the view was disturbed (names, in order), for the tamper alert to say."""

    def _learn(self, stats: PictureStats) -> None:
        self._learning.append(stats)
        if len(self._learning) >= self.settings.baseline_samples:
            self.baseline_sharpness = float(np.median([s.sharpness for s in self._learning]))
            self.baseline_brightness = float(np.median([s.brightness for s in self._learning]))
            self.reference = np.mean([s.gray for s in self._learning], axis=0).astype(np.float32)
            self._learning = []

    def sample(self, image: Image, now_s: float) -> ViewSample | None:
        """Judge ``image`` when a sample is due (None otherwise; `latest` keeps the last judgement)."""
        if self.next_sample_s is not None and now_s < self.next_sample_s:
            return None
        self.next_sample_s = now_s + self.settings.sample_every_s
        stats = picture_stats(image)
        frozen = self._previous is not None and float(np.abs(stats.gray - self._previous).mean()) < 0.05
        self._previous = stats.gray
        covered = stats.entropy_bits < self.settings.covered_entropy
        faults = {h: False for h in _FAULTS}
        faults[HazardType.CAMERA_FROZEN] = frozen and not covered  # a covered lens looks the same frame to frame
        faults[HazardType.CAMERA_COVERED] = covered
        measures = {"entropy_bits": stats.entropy_bits, "sharpness": stats.sharpness, "brightness": stats.brightness}
        relit = False
        if self.reference is None or self.baseline_sharpness is None or self.baseline_brightness is None:
            if not covered and not frozen:
                self._learn(stats)
        else:
            bright_jump = abs(stats.brightness - self.baseline_brightness) / max(self.baseline_brightness, 1.0)
            if not covered and bright_jump > 0.35 and HazardType.CAMERA_MOVED not in self.open_faults:
                # Lighting changed, not the camera: start the baseline again.
                relit = True
                self.reference = None
                self.baseline_sharpness = self.baseline_brightness = None
                self._learn(stats)
            elif not covered:
                ratio = stats.sharpness / max(self.baseline_sharpness, 1e-6)
                shift, response = shift_fraction(self.reference, stats.gray)
                measures |= {"sharpness_ratio": ratio, "shift": shift, "shift_response": response}
                faults[HazardType.CAMERA_DEFOCUSED] = ratio < self.settings.defocus_ratio
                faults[HazardType.CAMERA_MOVED] = shift > self.settings.moved_shift
                if not any(faults.values()) and not self.open_faults:
                    self.baseline_sharpness += FOLLOW * (stats.sharpness - self.baseline_sharpness)
                    self.baseline_brightness += FOLLOW * (stats.brightness - self.baseline_brightness)
                    self.reference += FOLLOW * (stats.gray - self.reference)
        self.latest = ViewSample(now_s, faults, relit, measures)
        if self.latest.disturbed:
            self.disturbed_at_s = now_s
        elif not self.open_faults and self.stable(now_s):
            self.held = {}
        return self.latest

    def stable(self, now_s: float) -> bool:
        """No fault or lighting jump in the last `STABLE_SAMPLES` samples (and none open)."""
        if self.open_faults:
            return False
        if self.disturbed_at_s is None:
            return True
        return now_s - self.disturbed_at_s >= STABLE_SAMPLES * self.settings.sample_every_s


STABLE_SAMPLES = 3
"""Samples without a fault or a lighting jump after which a disturbed view is stable again."""


class TamperRule:
    """One camera's faults, each its own episode (a covered lens and a moved camera need different fixes),
    judged on the samples of the camera's `ViewWatch`."""

    def __init__(self, camera_id: str, settings: TamperSettings, view: ViewWatch | None = None) -> None:
        self.settings = settings
        self.camera_id = camera_id
        self.view = view or ViewWatch(settings)
        s = settings
        self.persistence = {
            h: Persistence(
                on_s=s.frozen_s if h is HazardType.CAMERA_FROZEN else s.min_duration_s,
                off_s=s.clear_s,
                gap_s=s.sample_every_s * 1.5,
            )
            for h in _FAULTS
        }
        self.writers = {h: EpisodeWriter(camera_id, h, sev, update_every_s=60.0) for h, sev in _FAULTS.items()}
        self.last_measures: Mapping[str, float] = {}
        self._judged_s: float | None = None

    def episodes(self) -> list[EpisodeWriter]:
        return list(self.writers.values())

    def observe(self, ctx: FrameContext) -> list[Observation]:
        now = ctx.now_s
        self.view.sample(ctx.frame.image, now)
        sample = self.view.latest  # judged now, or by another rule sharing the watch on this frame
        if sample is None or sample.at_s == self._judged_s:
            return []
        self._judged_s = sample.at_s
        self.last_measures = sample.measures
        out: list[Observation] = []
        for hazard, writer in self.writers.items():
            step = self.persistence[hazard].step(now, sample.faults[hazard])
            report = partial(
                _fault_report,
                name=hazard.value.removeprefix("camera_"),
                measures=sample.measures,
                image=ctx.frame.image,
                held=tuple(self.view.held),
            )
            out += writer.follow(step, now, ctx.now_at, report, holds=sample.faults[hazard])
        self.view.open_faults = {h for h, w in self.writers.items() if w.open}
        return out


def _fault_report(
    step: Step, *, name: str, measures: Mapping[str, float], image: Image, held: tuple[str, ...]
) -> Report:
    """A fault shows in the picture itself: the opening carries it, later steps only the figures. The opening
    also says which other watches of this camera hold their fire meanwhile (this alert stands for them)."""
    if step is Step.OPEN:
        also = f"; held meanwhile: {', '.join(held)}" if held else ""
        return Report(f"camera {name}{also}", measures, evidence=evidence_jpeg(image, title=f"camera {name}"))
    if step is Step.CLOSE:
        return Report(f"camera no longer {name}", measures)
    return Report(f"camera still {name}", measures)

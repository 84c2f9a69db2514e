"""Motion gating: decides, on a small grey picture, whether a frame is worth the detector's time.

Works on a ~160 px wide copy (cheap: well under a millisecond), compares it with a running
background, and treats a change of most of the picture (IR switch, lights, a moved or covered
camera) as a new scene to learn rather than as motion that never ends.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

GATE_WIDTH = 160
"""Width of the grey picture gating works on; height keeps the stream's aspect."""

Gray = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.bool_]


class GateReason(enum.StrEnum):
    FIRST = "first"
    MOTION = "motion"
    KEEPALIVE = "keepalive"
    RECALIBRATED = "recalibrated"
    STILL = "still"


@dataclass(frozen=True, slots=True)
class GateDecision:
    offer: bool
    """Hand this frame to the detector."""
    motion: float
    """Share of the (unmasked) picture that changed, 0..1."""
    reason: GateReason


def thresholds(sensitivity: float) -> tuple[float, float]:
    """(grey-level change that counts, share of the picture that must change) for a sensitivity 0..1.

    0 wants a strong change over 2 % of the picture (a person close up); 1 wakes on a faint change of a
    few dozen pixels of the small picture.
    """
    s = min(1.0, max(0.0, sensitivity))
    return 45.0 - 35.0 * s, 0.02 * (1.0 - s) ** 2 + 0.0005


def small_size(width: int, height: int) -> tuple[int, int]:
    return GATE_WIDTH, max(1, round(GATE_WIDTH * height / max(1, width)))


def shrink(gray: Gray) -> Gray:
    """Any grey picture → the gate's size (subsample first: INTER_AREA on 1080p would cost more)."""
    h, w = gray.shape[:2]
    step = max(1, w // (GATE_WIDTH * 2))
    if step > 1:
        gray = gray[::step, ::step]
    size = small_size(w, h)
    if (gray.shape[1], gray.shape[0]) == size:
        return np.ascontiguousarray(gray)
    return np.asarray(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def polygon_mask(polygons: Iterable[Sequence[tuple[float, float]]], size: tuple[int, int]) -> Mask | None:
    """Pixels of a picture of ``size`` (w, h) inside any of the normalised polygons; None if there are none."""
    w, h = size
    canvas = np.zeros((h, w), dtype=np.uint8)
    any_polygon = False
    for points in polygons:
        if len(points) < 3:
            continue
        pts = np.array([[round(x * (w - 1)), round(y * (h - 1))] for x, y in points], dtype=np.int32)
        cv2.fillPoly(canvas, [pts], 1)
        any_polygon = True
    return canvas.astype(bool) if any_polygon else None


class MotionGate:
    """Per-camera gate; feed it every analysed frame's small grey picture with its time."""

    def __init__(
        self,
        sensitivity: float = 0.5,
        keepalive_s: float = 10.0,
        *,
        ignore: Mask | None = None,
        background_tau_s: float = 5.0,
        recalibrate_ratio: float = 0.6,
    ) -> None:
        self.delta, self.min_ratio = thresholds(sensitivity)
        self.keepalive_s = keepalive_s
        self.ignore = ignore
        self.background_tau_s = background_tau_s
        self.recalibrate_ratio = recalibrate_ratio
        self._background: npt.NDArray[np.float32] | None = None
        self._last_at: float | None = None
        self._last_offer_at: float | None = None
        self.recalibrations = 0

    def configure(self, sensitivity: float, keepalive_s: float, ignore: Mask | None) -> None:
        """New settings without forgetting the learnt background."""
        self.delta, self.min_ratio = thresholds(sensitivity)
        self.keepalive_s = keepalive_s
        self.ignore = ignore

    def update(self, small: Gray, now_s: float, *, check: bool = False) -> GateDecision:
        """``check``: the caller decoded this picture as a still camera's due check (it skipped the pictures in
        between): offer it even if the keep-alive interval has not quite passed on this clock."""
        picture = cv2.GaussianBlur(small, (5, 5), 0).astype(np.float32)
        if self._background is None or self._background.shape != picture.shape:
            self._reset(picture, now_s)
            self._last_offer_at = now_s
            return GateDecision(True, 0.0, GateReason.FIRST)
        diff = picture - self._background
        # A uniform brightness shift (auto exposure, a cloud) is not motion.
        diff -= float(diff.mean())
        changed = np.abs(diff) > self.delta
        if self.ignore is not None and self.ignore.shape == changed.shape:
            keep = ~self.ignore
            total = int(keep.sum())
            ratio = float(changed[keep].sum()) / total if total else 0.0
        else:
            ratio = float(changed.mean())

        if ratio >= self.recalibrate_ratio:
            self._reset(picture, now_s)
            self.recalibrations += 1
            self._last_offer_at = now_s
            return GateDecision(True, ratio, GateReason.RECALIBRATED)

        dt = max(0.0, now_s - (self._last_at if self._last_at is not None else now_s))
        alpha = 1.0 - math.exp(-dt / self.background_tau_s) if self.background_tau_s > 0 else 1.0
        cv2.accumulateWeighted(picture, self._background, max(alpha, 0.01))
        self._last_at = now_s

        if ratio >= self.min_ratio:
            self._last_offer_at = now_s
            return GateDecision(True, ratio, GateReason.MOTION)
        if check or self._last_offer_at is None or now_s - self._last_offer_at >= self.keepalive_s:
            self._last_offer_at = now_s
            return GateDecision(True, ratio, GateReason.KEEPALIVE)
        return GateDecision(False, ratio, GateReason.STILL)

    def _reset(self, picture: npt.NDArray[np.float32], now_s: float) -> None:
        self._background = picture.copy()
        self._last_at = now_s

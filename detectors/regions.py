"""Where to look: motion regions cropped at model size from the full-resolution frame (Frigate's way).

People in a wide surveillance view are small; shrinking the whole frame to the model size loses them. A crop
of model size taken around what moved (and around what is already tracked, so people standing still stay
found) keeps them at full resolution for the cost of a small input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from detectors.types import Box
from ingest.types import Image

MOTION_SCALE = 4
"""Motion is found on a frame this many times smaller: cheap, and blind to sensor noise."""


@dataclass(frozen=True, slots=True)
class Region:
    x: int
    y: int
    size: int
    """A square crop of the full frame; resized to the model size when larger."""

    def crop(self, image: Image) -> Image:
        return image[self.y : self.y + self.size, self.x : self.x + self.size]


class MotionFinder:
    """Changed areas between consecutive frames of one camera, as boxes in full-frame pixels."""

    def __init__(self, *, threshold: int = 20, min_area: float = 0.0004) -> None:
        self.threshold = threshold
        self.min_area = min_area
        self._previous: npt.NDArray[np.uint8] | None = None

    def boxes(self, image: Image) -> list[Box] | None:
        """None for the first frame (nothing to compare with: look everywhere)."""
        h, w = image.shape[:2]
        small = cv2.resize(image, (max(1, w // MOTION_SCALE), max(1, h // MOTION_SCALE)), interpolation=cv2.INTER_AREA)
        gray = np.asarray(cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0), dtype=np.uint8)
        previous, self._previous = self._previous, gray
        if previous is None or previous.shape != gray.shape:
            return None
        diff = cv2.threshold(cv2.absdiff(gray, previous), self.threshold, 255, cv2.THRESH_BINARY)[1]
        diff = cv2.dilate(diff, np.ones((5, 5), np.uint8), iterations=2)
        contours, _ = cv2.findContours(diff, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        out = []
        min_px = self.min_area * gray.shape[0] * gray.shape[1]
        for c in contours:
            x, y, bw, bh = cv2.boundingRect(c)
            if bw * bh >= min_px:
                s = MOTION_SCALE
                out.append(Box(x * s, y * s, (x + bw) * s, (y + bh) * s))
        return out


def plan_regions(boxes: Sequence[Box], width: int, height: int, side: int, *, grow: float = 1.3) -> list[Region]:
    """Square regions that together hold every box: one model-size square per uncovered box (larger for a
    large box), centred on it and kept inside the frame."""
    regions: list[Region] = []
    for b in sorted(boxes, key=lambda b: (b.x2 - b.x1) * (b.y2 - b.y1), reverse=True):
        if any(r.x <= b.x1 and r.y <= b.y1 and b.x2 <= r.x + r.size and b.y2 <= r.y + r.size for r in regions):
            continue
        size = int(min(max(side, grow * (b.x2 - b.x1), grow * (b.y2 - b.y1)), width, height))
        cx, cy = (b.x1 + b.x2) / 2, (b.y1 + b.y2) / 2
        x = int(min(max(cx - size / 2, 0), width - size))
        y = int(min(max(cy - size / 2, 0), height - size))
        regions.append(Region(x, y, size))
    return regions


def regions_area(regions: Sequence[Region]) -> int:
    return sum(r.size * r.size for r in regions)

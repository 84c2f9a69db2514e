"""Zones in pixels: membership by a box's bottom-centre (where a person stands), masks that drop detections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from camera_config.types import Camera, Zone, ZonePurpose
from core.errors import InvalidInput, Issue
from detectors.types import Detection

MIN_ZONE_AREA = 1e-4
"""Smallest zone, as a share of the picture (0.01 %): anything smaller is a drawing mistake."""


def check_zones(camera_id: str, zones: Sequence[Zone]) -> None:
    """Refuse zones no rule can use: too few points, outside 0..1, no area, or crossing itself."""
    issues: list[Issue] = []
    for i, z in enumerate(zones):
        where = f"cameras[{camera_id}].zones[{i}].points"
        pts = np.asarray(z.points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[0] < 3 or pts.shape[1] != 2:
            issues.append(Issue(where, f'zone "{z.id}" needs ≥3 (x, y) points'))
            continue
        if not np.all(np.isfinite(pts)) or pts.min() < 0 or pts.max() > 1:
            issues.append(Issue(where, f'zone "{z.id}" points must be normalised to 0..1'))
            continue
        if _self_intersects(pts):
            issues.append(Issue(where, f'zone "{z.id}" outline crosses itself'))
            continue
        area = abs(float(cv2.contourArea(pts.astype(np.float32))))
        if area < MIN_ZONE_AREA:
            issues.append(Issue(where, f'zone "{z.id}" has no area ({area:.2g} of the picture)'))
    if issues:
        raise InvalidInput(issues)


def _self_intersects(pts: npt.NDArray[np.float64]) -> bool:
    n = len(pts)
    edges = [(pts[i], pts[(i + 1) % n]) for i in range(n)]

    def cross(o: npt.NDArray[np.float64], a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
        return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))

    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # neighbours share a corner
            p1, p2 = edges[i]
            q1, q2 = edges[j]
            d1, d2 = cross(q1, q2, p1), cross(q1, q2, p2)
            d3, d4 = cross(p1, p2, q1), cross(p1, p2, q2)
            if d1 * d2 < 0 and d3 * d4 < 0:
                return True
    return False


@dataclass(frozen=True, slots=True, eq=False)
class PixelZone:
    """A zone scaled to one frame size."""

    zone: Zone
    polygon: npt.NDArray[np.int32]
    """(N, 1, 2) pixel outline, as OpenCV draws it."""
    mask: npt.NDArray[np.bool_]
    """Height × width, True inside."""
    bbox: tuple[int, int, int, int]
    """x1, y1, x2, y2 (exclusive) around the zone."""

    @property
    def id(self) -> str:
        return self.zone.id

    def contains(self, x: float, y: float) -> bool:
        h, w = self.mask.shape
        xi, yi = min(max(int(x), 0), w - 1), min(max(int(y), 0), h - 1)
        return bool(self.mask[yi, xi])

    def holds(self, det: Detection) -> bool:
        """A detection is in the zone when its bottom-centre (the feet) is."""
        return self.contains(*det.box.bottom_centre)


def pixel_zone(zone: Zone, width: int, height: int) -> PixelZone:
    pts = np.asarray(zone.points, dtype=np.float64) * np.array([width - 1, height - 1])
    poly = np.round(pts).astype(np.int32).reshape(-1, 1, 2)
    mask = np.zeros((height, width), dtype=np.uint8)
    cv2.fillPoly(mask, [poly], 1)
    x, y, w, h = cv2.boundingRect(poly)
    return PixelZone(zone=zone, polygon=poly, mask=mask.astype(bool), bbox=(x, y, x + w, y + h))


class CameraZones:
    """One camera's zones at one frame size, grouped by purpose."""

    def __init__(self, camera: Camera, width: int, height: int) -> None:
        check_zones(camera.id, camera.zones)
        self.width, self.height = width, height
        self.all = tuple(pixel_zone(z, width, height) for z in camera.zones)
        self.masks = tuple(z for z in self.all if z.zone.purpose is ZonePurpose.MASK)
        self.crowd = tuple(z for z in self.all if z.zone.purpose is ZonePurpose.CROWD)
        self.structure = tuple(z for z in self.all if z.zone.purpose is ZonePurpose.STRUCTURE)
        self.restricted = tuple(z for z in self.all if z.zone.purpose is ZonePurpose.RESTRICTED)
        self.fire_lane = tuple(z for z in self.all if z.zone.purpose is ZonePurpose.FIRE_LANE)
        self.entrance = tuple(z for z in self.all if z.zone.purpose is ZonePurpose.ENTRANCE)

    def unmasked(self, detections: Sequence[Detection]) -> list[Detection]:
        """Drop detections whose bottom-centre lies in a mask zone (a poster, a statue, a screen)."""
        if not self.masks:
            return list(detections)
        return [d for d in detections if not any(m.holds(d) for m in self.masks)]

"""Helpers for rule tests: a camera with zones and a context for one moment with given detections."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from camera_config.hazard_settings import HazardSettings, ZoneSettings
from camera_config.types import Camera, CameraLevel, Zone, ZonePurpose
from detectors.context import FrameContext
from detectors.types import Box, Detection
from detectors.zones import CameraZones
from ingest.types import Frame, Image

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
W, H = 768, 576


def camera(zones: Sequence[Zone] = (), hazards: HazardSettings | None = None, cid: str = "CAM-T") -> Camera:
    return Camera(
        id=cid,
        name=cid,
        level=CameraLevel.COMPOUND,
        grid_id="G-1",
        main_url="rtsp://127.0.0.1/x",
        sub_url=None,
        zones=tuple(zones),
        hazards=hazards or HazardSettings(),
    )


def zone(zid: str, purpose: ZonePurpose, points: Sequence[tuple[float, float]], **settings: float) -> Zone:
    return Zone(id=zid, name=zid, purpose=purpose, points=tuple(points), settings=ZoneSettings.model_validate(settings))


def person(
    x: float,
    y: float,
    *,
    track: int | None = None,
    label: str = "person",
    conf: float = 0.8,
    w: float = 30,
    h: float = 80,
) -> Detection:
    """A box whose bottom-centre (the feet) is at (x, y)."""
    return Detection(label, conf, Box(x - w / 2, y - h, x + w / 2, y), track_id=track)


def context(cam: Camera, t_s: float, dets: Sequence[Detection], image: Image | None = None) -> FrameContext:
    picture = image if image is not None else np.full((H, W, 3), 100, np.uint8)
    frame = Frame(cam.id, int(t_s * 10), 1000.0 + t_s, T0 + timedelta(seconds=t_s), picture)
    return FrameContext(cam, frame, CameraZones(cam, picture.shape[1], picture.shape[0]), tuple(dets))

"""Motion gating on real footage and on controlled changes of a real picture."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from ingest.files import read_file_frames
from ingest.gate import GATE_WIDTH, GateReason, Gray, MotionGate, polygon_mask, shrink, small_size


def gray_frames(path: Path, n: int) -> list[tuple[float, Gray]]:
    out = []
    for i, f in enumerate(read_file_frames(path, "CAM-T")):
        if i >= n:
            break
        out.append((f.monotonic_s, shrink(np.asarray(cv2.cvtColor(f.image, cv2.COLOR_BGR2GRAY), dtype=np.uint8))))
    return out


@pytest.fixture(scope="module")
def street(footage: Path) -> list[tuple[float, Gray]]:
    """vtest: an elevated street view with pedestrians walking through."""
    return gray_frames(footage / "vtest.avi", 120)


@pytest.fixture(scope="module")
def background(street: list[tuple[float, Gray]]) -> Gray:
    return street[0][1]


def with_blob(picture: Gray, x: int, y: int, size: int, delta: int) -> Gray:
    out = picture.astype(np.int16)
    out[y : y + size, x : x + size] += delta
    return np.clip(out, 0, 255).astype(np.uint8)


def test_the_gate_works_on_a_small_picture(footage: Path, background: Gray) -> None:
    assert background.shape == (120, GATE_WIDTH)  # 768×576 keeps its aspect
    assert small_size(1920, 1080) == (160, 90)


def test_pedestrians_wake_the_detector(street: list[tuple[float, Gray]]) -> None:
    gate = MotionGate(0.5, keepalive_s=10.0)
    reasons = Counter(gate.update(picture, t).reason for t, picture in street)
    assert reasons[GateReason.FIRST] == 1
    assert reasons[GateReason.MOTION] >= 0.9 * (len(street) - 1)


def test_a_still_scene_offers_only_keep_alive_samples(background: Gray) -> None:
    gate = MotionGate(0.5, keepalive_s=10.0)
    offered = [t for t in range(0, 31) if gate.update(background, float(t)).offer]
    assert offered == [0, 10, 20, 30]


@pytest.mark.parametrize(
    ("sensitivity", "size", "delta", "wakes"),
    [
        (0.0, 6, 30, False),  # a faint small change: ignored unless sensitive
        (0.5, 6, 30, False),
        (1.0, 6, 30, True),
        (0.0, 16, 80, False),  # 1.6 % of the picture: only for sensitive gates
        (0.5, 16, 80, True),
        (0.0, 32, 80, True),  # a large strong change (a person close up) wakes the detector at any sensitivity
        (0.5, 32, 80, True),
        (1.0, 32, 80, True),
        (1.0, 6, 6, False),  # below sensor noise even at full sensitivity
    ],
)
def test_sensitivity(background: Gray, sensitivity: float, size: int, delta: int, wakes: bool) -> None:
    gate = MotionGate(sensitivity, keepalive_s=1000.0)
    gate.update(background, 0.0)
    decision = gate.update(with_blob(background, 70, 50, size, delta), 0.1)
    assert decision.offer is wakes
    assert (decision.reason is GateReason.MOTION) is wakes


def test_a_uniform_brightness_shift_is_not_motion(background: Gray) -> None:
    gate = MotionGate(0.5, keepalive_s=1000.0)
    gate.update(background, 0.0)
    brighter = np.clip(background.astype(np.int16) + 20, 0, 255).astype(np.uint8)
    decision = gate.update(brighter, 0.1)
    assert decision.reason is GateReason.STILL
    assert decision.motion < 0.02


def test_whole_frame_change_recalibrates_once(background: Gray) -> None:
    """An IR switch (colour to a flat, contrast-inverted night picture) is one new scene, not endless motion."""
    gate = MotionGate(0.5, keepalive_s=1000.0)
    gate.update(background, 0.0)
    night = (255 - background) // 2 + 60
    first = gate.update(night.astype(np.uint8), 1.0)
    assert first.reason is GateReason.RECALIBRATED
    assert first.motion > 0.6
    later = [gate.update(night.astype(np.uint8), 1.0 + i).reason for i in range(1, 5)]
    assert later == [GateReason.STILL] * 4
    assert gate.recalibrations == 1


def test_mask_zones_are_ignored(background: Gray) -> None:
    h, w = background.shape
    mask = polygon_mask([((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0))], (w, h))
    assert mask is not None
    gate = MotionGate(0.5, keepalive_s=1000.0, ignore=mask)
    gate.update(background, 0.0)
    inside = gate.update(with_blob(background, 10, 40, 24, 80), 0.1)
    assert inside.reason is GateReason.STILL
    assert inside.motion == 0.0
    outside = gate.update(with_blob(background, 120, 40, 24, 80), 0.2)
    assert outside.reason is GateReason.MOTION


def test_polygons_with_too_few_points_make_no_mask() -> None:
    assert polygon_mask([((0.0, 0.0), (1.0, 1.0))], (160, 90)) is None
    assert polygon_mask([], (160, 90)) is None

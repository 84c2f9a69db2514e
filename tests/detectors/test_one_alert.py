"""One cause, one alert: a camera's rules together (tamper first, then a structure zone on a wall) on edited
real footage. A covered, defocused, moved or frozen view is the tamper alert alone; the structure watch holds
its fire and says so in that alert; a lighting jump (an infrared switch) is no alert at all."""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np
import pytest

from camera_config.hazard_settings import HazardSettings, StructureSettings, TamperSettings
from camera_config.types import Camera
from core.clock import FakeClock
from detectors.context import FrameContext
from detectors.pipeline import camera_rules
from detectors.types import EpisodeState, HazardType, Observation
from detectors.zones import CameraZones
from ingest.types import Frame, Image
from tests.detectors import scenarios
from tests.detectors.rules_support import camera
from tests.detectors.test_structure import WALL, collapse

EDIT_AT_S = 20.0
SAMPLE_S = {"tamper": TamperSettings().sample_every_s, "structure": StructureSettings().sample_every_s}


def wall_camera() -> Camera:
    return camera([WALL], HazardSettings(), cid="CAM-W")


def run(frames: Iterable[Frame]) -> list[Observation]:
    cam = wall_camera()
    rules = camera_rules(cam, model_has_fall_class=False)
    out: list[Observation] = []
    for f in frames:
        ctx = FrameContext(cam, f, CameraZones(cam, f.width, f.height), ())
        for rule in rules:
            out += rule.observe(ctx)
    return out


def opened(out: list[Observation]) -> list[Observation]:
    return [o for o in out if o.state is EpisodeState.OPENED]


def infrared(image: Image, _i: int) -> Image:
    """Night mode: the picture turns grey and the gain jumps."""
    grey = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return np.asarray(np.clip(grey.astype(np.float32) * 1.6 + 10, 0, 255), dtype=np.uint8)


@pytest.mark.parametrize(
    ("edit", "hazard", "rule"),
    [
        (collapse, HazardType.STRUCTURE, "structure"),
        (scenarios.covered, HazardType.CAMERA_COVERED, "tamper"),
        (scenarios.blurred, HazardType.CAMERA_DEFOCUSED, "tamper"),
        (scenarios.shifted, HazardType.CAMERA_MOVED, "tamper"),
        (None, HazardType.CAMERA_FROZEN, "tamper"),
    ],
    ids=["collapse", "cover", "defocus", "move", "freeze"],
)
def test_each_edit_is_exactly_one_alert(
    vtest_2fps: list[Image], edit: scenarios.Edit | None, hazard: HazardType, rule: str
) -> None:
    if edit is None:
        frames = scenarios.edited_frames(vtest_2fps, "CAM-W", fps=2, frozen_from_s=EDIT_AT_S)
    else:
        frames = scenarios.edited_frames(vtest_2fps, "CAM-W", fps=2, edit=edit, start_s=EDIT_AT_S)
    alerts = opened(run(frames))
    assert [o.hazard for o in alerts] == [hazard]
    after_s = alerts[0].observed_at.timestamp() - FakeClock().now().timestamp() - EDIT_AT_S
    assert 0 < after_s <= 3 * SAMPLE_S[rule], f"{hazard.value} opened {after_s:.1f} s after the edit"
    if rule == "tamper" and hazard is not HazardType.CAMERA_FROZEN:
        assert "held meanwhile: structure in wall" in alerts[0].summary


def test_unedited_footage_and_an_infrared_switch_raise_nothing(vtest_2fps: list[Image]) -> None:
    assert run(scenarios.edited_frames(vtest_2fps, "CAM-W", fps=2)) == []
    assert run(scenarios.edited_frames(vtest_2fps, "CAM-W", fps=2, edit=infrared, start_s=EDIT_AT_S)) == []

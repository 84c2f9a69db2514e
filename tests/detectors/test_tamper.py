from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pytest

from camera_config.hazard_settings import TamperSettings
from core.clock import FakeClock
from detectors.context import FrameContext
from detectors.tamper import TamperRule, picture_stats
from detectors.types import EpisodeState, HazardType, Observation
from detectors.zones import CameraZones
from ingest.types import Frame, Image
from tests.detectors import scenarios
from tests.detectors.rules_support import camera


def run(frames: Iterable[Frame], settings: TamperSettings | None = None) -> list[Observation]:
    cam = camera(cid="CAM-T")
    rule = TamperRule(cam.id, settings or TamperSettings())
    out: list[Observation] = []
    for f in frames:
        out += rule.observe(FrameContext(cam, f, CameraZones(cam, f.width, f.height), ()))
    return out


def opened(observations: list[Observation]) -> list[tuple[HazardType, float]]:
    return [(o.hazard, o.started_at.timestamp()) for o in observations if o.state is EpisodeState.OPENED]


@pytest.mark.parametrize(
    ("edit", "hazard"),
    [
        (scenarios.covered, HazardType.CAMERA_COVERED),
        (scenarios.blurred, HazardType.CAMERA_DEFOCUSED),
        (scenarios.shifted, HazardType.CAMERA_MOVED),
    ],
)
def test_edited_real_footage_raises_exactly_that_fault(
    vtest_2fps: list[Image], edit: scenarios.Edit, hazard: HazardType
) -> None:
    frames = scenarios.edited_frames(vtest_2fps, "CAM-T", fps=2, edit=edit, start_s=20)
    out = run(frames)
    faults = opened(out)
    assert [h for h, _ in faults] == [hazard]
    # opened once the edit (from 20 s) has persisted for min_duration_s (4 s: three samples), not before
    assert 24 <= faults[0][1] - FakeClock().now().timestamp() <= 25
    first = next(o for o in out if o.state is EpisodeState.OPENED)
    assert first.evidence_jpeg
    assert first.camera_id == "CAM-T"


def test_frozen_picture(vtest_2fps: list[Image]) -> None:
    out = run(scenarios.edited_frames(vtest_2fps, "CAM-T", fps=2, frozen_from_s=20))
    assert [h for h, _ in opened(out)] == [HazardType.CAMERA_FROZEN]


def test_unedited_footage_raises_nothing(vtest_2fps: list[Image], tree_2fps: list[Image]) -> None:
    assert run(scenarios.edited_frames(vtest_2fps, "CAM-T", fps=2)) == []
    assert run(scenarios.edited_frames(tree_2fps, "CAM-T", fps=2, loops=6)) == []


def test_fault_clears_when_the_lens_is_uncovered(vtest_2fps: list[Image]) -> None:
    half = len(vtest_2fps) // 2
    pictures = vtest_2fps[:half] + [scenarios.covered(im, i) for i, im in enumerate(vtest_2fps[half:])] + vtest_2fps
    out = run(scenarios.edited_frames(pictures, "CAM-T", fps=2))
    assert [(o.hazard, o.state) for o in out if o.state is not EpisodeState.UPDATED] == [
        (HazardType.CAMERA_COVERED, EpisodeState.OPENED),
        (HazardType.CAMERA_COVERED, EpisodeState.CLOSED),
    ]


def test_lights_going_down_relearn_instead_of_alerting(vtest_2fps: list[Image]) -> None:
    def dusk(image: Image, _i: int) -> Image:
        return (image.astype(np.float32) * 0.45).astype(np.uint8)

    assert run(scenarios.edited_frames(vtest_2fps, "CAM-T", fps=2, edit=dusk, start_s=20)) == []


def test_covered_picture_has_low_entropy(vtest_2fps: list[Image]) -> None:
    assert picture_stats(vtest_2fps[0]).entropy_bits > 6
    assert picture_stats(scenarios.covered(vtest_2fps[0], 0)).entropy_bits < 3

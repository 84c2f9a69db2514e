from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from camera_config.hazard_settings import HazardSettings, StructureSettings
from camera_config.types import Camera, ZonePurpose
from detectors.context import FrameContext
from detectors.structure import StructureRule, compare, ssim_map
from detectors.types import Box, Detection, EpisodeState, HazardType, Observation
from detectors.zones import CameraZones
from ingest.types import Frame, Image
from tests.detectors import scenarios
from tests.detectors.rules_support import camera, zone

# vtest's brick building behind the square: the facade with its windows (normalised to the picture)
WALL = zone("wall", ZonePurpose.STRUCTURE, [(0.40, 0.0), (0.77, 0.0), (0.77, 0.19), (0.40, 0.19)])
RUBBLE_AT = (0.43, 0.02, 0.74, 0.17)


def wall_camera() -> Camera:
    return camera([WALL], HazardSettings())


def box_px(image: Image, rel: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    h, w = image.shape[:2]
    return int(rel[0] * w), int(rel[1] * h), int(rel[2] * w), int(rel[3] * h)


def run(
    frames: Iterable[Frame], detections: Sequence[Detection] = (), settings: StructureSettings | None = None
) -> list[Observation]:
    cam = wall_camera()
    rule = StructureRule(cam.id, WALL, settings or StructureSettings())
    out: list[Observation] = []
    for f in frames:
        out += rule.observe(FrameContext(cam, f, CameraZones(cam, f.width, f.height), tuple(detections)))
    return out


def collapse(image: Image, _i: int) -> Image:
    return scenarios.rubble(image, box_px(image, RUBBLE_AT))


def test_collapsed_wall_is_one_alert(vtest_2fps: list[Image]) -> None:
    out = run(scenarios.edited_frames(vtest_2fps, "CAM-T", fps=2, edit=collapse, start_s=20))
    opened = [o for o in out if o.state is EpisodeState.OPENED]
    assert len(opened) == 1
    o = opened[0]
    assert o.hazard is HazardType.STRUCTURE
    assert o.zone_id == "wall"
    assert o.evidence_jpeg
    assert o.measurements["changed"] >= 0.25
    assert o.measurements["edge_change"] >= 0.3
    assert all(x.state is not EpisodeState.CLOSED for x in out)  # the rubble stays: the alert stays open


def test_unedited_footage_and_lighting_change_raise_nothing(vtest_2fps: list[Image]) -> None:
    assert run(scenarios.edited_frames(vtest_2fps, "CAM-T", fps=2)) == []

    def night(image: Image, _i: int) -> Image:
        return (image.astype(np.float32) * 0.35).astype(np.uint8)

    assert run(scenarios.edited_frames(vtest_2fps, "CAM-T", fps=2, edit=night, start_s=20)) == []


def test_change_hidden_by_a_detected_person_is_ignored(vtest_2fps: list[Image]) -> None:
    x1, y1, x2, y2 = box_px(vtest_2fps[0], RUBBLE_AT)
    someone = Detection("person", 0.9, Box(x1, y1, x2, y2))
    assert run(scenarios.edited_frames(vtest_2fps, "CAM-T", fps=2, edit=collapse, start_s=20), [someone]) == []


def test_a_change_must_persist(vtest_2fps: list[Image]) -> None:
    def flash(image: Image, i: int) -> Image:
        return collapse(image, i) if i in (45, 46) else image  # two samples at 2 fps ≈ one compared sample

    assert run(scenarios.edited_frames(vtest_2fps, "CAM-T", fps=2, edit=flash)) == []


def test_comparison_measures() -> None:
    rng = np.random.default_rng(1)
    a = (rng.random((60, 80)) * 255).astype(np.float32)
    assert float(ssim_map(a, a).mean()) > 0.99
    same = compare(a, a, np.ones(a.shape, bool))
    assert same.changed == 0
    assert same.edge_change == 0

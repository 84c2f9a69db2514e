from __future__ import annotations

import pytest

from camera_config.types import ZonePurpose
from core.errors import InvalidInput
from detectors.zones import CameraZones, check_zones
from tests.detectors.rules_support import camera, person, zone

SQUARE = [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)]


def test_membership_by_bottom_centre() -> None:
    cam = camera([zone("z", ZonePurpose.CROWD, SQUARE)])
    z = CameraZones(cam, 800, 600).crowd[0]
    assert z.holds(person(400, 300))
    assert not z.holds(person(400, 500 + 1, h=300))  # feet below the zone although the body crosses it
    assert z.holds(person(400, 449, h=400))  # feet inside, head far above
    assert not z.holds(person(100, 300))


def test_masks_drop_detections() -> None:
    cam = camera([zone("poster", ZonePurpose.MASK, SQUARE)])
    zones = CameraZones(cam, 800, 600)
    kept = zones.unmasked([person(400, 300), person(50, 300)])
    assert [d.box.x1 for d in kept] == [35.0]


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([(0.1, 0.1), (0.2, 0.2)], "needs ≥3"),
        ([(0.1, 0.1), (0.2, 0.2), (0.3, 0.3)], "no area"),
        ([(0.1, 0.1), (1.5, 0.1), (0.5, 0.5)], "normalised"),
        ([(0.1, 0.1), (0.9, 0.9), (0.9, 0.1), (0.1, 0.9)], "crosses itself"),
    ],
)
def test_degenerate_zones_are_refused_by_field(points: list[tuple[float, float]], message: str) -> None:
    cam = camera([zone("ok", ZonePurpose.CROWD, SQUARE), zone("bad", ZonePurpose.CROWD, points)])
    with pytest.raises(InvalidInput) as err:
        check_zones(cam.id, cam.zones)
    (issue,) = err.value.issues
    assert issue.where == "cameras[CAM-T].zones[1].points"
    assert message in issue.message
    assert '"bad"' in issue.message

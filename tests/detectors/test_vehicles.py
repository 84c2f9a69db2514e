"""Fire lanes and entrances, table-tested on detections (a real fire-lane case on vtest is in test_pipeline;
no footage here shows a bicycle, so the e-bike rule has no real case yet)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from camera_config.hazard_settings import EbikeSettings, FireLaneSettings
from camera_config.types import Zone, ZonePurpose
from detectors.labels import BICYCLE, MOTORCYCLE, PERSON, VEHICLE
from detectors.types import Box, Detection, EpisodeState, HazardType, Observation
from detectors.vehicles import EbikeRule, FireLaneRule
from tests.detectors.rules_support import camera, context, zone

LANE = zone("lane", ZonePurpose.FIRE_LANE, [(0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)], stand_s=60)
DOOR = zone("door", ZonePurpose.ENTRANCE, [(0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (0.0, 0.5)])
CAR = Box(300, 380, 460, 480)  # bottom-centre (380, 480): in the lane (the picture is 768 × 576)
ABOVE = Box(300, 100, 460, 200)

Scene = Callable[[float], list[Detection]]


def run(
    rule: FireLaneRule | EbikeRule, lane: Zone, scene: Scene, until_s: float, step_s: float = 1.0
) -> list[Observation]:
    cam = camera([lane])
    out: list[Observation] = []
    t = 0.0
    while t <= until_s:
        out += rule.observe(context(cam, t, scene(t)))
        t += 1.0
    return out


def car(dx: float = 0.0, label: str = VEHICLE) -> Detection:
    return Detection(label, 0.8, Box(CAR.x1 + dx, CAR.y1, CAR.x2 + dx, CAR.y2))


@pytest.mark.parametrize(
    ("case", "scene", "opens"),
    [
        ("a car parked in the lane: one alert once it has stood 60 s", lambda t: [car()], True),
        ("cars driving through, one after another, never stand", lambda t: [car(dx=(t * 40) % 600 - 300)], False),
        (
            "a car beside the lane (above it) is not in it",
            lambda t: [Detection(VEHICLE, 0.8, Box(300, 100, 460, 200))],
            False,
        ),
        ("a person standing in the lane is not a vehicle", lambda t: [Detection(PERSON, 0.8, CAR)], False),
        (
            "passers-by hiding the parked car for a few seconds do not reset its time",
            lambda t: [] if 30 <= t < 36 else [car()],
            True,
        ),
        (
            "a car that leaves after 40 s and another after 40 s more: none stood 60 s",
            lambda t: [car()] if t % 80 < 40 else [car(dx=200)],
            False,
        ),
    ],
)
def test_fire_lane(case: str, scene: Scene, opens: bool) -> None:
    out = run(FireLaneRule("CAM-T", LANE, FireLaneSettings()), LANE, scene, until_s=120)
    opened = [o for o in out if o.state is EpisodeState.OPENED]
    assert len(opened) == (1 if opens else 0), case
    if opens:
        assert opened[0].hazard is HazardType.FIRE_LANE_BLOCKED
        assert opened[0].zone_id == "lane"
        assert opened[0].evidence_jpeg
        assert opened[0].measurements["standing_s"] >= 60


def test_the_lane_alert_closes_once_the_car_has_gone_for_clear_s() -> None:
    out = run(
        FireLaneRule("CAM-T", LANE, FireLaneSettings(clear_s=30)), LANE, lambda t: [car()] if t < 100 else [], 200
    )
    states = [o.state for o in out if o.state is not EpisodeState.UPDATED]
    assert states == [EpisodeState.OPENED, EpisodeState.CLOSED]


def test_the_camera_setting_applies_where_the_zone_has_none() -> None:
    lane = zone("lane", ZonePurpose.FIRE_LANE, [(0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)])
    rule = FireLaneRule("CAM-T", lane, FireLaneSettings(stand_s=300))
    assert [o for o in run(rule, lane, lambda t: [car()], until_s=290) if o.state is EpisodeState.OPENED] == []


@pytest.mark.parametrize(
    ("case", "label", "opens"),
    [
        ("a bicycle in the entrance", BICYCLE, True),
        ("an e-bike, seen as a motorcycle", MOTORCYCLE, True),
        ("a person", PERSON, False),
        ("a car", VEHICLE, False),
    ],
)
def test_ebike_in_an_entrance(case: str, label: str, opens: bool) -> None:
    bike = Detection(label, 0.7, Box(100, 150, 180, 250))  # bottom-centre (140, 250): in the door zone
    out = run(EbikeRule("CAM-T", DOOR, EbikeSettings()), DOOR, lambda t: [bike] if t >= 10 else [], until_s=40)
    opened = [o for o in out if o.state is EpisodeState.OPENED]
    assert len(opened) == (1 if opens else 0), case
    if opens:
        assert opened[0].hazard is HazardType.EBIKE_INDOORS
        assert opened[0].measurements["two_wheelers"] == 1


def test_a_bicycle_wheeled_through_quickly_is_no_alert() -> None:
    bike = Detection(BICYCLE, 0.7, Box(100, 150, 180, 250))
    out = run(EbikeRule("CAM-T", DOOR, EbikeSettings()), DOOR, lambda t: [bike] if 10 <= t < 13 else [], until_s=40)
    assert out == []

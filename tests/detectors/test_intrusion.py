from __future__ import annotations

from datetime import UTC, datetime

import pytest

from camera_config.hazard_settings import IntrusionSettings
from camera_config.types import ZonePurpose
from detectors.intrusion import IntrusionRule, LoiterRule, in_schedule
from detectors.types import Detection, EpisodeState, Observation
from tests.detectors.rules_support import camera, context, person, zone

YARD = zone("yard", ZonePurpose.RESTRICTED, [(0.5, 0.5), (1.0, 0.5), (1.0, 1.0), (0.5, 1.0)])
INSIDE, OUTSIDE = (600.0, 500.0), (100.0, 500.0)


def drive(rule: IntrusionRule | LoiterRule, scene: list[tuple[float, list[Detection]]]) -> list[Observation]:
    cam = camera([YARD])
    out = []
    for t, dets in scene:
        out += rule.observe(context(cam, t, dets))
    return out


def walk(track: int, where: tuple[float, float], start: float, end: float) -> list[tuple[float, list[Detection]]]:
    return [(start + i * 0.5, [person(*where, track=track)]) for i in range(int((end - start) / 0.5))]


def test_intrusion_opens_after_a_second_and_closes_when_clear() -> None:
    rule = IntrusionRule("CAM-T", YARD, IntrusionSettings(min_duration_s=1, clear_s=5))
    scene = walk(1, OUTSIDE, 0, 5) + walk(1, INSIDE, 5, 10) + [(10 + i * 0.5, []) for i in range(20)]
    states = [(o.state, o.zone_id) for o in drive(rule, scene) if o.state is not EpisodeState.UPDATED]
    assert states == [(EpisodeState.OPENED, "yard"), (EpisodeState.CLOSED, "yard")]


def test_feet_decide_not_the_head() -> None:
    rule = IntrusionRule("CAM-T", YARD, IntrusionSettings(min_duration_s=0))
    # standing just outside the zone's top edge with the head inside the picture area above: not inside
    tall = person(600, 280, track=1, h=200)
    assert drive(rule, [(0.0, [tall]), (1.0, [tall])]) == []


@pytest.mark.parametrize(
    ("schedule", "hour", "active"),
    [
        ((), 12, True),
        (("22:00-06:00",), 23, True),
        (("22:00-06:00",), 3, True),
        (("22:00-06:00",), 12, False),
        (("08:00-12:00", "13:00-24:00"), 12, False),
        (("08:00-12:00", "13:00-24:00"), 23, True),
    ],
)
def test_schedule(schedule: tuple[str, ...], hour: int, active: bool) -> None:
    s = IntrusionSettings(schedule=schedule, timezone="Asia/Shanghai")
    local_hour_utc = (hour - 8) % 24
    assert in_schedule(s, datetime(2026, 3, 1, local_hour_utc, 30, tzinfo=UTC)) is active


def test_outside_the_schedule_nobody_is_an_intruder() -> None:
    # the fake day starts at 08:00 UTC; the zone is restricted only at night
    rule = IntrusionRule("CAM-T", YARD, IntrusionSettings(schedule=("22:00-06:00",)))
    assert drive(rule, walk(1, INSIDE, 0, 20)) == []


def test_loitering_needs_one_person_to_stay() -> None:
    settings = IntrusionSettings(loiter_s=20, clear_s=3)
    passers = [(i * 0.5, [person(*INSIDE, track=1 + i // 20)]) for i in range(120)]  # a new person every 10 s
    assert drive(LoiterRule("CAM-T", YARD, settings), passers) == []
    stayer = walk(7, INSIDE, 0, 30) + [(30 + i * 0.5, []) for i in range(12)]
    out = drive(LoiterRule("CAM-T", YARD, settings), stayer)
    assert [o.state for o in out if o.state is not EpisodeState.UPDATED] == [EpisodeState.OPENED, EpisodeState.CLOSED]
    assert out[0].measurements["longest_dwell_s"] == pytest.approx(20.0)
    assert out[0].hazard.value == "loitering"


def test_zone_loiter_override() -> None:
    z = zone("door", ZonePurpose.RESTRICTED, YARD.points, loiter_s=5)
    assert LoiterRule("CAM-T", z, IntrusionSettings()).loiter_s == 5

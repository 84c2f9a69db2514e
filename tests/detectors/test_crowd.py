from __future__ import annotations

from collections.abc import Callable

import pytest

from camera_config.hazard_settings import CrowdSettings, HazardSettings
from camera_config.types import ZonePurpose
from detectors.crowd import CrowdRule, crowd_thresholds
from detectors.types import Detection, EpisodeState, Observation
from tests.detectors.rules_support import camera, context, person, zone

PLAZA = zone("plaza", ZonePurpose.CROWD, [(0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)])


def crowd(n: int, *, outside: int = 0) -> list[Detection]:
    inside = [person(50 + 60 * i, 500, track=i) for i in range(n)]
    return inside + [person(50 + 60 * i, 100, track=100 + i) for i in range(outside)]


def drive(
    rule: CrowdRule, counts: Callable[[float], int], until_s: float, every_s: float = 0.5
) -> list[tuple[float, Observation]]:
    cam = camera([PLAZA])
    out = []
    for i in range(int(until_s / every_s)):
        t = i * every_s
        for o in rule.observe(context(cam, t, crowd(counts(t), outside=3))):
            out.append((t, o))
    return out


def states(events: list[tuple[float, Observation]]) -> list[tuple[float, EpisodeState]]:
    return [(t, o.state) for t, o in events if o.state is not EpisodeState.UPDATED]


SETTINGS = CrowdSettings(min_people=5, min_duration_s=10, clear_s=5, cooldown_s=60, hysteresis_people=1)


@pytest.mark.parametrize(
    ("name", "counts", "expected"),
    [
        ("never enough people", lambda t: 4, []),
        ("people outside the zone do not count", lambda t: 2, []),
        (
            "appearing: five for ten seconds opens one alert",
            lambda t: 5 if t >= 2 else 0,
            [(12.0, EpisodeState.OPENED)],
        ),
        ("shorter than ten seconds: nothing", lambda t: 6 if 2 <= t < 11 else 0, []),
        (
            "flickering detections: one frame at four does not restart the wait",
            lambda t: 4 if t in (5.0, 8.0) else 5,
            [(10.0, EpisodeState.OPENED)],
        ),
        (
            "hysteresis: thinning to four keeps it open",
            lambda t: 6 if t < 20 else 4,
            [(10.0, EpisodeState.OPENED)],
        ),
        (
            "dispersing: closed after five seconds below four",
            lambda t: 6 if t < 20 else 1,
            [(10.0, EpisodeState.OPENED), (24.5, EpisodeState.CLOSED)],
        ),
        (
            "cooldown: regathering soon after is not a second alert",
            lambda t: 6 if t < 20 or 30 <= t < 50 else 0,
            [(10.0, EpisodeState.OPENED), (24.5, EpisodeState.CLOSED)],
        ),
    ],
)
def test_crowd_table(name: str, counts: Callable[[float], int], expected: list[tuple[float, EpisodeState]]) -> None:
    assert states(drive(CrowdRule("CAM-T", PLAZA, SETTINGS), counts, 60)) == expected, name


def test_one_gathering_is_one_episode_with_updates() -> None:
    events = drive(CrowdRule("CAM-T", PLAZA, SETTINGS), lambda t: 5 + int(t // 8) if t < 40 else 0, 60)
    ids = {o.episode_id for _, o in events}
    assert len(ids) == 1
    assert [o.seq for _, o in events] == list(range(len(events)))
    updates = [o for _, o in events if o.state is EpisodeState.UPDATED]
    assert updates
    assert all(o.measurements["people"] >= 4 for o in updates)
    opened = events[0][1]
    assert opened.zone_id == "plaza"
    assert opened.evidence_jpeg is not None
    assert opened.evidence_jpeg[:2] == b"\xff\xd8"
    assert len(opened.detections) == opened.measurements["people"] >= 5
    assert all(d.track_id is not None for d in opened.detections)
    closed = events[-1][1]
    assert closed.state is EpisodeState.CLOSED
    assert closed.measurements["peak_people"] == 9


def test_zone_overrides_camera_thresholds() -> None:
    z = zone("gate", ZonePurpose.CROWD, PLAZA.points, min_people=3, min_duration_s=2)
    assert crowd_thresholds(CrowdSettings(), z) == (3, 2)
    assert crowd_thresholds(CrowdSettings(min_people=7), PLAZA) == (7, 10.0)
    assert HazardSettings().crowd.min_people == 5

from __future__ import annotations

from collections.abc import Callable

import pytest

from camera_config.hazard_settings import FallSettings
from detectors.fall import FallRule, is_fallen
from detectors.types import Detection, EpisodeState
from tests.detectors.rules_support import camera, context, person

SETTINGS = FallSettings(min_duration_s=3, clear_s=5)


def standing(track: int = 1) -> Detection:
    return person(300, 400, track=track, w=30, h=80)


def lying(track: int = 1, conf: float = 0.8, label: str = "fallen_person") -> Detection:
    return person(300, 400, track=track, w=90, h=35, conf=conf, label=label)


def drive(
    rule: FallRule, scene: Callable[[float], list[Detection]], until_s: float = 30
) -> list[tuple[float, EpisodeState]]:
    cam = camera()
    out: list[tuple[float, EpisodeState]] = []
    for i in range(int(until_s / 0.5)):
        t = i * 0.5
        out += [(t, o.state) for o in rule.observe(context(cam, t, scene(t))) if o.state is not EpisodeState.UPDATED]
    return out


@pytest.mark.parametrize(
    ("name", "scene", "expected"),
    [
        ("walking only", lambda t: [standing()], []),
        (
            "stands, falls at 5 s, stays down: one alert after 3 s",
            lambda t: [standing() if t < 5 else lying()],
            [(8.0, EpisodeState.OPENED)],
        ),
        ("a stumble shorter than 3 s", lambda t: [lying() if 5 <= t < 7 else standing()], []),
        (
            "gets up again: closed after 5 s",
            lambda t: [standing() if t < 5 or t >= 15 else lying()],
            [(8.0, EpisodeState.OPENED), (19.5, EpisodeState.CLOSED)],
        ),
        ("a still object the model calls a fall never stood up", lambda t: [lying(track=9)], []),
        ("an unsure fall class is not a fall", lambda t: [standing() if t < 5 else lying(conf=0.3)], []),
        (
            "the lying body gets a new track id: still the fall of the one who stood there",
            lambda t: [standing(track=1) if t < 5 else lying(track=2)],
            [(8.0, EpisodeState.OPENED)],
        ),
        (
            "someone walking past a lying object, still upright elsewhere, does not make it a fall",
            lambda t: [lying(track=9), person(300 + 40 * t, 400, track=3)],
            [],
        ),
        (
            "someone who stops by a lying object and then leaves does not make it a fall",
            lambda t: [lying(track=9 if t < 12 else 10)] + ([person(320, 400, track=3)] if 8 <= t < 11 else []),
            [],
        ),
        (
            "an upright box labelled fall is a walker, not a fall",
            lambda t: [standing() if t < 5 else person(300, 400, track=1, label="fallen_person", w=30, h=80)],
            [],
        ),
    ],
)
def test_fall_table(
    name: str, scene: Callable[[float], list[Detection]], expected: list[tuple[float, EpisodeState]]
) -> None:
    assert drive(FallRule("CAM-T", SETTINGS), scene) == expected, name


def test_lying_box_heuristic_for_models_without_a_fall_class() -> None:
    s = FallSettings()
    lying_person = lying(label="person")
    assert is_fallen(lying_person, s, model_has_fall_class=False)
    assert not is_fallen(standing(), s, model_has_fall_class=False)
    assert not is_fallen(lying_person, s, model_has_fall_class=True)
    rule = FallRule("CAM-T", SETTINGS, model_has_fall_class=False)
    assert drive(rule, lambda t: [standing() if t < 5 else lying(label="person")]) == [(8.0, EpisodeState.OPENED)]


def test_fall_evidence_names_the_track() -> None:
    cam = camera()
    rule = FallRule("CAM-T", SETTINGS)
    opened = []
    for i in range(30):
        t = i * 0.5
        opened += rule.observe(context(cam, t, [standing() if t < 2 else lying()]))
    assert opened[0].state is EpisodeState.OPENED
    assert opened[0].detections[0].track_id == 1
    assert opened[0].evidence_jpeg

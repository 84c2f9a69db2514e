"""Still spots: what stood unmoved since the camera started is left out of counts; people who came are not."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from detectors.labels import PERSON, VEHICLE
from detectors.static_people import FORGET_S, LEARN_S, StillSpots
from detectors.types import Box, Detection

SIGN = Box(30, 110, 46, 140)  # a sign on a pole, as the model sees it in every frame


def at(box: Box, dx: float = 0, track: int | None = None, label: str = PERSON) -> Detection:
    return Detection(label, 0.6, Box(box.x1 + dx, box.y1, box.x2 + dx, box.y2), track_id=track)


def walker(t: float, track: int = 7) -> Detection:
    """Walks from the left edge to the sign's spot, 10 px a second, and stays there from t = 30 s."""
    return at(SIGN, dx=-300 + 10 * min(t, 30.0), track=track)


def run(frames: Callable[[float], list[Detection]], until_s: float = 60.0) -> tuple[StillSpots, dict[float, int]]:
    """One analysed frame a second; the people kept at each second."""
    spots = StillSpots()
    kept = {}
    t = 0.0
    while t <= until_s:
        kept[t] = sum(d.label == PERSON for d in spots.filter(frames(t), t))
        t += 1.0
    return spots, kept


def test_a_sign_called_a_person_counts_while_learning_then_never() -> None:
    spots, kept = run(lambda t: [at(SIGN, dx=0.5 * (t % 2), track=1)])
    assert all(n == 1 for t, n in kept.items() if t <= LEARN_S)
    assert all(n == 0 for t, n in kept.items() if t > LEARN_S)
    assert len(spots.spots) == 1


def test_a_person_who_walked_there_counts_on_the_spot() -> None:
    _, kept = run(lambda t: [at(SIGN, track=1), walker(t)])
    assert all(n == 1 for t, n in kept.items() if t > LEARN_S)  # the walker, never the sign


def test_someone_who_came_after_the_start_and_stands_still_counts() -> None:
    _, kept = run(lambda t: [at(Box(400, 200, 430, 280), track=3)] if t >= 3 else [])
    assert all(n == 1 for t, n in kept.items() if t >= 3)


def test_someone_standing_at_the_start_who_then_walks_off_is_not_learnt() -> None:
    spots, kept = run(lambda t: [at(Box(400, 200, 430, 280), dx=0 if t < 4 else 12 * (t - 4), track=3)])
    assert spots.spots == []
    assert all(n == 1 for n in kept.values())


def test_vehicles_are_never_left_out() -> None:
    spots, _ = run(lambda t: [at(Box(600, 40, 700, 100), label=VEHICLE, track=2)])
    assert spots.spots == []


@pytest.mark.parametrize("gone_s", [FORGET_S + 5])
def test_a_spot_forgotten_after_its_object_left_counts_again_when_something_stands_there(gone_s: float) -> None:
    def frames(t: float) -> list[Detection]:
        return [at(SIGN, track=1)] if t <= 20 or t > 20 + gone_s else []

    spots, kept = run(frames, until_s=20 + gone_s + 10)
    assert spots.spots == []
    assert all(n == 1 for t, n in kept.items() if t > 20 + gone_s)

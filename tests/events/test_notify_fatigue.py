"""The cooldown and suspend table, on a fake clock (the cap is tested with deliveries)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from detectors.types import HazardType, Severity
from events.notify.fatigue import Fatigue, Held, Suspend, SuspendKind
from tests.support.factories import START

H, C = Severity.HIGH, Severity.CRITICAL
CROWD, FALL = HazardType.CROWD, HazardType.FALLEN_PERSON


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # (seconds after START, camera, zone, hazard, severity) → held?
        ([(0, "C1", None, CROWD, H), (59, "C1", None, CROWD, H), (60, "C1", None, CROWD, H)], [None, "cooldown", None]),
        # another zone, hazard or camera has its own cooldown
        (
            [(0, "C1", "z1", CROWD, H), (1, "C1", "z2", CROWD, H), (2, "C1", "z1", FALL, H), (3, "C2", "z1", CROWD, H)],
            [None, None, None, None],
        ),
        # critical alerts pass and do not restart the cooldown of those that follow
        ([(0, "C1", None, CROWD, H), (10, "C1", None, CROWD, C), (20, "C1", None, CROWD, H)], [None, None, "cooldown"]),
        # a held alert does not extend the cooldown
        ([(0, "C1", None, CROWD, H), (50, "C1", None, CROWD, H), (61, "C1", None, CROWD, H)], [None, "cooldown", None]),
        # per-hazard override: falls cool down for 10 s only
        ([(0, "C1", None, FALL, H), (11, "C1", None, FALL, H)], [None, None]),
    ],
)
def test_cooldown(steps: list[tuple[int, str, str | None, HazardType, Severity]], expected: list[str | None]) -> None:
    fatigue = Fatigue(60, {FALL: 10})
    got = [
        fatigue.hold(cam, zone, hazard, sev, "G1", START + timedelta(seconds=t)) for t, cam, zone, hazard, sev in steps
    ]
    assert [None if h is None else h.value for h in got] == expected


def _suspend(kind: SuspendKind, target: str, minutes: int, lifted: bool = False) -> Suspend:
    return Suspend(
        1, kind, target, "works", "op1", START, START + timedelta(minutes=minutes), START if lifted else None, None
    )


@pytest.mark.parametrize(
    ("suspends", "at_min", "camera", "grid", "expected"),
    [
        ([_suspend(SuspendKind.CAMERA, "C1", 30)], 10, "C1", "G1", Held.SUSPEND_CAMERA),
        ([_suspend(SuspendKind.CAMERA, "C1", 30)], 30, "C1", "G1", None),  # until is exclusive
        ([_suspend(SuspendKind.CAMERA, "C1", 30)], 10, "C2", "G1", None),
        ([_suspend(SuspendKind.GRID, "G1", 30)], 10, "C2", "G1", Held.SUSPEND_GRID),
        ([_suspend(SuspendKind.GRID, "G1", 30, lifted=True)], 10, "C2", "G1", None),
        # a suspend holds critical alerts too: someone chose to silence that place
        ([_suspend(SuspendKind.CAMERA, "C1", 30)], 10, "C1", "G2", Held.SUSPEND_CAMERA),
    ],
)
def test_suspends(suspends: list[Suspend], at_min: int, camera: str, grid: str, expected: Held | None) -> None:
    fatigue = Fatigue()
    fatigue.set_suspends(suspends)
    at = START + timedelta(minutes=at_min)
    assert fatigue.hold(camera, None, CROWD, Severity.CRITICAL, grid, at) == expected


def test_the_same_episode_asked_again_gets_the_same_answer() -> None:
    """A batch whose transaction lost a race runs again: its alert must not hold itself back."""
    fatigue = Fatigue(60)
    assert fatigue.hold("C1", None, CROWD, H, "G1", START, "ep-1") is None
    assert fatigue.hold("C1", None, CROWD, H, "G1", START, "ep-1") is None
    assert fatigue.hold("C1", None, CROWD, H, "G1", START + timedelta(seconds=1), "ep-2") is Held.COOLDOWN

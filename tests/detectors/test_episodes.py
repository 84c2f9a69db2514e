from __future__ import annotations

import numpy as np
import pytest

from detectors.episodes import EpisodeWriter, Persistence, Report, Step, evidence_jpeg
from detectors.types import Box, Detection, EpisodeState, HazardType, Severity


def run(p: Persistence, timeline: list[tuple[float, bool]]) -> list[tuple[float, Step]]:
    return [(t, s) for t, c in timeline if (s := p.step(t, c)) in (Step.OPEN, Step.CLOSE)]


def steady(start: float, end: float, value: bool, every: float = 0.5) -> list[tuple[float, bool]]:
    return [(start + i * every, value) for i in range(round((end - start) / every))]


@pytest.mark.parametrize(
    ("name", "timeline", "expected"),
    [
        ("appearing: opens once held for on_s", steady(0, 20, True), [(10.0, Step.OPEN)]),
        ("too short: never opens", steady(0, 9, True) + steady(9, 30, False), []),
        (
            "flickering: a short dip does not restart the wait",
            [*steady(0, 6, True), (6.0, False), *steady(6.5, 12, True)],
            [(10.0, Step.OPEN)],
        ),
        (
            "dispersing: closes after off_s without the condition",
            steady(0, 12, True) + steady(12, 30, False),
            [(10.0, Step.OPEN), (15.5, Step.CLOSE)],
        ),
        (
            "cooldown: a regathering within the cooldown is not a new alert",
            steady(0, 12, True) + steady(12, 20, False) + steady(20, 45, True),
            [(10.0, Step.OPEN), (15.5, Step.CLOSE)],
        ),
        (
            "after the cooldown a new gathering opens again",
            steady(0, 12, True) + steady(12, 20, False) + steady(20, 80, True),
            [(10.0, Step.OPEN), (15.5, Step.CLOSE), (75.5, Step.OPEN)],
        ),
    ],
)
def test_persistence(name: str, timeline: list[tuple[float, bool]], expected: list[tuple[float, Step]]) -> None:
    p = Persistence(on_s=10, off_s=4, cooldown_s=60, gap_s=1.0)
    assert run(p, timeline) == expected, name


def test_writer_keeps_one_id_and_counts_up() -> None:
    from datetime import UTC, datetime, timedelta

    w = EpisodeWriter("CAM-1", HazardType.CROWD, Severity.MEDIUM, zone_id="plaza", update_every_s=10)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    first = w.start(0.0, t0, Report("open"), key=5)
    assert not w.due(1.0, key=5)
    assert w.due(1.0, key=6)
    assert w.due(11.0, key=5)
    second = w.update(2.0, t0 + timedelta(seconds=2), Report("more"), key=6)
    last = w.finish(t0 + timedelta(seconds=3), Report("gone"))
    assert [o.state for o in (first, second, last)] == [EpisodeState.OPENED, EpisodeState.UPDATED, EpisodeState.CLOSED]
    assert first.episode_id == second.episode_id == last.episode_id
    assert [o.seq for o in (first, second, last)] == [0, 1, 2]
    assert {o.started_at for o in (first, second, last)} == {t0}
    again = w.start(20.0, t0 + timedelta(seconds=20), Report("again"))
    assert again.episode_id != first.episode_id
    assert again.seq == 0


def test_evidence_is_an_annotated_jpeg() -> None:
    import cv2

    image = np.full((240, 320, 3), 128, np.uint8)
    jpeg = evidence_jpeg(image, detections=[Detection("person", 0.9, Box(10, 20, 60, 120), track_id=3)], title="x")
    assert jpeg[:2] == b"\xff\xd8"
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    assert decoded.shape == image.shape
    assert np.abs(decoded.astype(int) - 128).max() > 60  # something was drawn

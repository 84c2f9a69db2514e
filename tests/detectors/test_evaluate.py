"""Count labels with people who may count either way, and the error they give."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InvalidInput
from detectors.evaluate import EvalReport, count_error, read_labels


@pytest.mark.parametrize(
    ("people", "occluded", "found", "error"),
    [(5, 0, 5, 0), (5, 0, 3, -2), (5, 0, 7, 2), (5, 2, 6, 0), (5, 2, 7, 0), (5, 2, 8, 1), (5, 2, 4, -1)],
)
def test_count_error(people: int, occluded: int, found: int, error: int) -> None:
    assert count_error(people, occluded, found) == error


def test_labels_with_and_without_occluded_people(tmp_path: Path) -> None:
    path = tmp_path / "counts.csv"
    path.write_text("# a comment\nframe,people,occluded\n10,5,1\n30,4,\n50,6,0\n", encoding="utf-8")
    labels = read_labels(path)
    assert labels.counts == {10: 5, 30: 4, 50: 6}
    assert labels.occluded == {10: 1}
    report = EvalReport("clip", counts=[(10, 5, 6), (30, 4, 3), (50, 6, 6)], occluded=labels.occluded)
    assert report.count_errors() == [0, -1, 0]
    assert report.count_mae == pytest.approx(1 / 3)


def test_a_negative_occluded_count_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "counts.csv"
    path.write_text("frame,people,occluded\n10,5,-1\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"counts\.csv row 1"):
        read_labels(path)

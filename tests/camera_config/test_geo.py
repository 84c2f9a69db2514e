"""Outlines: a polygon that crosses or touches itself is named by its edges; one that leaves another is
named by a point outside it or the edge that crosses its border; sharing a border is staying within."""

from __future__ import annotations

import math
import time

import pytest

from camera_config.geo import BORDER_TOLERANCE, MAX_POINTS, leaves, polygon_problem
from camera_config.types import Point

SQUARE: list[Point] = [(0, 0), (1, 0), (1, 1), (0, 1)]
BIG: list[Point] = [(0, 0), (10, 0), (10, 10), (0, 10)]
U_SHAPE: list[Point] = [(0, 0), (10, 0), (10, 10), (7, 10), (7, 3), (3, 3), (3, 10), (0, 10)]
"""A square with a bay cut into it from the top, between x 3 and 7, down to y 3."""


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        (SQUARE, None),
        (U_SHAPE, None),
        ([(0, 0), (1, 1), (1, 0), (0, 1)], "edge 0 (point 0 → 1) crosses edge 2 (point 2 → 3)"),
        ([(0, 0), (2, 0), (2, 2), (1, 0), (0, 2)], "edge 0 (point 0 → 1) crosses edge 2 (point 2 → 3)"),  # a touch
        ([(0, 0), (2, 0), (1, 0), (1, 1)], "edge 0 (point 0 → 1) crosses edge 1 (point 1 → 2)"),  # turns back
        (
            [(0, 0), (1, 0), (1, 1), (0, 1), (1, 0.5)],
            "edge 1 (point 1 → 2) crosses edge 3 (point 3 → 4)",
        ),  # a corner on an edge
        ([(0, 0), (1, 0), (2, 0)], "polygon has zero area: its points lie on one line"),
        ([(0, 0), (1, 0), (1, 1), (1, 0)], "point 3 repeats point 1"),
    ],
)
def test_polygon_problems(points: list[Point], expected: str | None) -> None:
    found = polygon_problem(points)
    assert (found or "")[: len(expected or "")] == (expected or ""), found
    assert (found is None) == (expected is None)


def test_a_touch_smaller_than_rounding_is_still_a_touch() -> None:
    """The orientation is exact: a point a hair's breadth past an edge makes the outline cross itself."""
    hair = math.ulp(121.0)
    touching: list[Point] = [(121.0, 31.0), (121.2, 31.0), (121.2, 31.2), (121.1, 31.0 - hair), (121.0, 31.2)]
    assert polygon_problem(touching) is not None
    clear: list[Point] = [(121.0, 31.0), (121.2, 31.0), (121.2, 31.2), (121.1, 31.0 + 1e-9), (121.0, 31.2)]
    assert polygon_problem(clear) is None


@pytest.mark.parametrize(
    ("inner", "outer", "expected"),
    [
        (SQUARE, BIG, None),
        ([(0, 0), (10, 0), (10, 5), (0, 5)], BIG, None),  # shares three sides of the border
        ([(0, 0), (5, 0), (5, 5 + BORDER_TOLERANCE / 2), (0, 5)], [(0, 0), (5, 0), (5, 5), (0, 5)], None),
        ([(5, 5), (12, 5), (12, 6), (5, 6)], BIG, "point 1 (12, 5) lies outside"),
        ([(-1, -1), (11, -1), (11, 11), (-1, 11)], BIG, "point 0 (-1, -1) lies outside"),  # around it
        ([(20, 20), (21, 20), (21, 21)], BIG, "point 0 (20, 20) lies outside"),  # nowhere near
        ([(1, 8), (9, 8), (9, 9), (1, 9)], U_SHAPE, "its edge 0 (point 0 → 1) crosses the border"),  # over the bay
        ([(1, 1), (9, 1), (9, 9), (7, 9), (3, 9), (1, 9)], U_SHAPE, "its edge 3 (point 3 → 4) runs outside"),
        ([(1, 1), (3, 1), (3, 9), (1, 9)], U_SHAPE, None),  # along the bay's side
    ],
)
def test_leaves(inner: list[Point], outer: list[Point], expected: str | None) -> None:
    assert leaves(inner, outer) == expected


def circle(n: int, radius: float, centre: Point = (121.45, 31.23)) -> list[Point]:
    return [
        (centre[0] + radius * math.cos(2 * math.pi * k / n), centre[1] + radius * math.sin(2 * math.pi * k / n))
        for k in range(n)
    ]


def test_the_largest_outlines_are_checked_in_well_under_a_second() -> None:
    start = time.perf_counter()
    street, grid = circle(MAX_POINTS, 0.05), circle(MAX_POINTS, 0.04)
    assert polygon_problem(street) is None
    assert leaves(grid, street) is None
    assert leaves(circle(MAX_POINTS, 0.06), street) == "point 0 (121.51, 31.23) lies outside"
    assert time.perf_counter() - start < 1.0

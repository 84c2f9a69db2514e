"""Outlines on the ground: whether a polygon crosses itself, and whether one stays within another.

Points are (lon, lat) degrees taken as plane coordinates: across a sub-district (a few km) the distortion
is far below anything that decides whether two edges cross. Which side of a line a point lies on is
decided exactly (a float is a rational number), so an outline that merely touches itself is caught however
small the touch. "Within" allows a centimetre (`BORDER_TOLERANCE`): a grid drawn along the street's border
by hand differs from the street's own points by more than rounding.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from fractions import Fraction

from camera_config.types import Point

MAX_POINTS = 1000
"""Points in one outline: a surveyed boundary has tens to hundreds; more is a mistake (or a probe)."""

BORDER_TOLERANCE = 1e-7
"""Degrees (about 1 cm): a point this close to an outline's border counts as on it."""

_ERROR_BOUND = 3.3306690738754716e-16
"""Relative error of the floating-point orientation (Shewchuk's ccwerrboundA): within it, compute exactly."""


def point_in_polygon(point: Point, polygon: Sequence[Point]) -> bool:
    """Even-odd rule; points are (x, y) in any consistent unit."""
    x, y = point
    inside = False
    n = len(polygon)
    for i in range(n):
        x0, y0 = polygon[i]
        x1, y1 = polygon[(i + 1) % n]
        if (y0 > y) != (y1 > y) and x < (x1 - x0) * (y - y0) / (y1 - y0) + x0:
            inside = not inside
    return inside


def _orientation(a: Point, b: Point, c: Point) -> int:
    """1 when a → b → c turns left, -1 right, 0 on one line; exact."""
    left = (b[0] - a[0]) * (c[1] - a[1])
    right = (b[1] - a[1]) * (c[0] - a[0])
    det = left - right
    bound = _ERROR_BOUND * (abs(left) + abs(right))
    if det > bound:
        return 1
    if -det > bound:
        return -1
    ax, ay, bx, by, cx, cy = (Fraction(v) for v in (*a, *b, *c))
    exact = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
    return (exact > 0) - (exact < 0)


def _within_box(a: Point, b: Point, p: Point) -> bool:
    """``p``, on the line through a and b, lies on the segment a–b."""
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def _segments_meet(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    """The closed segments p1–p2 and q1–q2 share at least one point."""
    o1, o2 = _orientation(p1, p2, q1), _orientation(p1, p2, q2)
    o3, o4 = _orientation(q1, q2, p1), _orientation(q1, q2, p2)
    if o1 != o2 and o3 != o4:
        return True
    return (
        (o1 == 0 and _within_box(p1, p2, q1))
        or (o2 == 0 and _within_box(p1, p2, q2))
        or (o3 == 0 and _within_box(q1, q2, p1))
        or (o4 == 0 and _within_box(q1, q2, p2))
    )


Box = tuple[float, float, float, float]


def _box(a: Point, b: Point, margin: float = 0.0) -> Box:
    return min(a[0], b[0]) - margin, min(a[1], b[1]) - margin, max(a[0], b[0]) + margin, max(a[1], b[1]) + margin


def _overlapping(first: Sequence[Box], second: Sequence[Box] | None = None) -> Iterator[tuple[int, int]]:
    """Pairs (i, j) of overlapping boxes, i from ``first`` and j from ``second``; without ``second``, pairs
    i < j within ``first``. A sweep along x, so that far-apart edges of an outline are never compared."""
    same = second is None
    boxes = (first, first if second is None else second)
    entries = [(b[0], 0, i) for i, b in enumerate(first)]
    if not same:
        entries += [(b[0], 1, j) for j, b in enumerate(boxes[1])]
    active: tuple[list[int], list[int]] = ([], [])
    for x, side, k in sorted(entries):
        box = boxes[side][k]
        against = 0 if same else 1 - side
        # sorted by left edge: a box that ends before this one starts meets no later box either
        active[against][:] = [m for m in active[against] if boxes[against][m][2] >= x]
        for m in active[against]:
            other = boxes[against][m]
            if other[1] <= box[3] and box[1] <= other[3]:
                yield (min(k, m), max(k, m)) if same else ((k, m) if side == 0 else (m, k))
        active[side].append(k)


def _edges(points: Sequence[Point]) -> list[tuple[Point, Point]]:
    return [(points[i], points[(i + 1) % len(points)]) for i in range(len(points))]


def edge_name(i: int, n: int) -> str:
    """``edge 2 (point 2 → 3)``: edge i runs from point i to the next (the last back to point 0)."""
    return f"edge {i} (point {i} → {(i + 1) % n})"


def polygon_problem(points: Sequence[Point]) -> str | None:
    """Why ``points`` (at least three) are no simple polygon, in words; None when they are one."""
    n = len(points)
    first: dict[Point, int] = {}
    for i, p in enumerate(points):
        if p in first:
            return f"point {i} repeats point {first[p]}"
        first[p] = i
    if all(_orientation(points[0], points[1], p) == 0 for p in points[2:]):
        return "polygon has zero area: its points lie on one line"
    edges = _edges(points)
    crossings = []
    for i, j in _overlapping([_box(a, b) for a, b in edges]):
        if j == i + 1 or (i == 0 and j == n - 1):
            # neighbours share a corner; they only cross if the second turns back along the first
            (a, b), (_, c) = (edges[i], edges[j]) if j == i + 1 else (edges[j], edges[i])
            dot = (a[0] - b[0]) * (c[0] - b[0]) + (a[1] - b[1]) * (c[1] - b[1])
            if _orientation(a, b, c) == 0 and dot > 0:
                crossings.append((i, j))
        elif _segments_meet(*edges[i], *edges[j]):
            crossings.append((i, j))
    if not crossings:
        return None
    i, j = min(crossings)
    return f"{edge_name(i, n)} crosses {edge_name(j, n)}: an outline must not cross itself"


def _distance(p: Point, a: Point, b: Point) -> float:
    """From ``p`` to the segment a–b."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2))
    return math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy))


def _near_border(p: Point, outer: Sequence[Point]) -> bool:
    return any(_distance(p, a, b) <= BORDER_TOLERANCE for a, b in _edges(outer))


def _show(p: Point) -> str:
    return f"({p[0]:g}, {p[1]:g})"


def _crossing_edge(inner: Sequence[Point], outer: Sequence[Point], pairs: Sequence[tuple[int, int]]) -> int | None:
    """The first edge of ``inner`` that crosses an edge of ``outer`` away from its own ends (a crossing at an
    end that lies on the border is a touch)."""
    inner_edges, outer_edges = _edges(inner), _edges(outer)
    for i, j in sorted(pairs):
        (p1, p2), (q1, q2) = inner_edges[i], outer_edges[j]
        if (
            _orientation(q1, q2, p1) * _orientation(q1, q2, p2) < 0
            and _orientation(p1, p2, q1) * _orientation(p1, p2, q2) < 0
        ):
            d1 = abs((q2[0] - q1[0]) * (p1[1] - q1[1]) - (q2[1] - q1[1]) * (p1[0] - q1[0]))
            d2 = abs((q2[0] - q1[0]) * (p2[1] - q1[1]) - (q2[1] - q1[1]) * (p2[0] - q1[0]))
            t = d1 / (d1 + d2)
            at = (p1[0] + t * (p2[0] - p1[0]), p1[1] + t * (p2[1] - p1[1]))
            if math.dist(at, p1) > BORDER_TOLERANCE and math.dist(at, p2) > BORDER_TOLERANCE:
                return i
    return None


def leaves(inner: Sequence[Point], outer: Sequence[Point]) -> str | None:
    """How the simple polygon ``inner`` leaves the simple polygon ``outer``, in words; None when it lies within
    (touching the border is within)."""
    n = len(inner)
    inner_edges, outer_edges = _edges(inner), _edges(outer)
    pairs = list(
        _overlapping(
            [_box(a, b, BORDER_TOLERANCE) for a, b in inner_edges],
            [_box(a, b, BORDER_TOLERANCE) for a, b in outer_edges],
        )
    )
    border = {k for i, j in pairs for k in (i, (i + 1) % n) if _distance(inner[k], *outer_edges[j]) <= BORDER_TOLERANCE}
    crossing = _crossing_edge(inner, outer, pairs)
    off = [k for k in range(n) if k not in border]
    # Without a crossing, the points off the border all lie on one side of it: the first tells which.
    for k in off if crossing is not None else off[:1]:
        if not point_in_polygon(inner[k], outer):
            return f"point {k} {_show(inner[k])} lies outside"
    if crossing is not None:
        return f"its {edge_name(crossing, n)} crosses the border"
    # An edge between two points on the border may still bridge a bay of the outline outside it.
    for i, (a, b) in enumerate(inner_edges):
        middle = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
        if {i, (i + 1) % n} <= border and not _near_border(middle, outer) and not point_in_polygon(middle, outer):
            return f"its {edge_name(i, n)} runs outside"
    return None

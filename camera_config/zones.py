"""Checks for the zones drawn on one camera's picture."""

from __future__ import annotations

from collections.abc import Sequence

from camera_config.issues import Problem
from camera_config.schema import ZoneSpec
from camera_config.types import Zone


def zone_problems(specs: Sequence[ZoneSpec]) -> list[Problem]:
    """Zone ids repeated within the camera."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, z in enumerate(specs):
        if z.id in seen:
            problems.append(Problem(f"zones[{i}].id", f'duplicate zone id "{z.id}" (first at zones[{seen[z.id]}])'))
        seen.setdefault(z.id, i)
    return problems


def zones_from(specs: Sequence[ZoneSpec]) -> tuple[Zone, ...]:
    return tuple(
        Zone(id=z.id, name=z.name or z.id, purpose=z.purpose, points=tuple(z.points), settings=z.settings)
        for z in specs
    )

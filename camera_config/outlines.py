"""Checks that what is drawn inside the street stays inside it: grid polygons and compound outlines."""

from __future__ import annotations

from collections.abc import Sequence

from camera_config.geo import leaves
from camera_config.schema import CompoundSpec, GridSpec, StreetSpec
from core.errors import Issue


def check_within_street(
    street: StreetSpec,
    compounds: Sequence[tuple[int, CompoundSpec]],
    grids: Sequence[tuple[int, GridSpec]],
    issues: list[Issue],
) -> None:
    """Each compound outline and grid polygon of the file that leaves the street's outline, at its place.

    A street without an outline bounds nothing: outlines may be drawn for some compounds before the street's
    boundary is surveyed."""
    if not street.outline:
        return
    shapes = [(f"compounds[{i}].outline", "compound", spec.id, spec.outline) for i, spec in compounds]
    shapes += [(f"grids[{i}].polygon", "grid", spec.id, spec.polygon) for i, spec in grids]
    for where, kind, ident, points in shapes:
        how = leaves(points, street.outline) if points else None
        if how is not None:
            issues.append(Issue(where, f'{kind} "{ident}" leaves street "{street.id}": {how}'))

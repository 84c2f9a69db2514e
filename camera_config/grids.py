"""Checks for grids and the people who work them."""

from __future__ import annotations

from camera_config.schema import GridSpec, PersonSpec
from camera_config.site_index import References
from camera_config.types import Grid, Person, PersonRole
from core.errors import Issue


def check_grid(spec: GridSpec, where: str, refs: References) -> Grid | None:
    idx, issues = refs.index, refs.issues
    ok = refs.exists("community", spec.community, idx.communities, f"{where}.community")
    ok &= refs.exists("party group", spec.party_group, idx.party_groups, f"{where}.party_group")
    for j, c in enumerate(spec.compounds):
        if not refs.exists("compound", c, idx.compounds, f"{where}.compounds[{j}]"):
            ok = False
        elif idx.compounds[c] != spec.community:
            issues.append(Issue(f"{where}.compounds[{j}]", f'compound "{c}" belongs to community "{idx.compounds[c]}"'))
            ok = False
    if not spec.compounds and not spec.polygon:
        issues.append(Issue(where, "a grid needs compounds or a polygon"))
        ok = False
    if not ok:
        return None
    grid = Grid(spec.id, spec.name, spec.community, tuple(spec.compounds), tuple(spec.polygon), spec.party_group)
    idx.grids[spec.id] = grid
    return grid


def check_person(spec: PersonSpec, where: str, refs: References) -> Person | None:
    idx, issues = refs.index, refs.issues
    ok = refs.exists("grid", spec.grid, idx.grids, f"{where}.grid")
    ok &= refs.exists("party group", spec.party_group, idx.party_groups, f"{where}.party_group")
    ok &= refs.exists("community", spec.community, idx.communities, f"{where}.community")
    if spec.role in (PersonRole.GRID_WORKER, PersonRole.BUILDING_LEADER) and spec.grid is None:
        issues.append(Issue(f"{where}.grid", f"required for a {spec.role.value}"))
        ok = False
    if spec.role is PersonRole.PARTY_MEMBER and spec.party_group is None:
        issues.append(Issue(f"{where}.party_group", "required for a party_member"))
        ok = False
    if ok and spec.role is PersonRole.GRID_WORKER and spec.grid is not None:
        other = idx.grid_workers.get(spec.grid)
        if other is not None and other != spec.id:
            issues.append(Issue(f"{where}.grid", f'grid "{spec.grid}" already has grid worker "{other}"'))
            ok = False
        else:
            idx.grid_workers[spec.grid] = spec.id
    if not ok:
        return None
    return Person(
        spec.id,
        spec.name,
        spec.role,
        spec.grid,
        spec.party_group,
        spec.community,
        spec.building,
        spec.phone,
        spec.email,
        spec.im,
    )

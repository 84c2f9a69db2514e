"""What already exists (in the database, in the file being checked, or both), for reference checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from camera_config.types import Grid
from core.errors import Issue

_SECTION_OF = {
    "community": "communities",
    "property company": "property_companies",
    "compound": "compounds",
    "party group": "party_groups",
    "partner unit": "partner_units",
    "grid": "grids",
}


@dataclass(slots=True)
class SiteIndex:
    """What exists (in the database, in the file being checked, or both), for reference checks."""

    streets: set[str] = field(default_factory=set)
    communities: set[str] = field(default_factory=set)
    property_companies: dict[str, str] = field(default_factory=dict)  # id -> community
    compounds: dict[str, str] = field(default_factory=dict)  # id -> community
    party_groups: dict[str, str] = field(default_factory=dict)  # id -> community
    partner_units: dict[str, tuple[str, ...]] = field(default_factory=dict)  # id -> communities served
    grids: dict[str, Grid] = field(default_factory=dict)
    grid_workers: dict[str, str] = field(default_factory=dict)  # grid -> person id
    cameras: set[str] = field(default_factory=set)

    def grids_covering(self, compound_id: str) -> list[Grid]:
        return sorted((g for g in self.grids.values() if compound_id in g.compound_ids), key=lambda g: g.id)

    def copy(self) -> SiteIndex:
        return SiteIndex(
            streets=set(self.streets),
            communities=set(self.communities),
            property_companies=dict(self.property_companies),
            compounds=dict(self.compounds),
            party_groups=dict(self.party_groups),
            partner_units=dict(self.partner_units),
            grids=dict(self.grids),
            grid_workers=dict(self.grid_workers),
            cameras=set(self.cameras),
        )


@dataclass(slots=True)
class References:
    """The index a site file is checked against, growing as its sections pass, and the issues found."""

    index: SiteIndex
    issues: list[Issue]
    declared: set[tuple[str, str]]
    """(section, id) of everything the file declares, valid or not: a reference to an invalid one
    is not reported twice."""

    def exists(self, kind: str, value: str | None, known: Mapping[str, Any] | set[str], where: str) -> bool:
        """False (with an issue unless the file declares it) when ``value`` names nothing known."""
        if value is not None and value not in known:
            if (_SECTION_OF[kind], value) not in self.declared:
                self.issues.append(Issue(where, f'{kind} "{value}" does not exist'))
            return False
        return True

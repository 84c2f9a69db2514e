"""Whole-site validation that reports every problem at once, each at its exact place.

Validation is pure: it takes parsed input plus a `SiteIndex` of what already exists and returns
typed values or a list of `Issue`s. The store applies the result; nothing here touches a database.
The checks for each kind of thing live beside it: `hierarchy`, `grids`, `cameras`, `zones`;
camera CSV files are read by `camera_csv`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from camera_config.cameras import CameraRecord, camera_issues, check_camera
from camera_config.grids import check_grid, check_person
from camera_config.hierarchy import check_community, check_compound, check_party_group, check_property_company
from camera_config.issues import parse_spec
from camera_config.schema import (
    SECTIONS,
    CameraSpec,
    CommunitySpec,
    CompoundSpec,
    GridSpec,
    PartyGroupSpec,
    PersonSpec,
    PropertyCompanySpec,
    Spec,
    StreetSpec,
)
from camera_config.site_index import References, SiteIndex
from camera_config.types import (
    Community,
    Compound,
    Grid,
    PartyGroup,
    Person,
    PropertyCompany,
    Street,
)
from core.errors import InvalidInput, Issue
from core.files import read_yaml_file

_T = TypeVar("_T", bound=Spec)


@dataclass(slots=True)
class ValidatedSite:
    street: Street
    communities: list[Community] = field(default_factory=list)
    property_companies: list[PropertyCompany] = field(default_factory=list)
    compounds: list[Compound] = field(default_factory=list)
    party_groups: list[PartyGroup] = field(default_factory=list)
    grids: list[Grid] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    cameras: list[CameraRecord] = field(default_factory=list)


def _section_items(doc: Mapping[str, Any], name: str, issues: list[Issue]) -> list[tuple[int, Any]]:
    value = doc.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        issues.append(Issue(name, f"expected a list, got {type(value).__name__}"))
        return []
    return list(enumerate(value))


def _unique(section: str, items: Iterable[tuple[int, _T | None]], issues: list[Issue]) -> Iterator[tuple[int, _T]]:
    first: dict[str, int] = {}
    for i, spec in items:
        if spec is None:
            continue
        ident = str(getattr(spec, "id"))  # noqa: B009 - every section spec has an id
        if ident in first:
            issues.append(Issue(f"{section}[{i}].id", f'duplicate id "{ident}" (first at {section}[{first[ident]}])'))
            continue
        first[ident] = i
        yield i, spec


def validate_site(doc: Any, *, allow_files: bool = False, existing: SiteIndex | None = None) -> ValidatedSite:
    """Validate a parsed site document; raise `InvalidInput` with every problem found."""
    issues: list[Issue] = []
    if not isinstance(doc, Mapping):
        raise InvalidInput(Issue("", f"a site file must be a mapping, got {type(doc).__name__}"))
    allowed = {"street", *SECTIONS}
    for key in doc:
        if key not in allowed:
            issues.append(Issue(str(key), f"unknown key (expected one of: {', '.join(sorted(allowed))})"))
    idx = existing.copy() if existing is not None else SiteIndex()

    street_spec = parse_spec(StreetSpec, doc.get("street"), "street", issues) if "street" in doc else None
    if "street" not in doc:
        issues.append(Issue("street", "required"))
    street = Street(street_spec.id, street_spec.name) if street_spec else None
    if street:
        idx.streets.add(street.id)

    parsed: dict[str, list[tuple[int, Any]]] = {}
    for name, spec_type in SECTIONS.items():
        ctx = {"allow_files": allow_files} if name == "cameras" else {}
        parsed[name] = list(
            _unique(
                name,
                (
                    (i, parse_spec(spec_type, item, f"{name}[{i}]", issues, **ctx))
                    for i, item in _section_items(doc, name, issues)
                ),
                issues,
            )
        )

    site = ValidatedSite(street=street or Street("?", "?"))

    # Ids declared in the file, valid or not: a reference to an invalid one is not reported twice.
    declared: set[tuple[str, str]] = {
        (name, str(item["id"]))
        for name in SECTIONS
        for _, item in _section_items(doc, name, [])
        if isinstance(item, Mapping) and "id" in item
    }
    refs = References(idx, issues, declared)

    for _, s in parsed["communities"]:
        assert isinstance(s, CommunitySpec)
        site.communities.append(check_community(s, site.street.id, refs))
    for i, s in parsed["property_companies"]:
        assert isinstance(s, PropertyCompanySpec)
        if company := check_property_company(s, f"property_companies[{i}]", refs):
            site.property_companies.append(company)
    for i, s in parsed["compounds"]:
        assert isinstance(s, CompoundSpec)
        if compound := check_compound(s, f"compounds[{i}]", refs):
            site.compounds.append(compound)
    for i, s in parsed["party_groups"]:
        assert isinstance(s, PartyGroupSpec)
        if party_group := check_party_group(s, f"party_groups[{i}]", refs):
            site.party_groups.append(party_group)
    for i, s in parsed["grids"]:
        assert isinstance(s, GridSpec)
        if grid := check_grid(s, f"grids[{i}]", refs):
            site.grids.append(grid)
    for i, s in parsed["people"]:
        assert isinstance(s, PersonSpec)
        if person := check_person(s, f"people[{i}]", refs):
            site.people.append(person)
    for i, s in parsed["cameras"]:
        assert isinstance(s, CameraSpec)
        record, problems = check_camera(s, idx)
        issues.extend(camera_issues(problems, f"cameras[{i}]"))
        if record is not None:
            site.cameras.append(record)

    if issues:
        raise InvalidInput(issues)
    assert street is not None
    return site


def load_site_file(path: Path, *, allow_files: bool = False, existing: SiteIndex | None = None) -> ValidatedSite:
    """Read and validate a YAML site file; errors are prefixed with the file name."""
    return validate_site(read_yaml_file(path), allow_files=allow_files, existing=existing)

"""Whole-site validation that reports every problem at once, each at its exact place.

Validation is pure: it takes parsed input plus a `SiteIndex` of what already exists and returns
typed values or a list of `Issue`s. The store applies the result; nothing here touches a database.
The checks for each kind of thing live beside it: `hierarchy`, `grids`, `cameras`, `zones`, and `outlines`
for what must lie within the street; camera CSV files are read by `camera_csv`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from camera_config.cameras import CameraRecord, check_site_camera
from camera_config.grids import check_grid, check_person
from camera_config.hierarchy import check_compound, check_partner_unit, check_party_group, check_property_company
from camera_config.issues import parse_spec
from camera_config.outlines import check_within_street
from camera_config.schema import (
    SECTIONS,
    CameraSpec,
    CommunitySpec,
    CompoundSpec,
    GridSpec,
    PartnerUnitSpec,
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
    PartnerUnit,
    PartyGroup,
    Person,
    PropertyCompany,
    Street,
)
from core.errors import InvalidInput, Issue
from core.files import read_yaml_file

_T = TypeVar("_T", bound=Spec)
_V = TypeVar("_V")


@dataclass(slots=True)
class ValidatedSite:
    street: Street
    communities: list[Community] = field(default_factory=list)
    property_companies: list[PropertyCompany] = field(default_factory=list)
    compounds: list[Compound] = field(default_factory=list)
    party_groups: list[PartyGroup] = field(default_factory=list)
    partner_units: list[PartnerUnit] = field(default_factory=list)
    grids: list[Grid] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    cameras: list[CameraRecord] = field(default_factory=list)
    notifications: list[Any] | None = None
    """The file's ``notifications`` section as written: its channels are checked and stored by the shell
    (`gridwatch.wiring.Service.load_site`), since who receives what is the events stage's business."""


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


def _section(
    doc: Mapping[str, Any], name: str, spec: type[_T], issues: list[Issue], **context: Any
) -> list[tuple[int, _T]]:
    """The items of one section that parse as ``spec``, with their positions, each id once."""
    items = _section_items(doc, name, issues)
    return list(
        _unique(name, ((i, parse_spec(spec, item, f"{name}[{i}]", issues, **context)) for i, item in items), issues)
    )


def _checked(
    name: str,
    specs: Sequence[tuple[int, _T]],
    check: Callable[[_T, str, References], _V | None],
    refs: References,
) -> list[_V]:
    """The values of the specs that pass ``check``; each that does not has added its issues."""
    return [value for i, spec in specs if (value := check(spec, f"{name}[{i}]", refs)) is not None]


def validate_site(doc: Any, *, allow_files: bool = False, existing: SiteIndex | None = None) -> ValidatedSite:
    """Validate a parsed site document; raise `InvalidInput` with every problem found."""
    issues: list[Issue] = []
    if not isinstance(doc, Mapping):
        raise InvalidInput(Issue("", f"a site file must be a mapping, got {type(doc).__name__}"))
    allowed = {"street", *SECTIONS, "notifications"}
    for key in doc:
        if key not in allowed:
            issues.append(Issue(str(key), f"unknown key (expected one of: {', '.join(sorted(allowed))})"))
    idx = existing.copy() if existing is not None else SiteIndex()

    street_spec = parse_spec(StreetSpec, doc.get("street"), "street", issues) if "street" in doc else None
    if "street" not in doc:
        issues.append(Issue("street", "required"))
    street = Street(street_spec.id, street_spec.name, tuple(street_spec.outline)) if street_spec else None
    if street:
        idx.streets.add(street.id)

    community_specs = _section(doc, "communities", CommunitySpec, issues)
    company_specs = _section(doc, "property_companies", PropertyCompanySpec, issues)
    compound_specs = _section(doc, "compounds", CompoundSpec, issues)
    party_group_specs = _section(doc, "party_groups", PartyGroupSpec, issues)
    partner_specs = _section(doc, "partner_units", PartnerUnitSpec, issues)
    grid_specs = _section(doc, "grids", GridSpec, issues)
    person_specs = _section(doc, "people", PersonSpec, issues)
    camera_specs = _section(doc, "cameras", CameraSpec, issues, allow_files=allow_files)

    # Ids declared in the file, valid or not: a reference to an invalid one is not reported twice.
    declared: set[tuple[str, str]] = {
        (name, str(item["id"]))
        for name in SECTIONS
        for _, item in _section_items(doc, name, [])
        if isinstance(item, Mapping) and "id" in item
    }
    refs = References(idx, issues, declared)

    idx.communities.update(s.id for _, s in community_specs)
    property_companies = _checked("property_companies", company_specs, check_property_company, refs)
    compounds = _checked("compounds", compound_specs, check_compound, refs)
    party_groups = _checked("party_groups", party_group_specs, check_party_group, refs)
    partner_units = _checked("partner_units", partner_specs, check_partner_unit, refs)
    grids = _checked("grids", grid_specs, check_grid, refs)
    people = _checked("people", person_specs, check_person, refs)
    cameras = _checked("cameras", camera_specs, check_site_camera, refs)
    if street_spec is not None:
        check_within_street(street_spec, compound_specs, grid_specs, issues)

    notifications = doc.get("notifications")
    if notifications is not None and not isinstance(notifications, list):
        issues.append(Issue("notifications", f"expected a list, got {type(notifications).__name__}"))
    if street is None or issues:  # a street that is missing or invalid has added its issue
        raise InvalidInput(issues)
    return ValidatedSite(
        street=street,
        communities=[Community(s.id, s.name, street.id) for _, s in community_specs],
        property_companies=property_companies,
        compounds=compounds,
        party_groups=party_groups,
        partner_units=partner_units,
        grids=grids,
        people=people,
        cameras=cameras,
        notifications=notifications,
    )


def load_site_file(path: Path, *, allow_files: bool = False, existing: SiteIndex | None = None) -> ValidatedSite:
    """Read and validate a YAML site file; errors are prefixed with the file name."""
    return validate_site(read_yaml_file(path), allow_files=allow_files, existing=existing)

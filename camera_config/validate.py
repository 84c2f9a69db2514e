"""Whole-site and CSV validation that reports every problem at once, each at its exact place.

Validation is pure: it takes parsed input plus a `SiteIndex` of what already exists and returns
typed values or a list of `Issue`s. The store applies the result; nothing here touches a database.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

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
from camera_config.types import (
    Camera,
    CameraLevel,
    Community,
    Compound,
    Grid,
    PartyGroup,
    Person,
    PersonRole,
    Point,
    PropertyCompany,
    Street,
    Zone,
)
from camera_config.urls import split_credentials
from core.errors import InvalidInput, Issue
from core.files import read_yaml_file

_S = TypeVar("_S", bound=BaseModel)
_T = TypeVar("_T", bound=Spec)

# ----------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class CameraRecord:
    """A validated camera with its secret, for the store only. ``password`` None keeps the stored one."""

    camera: Camera
    password: str | None = field(default=None, repr=False)
    source_line: int | None = None
    keeps_settings: bool = False
    """From a CSV row: zones, detect and hazard settings are not columns, so an update keeps the stored ones."""


@dataclass(slots=True)
class SiteIndex:
    """What exists (in the database, in the file being checked, or both), for reference checks."""

    streets: set[str] = field(default_factory=set)
    communities: set[str] = field(default_factory=set)
    property_companies: dict[str, str] = field(default_factory=dict)  # id -> community
    compounds: dict[str, str] = field(default_factory=dict)  # id -> community
    party_groups: dict[str, str] = field(default_factory=dict)  # id -> community
    grids: dict[str, Grid] = field(default_factory=dict)
    grid_workers: dict[str, str] = field(default_factory=dict)  # grid -> person id
    cameras: set[str] = field(default_factory=set)

    def grids_covering(self, compound_id: str) -> list[Grid]:
        return sorted((g for g in self.grids.values() if compound_id in g.compound_ids), key=lambda g: g.id)


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


@dataclass(slots=True)
class CameraBatch:
    """Cameras from a CSV file: what is valid, and (with skip-invalid) what was skipped and why."""

    records: list[CameraRecord]
    skipped: list[Issue]
    rows: int


# ----------------------------------------------------------------------------- helpers


def _loc_path(prefix: str, loc: Sequence[int | str]) -> str:
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown key"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def pydantic_issues(exc: ValidationError, prefix: str) -> list[Issue]:
    """Turn pydantic's errors into `Issue`s with ``a[1].b.c`` paths and messages free of input values."""
    return [Issue(_loc_path(prefix, err["loc"]), _message(err)) for err in exc.errors(include_input=False)]


def _parse(spec: type[_S], item: Any, where: str, issues: list[Issue], **context: Any) -> _S | None:
    if not isinstance(item, Mapping):
        issues.append(Issue(where, f"expected a mapping, got {type(item).__name__}"))
        return None
    try:
        return spec.model_validate(item, context=context)
    except ValidationError as exc:
        issues.extend(pydantic_issues(exc, where))
        return None


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


# ----------------------------------------------------------------------------- cameras


@dataclass(frozen=True, slots=True)
class _Problem:
    field: str
    message: str
    names_field: bool = False  # the message already says which field ("grid \"G-1\" does not exist")


def _check_camera(spec: CameraSpec, index: SiteIndex) -> tuple[CameraRecord | None, list[_Problem]]:
    problems: list[_Problem] = []

    main, main_user, main_pw = split_credentials(spec.streams.main)
    sub, sub_user, sub_pw = split_credentials(spec.streams.sub) if spec.streams.sub else (None, None, None)
    username = spec.credentials.username
    password = spec.credentials.password.get_secret_value() if spec.credentials.password else None
    for name, url_user, url_pw in (("streams.main", main_user, main_pw), ("streams.sub", sub_user, sub_pw)):
        if url_user is None:
            continue
        if username is not None and url_user != username:
            problems.append(_Problem(name, "user name in the URL differs from the camera's other credentials"))
        elif password is not None and url_pw is not None and url_pw != password:
            problems.append(_Problem(name, "password in the URL differs from the camera's other credentials"))
        username = url_user
        password = url_pw if url_pw is not None else password

    compound_community: str | None = None
    if spec.compound is not None:
        compound_community = index.compounds.get(spec.compound)
        if compound_community is None:
            problems.append(_Problem("compound", f'compound "{spec.compound}" does not exist', True))
    elif spec.level in (CameraLevel.COMPOUND, CameraLevel.PROPERTY):
        problems.append(_Problem("compound", f"compound is required for a {spec.level.value}-level camera", True))

    grid_id: str | None = None
    point = (spec.location.lon, spec.location.lat) if spec.location else None
    if spec.grid is not None:
        grid = index.grids.get(spec.grid)
        if grid is None:
            problems.append(_Problem("grid", f'grid "{spec.grid}" does not exist', True))
        elif spec.compound and compound_community and grid.compound_ids and spec.compound not in grid.compound_ids:
            problems.append(_Problem("grid", f'grid "{spec.grid}" does not cover compound "{spec.compound}"', True))
        else:
            grid_id = grid.id
    elif spec.compound is not None and compound_community is not None:
        covering = index.grids_covering(spec.compound)
        if point is not None and len(covering) > 1:
            covering = [g for g in covering if g.polygon and point_in_polygon(point, g.polygon)] or covering
        if len(covering) == 1:
            grid_id = covering[0].id
        elif not covering:
            problems.append(_Problem("grid", f'no grid covers compound "{spec.compound}"; give grid', True))
        else:
            names = ", ".join(g.id for g in covering)
            problems.append(_Problem("grid", f'compound "{spec.compound}" is in grids {names}; give grid', True))
    elif spec.compound is None:
        if point is None:
            problems.append(_Problem("grid", "grid is required when no compound or location places the camera", True))
        else:
            inside = sorted(g.id for g in index.grids.values() if g.polygon and point_in_polygon(point, g.polygon))
            if len(inside) == 1:
                grid_id = inside[0]
            else:
                where = "no grid outline" if not inside else f"grids {', '.join(inside)}"
                problems.append(_Problem("grid", f"location ({point[1]}, {point[0]}) lies in {where}; give grid", True))

    seen_zones: dict[str, int] = {}
    for i, z in enumerate(spec.zones):
        if z.id in seen_zones:
            problems.append(
                _Problem(f"zones[{i}].id", f'duplicate zone id "{z.id}" (first at zones[{seen_zones[z.id]}])')
            )
        seen_zones.setdefault(z.id, i)

    if problems or grid_id is None:
        return None, problems
    camera = Camera(
        id=spec.id,
        name=spec.name,
        level=spec.level,
        grid_id=grid_id,
        main_url=main,
        sub_url=sub,
        compound_id=spec.compound,
        lat=spec.location.lat if spec.location else None,
        lon=spec.location.lon if spec.location else None,
        username=username,
        has_password=password is not None,
        enabled=spec.enabled,
        zones=tuple(
            Zone(id=z.id, name=z.name or z.id, purpose=z.purpose, points=tuple(z.points), settings=z.settings)
            for z in spec.zones
        ),
        detect=spec.detect,
        hazards=spec.hazards,
    )
    return CameraRecord(camera=camera, password=password), problems


def validate_camera(spec: CameraSpec, index: SiteIndex, where: str) -> CameraRecord:
    """One camera from the API: its record, or `InvalidInput` naming each field at fault."""
    record, problems = _check_camera(spec, index)
    if problems or record is None:
        raise InvalidInput(Issue(_loc_path(where, p.field.split(".")), p.message) for p in problems)
    return record


# ----------------------------------------------------------------------------- whole site


def _index_from(index: SiteIndex | None) -> SiteIndex:
    if index is None:
        return SiteIndex()
    return SiteIndex(
        streets=set(index.streets),
        communities=set(index.communities),
        property_companies=dict(index.property_companies),
        compounds=dict(index.compounds),
        party_groups=dict(index.party_groups),
        grids=dict(index.grids),
        grid_workers=dict(index.grid_workers),
        cameras=set(index.cameras),
    )


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
    idx = _index_from(existing)

    street_spec = _parse(StreetSpec, doc.get("street"), "street", issues) if "street" in doc else None
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
                    (i, _parse(spec_type, item, f"{name}[{i}]", issues, **ctx))
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
    section_of = {
        "community": "communities",
        "property company": "property_companies",
        "compound": "compounds",
        "party group": "party_groups",
        "grid": "grids",
    }

    def ref(kind: str, value: str | None, known: Mapping[str, Any] | set[str], where: str) -> bool:
        if value is not None and value not in known:
            if (section_of[kind], value) not in declared:
                issues.append(Issue(where, f'{kind} "{value}" does not exist'))
            return False
        return True

    for _, s in parsed["communities"]:
        assert isinstance(s, CommunitySpec)
        idx.communities.add(s.id)
        site.communities.append(Community(s.id, s.name, site.street.id))
    for i, s in parsed["property_companies"]:
        assert isinstance(s, PropertyCompanySpec)
        if ref("community", s.community, idx.communities, f"property_companies[{i}].community"):
            idx.property_companies[s.id] = s.community
            site.property_companies.append(PropertyCompany(s.id, s.name, s.community))
    for i, s in parsed["compounds"]:
        assert isinstance(s, CompoundSpec)
        where = f"compounds[{i}].property_company"
        if ref("property company", s.property_company, idx.property_companies, where):
            community = idx.property_companies[s.property_company]
            idx.compounds[s.id] = community
            site.compounds.append(Compound(s.id, s.name, s.property_company, community))
    for i, s in parsed["party_groups"]:
        assert isinstance(s, PartyGroupSpec)
        if ref("community", s.community, idx.communities, f"party_groups[{i}].community"):
            idx.party_groups[s.id] = s.community
            site.party_groups.append(PartyGroup(s.id, s.name, s.community))
    for i, s in parsed["grids"]:
        assert isinstance(s, GridSpec)
        ok = ref("community", s.community, idx.communities, f"grids[{i}].community")
        ok &= ref("party group", s.party_group, idx.party_groups, f"grids[{i}].party_group")
        for j, c in enumerate(s.compounds):
            if not ref("compound", c, idx.compounds, f"grids[{i}].compounds[{j}]"):
                ok = False
            elif idx.compounds[c] != s.community:
                issues.append(
                    Issue(
                        f"grids[{i}].compounds[{j}]",
                        f'compound "{c}" belongs to community "{idx.compounds[c]}"',
                    )
                )
                ok = False
        if not s.compounds and not s.polygon:
            issues.append(Issue(f"grids[{i}]", "a grid needs compounds or a polygon"))
            ok = False
        if ok:
            grid = Grid(s.id, s.name, s.community, tuple(s.compounds), tuple(s.polygon), s.party_group)
            idx.grids[s.id] = grid
            site.grids.append(grid)
    for i, s in parsed["people"]:
        assert isinstance(s, PersonSpec)
        where = f"people[{i}]"
        ok = ref("grid", s.grid, idx.grids, f"{where}.grid")
        ok &= ref("party group", s.party_group, idx.party_groups, f"{where}.party_group")
        ok &= ref("community", s.community, idx.communities, f"{where}.community")
        if s.role in (PersonRole.GRID_WORKER, PersonRole.BUILDING_LEADER) and s.grid is None:
            issues.append(Issue(f"{where}.grid", f"required for a {s.role.value}"))
            ok = False
        if s.role is PersonRole.PARTY_MEMBER and s.party_group is None:
            issues.append(Issue(f"{where}.party_group", "required for a party_member"))
            ok = False
        if ok and s.role is PersonRole.GRID_WORKER and s.grid is not None:
            other = idx.grid_workers.get(s.grid)
            if other is not None and other != s.id:
                issues.append(Issue(f"{where}.grid", f'grid "{s.grid}" already has grid worker "{other}"'))
                ok = False
            else:
                idx.grid_workers[s.grid] = s.id
        if ok:
            site.people.append(
                Person(
                    s.id,
                    s.name,
                    s.role,
                    s.grid,
                    s.party_group,
                    s.community,
                    s.building,
                    s.phone,
                    s.email,
                    s.im,
                )
            )
    for i, s in parsed["cameras"]:
        assert isinstance(s, CameraSpec)
        record, problems = _check_camera(s, idx)
        issues.extend(Issue(_loc_path(f"cameras[{i}]", p.field.split(".")), p.message) for p in problems)
        if record is not None:
            site.cameras.append(record)

    if issues:
        raise InvalidInput(issues)
    assert street is not None
    return site


def load_site_file(path: Path, *, allow_files: bool = False, existing: SiteIndex | None = None) -> ValidatedSite:
    """Read and validate a YAML site file; errors are prefixed with the file name."""
    return validate_site(read_yaml_file(path), allow_files=allow_files, existing=existing)


# ----------------------------------------------------------------------------- CSV

CSV_COLUMNS = (
    "id",
    "name",
    "compound",
    "grid",
    "level",
    "rtsp_url",
    "sub_url",
    "username",
    "password",
    "lat",
    "lon",
    "enabled",
)
REQUIRED_COLUMNS = ("id", "name", "rtsp_url")
_FIELD_TO_COLUMN = {
    "streams.main": "rtsp_url",
    "streams.sub": "sub_url",
    "credentials.username": "username",
    "credentials.password": "password",
    "location.lat": "lat",
    "location.lon": "lon",
    "location": "lat",
}
_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"0", "false", "no", "n", "off"}


def _row_to_spec_input(row: Mapping[str, str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    errors: list[tuple[str, str]] = []
    v = {k: (row.get(k) or "").strip() for k in CSV_COLUMNS}
    data: dict[str, Any] = {"id": v["id"], "name": v["name"], "streams": {"main": v["rtsp_url"]}}
    if v["sub_url"]:
        data["streams"]["sub"] = v["sub_url"]
    for key in ("compound", "grid", "level"):
        if v[key]:
            data[key] = v[key]
    creds = {k: v[k] for k in ("username", "password") if v[k]}
    if creds:
        data["credentials"] = creds
    if v["lat"] or v["lon"]:
        loc: dict[str, float] = {}
        for key in ("lat", "lon"):
            if not v[key]:
                errors.append((key, "lat and lon go together"))
                continue
            try:
                loc[key] = float(v[key])
            except ValueError:
                errors.append((key, f'"{v[key]}" is not a number'))
        if len(loc) == 2:
            data["location"] = loc
    if v["enabled"]:
        flag = v["enabled"].lower()
        if flag in _TRUE:
            data["enabled"] = True
        elif flag in _FALSE:
            data["enabled"] = False
        else:
            errors.append(("enabled", f'"{v["enabled"]}" is not true/false'))
    return data, errors


def read_camera_csv(
    text: str,
    *,
    source: str = "cameras.csv",
    allow_files: bool = False,
    existing: SiteIndex | None = None,
    skip_invalid: bool = False,
) -> CameraBatch:
    """Validate a camera CSV. Raises `InvalidInput` with every problem unless ``skip_invalid``."""
    idx = existing or SiteIndex()
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise InvalidInput(Issue(source, "the file is empty")) from None
    except csv.Error as exc:
        raise InvalidInput(Issue(f"{source} line 1", f"not valid CSV: {exc}")) from None
    head_issues = [
        Issue(f"{source} line 1", f'unknown column "{h}" (expected: {", ".join(CSV_COLUMNS)})')
        for h in header
        if h not in CSV_COLUMNS
    ]
    head_issues += [Issue(f"{source} line 1", f'missing column "{c}"') for c in REQUIRED_COLUMNS if c not in header]
    dup_cols = sorted({h for h in header if header.count(h) > 1})
    head_issues += [Issue(f"{source} line 1", f'column "{h}" appears twice') for h in dup_cols]
    if head_issues:
        raise InvalidInput(head_issues)

    records: list[CameraRecord] = []
    issues: list[Issue] = []
    first_line: dict[str, int] = {}
    rows = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            issues.append(Issue(f"{source} line {reader.line_num}", f"not valid CSV: {exc}"))
            break
        line = reader.line_num
        if not any(x.strip() for x in values):
            continue
        rows += 1
        where = f"{source} line {line}"
        if len(values) != len(header):
            issues.append(Issue(where, f"has {len(values)} fields, the header has {len(header)}"))
            continue
        row = dict(zip(header, values, strict=True))
        data, row_errors = _row_to_spec_input(row)
        row_issues = [Issue(where, f"{col}: {msg}") for col, msg in row_errors]
        try:
            spec: CameraSpec | None = CameraSpec.model_validate(data, context={"allow_files": allow_files})
        except ValidationError as exc:
            spec = None
            for err in exc.errors(include_input=False):
                path = ".".join(str(p) for p in err["loc"])
                col = _FIELD_TO_COLUMN.get(path, path)
                row_issues.append(Issue(where, f"{col}: {_message(err)}"))
        record = None
        if spec is not None and not row_issues:
            if spec.id in first_line:
                row_issues.append(Issue(where, f'duplicate id "{spec.id}" (first on line {first_line[spec.id]})'))
            else:
                first_line[spec.id] = line
                record, problems = _check_camera(spec, idx)
                for p in problems:
                    col = _FIELD_TO_COLUMN.get(p.field, p.field)
                    row_issues.append(Issue(where, p.message if p.names_field else f"{col}: {p.message}"))
        if row_issues or record is None:
            issues.extend(row_issues)
            continue
        records.append(CameraRecord(record.camera, record.password, line, keeps_settings=True))
    if issues and not skip_invalid:
        raise InvalidInput(issues)
    return CameraBatch(records=records, skipped=issues, rows=rows)

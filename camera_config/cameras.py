"""Checks for one camera: its streams and credentials, its compound, the grid it reports to, its zones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from camera_config.geo import point_in_polygon
from camera_config.issues import Problem, issue_path
from camera_config.schema import CameraSpec
from camera_config.site_index import References, SiteIndex
from camera_config.types import Camera, CameraLevel
from camera_config.urls import split_credentials
from camera_config.zones import zone_problems, zones_from
from core.errors import InvalidInput, Issue


@dataclass(frozen=True, slots=True)
class CameraRecord:
    """A validated camera with its secret, for the store only. ``password`` None keeps the stored one."""

    camera: Camera
    password: str | None = field(default=None, repr=False)
    source_line: int | None = None
    keeps_settings: bool = False
    """From a CSV row: zones, detect and hazard settings are not columns, so an update keeps the stored ones."""


@dataclass(frozen=True, slots=True)
class _Streams:
    """Stream URLs without credentials, and the credentials from the URLs and the credentials block."""

    main: str
    sub: str | None
    username: str | None
    password: str | None = field(repr=False)


def _streams(spec: CameraSpec, problems: list[Problem]) -> _Streams:
    main, main_user, main_pw = split_credentials(spec.streams.main)
    sub, sub_user, sub_pw = split_credentials(spec.streams.sub) if spec.streams.sub else (None, None, None)
    username = spec.credentials.username
    password = spec.credentials.password.get_secret_value() if spec.credentials.password else None
    for name, url_user, url_pw in (("streams.main", main_user, main_pw), ("streams.sub", sub_user, sub_pw)):
        if url_user is None:
            continue
        if username is not None and url_user != username:
            problems.append(Problem(name, "user name in the URL differs from the camera's other credentials"))
        elif password is not None and url_pw is not None and url_pw != password:
            problems.append(Problem(name, "password in the URL differs from the camera's other credentials"))
        username = url_user
        password = url_pw if url_pw is not None else password
    return _Streams(main, sub, username, password)


def _compound_community(spec: CameraSpec, index: SiteIndex, problems: list[Problem]) -> str | None:
    """The community of the camera's compound, when it has one that exists."""
    if spec.compound is not None:
        community = index.compounds.get(spec.compound)
        if community is None:
            problems.append(Problem("compound", f'compound "{spec.compound}" does not exist', True))
        return community
    if spec.level in (CameraLevel.COMPOUND, CameraLevel.PROPERTY):
        problems.append(Problem("compound", f"compound is required for a {spec.level.value}-level camera", True))
    return None


def _grid_id(spec: CameraSpec, compound_community: str | None, index: SiteIndex, problems: list[Problem]) -> str | None:
    """The grid given, or the one grid the compound or location places the camera in."""
    point = (spec.location.lon, spec.location.lat) if spec.location else None
    if spec.grid is not None:
        grid = index.grids.get(spec.grid)
        if grid is None:
            problems.append(Problem("grid", f'grid "{spec.grid}" does not exist', True))
        elif spec.compound and compound_community and grid.compound_ids and spec.compound not in grid.compound_ids:
            problems.append(Problem("grid", f'grid "{spec.grid}" does not cover compound "{spec.compound}"', True))
        else:
            return grid.id
    elif spec.compound is not None and compound_community is not None:
        covering = index.grids_covering(spec.compound)
        if point is not None and len(covering) > 1:
            covering = [g for g in covering if g.polygon and point_in_polygon(point, g.polygon)] or covering
        if len(covering) == 1:
            return covering[0].id
        if not covering:
            problems.append(Problem("grid", f'no grid covers compound "{spec.compound}"; give grid', True))
        else:
            names = ", ".join(g.id for g in covering)
            problems.append(Problem("grid", f'compound "{spec.compound}" is in grids {names}; give grid', True))
    elif spec.compound is None:
        if point is None:
            problems.append(Problem("grid", "grid is required when no compound or location places the camera", True))
        else:
            inside = sorted(g.id for g in index.grids.values() if g.polygon and point_in_polygon(point, g.polygon))
            if len(inside) == 1:
                return inside[0]
            where = "no grid outline" if not inside else f"grids {', '.join(inside)}"
            problems.append(Problem("grid", f"location ({point[1]}, {point[0]}) lies in {where}; give grid", True))
    return None


def check_camera(spec: CameraSpec, index: SiteIndex) -> tuple[CameraRecord | None, list[Problem]]:
    """The camera's record, or None and every problem found with it."""
    problems: list[Problem] = []
    streams = _streams(spec, problems)
    grid_id = _grid_id(spec, _compound_community(spec, index, problems), index, problems)
    problems += zone_problems(spec.zones)
    if problems or grid_id is None:
        return None, problems
    camera = Camera(
        id=spec.id,
        name=spec.name,
        level=spec.level,
        grid_id=grid_id,
        main_url=streams.main,
        sub_url=streams.sub,
        compound_id=spec.compound,
        lat=spec.location.lat if spec.location else None,
        lon=spec.location.lon if spec.location else None,
        username=streams.username,
        has_password=streams.password is not None,
        enabled=spec.enabled,
        zones=zones_from(spec.zones),
        detect=spec.detect,
        hazards=spec.hazards,
        onvif=spec.onvif,
    )
    return CameraRecord(camera=camera, password=streams.password), problems


def _issues(problems: Sequence[Problem], where: str) -> list[Issue]:
    return [Issue(issue_path(where, p.field.split(".")), p.message) for p in problems]


def check_site_camera(spec: CameraSpec, where: str, refs: References) -> CameraRecord | None:
    """One camera of a site file at ``where`` (``cameras[3]``): its record, or None with its issues added."""
    record, problems = check_camera(spec, refs.index)
    refs.issues.extend(_issues(problems, where))
    return record


def validate_camera(spec: CameraSpec, index: SiteIndex, where: str) -> CameraRecord:
    """One camera from the API: its record, or `InvalidInput` naming each field at fault."""
    record, problems = check_camera(spec, index)
    if problems or record is None:
        raise InvalidInput(_issues(problems, where))
    return record

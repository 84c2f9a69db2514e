"""Pydantic models for site files, CSV rows and HTTP bodies: the edge where input is checked.

Unknown keys are errors (``extra="forbid"``) and every field says what it is for. Cross-references
(does this grid exist?) are checked afterwards by `camera_config.validate`, which sees the whole site.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from camera_config.geo import MAX_POINTS, polygon_problem
from camera_config.hazard_settings import HazardSettings, ZoneSettings
from camera_config.onvif_settings import OnvifSettings
from camera_config.stream_settings import DetectSettings
from camera_config.types import CameraLevel, PersonRole, ZonePurpose
from camera_config.urls import check_stream_url
from core.text import CheckedModel

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _check_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(f'id "{value}": use letters, digits, ".", "_" or "-", at most 64, starting alphanumeric')
    return value


Id = Annotated[str, AfterValidator(_check_id)]


class Spec(CheckedModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


def _check_geo_polygon(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) > 3 and points[-1] == points[0]:
        points = points[:-1]  # a closed ring, as GIS tools write it: the same outline
    if points and len(points) < 3:
        raise ValueError("polygon needs ≥3 points")
    if len(points) > MAX_POINTS:
        raise ValueError(f"polygon has {len(points)} points; at most {MAX_POINTS}")
    for i, (lon, lat) in enumerate(points):
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError(f"point {i} ({lon}, {lat}) is not a (lon, lat) pair")
    problem = polygon_problem(points) if points else None
    if problem is not None:
        raise ValueError(problem)
    return points


GeoPolygon = Annotated[list[tuple[float, float]], AfterValidator(_check_geo_polygon), Field(max_length=MAX_POINTS + 1)]
"""An outline on the ground as [lon, lat] points (WGS84 degrees); empty: none drawn. A simple polygon: it may
not cross or touch itself."""


class StreetSpec(Spec):
    id: Id = Field(description="Street (sub-district) id.")
    name: str = Field(min_length=1, max_length=200, description="Display name.")
    outline: GeoPolygon = Field(
        default_factory=list,
        description="Boundary as [lon, lat] points; grid polygons and compound outlines must lie within it.",
    )


class CommunitySpec(Spec):
    id: Id = Field(description="Community id, unique in the site.")
    name: str = Field(min_length=1, max_length=200, description="Display name.")


class PropertyCompanySpec(Spec):
    id: Id = Field(description="Property company id.")
    name: str = Field(min_length=1, max_length=200, description="Display name.")
    community: str = Field(description="Id of the community the company serves.")


class CompoundSpec(Spec):
    id: Id = Field(description="Residential compound id.")
    name: str = Field(min_length=1, max_length=200, description="Display name.")
    property_company: str = Field(description="Id of the property company managing the compound.")
    outline: GeoPolygon = Field(
        default_factory=list,
        description="Boundary as [lon, lat] points: the map draws it, and grids without a polygon by it.",
    )


class PartyGroupSpec(Spec):
    id: Id = Field(description="Party group id.")
    name: str = Field(min_length=1, max_length=200, description="Display name.")
    community: str = Field(description="Id of the community the group belongs to.")


class ContactSpec(Spec):
    name: str = Field(min_length=1, max_length=200, description="Who answers for the unit.")
    phone: str = Field(min_length=3, max_length=32, description="A number the centre can call.")


class PartnerUnitSpec(Spec):
    id: Id = Field(description="Partner unit id.")
    name: str = Field(min_length=1, max_length=200, description="Display name.")
    contact: ContactSpec = Field(description="The unit's contact person and phone (required: the centre calls them).")
    communities: list[str] = Field(min_length=1, max_length=100, description="Ids of the communities the unit serves.")


class GridSpec(Spec):
    id: Id = Field(description="Grid id; cases are routed to grids.")
    name: str = Field(min_length=1, max_length=200, description="Display name.")
    community: str = Field(description="Id of the community the grid belongs to.")
    compounds: list[str] = Field(default_factory=list, description="Ids of the compounds the grid covers.")
    polygon: GeoPolygon = Field(
        default_factory=list, description="Outline as [lon, lat] points, for cameras placed by location."
    )
    party_group: str | None = Field(None, description="Id of the party group informed about the grid's cases.")


class PersonSpec(Spec):
    id: Id = Field(description="Person id.")
    name: str = Field(min_length=1, max_length=200, description="Display name.")
    role: PersonRole = Field(description="grid_worker, building_leader, party_member or operator.")
    grid: str | None = Field(None, description="Grid id (grid workers and building leaders).")
    party_group: str | None = Field(None, description="Party group id (party members).")
    community: str | None = Field(None, description="Community id (operators scoped to a community).")
    building: str | None = Field(None, description="Building a building leader answers for.")
    phone: str | None = Field(None, max_length=32, description="Phone number for task notifications.")
    email: str | None = Field(None, max_length=254, description="E-mail address.")
    im: str | None = Field(None, max_length=128, description="Instant-messaging handle.")


def _check_zone_polygon(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) < 3:
        raise ValueError("polygon needs ≥3 points")
    for i, (x, y) in enumerate(points):
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"point {i} ({x:g}, {y:g}) is outside 0..1")
    area2 = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True))
    if abs(area2) < 1e-9:
        raise ValueError("polygon has zero area")
    return points


class ZoneSpec(Spec):
    id: Id = Field(description="Zone id, unique within its camera.")
    name: str = Field("", max_length=200, description="Display name; defaults to the id.")
    purpose: ZonePurpose = Field(description="crowd, structure, restricted or mask.")
    points: Annotated[list[tuple[float, float]], AfterValidator(_check_zone_polygon)] = Field(
        description="Polygon as [x, y] points normalised to 0..1 of the picture (x right, y down)."
    )
    settings: ZoneSettings = Field(default_factory=ZoneSettings, description="Thresholds for this zone only.")


class StreamsSpec(Spec):
    main: str = Field(description="Main (full-resolution) stream URL, rtsp:// or rtsps://.")
    sub: str | None = Field(None, description="Sub (low-resolution) stream URL; detection reads this one.")

    @field_validator("main", "sub")
    @classmethod
    def _url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        allow_files = bool(info.context and info.context.get("allow_files"))
        return check_stream_url(value, allow_files=allow_files)


class CredentialsSpec(Spec):
    username: str | None = Field(None, max_length=128, description="RTSP user name.")
    password: SecretStr | None = Field(None, description="RTSP password; stored encrypted, never returned.")


class LocationSpec(Spec):
    lat: float = Field(ge=-90, le=90, description="Latitude, WGS84 degrees.")
    lon: float = Field(ge=-180, le=180, description="Longitude, WGS84 degrees.")


class CameraSpec(Spec):
    id: Id = Field(description="Camera id, unique in the site.")
    name: str = Field(min_length=1, max_length=200, description="Display name.")
    level: CameraLevel = Field(CameraLevel.COMPOUND, description="street, community, property or compound.")
    compound: str | None = Field(None, description="Compound id; required for property and compound level.")
    grid: str | None = Field(None, description="Grid id; derived from the compound or location when omitted.")
    location: LocationSpec | None = Field(None, description="Where the camera is mounted.")
    streams: StreamsSpec = Field(description="Stream URLs (credentials may be given here or in credentials).")
    credentials: CredentialsSpec = Field(default_factory=CredentialsSpec, description="RTSP credentials.")
    zones: list[ZoneSpec] = Field(default_factory=list, description="Zones drawn on the picture.")
    detect: DetectSettings = Field(default_factory=DetectSettings, description="How the detect stream is read.")
    hazards: HazardSettings = Field(default_factory=HazardSettings, description="Hazard rule thresholds.")
    enabled: bool = Field(True, description="Disabled cameras are kept but not watched.")
    onvif: OnvifSettings | None = Field(
        None, description="The camera's ONVIF device service (its credentials are the camera's), for its own events."
    )


class SiteSpec(Spec):
    """Only for documentation and JSON Schema; files are validated section by section."""

    street: StreetSpec = Field(description="The street (sub-district) the site is.")
    communities: list[CommunitySpec] = Field(default_factory=list, description="Communities of the street.")
    property_companies: list[PropertyCompanySpec] = Field(default_factory=list, description="Property companies.")
    compounds: list[CompoundSpec] = Field(default_factory=list, description="Residential compounds.")
    party_groups: list[PartyGroupSpec] = Field(default_factory=list, description="Party groups.")
    partner_units: list[PartnerUnitSpec] = Field(
        default_factory=list, description="Partner units (包联单位) that take orders from their communities."
    )
    grids: list[GridSpec] = Field(default_factory=list, description="Governance grids.")
    people: list[PersonSpec] = Field(default_factory=list, description="Grid workers, leaders, members, operators.")
    cameras: list[CameraSpec] = Field(default_factory=list, description="Cameras.")


SECTIONS: dict[str, type[Spec]] = {
    "communities": CommunitySpec,
    "property_companies": PropertyCompanySpec,
    "compounds": CompoundSpec,
    "party_groups": PartyGroupSpec,
    "partner_units": PartnerUnitSpec,
    "grids": GridSpec,
    "people": PersonSpec,
    "cameras": CameraSpec,
}


def json_schema() -> dict[str, Any]:
    return SiteSpec.model_json_schema()

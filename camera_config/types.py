"""The site model as typed values: what exists, handed downstream (ingest, detectors, events, api).

These are frozen dataclasses, never ORM rows: a stage that receives a `Camera` cannot write it back
by accident, and the value can cross a thread or process boundary as it is.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from camera_config.hazard_settings import HazardSettings, ZoneSettings
from camera_config.onvif_settings import OnvifSettings
from camera_config.stream_settings import DetectSettings


class CameraLevel(enum.StrEnum):
    """Place in the four-level network: who installed and answers for the camera."""

    STREET = "street"
    COMMUNITY = "community"
    PROPERTY = "property"
    COMPOUND = "compound"


class ZonePurpose(enum.StrEnum):
    """What a zone is for; detectors pick their rules by it."""

    CROWD = "crowd"
    STRUCTURE = "structure"
    RESTRICTED = "restricted"
    MASK = "mask"
    FIRE_LANE = "fire_lane"
    """A fire lane or access road: no vehicle may stand there."""
    ENTRANCE = "entrance"
    """A building entrance, corridor or lift lobby: no bicycle or e-bike inside (a leading cause of fires)."""


class PersonRole(enum.StrEnum):
    GRID_WORKER = "grid_worker"
    BUILDING_LEADER = "building_leader"
    PARTY_MEMBER = "party_member"
    OPERATOR = "operator"


Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Street:
    id: str
    name: str
    outline: tuple[Point, ...] = ()
    """Boundary as (lon, lat) pairs; grid polygons and compound outlines lie within it."""


@dataclass(frozen=True, slots=True)
class Community:
    id: str
    name: str
    street_id: str


@dataclass(frozen=True, slots=True)
class PropertyCompany:
    id: str
    name: str
    community_id: str


@dataclass(frozen=True, slots=True)
class Compound:
    id: str
    name: str
    property_company_id: str
    community_id: str
    outline: tuple[Point, ...] = ()
    """Boundary as (lon, lat) pairs; a grid without a polygon of its own is drawn by its compounds'."""


@dataclass(frozen=True, slots=True)
class PartnerUnit:
    """An organisation that takes orders from the communities it serves (包联单位): a case the centre dispatches
    to it goes to its members' phones."""

    id: str
    name: str
    contact_name: str
    contact_phone: str
    community_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PartyGroup:
    id: str
    name: str
    community_id: str


@dataclass(frozen=True, slots=True)
class Grid:
    """A governance grid: the unit a case is routed to."""

    id: str
    name: str
    community_id: str
    compound_ids: tuple[str, ...] = ()
    polygon: tuple[Point, ...] = ()
    """Geographic outline as (lon, lat) pairs, for cameras placed by location."""
    party_group_id: str | None = None


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str
    role: PersonRole
    grid_id: str | None = None
    party_group_id: str | None = None
    community_id: str | None = None
    building: str | None = None
    phone: str | None = None
    email: str | None = None
    im: str | None = None


@dataclass(frozen=True, slots=True)
class Zone:
    """A region of one camera's picture; points are normalised 0..1 image coordinates (x, y)."""

    id: str
    name: str
    purpose: ZonePurpose
    points: tuple[Point, ...]
    settings: ZoneSettings = field(default_factory=ZoneSettings)


@dataclass(frozen=True, slots=True)
class Camera:
    """A camera as every stage sees it. Holds no password: ingest asks the store for credentials."""

    id: str
    name: str
    level: CameraLevel
    grid_id: str
    main_url: str
    sub_url: str | None
    compound_id: str | None = None
    lat: float | None = None
    lon: float | None = None
    username: str | None = None
    has_password: bool = False
    enabled: bool = True
    zones: tuple[Zone, ...] = ()
    detect: DetectSettings = field(default_factory=DetectSettings)
    hazards: HazardSettings = field(default_factory=HazardSettings)
    onvif: OnvifSettings | None = None
    """Its ONVIF device service, when it was added by (or given) one: the shell subscribes to its events."""
    revision: int = 1
    """Bumped on every change, so a running worker can tell which cameras to reconfigure."""
    updated_at: datetime | None = None

    @property
    def detect_url(self) -> str:
        """The stream detection reads: the sub stream when there is one (cheaper to decode)."""
        return self.sub_url or self.main_url


@dataclass(frozen=True, slots=True)
class StreamCredentials:
    """RTSP credentials, handed only to the code that opens the stream; repr never shows the password."""

    username: str | None
    password: str | None = field(repr=False, default=None)

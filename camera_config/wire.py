"""Cameras as the API hands them to remote workers, and which worker shard a camera belongs to.

A worker on another machine rebuilds the very `Camera` values the embedded pipeline reads from the store
(zones, detection and hazard settings included), plus the stream credentials it needs to open them. The
document is JSON; `camera_wire` and `camera_from_doc` are each other's inverse.

Shards: ``--shard K/N`` takes the cameras whose highest-random-weight shard (rendezvous hashing) is K. Adding
or removing a camera moves no other camera; going from N to N+1 shards moves only the cameras the new shard
wins (about 1 in N+1).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from camera_config.hazard_settings import HazardSettings, ZoneSettings
from camera_config.issues import pydantic_issues
from camera_config.onvif_settings import OnvifSettings
from camera_config.stream_settings import DetectSettings
from camera_config.types import Camera, CameraLevel, StreamCredentials, Zone, ZonePurpose
from core.errors import InvalidInput, Issue

MAX_SHARDS = 4096


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ZoneWire(_Wire):
    id: str
    name: str
    purpose: ZonePurpose
    points: list[tuple[float, float]]
    settings: ZoneSettings = Field(default_factory=ZoneSettings)


class CredentialsWire(_Wire):
    username: str | None = None
    password: str | None = None


class CameraWire(_Wire):
    """A camera for a worker: everything its pipeline needs, with the stream credentials."""

    id: str = Field(description="Camera id.")
    name: str = Field(description="Display name.")
    level: CameraLevel = Field(description="street, community, property or compound.")
    grid_id: str = Field(description="The grid it belongs to.")
    main_url: str = Field(description="Main stream URL (no credentials in it).")
    sub_url: str | None = Field(None, description="Sub stream URL: the one detection reads when there is one.")
    compound_id: str | None = None
    lat: float | None = None
    lon: float | None = None
    enabled: bool = Field(True, description="A disabled camera is stopped by the worker.")
    zones: list[ZoneWire] = Field(default_factory=list)
    detect: DetectSettings = Field(default_factory=DetectSettings)
    hazards: HazardSettings = Field(default_factory=HazardSettings)
    onvif: OnvifSettings | None = Field(None, description="Its ONVIF device service, when it has one.")
    revision: int = Field(1, description="Bumped on every change.")
    updated_at: datetime | None = None
    credentials: CredentialsWire | None = None
    """Only in answers to worker tokens; never logged."""


_SAME = tuple(name for name in CameraWire.model_fields if name not in ("zones", "credentials"))
"""Fields a `Camera` and its document share by name and value."""


def camera_wire(camera: Camera, credentials: StreamCredentials | None = None) -> CameraWire:
    """``camera`` as a worker reads it, with ``credentials`` when given."""
    return CameraWire(
        **{name: getattr(camera, name) for name in _SAME},
        zones=[
            ZoneWire(id=z.id, name=z.name, purpose=z.purpose, points=list(z.points), settings=z.settings)
            for z in camera.zones
        ],
        credentials=None
        if credentials is None
        else CredentialsWire(username=credentials.username, password=credentials.password),
    )


def camera_from_doc(doc: Any, where: str = "camera") -> tuple[Camera, StreamCredentials | None]:
    """The camera (and its credentials) from a worker document; InvalidInput naming the field otherwise."""
    try:
        wire = CameraWire.model_validate(doc)
    except ValidationError as exc:
        raise InvalidInput(pydantic_issues(exc, where)) from None
    creds = wire.credentials
    camera = Camera(
        **{name: getattr(wire, name) for name in _SAME},
        username=creds.username if creds is not None else None,
        has_password=creds is not None and creds.password is not None,
        zones=tuple(
            Zone(id=z.id, name=z.name, purpose=z.purpose, points=tuple(z.points), settings=z.settings)
            for z in wire.zones
        ),
    )
    stream = None if creds is None else StreamCredentials(creds.username, creds.password)
    return camera, stream


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str, where: str = "shard") -> Shard:
        """``"K/N"`` with 1 ≤ K ≤ N ≤ 4096; InvalidInput naming ``where`` and the value otherwise."""
        m = re.fullmatch(r"\s*(\d{1,5})\s*/\s*(\d{1,5})\s*", text)
        if m is None:
            raise InvalidInput(Issue(where, f'"{text}" is not K/N (e.g. 1/4: the first of four shards)'))
        k, n = int(m.group(1)), int(m.group(2))
        if not 1 <= n <= MAX_SHARDS or not 1 <= k <= n:
            raise InvalidInput(Issue(where, f'"{text}": K/N needs 1 ≤ K ≤ N ≤ {MAX_SHARDS}'))
        return cls(k, n)

    def holds(self, camera_id: str, lost: frozenset[int] = frozenset()) -> bool:
        return shard_of(camera_id, self.count, lost) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(camera_id: str, count: int, lost: frozenset[int] = frozenset()) -> int:
    """The shard (1..count) of a camera: the one with the highest hash of (shard, camera id) among those not
    ``lost``. A lost shard's cameras each go to their next shard in that order, and no other camera moves; with
    every shard lost, ``lost`` is ignored."""
    shards = [k for k in range(1, count + 1) if k not in lost] or range(1, count + 1)
    return max(shards, key=lambda k: hashlib.blake2b(f"{k}\x00{camera_id}".encode(), digest_size=8).digest())

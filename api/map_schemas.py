"""HTTP models of ``GET /api/map``: the caller's part of the site as shapes and points on the ground.

Shapes are lists of [lon, lat] points (WGS84 degrees), as the site file gives them: the console projects them
itself, so the map needs no tile server and works offline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from camera_config.store import CameraPlace
from camera_config.types import Compound, Grid, Point, Street
from ingest.types import CameraHealth

LonLat = tuple[float, float]
_OUTLINE_EXAMPLE = [[[121.4726, 31.2294], [121.4749, 31.2294], [121.4749, 31.2314], [121.4726, 31.2314]]]


def _points(points: tuple[Point, ...]) -> list[LonLat]:
    return [(lon, lat) for lon, lat in points]


class MapStreetPublic(BaseModel):
    id: str = Field(examples=["ST-DEMO"])
    name: str = Field(examples=["Riverside Sub-district"])
    outline: list[LonLat] = Field(description="Boundary as [lon, lat] points; empty when none is recorded.")

    @classmethod
    def of(cls, street: Street) -> MapStreetPublic:
        return cls(id=street.id, name=street.name, outline=_points(street.outline))


class MapCompoundPublic(BaseModel):
    id: str = Field(examples=["K-01"])
    name: str = Field(examples=["Willow Court"])
    community_id: str = Field(examples=["CM-01"])
    outline: list[LonLat] = Field(
        description="Boundary as [lon, lat] points; empty when none is recorded.", examples=_OUTLINE_EXAMPLE
    )

    @classmethod
    def of(cls, compound: Compound) -> MapCompoundPublic:
        return cls(
            id=compound.id, name=compound.name, community_id=compound.community_id, outline=_points(compound.outline)
        )


class MapGridPublic(BaseModel):
    id: str = Field(examples=["G-01"])
    name: str = Field(examples=["Willow Court grid"])
    community_id: str = Field(description="The community the grid belongs to.", examples=["CM-01"])
    community_name: str = Field(examples=["Willow Lane Community"])
    compound_ids: list[str] = Field(description="The compounds the grid covers.", examples=[["K-01"]])
    polygon: list[LonLat] = Field(
        description="The grid's own outline as [lon, lat] points; empty when the grid is drawn by its compounds."
    )
    shapes: list[list[LonLat]] = Field(
        description="What to draw for the grid: its polygon, or else the outlines of its compounds that have one; "
        "empty when there is nothing to draw.",
        examples=[_OUTLINE_EXAMPLE],
    )
    cameras: int = Field(description="Cameras routed to the grid.", examples=[2])
    open_cases: int | None = Field(
        description="Cases of the grid not yet closed or dismissed; null for a caller who may not read cases or "
        "on a server without alerts and cases.",
        examples=[3],
    )
    alerts_24h: int | None = Field(
        description="Alerts the grid received in the 24 hours before the answer; null for a caller who may not "
        "read alerts or on a server without alerts and cases.",
        examples=[12],
    )

    @classmethod
    def of(
        cls,
        grid: Grid,
        community_name: str,
        outlines: dict[str, tuple[Point, ...]],
        cameras: int,
        open_cases: int | None,
        alerts: int | None,
    ) -> MapGridPublic:
        if grid.polygon:
            shapes = [_points(grid.polygon)]
        else:
            shapes = [_points(outlines[k]) for k in grid.compound_ids if outlines.get(k)]
        return cls(
            id=grid.id,
            name=grid.name,
            community_id=grid.community_id,
            community_name=community_name,
            compound_ids=list(grid.compound_ids),
            polygon=_points(grid.polygon),
            shapes=shapes,
            cameras=cameras,
            open_cases=open_cases,
            alerts_24h=alerts,
        )


CameraState = Literal["starting", "online", "degraded", "offline", "unknown"]


class MapCameraPublic(BaseModel):
    id: str = Field(examples=["CAM-01"])
    name: str = Field(examples=["Willow Court east gate plaza"])
    grid_id: str = Field(examples=["G-01"])
    compound_id: str | None = Field(examples=["K-01"])
    lat: float | None = Field(description="Latitude (WGS84); null when the site file gives no location.")
    lon: float | None = Field(description="Longitude (WGS84); null when the site file gives no location.")
    enabled: bool = Field(description="Disabled cameras are kept but not watched.")
    state: CameraState = Field(
        description="Stream health as ingest last reported it; unknown until it has.", examples=["online"]
    )

    @classmethod
    def of(cls, place: CameraPlace, health: CameraHealth | None) -> MapCameraPublic:
        return cls(
            id=place.id,
            name=place.name,
            grid_id=place.grid_id,
            compound_id=place.compound_id,
            lat=place.lat,
            lon=place.lon,
            enabled=place.enabled,
            state="unknown" if health is None else health.state.value,
        )


class MapPublic(BaseModel):
    streets: list[MapStreetPublic] = Field(
        description="The streets the caller's scope covers whole (a street or the whole site), with outlines."
    )
    grids: list[MapGridPublic] = Field(description="The grids in the caller's scope, with their figures.")
    compounds: list[MapCompoundPublic] = Field(description="The compounds those grids cover or their cameras stand in.")
    cameras: list[MapCameraPublic] = Field(description="The cameras of those grids.")
    alerts_since: datetime = Field(description="Start of the period the grids' alert counts cover (24 hours).")

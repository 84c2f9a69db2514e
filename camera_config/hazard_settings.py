"""Per-camera and per-zone hazard thresholds, each with a documented default.

These are configuration (they come from site files and the API), so they are pydantic models,
frozen so that a value handed downstream cannot change under a running rule.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CrowdSettings(_Config):
    enabled: bool = Field(True, description="Raise crowd-gathering alerts in this camera's crowd zones.")
    min_people: int = Field(5, ge=1, le=500, description="People inside a crowd zone that count as a gathering.")
    min_duration_s: float = Field(
        10.0, ge=0, le=3600, description="Seconds the count must stay at or above min_people."
    )


class FallSettings(_Config):
    enabled: bool = Field(True, description="Raise fallen-person alerts.")
    min_duration_s: float = Field(3.0, ge=0, le=600, description="Seconds a fall must persist before alerting.")


class StructureSettings(_Config):
    enabled: bool = Field(True, description="Watch structure zones (walls) for collapse or large change.")


class TamperSettings(_Config):
    enabled: bool = Field(True, description="Raise camera-fault alerts: covered, defocused, moved, frozen.")


class IntrusionSettings(_Config):
    enabled: bool = Field(True, description="Raise intrusion alerts for people in restricted zones.")
    loiter_s: float = Field(
        60.0, ge=0, le=86400, description="Seconds one tracked person may stay in a restricted zone."
    )


class HazardSettings(_Config):
    """Camera-wide defaults for each hazard rule; zones may override some of them."""

    crowd: CrowdSettings = Field(default_factory=CrowdSettings, description="Crowd gathering.")
    fall: FallSettings = Field(default_factory=FallSettings, description="Fallen person.")
    structure: StructureSettings = Field(default_factory=StructureSettings, description="Structural change.")
    tamper: TamperSettings = Field(default_factory=TamperSettings, description="Camera faults.")
    intrusion: IntrusionSettings = Field(default_factory=IntrusionSettings, description="Intrusion, loitering.")


class ZoneSettings(_Config):
    """Overrides for one zone; None means the camera's setting applies."""

    min_people: int | None = Field(None, ge=1, le=500, description="Crowd zones: people that make a gathering.")
    min_duration_s: float | None = Field(
        None, ge=0, le=3600, description="Crowd zones: seconds the gathering must last."
    )
    loiter_s: float | None = Field(None, ge=0, le=86400, description="Restricted zones: seconds before loitering.")

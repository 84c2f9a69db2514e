"""Per-camera and per-zone hazard thresholds, each with a documented default.

These are configuration (they come from site files and the API), so they are pydantic models,
frozen so that a value handed downstream cannot change under a running rule.
"""

from __future__ import annotations

import re
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$")


def parse_window(text: str) -> tuple[time, time | None]:
    """ "22:00-06:00" → (22:00, 06:00); an end of 24:00 is None (end of day). Windows may cross midnight."""
    m = _WINDOW.match(text.strip())
    if not m or (m.group(3) == "24" and m.group(4) != "00"):
        raise ValueError(f'schedule window "{text}" must look like "22:00-06:00"')
    start = time(int(m.group(1)), int(m.group(2)))
    end = None if m.group(3) == "24" else time(int(m.group(3)), int(m.group(4)))
    return start, end


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CrowdSettings(_Config):
    enabled: bool = Field(True, description="Raise crowd-gathering alerts in this camera's crowd zones.")
    min_people: int = Field(5, ge=1, le=500, description="People inside a crowd zone that count as a gathering.")
    min_duration_s: float = Field(
        10.0, ge=0, le=3600, description="Seconds the count must stay at or above min_people."
    )
    hysteresis_people: int = Field(
        1, ge=0, le=100, description="An open gathering lasts while at least min_people minus this many remain."
    )
    clear_s: float = Field(5.0, ge=0, le=3600, description="Seconds below that level before the gathering is closed.")
    cooldown_s: float = Field(
        60.0, ge=0, le=86400, description="Seconds after a close before the same zone can raise a new gathering."
    )
    update_every_s: float = Field(
        10.0, gt=0, le=3600, description="Seconds between updates of an open gathering (sooner when the count moves)."
    )


class FallSettings(_Config):
    enabled: bool = Field(True, description="Raise fallen-person alerts.")
    min_duration_s: float = Field(3.0, ge=0, le=600, description="Seconds a fall must persist before alerting.")
    clear_s: float = Field(5.0, ge=0, le=3600, description="Seconds without a fallen person before the alert closes.")
    min_confidence: float = Field(
        0.45, ge=0, le=1, description="Fall-class confidence needed; lower ones still count as people, not as falls."
    )
    min_aspect: float = Field(
        0.8, ge=0, le=10, description="A fall box must be at least this wide for its height (a walker is taller)."
    )
    upright_first: bool = Field(
        True,
        description="Only a fall where someone was just seen standing counts (a still object never stood up).",
    )
    upright_window_s: float = Field(
        15.0, gt=0, le=600, description="How recently someone must have stood at the spot of a fall."
    )
    lying_aspect: float = Field(
        1.4,
        gt=1,
        le=10,
        description="Models without a fall class: a person box this many times wider than tall counts as lying.",
    )


class StructureSettings(_Config):
    enabled: bool = Field(True, description="Watch structure zones (walls) for collapse or large change.")
    sample_every_s: float = Field(2.0, gt=0, le=3600, description="Seconds between compared samples of a zone.")
    min_changed: float = Field(
        0.25, gt=0, le=1, description="Share of the zone (not hidden by people) that must differ from the reference."
    )
    min_edge_change: float = Field(
        0.3,
        ge=0,
        le=1,
        description="How much of the edge structure (the wall's outline) must be gone or buried in new clutter.",
    )
    min_samples: int = Field(3, ge=1, le=1000, description="Consecutive changed samples before alerting.")
    learn_rate: float = Field(
        0.05, gt=0, le=1, description="How fast the reference follows slow change (weathering, shadows) per sample."
    )
    relearn_brightness: float = Field(
        0.35,
        gt=0,
        le=1,
        description="A whole-picture brightness change of this share (day ↔ night, lights) re-learns the reference.",
    )


class TamperSettings(_Config):
    enabled: bool = Field(True, description="Raise camera-fault alerts: covered, defocused, moved, frozen.")
    sample_every_s: float = Field(2.0, gt=0, le=3600, description="Seconds between checked frames.")
    min_duration_s: float = Field(
        4.0, ge=0, le=3600, description="Seconds a fault must persist before alerting (three samples at the default)."
    )
    clear_s: float = Field(5.0, ge=0, le=3600, description="Seconds without the fault before the alert closes.")
    covered_entropy: float = Field(
        3.5, ge=0, le=8, description="Covered: grey-level entropy (bits) below this (one colour, a hand, a cloth)."
    )
    defocus_ratio: float = Field(
        0.3, gt=0, lt=1, description="Defocused: sharpness (Laplacian variance) below this share of the baseline."
    )
    moved_shift: float = Field(
        0.04, gt=0, le=1, description="Moved: picture shifted by more than this share of its width vs the reference."
    )
    frozen_s: float = Field(
        4.0, gt=0, le=3600, description="Frozen: seconds of identical samples after the first repeat (three samples)."
    )
    baseline_samples: int = Field(
        10, ge=1, le=10000, description="Samples used to learn the camera's own sharpness and reference view."
    )
    offline_after_s: float = Field(
        60.0, ge=0, le=86400, description="Offline: seconds a camera must stay unreachable before an alert."
    )
    online_clear_s: float = Field(
        10.0, ge=0, le=3600, description="Offline: seconds back online before the offline alert closes."
    )


class IntrusionSettings(_Config):
    enabled: bool = Field(True, description="Raise intrusion alerts for people in restricted zones.")
    loiter_s: float = Field(
        60.0, ge=0, le=86400, description="Seconds one tracked person may stay in a restricted zone."
    )
    min_duration_s: float = Field(
        1.0, ge=0, le=600, description="Seconds someone must be inside a restricted zone before an intrusion alert."
    )
    clear_s: float = Field(5.0, ge=0, le=3600, description="Seconds with nobody inside before the alert closes.")
    schedule: tuple[str, ...] = Field(
        (),
        description='Times the zone is restricted, as "HH:MM-HH:MM" in the camera\'s time zone; empty = always.',
    )
    timezone: str = Field("UTC", description="IANA time zone for the schedule, e.g. Asia/Shanghai.")

    @field_validator("schedule")
    @classmethod
    def _windows(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for w in value:
            parse_window(w)
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f'unknown time zone "{value}"') from None
        return value


class FireLaneSettings(_Config):
    enabled: bool = Field(True, description="Raise an alert for a vehicle standing in a fire-lane zone.")
    stand_s: float = Field(
        300.0, ge=0, le=86400, description="Seconds a vehicle may stand in a fire lane before an alert."
    )
    clear_s: float = Field(30.0, ge=0, le=3600, description="Seconds with the lane clear before the alert closes.")
    gone_s: float = Field(
        10.0, gt=0, le=600, description="A standing vehicle not seen for this long has left (passers-by hide it)."
    )


class EbikeSettings(_Config):
    enabled: bool = Field(True, description="Raise an alert for a bicycle or e-bike inside an entrance zone.")
    min_duration_s: float = Field(
        5.0, ge=0, le=3600, description="Seconds a bicycle or motorcycle must be inside before an alert."
    )
    clear_s: float = Field(10.0, ge=0, le=3600, description="Seconds with none inside before the alert closes.")


class HazardSettings(_Config):
    """Camera-wide defaults for each hazard rule; zones may override some of them."""

    crowd: CrowdSettings = Field(default_factory=CrowdSettings, description="Crowd gathering.")
    fall: FallSettings = Field(default_factory=FallSettings, description="Fallen person.")
    structure: StructureSettings = Field(default_factory=StructureSettings, description="Structural change.")
    tamper: TamperSettings = Field(default_factory=TamperSettings, description="Camera faults.")
    intrusion: IntrusionSettings = Field(default_factory=IntrusionSettings, description="Intrusion, loitering.")
    fire_lane: FireLaneSettings = Field(default_factory=FireLaneSettings, description="Fire lane blocked.")
    ebike: EbikeSettings = Field(default_factory=EbikeSettings, description="Bicycle or e-bike inside a building.")


class ZoneSettings(_Config):
    """Overrides for one zone; None means the camera's setting applies."""

    min_people: int | None = Field(None, ge=1, le=500, description="Crowd zones: people that make a gathering.")
    min_duration_s: float | None = Field(
        None, ge=0, le=3600, description="Crowd zones: seconds the gathering must last."
    )
    loiter_s: float | None = Field(None, ge=0, le=86400, description="Restricted zones: seconds before loitering.")
    stand_s: float | None = Field(
        None, ge=0, le=86400, description="Fire-lane zones: seconds a vehicle may stand there."
    )

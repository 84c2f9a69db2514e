"""Per-camera settings for reading and gating the detect stream (used by ingest)."""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field


class DecodeMode(enum.StrEnum):
    """How much of the stream to decode: everything, a target rate, or keyframes only."""

    AUTO = "auto"
    FULL = "full"
    SAMPLED = "sampled"
    KEYFRAME = "keyframe"


class DetectSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: DecodeMode = Field(
        DecodeMode.AUTO,
        description="auto picks keyframe-only decoding when the stream's keyframe interval allows the target fps.",
    )
    fps: float = Field(5.0, gt=0, le=60, description="Target analysed frames per second.")
    motion_sensitivity: float = Field(
        0.5, ge=0, le=1, description="0 = only large motion wakes the detector, 1 = any change does."
    )
    motion_gating: bool = Field(
        True, description="Offer the detector only frames with motion (plus keep-alive samples); off: every frame."
    )
    keepalive_s: float = Field(
        10.0, gt=0, le=3600, description="Without motion, still offer one frame this often (seconds)."
    )

"""HTTP models of ``GET /api/stats``: the box's headroom and its cameras' rates, as a Frigate-style stats page.

Kept out of api/schemas.py so that the live pipeline's figures can grow here without touching the site's models.
"""

from __future__ import annotations

from dataclasses import asdict

from pydantic import BaseModel, Field

from detectors.types import BoxFigures, CameraFigures
from ingest.types import HealthState

ONLINE = frozenset({HealthState.ONLINE, HealthState.DEGRADED})
"""Health states counted as online, as the monitor counts them for the box total."""


class BoxPublic(BaseModel):
    """The whole box: what its cameras send, what ingest decodes, what the model spends and what the process costs."""

    cameras: int = Field(description="Cameras being pulled.", examples=[48])
    online: int = Field(description="Pulled cameras online or degraded (streaming).", examples=[46])
    detecting: int = Field(description="Pulled cameras the detector analyses.", examples=[46])
    input_fps: float = Field(description="Frames arriving from all cameras per second.", examples=[1200.0])
    decoded_fps: float = Field(description="Frames ingest decoded per second, all cameras.", examples=[96.0])
    analysed_fps: float = Field(description="Frames the detector analysed per second, all cameras.", examples=[31.5])
    dropped: int = Field(
        description="Frames replaced by a newer one before the detector took them, all cameras.", examples=[210]
    )
    skipped_quiet: int = Field(
        description="Keyframes left undecoded because their camera was still, all cameras.", examples=[5400]
    )
    deferred: int = Field(description="Frames the scheduler passed over for more urgent cameras.", examples=[12])
    starved: int = Field(
        description="Analyses that came later than the guaranteed minimum cadence (should stay 0).", examples=[0]
    )
    inference_ms: float | None = Field(
        description="Model time of the last batch; null before the first.", examples=[38.2]
    )
    budget: float = Field(
        description="Model seconds per second the scheduler may spend (1.0 = one core's worth).", examples=[0.8]
    )
    busy: float = Field(
        description="Model seconds per second spent recently; busy / budget is how full the model is.", examples=[0.55]
    )
    latency_p95_s: float | None = Field(
        description="95th percentile, recent frames, from capture to detections; null before any.", examples=[0.42]
    )
    cpu_percent: float | None = Field(
        description="The service process's CPU, % of one core since the previous reading (null on the first).",
        examples=[135.0],
    )
    rss_mib: float | None = Field(description="The service process's resident memory (MiB).", examples=[910.4])

    @classmethod
    def of(cls, box: BoxFigures) -> BoxPublic:
        return cls(**asdict(box))  # the same fields, one to one


class CameraRowPublic(BaseModel):
    """One pulled camera in the caller's scope: its rates and the scheduler's view of it."""

    camera_id: str = Field(examples=["CAM-01"])
    name: str = Field(examples=["Willow Court east gate plaza"])
    online: bool = Field(description="Online or degraded (streaming).", examples=[True])
    input_fps: float = Field(description="Frames arriving from the stream (decoded or not).", examples=[25.0])
    analysed_fps: float = Field(description="Frames decoded and checked by motion gating.", examples=[1.0])
    detected_frames: int | None = Field(
        description="Frames the detector analysed; null when the camera is not detected.", examples=[1200]
    )
    need: str | None = Field(
        description="Why the analysis scheduler last weighed the camera: episode, overdue, alerted, motion or quiet.",
        examples=["motion"],
    )
    deferred: int | None = Field(
        description="Frames the scheduler passed over for more urgent cameras; null when not detected.", examples=[0]
    )
    starved: int | None = Field(
        description="Analyses later than the guaranteed minimum cadence; null when not detected.", examples=[0]
    )
    skipped_quiet: int = Field(description="Keyframes left undecoded while the camera was still.", examples=[120])
    decode_mode: str | None = Field(
        description="The decode mode in use: full, sampled or keyframe (auto resolves to one of these).",
        examples=["keyframe"],
    )

    @classmethod
    def of(cls, figures: CameraFigures, name: str) -> CameraRowPublic:
        s = figures.ingest
        return cls(
            camera_id=figures.camera_id,
            name=name,
            online=figures.health.state in ONLINE,
            input_fps=s.input_fps,
            analysed_fps=s.analysed_fps,
            detected_frames=figures.detected_frames if figures.detecting else None,
            need=figures.need,
            deferred=figures.deferred if figures.detecting else None,
            starved=figures.starved if figures.detecting else None,
            skipped_quiet=s.skipped_quiet,
            decode_mode=s.decode_mode,
        )


class StatsPublic(BaseModel):
    """The box's totals (for callers who see the whole site) and the pulled cameras in the caller's scope."""

    box: BoxPublic | None = Field(
        description="Whole-box totals; null for a caller whose scope is narrower than the whole site."
    )
    cameras: list[CameraRowPublic] = Field(description="Pulled cameras in the caller's scope, by id.")

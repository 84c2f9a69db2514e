"""What ingest hands downstream: frames, and each camera's health and stats."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
"""BGR, height × width × 3, as OpenCV and ultralytics expect."""


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    camera_id: str
    seq: int
    """Counts decoded frames of this camera since the worker started it."""
    monotonic_s: float
    wall_at: datetime
    image: Image = field(repr=False)
    is_keyframe: bool = False
    motion: float | None = None
    """Share of the picture that changed (0..1), when motion gating ran."""

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


class HealthState(enum.StrEnum):
    ONLINE = "online"
    DEGRADED = "degraded"
    OFFLINE = "offline"


class OfflineReason(enum.StrEnum):
    REFUSED = "refused"
    TIMEOUT = "timeout"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    CODEC = "codec_unsupported"
    STALLED = "stalled"
    ENDED = "ended"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class CameraHealth:
    camera_id: str
    state: HealthState
    since: datetime
    reason: OfflineReason | None = None
    detail: str | None = None
    reconnects_last_hour: int = 0


@dataclass(frozen=True, slots=True)
class CameraStats:
    camera_id: str
    input_fps: float
    analysed_fps: float
    dropped: int
    motion_ratio: float
    decode_ms: float
    last_frame_age_s: float | None

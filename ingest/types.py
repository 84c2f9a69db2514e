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
    captured_s: float | None = None
    """Monotonic time the frame's last packet was read from the source (latency is measured from here)."""

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


@dataclass(frozen=True, slots=True)
class Offer:
    """A camera's newest gated frame waiting for the detector, not yet taken (nor converted to BGR): what the
    analysis scheduler weighs before the detector takes it."""

    camera_id: str
    offered_s: float
    """Monotonic time it was offered."""
    motion: float | None
    """Share of the picture that moved (None: not gated)."""

    @property
    def moving(self) -> bool:
        return self.motion is None or self.motion > 0


class HealthState(enum.StrEnum):
    STARTING = "starting"
    """Not yet connected since the worker (re)started the camera; not a fault."""
    ONLINE = "online"
    DEGRADED = "degraded"
    """Streaming, but with stalls or well below the stream's frame rate."""
    OFFLINE = "offline"


class OfflineReason(enum.StrEnum):
    REFUSED = "refused"
    TIMEOUT = "timeout"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    CODEC = "codec_unsupported"
    STALLED = "stalled"
    ENDED = "ended"
    UNSUPPORTED_SOURCE = "unsupported_source"
    """The URL's scheme is not one ingest opens (or a file outside demo mode); retrying will not help."""
    GATEWAY = "gateway"
    """The GB/T 28181 gateway the camera is reached through did not give its stream (unreachable, login refused,
    play refused); retried like a transient fault."""
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
    """Rates over the last few seconds; counters since the worker started the camera."""

    camera_id: str
    input_fps: float
    """Frames arriving from the source (decoded or not)."""
    analysed_fps: float
    """Frames decoded into pictures and checked by motion gating: the decode mode's output rate."""
    dropped: int
    """Gated frames replaced by a newer one before the detector took them."""
    motion_ratio: float
    """Share of recently analysed frames that had motion (and so were offered to the detector); 0 while the
    camera's motion gating is off (the gate does not run then)."""
    decode_ms: float
    """Mean time to decode one frame, recent average."""
    last_frame_age_s: float | None
    decoded_fps: float = 0.0
    """Frames the decoder produced, including those decoded only as references for later ones."""
    decode_mode: str | None = None
    """The mode in effect: full, sampled or keyframe (auto resolves to one of these)."""
    keyframe_interval_s: float | None = None
    """Measured on the stream; decides whether auto mode can decode keyframes only."""
    stalls: int = 0
    """Reads that succeeded only after blocking for the stall threshold."""
    offered: int = 0
    """Frames handed to the detector's slot (motion or keep-alive)."""
    skipped_quiet: int = 0
    """Keyframes of a still camera left undecoded: its packets showed no change (keyframe-only decoding)."""
    decode_cpu_s: float = 0.0
    """CPU seconds spent decoding this camera since it started."""
    gate_cpu_s: float = 0.0
    """CPU seconds spent in motion gating."""

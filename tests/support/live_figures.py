"""A live pipeline's figures, fixed: what tests give `ApiContext.box` and `ApiContext.camera_figures` in place
of a running monitor (the demo site's cameras)."""

from __future__ import annotations

from datetime import UTC, datetime

from detectors.types import BoxFigures, CameraFigures
from ingest.types import CameraHealth, CameraStats, HealthState

SINCE = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)

BOX = BoxFigures(
    cameras=4,
    online=2,
    detecting=1,
    input_fps=75.0,
    decoded_fps=12.0,
    analysed_fps=4.5,
    dropped=7,
    skipped_quiet=30,
    deferred=3,
    starved=1,
    inference_ms=38.2,
    budget=0.8,
    busy=0.6,
    latency_p95_s=0.42,
    cpu_percent=135.0,
    rss_mib=910.4,
)


def figures_of(
    camera_id: str, state: HealthState, *, detecting: bool, input_fps: float = 25.0, skipped: int = 0
) -> CameraFigures:
    stats = CameraStats(
        camera_id=camera_id,
        input_fps=input_fps,
        analysed_fps=1.5,
        dropped=2,
        motion_ratio=0.3,
        decode_ms=2.0,
        last_frame_age_s=0.1,
        decode_mode="keyframe",
        skipped_quiet=skipped,
    )
    return CameraFigures(
        camera_id,
        CameraHealth(camera_id, state, SINCE),
        stats,
        detecting=detecting,
        detected_frames=120 if detecting else 0,
        need="motion" if detecting else None,
        deferred=3 if detecting else 0,
        starved=1 if detecting else 0,
    )


FIGURES = [
    figures_of("CAM-03", HealthState.OFFLINE, detecting=False, input_fps=0.0),
    figures_of("CAM-01", HealthState.ONLINE, detecting=True, skipped=30),
    figures_of("CAM-02", HealthState.DEGRADED, detecting=False),
    figures_of("CAM-99", HealthState.ONLINE, detecting=False),  # pulled, but deleted from the site a moment ago
]
"""CAM-04 (grid G-01, like CAM-01) is not pulled."""

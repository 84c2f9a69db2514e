"""Frames from a local video file: the frame source for demos, evaluation and integrator tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np

from core.clock import Clock, SystemClock
from core.errors import InvalidInput
from ingest.types import Frame


def file_fps(path: Path) -> float:
    cap = cv2.VideoCapture(str(path))
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    finally:
        cap.release()
    return fps if fps > 0 else 25.0


def read_file_frames(
    path: Path,
    camera_id: str,
    *,
    every_s: float = 0.0,
    loop: bool = False,
    clock: Clock | None = None,
) -> Iterator[Frame]:
    """Yield frames with timestamps on the file's own timeline (no sleeping).

    ``every_s`` keeps at most one frame per that many seconds of video. Timestamps start at the
    clock's current time and advance by the file's frame interval, so rules see real durations
    whatever the processing speed.
    """
    if not path.is_file():
        raise InvalidInput(f'{path}: no such video file for camera "{camera_id}"')
    clock = clock or SystemClock()
    fps = file_fps(path)
    t0_mono, t0_wall = clock.monotonic(), clock.now()
    index = 0
    last_kept: float | None = None
    while True:
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            raise InvalidInput(f"{path}: cannot be opened as video")
        got_any = False
        try:
            while True:
                ok, image = cap.read()
                if not ok:
                    break
                got_any = True
                t = index / fps
                index += 1
                if last_kept is not None and t - last_kept < every_s - 1e-9:
                    continue
                last_kept = t
                yield Frame(
                    camera_id=camera_id,
                    seq=index - 1,
                    monotonic_s=t0_mono + t,
                    wall_at=t0_wall + timedelta(seconds=t),
                    image=np.asarray(image, dtype=np.uint8),
                    is_keyframe=False,
                )
        finally:
            cap.release()
        if not loop or not got_any:
            return

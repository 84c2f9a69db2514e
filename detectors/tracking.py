"""Tracking with ultralytics' ByteTrack: the same person across frames (track ids) for dwell times."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from detectors.types import Detection


class Tracker:
    """One camera's ByteTrack. Detections come back in the same order, with ``track_id`` set where a
    confirmed track matched them (a brand-new object gets its id from its second sighting on)."""

    def __init__(self, *, fps: float = 5.0, keep_lost_s: float = 3.0, match_iou: float = 0.8) -> None:
        from ultralytics.trackers.byte_tracker import BYTETracker
        from ultralytics.utils import IterableSimpleNamespace

        args = IterableSimpleNamespace(
            tracker_type="bytetrack",
            track_high_thresh=0.25,
            track_low_thresh=0.1,
            new_track_thresh=0.25,
            track_buffer=max(1, round(keep_lost_s * fps)),
            match_thresh=match_iou,
            fuse_score=True,
        )
        self._tracker = BYTETracker(args)
        self._labels: dict[str, int] = {}

    def update(self, detections: Sequence[Detection], shape: tuple[int, int]) -> list[Detection]:
        from ultralytics.engine.results import Boxes

        rows = np.array(
            [
                [d.box.x1, d.box.y1, d.box.x2, d.box.y2, d.confidence, self._labels.setdefault(d.label, len(self._labels))]
                for d in detections
            ],
            dtype=np.float32,
        ).reshape(-1, 6)
        out = self._tracker.update(Boxes(rows, shape))
        ids: dict[int, int] = {int(r[7]): int(r[4]) for r in np.asarray(out).reshape(-1, 8)}
        return [replace(d, track_id=ids.get(i)) for i, d in enumerate(detections)]

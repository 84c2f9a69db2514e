"""Tracking with ultralytics' ByteTrack: the same person across frames (track ids) for dwell times."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from detectors.types import Box, Detection


class Tracker:
    """One camera's ByteTrack. Detections come back in the same order, with ``track_id`` set where a
    confirmed track matched them (a brand-new object gets its id from its second sighting on)."""

    def __init__(
        self, *, fps: float = 5.0, keep_lost_s: float = 3.0, match_iou: float = 0.8, hold_lost_s: float = 0.0
    ) -> None:
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
        self._tracker = BYTETracker(args)  # type: ignore[no-untyped-call]
        self._labels: dict[str, int] = {}
        self._hold_frames = round(hold_lost_s * fps)

    def update(self, detections: Sequence[Detection], shape: tuple[int, int]) -> list[Detection]:
        from ultralytics.engine.results import Boxes

        rows = np.array(
            [
                [
                    d.box.x1,
                    d.box.y1,
                    d.box.x2,
                    d.box.y2,
                    d.confidence,
                    self._labels.setdefault(d.label, len(self._labels)),
                ]
                for d in detections
            ],
            dtype=np.float32,
        ).reshape(-1, 6)
        out = self._tracker.update(Boxes(rows, shape))
        ids: dict[int, int] = {int(r[7]): int(r[4]) for r in np.asarray(out).reshape(-1, 8)}
        result = [replace(d, track_id=ids.get(i)) for i, d in enumerate(detections)]
        return result + self._held(shape, result)

    def _held(self, shape: tuple[int, int], current: list[Detection]) -> list[Detection]:
        """Tracks missed for at most ``hold_lost_s``, at their predicted place: a person behind a signpost
        for a moment is still there. A lost track overlapping a current detection is that detection under a
        new id, not a second person."""
        if self._hold_frames <= 0:
            return []
        names = {v: k for k, v in self._labels.items()}
        now = self._tracker.frame_id
        out = []
        for t in self._tracker.lost_stracks:
            if now - t.end_frame > self._hold_frames or not t.is_activated:
                continue
            x1, y1, x2, y2 = (float(v) for v in t.xyxy)
            h, w = shape
            if x2 <= 0 or y2 <= 0 or x1 >= w or y1 >= h:
                continue  # walked out of the picture
            box = Box(max(x1, 0.0), max(y1, 0.0), min(x2, float(w)), min(y2, float(h)))
            if any(box.iou(d.box) > 0.2 for d in current):
                continue
            out.append(Detection(names.get(int(t.cls), "person"), float(t.score), box, track_id=int(t.track_id)))
        return out

"""Things the counting model calls people that stand unmoved where they stood when the camera started.

A signpost, a statue or a poster that the model takes for a person is there in every frame and would add
one to every count, for ever. What marks it is that it was already there when the camera's analysis began,
and has not moved since: a real person who walks in and stands still, or falls, was seen walking first.
Such spots are learnt over the first seconds and their detections are left out from then on; a person whose
track was seen away from the spot still counts on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from detectors.labels import PERSON_LABELS
from detectors.types import Box, Detection

LEARN_S = 10.0
"""Seconds from the camera's first analysed frame over which still spots are learnt."""
FIRST_FRAMES = 2
"""Only what is there in the first analysed frames can be a still spot (what comes later came from somewhere)."""
MATCH_IOU = 0.6
"""A detection this much on a spot's box is on the spot (boxes of a still object vary a little)."""
PRESENT = 0.8
"""Share of the learning frames a spot must be found in to be learnt as still."""
FORGET_S = 60.0
"""A learnt spot found nowhere for this long is forgotten (the object was taken away)."""


@dataclass(slots=True)
class _Spot:
    box: Box
    seen: int
    last_s: float


class StillSpots:
    """One camera's learnt still spots; `filter` takes each analysed frame's tracked detections."""

    def __init__(self) -> None:
        self._start_s: float | None = None
        self._learn_frames = 0
        self._learning: list[_Spot] = []
        self.spots: list[_Spot] = []
        """The learnt still spots."""
        self._tracks: dict[int, tuple[Box, float]] = {}
        """Track id → where that track was first seen, and when it was last seen."""
        self.left_out = 0

    def filter(self, detections: Sequence[Detection], t_s: float) -> list[Detection]:
        """``detections`` without people standing on a learnt still spot who were never seen elsewhere."""
        if self._start_s is None:
            self._start_s = t_s
        if t_s - self._start_s <= LEARN_S:
            self._seen(detections, t_s)
            self._learn_frames += 1
            self._learn([d for d in detections if d.label in PERSON_LABELS], t_s)
            return list(detections)
        if self._learning:
            self._settle()
        if not self.spots:
            return list(detections)
        self._seen(detections, t_s)
        kept: list[Detection] = []
        for d in detections:
            spot = self._spot_of(d) if d.label in PERSON_LABELS else None
            if spot is None:
                kept.append(d)
                continue
            spot.last_s = t_s
            self.left_out += 1
        self.spots = [s for s in self.spots if t_s - s.last_s <= FORGET_S]
        self._tracks = {i: t for i, t in self._tracks.items() if t_s - t[1] <= FORGET_S}
        return kept

    def _seen(self, detections: Sequence[Detection], t_s: float) -> None:
        for d in detections:
            if d.track_id is not None:
                first = self._tracks.get(d.track_id)
                self._tracks[d.track_id] = (first[0] if first is not None else d.box, t_s)

    def _learn(self, people: Sequence[Detection], t_s: float) -> None:
        for d in people:
            spot = max(self._learning, key=lambda s: s.box.iou(d.box), default=None)
            if spot is not None and spot.box.iou(d.box) >= MATCH_IOU:
                spot.seen += 1
                spot.last_s = t_s
            elif self._learn_frames <= FIRST_FRAMES:
                self._learning.append(_Spot(d.box, 1, t_s))

    def _settle(self) -> None:
        needed = PRESENT * self._learn_frames
        self.spots = [s for s in self._learning if s.seen >= needed]
        self._learning = []

    def _spot_of(self, d: Detection) -> _Spot | None:
        """The spot ``d`` stands on, unless its track was first seen off it (a person who came there)."""
        spot = max(self.spots, key=lambda s: s.box.iou(d.box))
        if spot.box.iou(d.box) < MATCH_IOU:
            return None
        track = self._tracks.get(d.track_id) if d.track_id is not None else None
        if track is not None and spot.box.iou(track[0]) < MATCH_IOU:
            return None
        return spot

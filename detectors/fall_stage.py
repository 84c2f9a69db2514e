"""The fall model as a second stage behind the counting model.

The counting model (COCO) sees people, not falls, and mostly upright ones: a person lying on the ground is
often not found at all. The fall model (classes Normal / Fall) is therefore run where a fall can be, and only
there: on cameras whose fall rule is on, on people the counting model found lying-shaped (as wide as the fall
rule requires a fall to be), and where a tracked person vanished inside the picture in the last few seconds
(and, while it keeps seeing a fall, where it saw one). Each place is cropped with some of the scene around it.

It never adds to a people count: a counted person it sees down is relabelled a fallen person (same box, same
track), and a fallen person found where nobody is counted goes to the fall rule alone (`FrameContext.falls`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from camera_config.hazard_settings import FallSettings
from core.errors import InvalidInput
from detectors.labels import FALLEN_PERSON, PERSON, PERSON_LABELS
from detectors.model.config import FALL_IMGSZ
from detectors.model.detector import Detector
from detectors.types import Box, Detection
from ingest.types import Image

MARGIN = 0.25
"""Scene kept around a person box, as a share of its longest side on each side."""
MIN_OVERLAP = 0.3
"""A fall box must overlap the person box this much (IoU) to be about that person."""
LOST_S = 5.0
"""A person track that vanished inside the picture is remembered this long ..."""
MISSING_FRAMES = 2
"""... and counts as vanished once missing from this many analysed frames in a row (a person the counting
model misses for one frame, as small or half-hidden people often are, has not fallen) ..."""
PLACE_CHECKS = 2
"""... and is looked for on the ground at most this many times."""
MAX_PLACES = 1
"""Vanished people looked for per camera and check at most."""
CHECK_EVERY_S = 1.0
"""Seconds between a camera's checks; between them its last findings hold (a fall lasts, and the fall rule
waits seconds before it alerts, so looking more often finds nothing sooner)."""
CARRY_IOU = 0.5
"""Between checks, a counted person this much on a box last seen down is still down."""
EDGE = 0.02
"""A track last seen this close to the picture's edge (share of its size) left the picture: not a fall."""
MISSES = 2
"""Checks in a row without the fall before a place where one was seen is no longer looked at."""


@dataclass(frozen=True, slots=True)
class FallCheck:
    """One camera's frame for the stage: its picture, its tracked detections, its fall settings and the
    places where someone may be lying unseen (`FallWatch.places`)."""

    image: Image
    detections: Sequence[Detection]
    settings: FallSettings
    places: Sequence[Box] = ()


@dataclass(frozen=True, slots=True)
class FallResult:
    detections: list[Detection]
    """The check's detections, the people the fall model sees down relabelled."""
    falls: list[Detection] = field(default_factory=list)
    """Fallen people found at `FallCheck.places`, where nobody is counted."""


class FallStage:
    """Runs the fall model on the places `FallCheck` names; ``checked`` counts the crops it looked at."""

    def __init__(self, detector: Detector, *, imgsz: int = FALL_IMGSZ) -> None:
        if FALLEN_PERSON not in detector.labels.values():
            raise InvalidInput(f"{detector.info.path}: the fall stage needs a model with a fall class")
        self.detector = detector
        self.imgsz = imgsz
        self.checked = 0

    def check(self, checks: Sequence[FallCheck]) -> list[FallResult]:
        """One batched inference over every crop of every check."""
        results = [FallResult(list(c.detections)) for c in checks]
        todo: list[tuple[int, int | None, Box, Box]] = []  # (check, detection index or None for a place, target, crop)
        crops: list[Image] = []
        for ci, check in enumerate(checks):
            height, width = check.image.shape[:2]
            targets: list[tuple[int | None, Box]] = [
                (di, d.box)
                for di, d in enumerate(check.detections)
                if d.label == PERSON and _lying_shaped(d.box, check.settings)
            ]
            counted = [d.box for d in check.detections if d.label in PERSON_LABELS]
            targets += [(None, p) for p in check.places if not any(p.iou(b) >= MIN_OVERLAP for b in counted)]
            for di, target in targets:
                crop = _around(target, width, height)
                if crop.x2 - crop.x1 < 8 or crop.y2 - crop.y1 < 8:
                    continue
                todo.append((ci, di, target, crop))
                crops.append(check.image[int(crop.y1) : int(crop.y2), int(crop.x1) : int(crop.x2)])
        if not crops:
            return results
        self.checked += len(crops)
        for (ci, di, target, crop), found in zip(todo, self.detector.detect(crops, imgsz=self.imgsz), strict=True):
            floor = checks[ci].settings.min_confidence
            falls = [_shifted(f, crop) for f in found if f.label == FALLEN_PERSON and f.confidence >= floor]
            best = max(falls, key=lambda f: f.box.iou(target), default=None)
            if di is not None:
                if best is not None and best.box.iou(target) >= MIN_OVERLAP:
                    det = results[ci].detections[di]
                    results[ci].detections[di] = replace(det, label=FALLEN_PERSON, confidence=best.confidence)
            elif best is not None and _feet_under(best.box, target):
                results[ci].falls.append(best)
        return results


class FallWatch:
    """One camera's places to look for someone lying unseen: where a person track vanished inside the
    picture in the last `LOST_S` seconds, and where the fall model saw a fall until it stops seeing it."""

    def __init__(self) -> None:
        self._frame = 0
        self._next_check_s: float | None = None
        self._down: list[Detection] = []
        """What the last check saw down: relabelled counted people, and fallen people found at places."""
        self._down_at_places: list[Detection] = []
        self._tracks: dict[int, tuple[Box, float, int, int]] = {}
        """Person track → its last box, when and in which analysed frame it was seen, checks of its place since."""
        self._falls: list[tuple[Box, int]] = []
        """Places where a fall was seen, and checks in a row without it since."""
        self._offered: dict[Box, int] = {}
        """The vanished people's places the last `places` gave, by track."""

    def due(self, t_s: float) -> bool:
        """Whether this frame is checked (one check every `CHECK_EVERY_S`)."""
        if self._next_check_s is not None and t_s < self._next_check_s:
            return False
        self._next_check_s = t_s + CHECK_EVERY_S
        return True

    def carry(self, detections: Sequence[Detection]) -> FallResult:
        """Between checks: what the last check saw down, on this frame's detections."""
        out = [
            replace(d, label=FALLEN_PERSON, confidence=hit.confidence)
            if d.label == PERSON
            and (hit := max(self._down, key=lambda x: x.box.iou(d.box), default=None)) is not None
            and hit.box.iou(d.box) >= CARRY_IOU
            else d
            for d in detections
        ]
        return FallResult(out, list(self._down_at_places))

    def places(self, detections: Sequence[Detection], t_s: float, width: int, height: int) -> list[Box]:
        """Where to look now: where a person vanished inside the picture with nobody counted near (a track
        that merely switched id or hid behind someone is not a fall), and where a fall was seen. Call on
        every analysed frame (it follows the tracks); look only when `due`."""
        self._frame += 1
        people = [d for d in detections if d.label in PERSON_LABELS]
        for d in people:
            if d.track_id is not None:
                self._tracks[d.track_id] = (d.box, t_s, self._frame, 0)
        self._tracks = {i: rec for i, rec in self._tracks.items() if t_s - rec[1] <= LOST_S}
        vanished = [
            (checks, -(box.y2 - box.y1), i)
            for i, (box, at, frame, checks) in self._tracks.items()
            if self._frame - frame >= MISSING_FRAMES
            and checks < PLACE_CHECKS
            and _inside(box, width, height)
            and not any(_close(box, d.box) for d in people)
        ]
        # Not looked at yet first, then the biggest (nearest: the most pixels for the fall model).
        self._offered = {_lying_area(self._tracks[i][0]): i for *_, i in sorted(vanished)[:MAX_PLACES]}
        lost = list(self._offered)
        return lost + [b for b, _ in self._falls if b not in self._offered]

    def found(self, result: FallResult, looked: Sequence[Box]) -> None:
        """What a check found: held until the next check; each place where a fall was found is looked at again
        (the same crop, so the same view for the model) until the model misses it `MISSES` times in a row."""
        for place in looked:
            track = self._offered.get(place)
            if track is not None and track in self._tracks:
                box, at, frame, checks = self._tracks[track]
                self._tracks[track] = (box, at, frame, checks + 1)
        falls = result.falls
        self._down = [d for d in result.detections if d.label == FALLEN_PERSON] + list(falls)
        self._down_at_places = list(falls)
        kept: list[tuple[Box, int]] = []
        for place in looked:
            seen = any(_feet_under(f.box, place) for f in falls)
            misses = next((m for b, m in self._falls if b == place), None)
            if seen:
                kept.append((place, 0))
            elif misses is not None and misses + 1 < MISSES:
                kept.append((place, misses + 1))
        kept += [(b, m) for b, m in self._falls if not any(b == p for p in looked)]
        self._falls = kept


def _lying_shaped(box: Box, settings: FallSettings) -> bool:
    height = box.y2 - box.y1
    return height > 0 and (box.x2 - box.x1) / height >= settings.min_aspect


def _lying_area(box: Box) -> Box:
    """Where someone last seen in ``box`` lies if they fell there: a body length either side of the feet."""
    length = max(box.y2 - box.y1, box.x2 - box.x1)
    feet_x = (box.x1 + box.x2) / 2
    return Box(feet_x - length, box.y2 - length / 2, feet_x + length, box.y2 + length / 4)


def _inside(box: Box, width: int, height: int) -> bool:
    mx, my = EDGE * width, EDGE * height
    return box.x1 > mx and box.y1 > my and box.x2 < width - mx and box.y2 < height - my


def _feet_under(fall: Box, place: Box) -> bool:
    """Someone who falls lies where their feet were: the fall must cover the feet of the person the place
    was made for (`_lying_area`)."""
    feet_x, feet_y = (place.x1 + place.x2) / 2, place.y2 - (place.y2 - place.y1) / 3
    height = fall.y2 - fall.y1
    return fall.x1 <= feet_x <= fall.x2 and fall.y1 - 0.5 * height <= feet_y <= fall.y2 + 0.5 * height


def _close(lost: Box, other: Box) -> bool:
    """Another person within half a body of where a track was lost: the same person under a new id."""
    reach = 0.5 * max(lost.y2 - lost.y1, lost.x2 - lost.x1)
    dx = (lost.x1 + lost.x2) / 2 - (other.x1 + other.x2) / 2
    dy = lost.y2 - other.y2
    return math.hypot(dx, dy) <= reach


def _shifted(det: Detection, crop: Box) -> Detection:
    b = det.box
    return replace(det, box=Box(b.x1 + crop.x1, b.y1 + crop.y1, b.x2 + crop.x1, b.y2 + crop.y1))


def _around(box: Box, width: int, height: int) -> Box:
    """The box with `MARGIN` of scene around it: a square, moved (not cut) to lie inside the picture, so the
    fall model always gets a whole square view (a sliver at the picture's edge gives it nothing to go on)."""
    side = min(max(box.x2 - box.x1, box.y2 - box.y1) * (1 + 2 * MARGIN), width, height)
    cx, cy = (box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2
    x1 = min(max(0.0, cx - side / 2), width - side)
    y1 = min(max(0.0, cy - side / 2), height - side)
    return Box(float(math.floor(x1)), float(math.floor(y1)), float(math.floor(x1 + side)), float(math.floor(y1 + side)))

"""The fall model behind the COCO model: it looks where someone may be down, relabels, and never adds a count."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from camera_config.hazard_settings import FallSettings
from core.errors import InvalidInput
from detectors.fall_stage import MISSES, PLACE_CHECKS, FallCheck, FallResult, FallStage, FallWatch
from detectors.labels import FALLEN_PERSON, PERSON
from detectors.model.detector import Detector
from detectors.types import Box, Detection
from tests.detectors import scenarios
from tests.detectors.conftest import read_frames

SETTINGS = FallSettings()
STANDING = Box(338.0, 355.0, 381.0, 470.0)  # where `scene` pastes the person upright (43 × 115, feet at 360, 470)
LYING = Box(302.0, 427.0, 417.0, 470.0)  # and lying (115 × 43)


@pytest.fixture(scope="module")
def scene(vtest: Path) -> tuple[np.ndarray, np.ndarray]:
    """A vtest frame with a real pedestrian lying on the lawn, and the same frame without them."""
    frames = read_frames(vtest, {150, 490})
    person = scenarios.person_crop(frames[490], (512, 250, 555, 365))
    lying = np.asarray(cv2.rotate(person, cv2.ROTATE_90_COUNTERCLOCKWISE), dtype=np.uint8)
    return scenarios.paste(frames[150], lying, (360, 470)), frames[150]


def places_after_vanishing(width: int = 768, height: int = 576) -> list[Box]:
    """The places a watch gives once the upright person's track vanished in the middle of the picture."""
    watch = FallWatch()
    watch.places([Detection(PERSON, 0.8, STANDING, track_id=4)], 10.0, width, height)
    assert watch.places([], 10.5, width, height) == []  # missing from one frame: not yet vanished
    return watch.places([], 11.0, width, height)


def test_someone_the_counting_model_lost_is_found_down_where_they_vanished(
    fall_detector: Detector, scene: tuple[np.ndarray, np.ndarray]
) -> None:
    image, _ = scene
    walker = Detection(PERSON, 0.8, Box(500.0, 250.0, 540.0, 360.0), track_id=2)  # upright: not looked at
    stage = FallStage(fall_detector)
    (result,) = stage.check([FallCheck(image, [walker], SETTINGS, places_after_vanishing())])
    assert stage.checked == 1
    assert result.detections == [walker]  # counted people unchanged: nobody added
    (fall,) = result.falls
    assert fall.label == FALLEN_PERSON
    assert fall.confidence >= SETTINGS.min_confidence
    assert fall.box.iou(LYING) >= 0.5


def test_a_counted_lying_person_is_relabelled_in_place(
    fall_detector: Detector, scene: tuple[np.ndarray, np.ndarray]
) -> None:
    image, _ = scene
    counted = Detection(PERSON, 0.6, LYING, track_id=4)
    (result,) = FallStage(fall_detector).check([FallCheck(image, [counted], SETTINGS)])
    (down,) = result.detections
    assert (down.label, down.box, down.track_id) == (FALLEN_PERSON, LYING, 4)
    assert result.falls == []


def test_nothing_lying_there_is_no_fall(fall_detector: Detector, scene: tuple[np.ndarray, np.ndarray]) -> None:
    _, empty = scene
    counted = Detection(PERSON, 0.5, LYING)
    (result,) = FallStage(fall_detector).check([FallCheck(empty, [counted], SETTINGS, places_after_vanishing())])
    assert [d.label for d in result.detections] == [PERSON]
    assert result.falls == []


def test_a_model_without_a_fall_class_cannot_be_the_stage(detector: Detector) -> None:
    with pytest.raises(InvalidInput, match="fall class"):
        FallStage(detector)


def test_places_are_where_tracks_vanished_inside_the_picture_and_looked_at_a_few_times() -> None:
    watch = FallWatch()
    at_edge = Box(0.0, 200.0, 30.0, 290.0)  # leaving the picture on the left
    seen = [Detection(PERSON, 0.8, STANDING, track_id=1), Detection(PERSON, 0.8, at_edge, track_id=2)]
    watch.places(seen, 0.0, 768, 576)
    watch.places([], 0.5, 768, 576)
    (place,) = watch.places([], 1.0, 768, 576)
    assert place.x1 < STANDING.x1  # a body length either side of the feet
    assert place.x2 > STANDING.x2
    assert place.y1 < STANDING.y2 < place.y2
    assert watch.places([], 1.2, 768, 576) == [place]  # offered until looked at
    for _ in range(PLACE_CHECKS):
        looked = watch.places([], 1.5, 768, 576)
        assert looked == [place]
        watch.found(FallResult([]), looked)
    assert watch.places([], 2.0, 768, 576) == []


def test_a_track_that_switched_id_next_to_where_it_was_is_no_place() -> None:
    watch = FallWatch()
    watch.places([Detection(PERSON, 0.8, STANDING, track_id=1)], 0.0, 768, 576)
    moved_on = Box(STANDING.x1 + 10, STANDING.y1, STANDING.x2 + 10, STANDING.y2)
    for t in (0.5, 1.0, 1.5):
        assert watch.places([Detection(PERSON, 0.8, moved_on, track_id=9)], t, 768, 576) == []


def test_a_place_where_a_fall_was_seen_is_watched_until_it_is_no_longer_seen() -> None:
    watch = FallWatch()
    place = places_after_vanishing()[0]
    down = Detection(FALLEN_PERSON, 0.7, LYING)
    watch.found(FallResult([], [down]), [place])
    held = watch.carry([])  # between checks, the fall found there holds
    assert held.falls == [down]
    for _ in range(MISSES):
        assert watch.places([], 20.0, 768, 576) == [place]
        watch.found(FallResult([]), [place])
    assert watch.places([], 20.0, 768, 576) == []
    assert watch.carry([]).falls == []


def test_between_checks_a_counted_person_seen_down_stays_down() -> None:
    watch = FallWatch()
    assert watch.due(0.0)
    watch.found(FallResult([Detection(FALLEN_PERSON, 0.6, LYING, track_id=4)]), [])
    assert not watch.due(0.5)
    shifted = Box(LYING.x1 + 2, LYING.y1, LYING.x2 + 2, LYING.y2)
    walker = Detection(PERSON, 0.8, STANDING, track_id=2)
    held = watch.carry([Detection(PERSON, 0.6, shifted, track_id=4), walker])
    assert [d.label for d in held.detections] == [FALLEN_PERSON, PERSON]
    assert watch.due(1.0)

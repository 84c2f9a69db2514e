"""The serialisable observation remote workers send: round trip, and errors at their exact place."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from core.errors import InvalidInput
from detectors.types import Box, Detection
from events.files import draw_detections, sniff
from events.schema import ObservationIn, parse_observation
from events.service import EventsService
from tests.support.factories import observation


def test_round_trip_through_json(evidence_jpeg: bytes) -> None:
    original = observation(evidence=evidence_jpeg, summary="1 person down")
    doc = json.loads(ObservationIn.from_observation(original).model_dump_json())
    assert parse_observation(doc) == original


def test_remote_observations_are_ingested(service: EventsService, evidence_jpeg: bytes) -> None:
    doc = json.loads(ObservationIn.from_observation(observation(evidence=evidence_jpeg)).model_dump_json())
    result = service.apply_remote_observation(doc)
    assert result.case is not None
    assert service.evidence_file(result.alert.id).read_bytes() == evidence_jpeg
    assert service.apply_remote_observation(doc).duplicate


def test_plain_frames_get_their_boxes_drawn(evidence_jpeg: bytes) -> None:
    doc = json.loads(ObservationIn.from_observation(observation(evidence=evidence_jpeg)).model_dump_json())
    drawn = parse_observation({**doc, "evidence_annotated": False}).evidence_jpeg
    assert drawn is not None
    assert sniff(drawn) == "image/jpeg"
    before = cv2.imdecode(np.frombuffer(evidence_jpeg, np.uint8), cv2.IMREAD_COLOR)
    after = cv2.imdecode(np.frombuffer(drawn, np.uint8), cv2.IMREAD_COLOR)
    assert before is not None
    assert after is not None
    # the box edge (10, 20)-(110, 220) is red now; far from it the picture is unchanged (up to JPEG noise)
    assert after[120, 10, 2] > 200 > after[120, 10, 0] + 100
    assert np.abs(after[400:, 400:].astype(int) - before[400:, 400:].astype(int)).mean() < 4
    with pytest.raises(InvalidInput, match="evidence_jpeg: not a decodable JPEG"):
        draw_detections(b"\xff\xd8\xff" + bytes(50), [Detection("person", 0.5, Box(1, 1, 5, 5))])


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"hazard": "smoke"}, "hazard"),
        ({"started_at": "2026-03-02T08:00:00"}, "started_at"),
        ({"seq": -1}, "seq"),
        (
            {"detections": [{"label": "person", "confidence": 2, "box": {"x1": 0, "y1": 0, "x2": 1, "y2": 1}}]},
            "detections[0].confidence",
        ),
        (
            {"detections": [{"label": "person", "confidence": 1, "box": {"x1": 5, "y1": 0, "x2": 1, "y2": 1}}]},
            "detections[0].box.x2",
        ),
        ({"evidence_jpeg_b64": "not base64!"}, "evidence_jpeg_b64"),
        ({"measurements": {"people": "many"}}, "measurements.people"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_errors_name_the_field(change: dict[str, object], where: str) -> None:
    doc = json.loads(ObservationIn.from_observation(observation()).model_dump_json())
    with pytest.raises(InvalidInput) as err:
        parse_observation({**doc, **change})
    assert where in [i.where for i in err.value.issues]


def test_not_an_object() -> None:
    with pytest.raises(InvalidInput, match="must be a JSON object"):
        parse_observation([1, 2])

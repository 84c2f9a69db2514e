"""Boxes suppress each other within a family of labels only: one person is one person, a rider and a bicycle are two."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.labels import BICYCLE, FALLEN_PERSON, MOTORCYCLE, PERSON, VEHICLE, family_of
from detectors.model.tensors import nms
from detectors.pipeline import _suppress
from detectors.types import Box, Detection

# Model classes of this made-up head: 0 person, 1 bicycle, 2 car, 3 truck, 4 backpack (ignored).
FAMILIES = np.array([0, 1, 2, 2, -1], dtype=np.int64)


def raw(*anchors: tuple[tuple[float, float, float, float], dict[int, float]]) -> np.ndarray:
    """A raw prediction of one image: per anchor a box (cx, cy, w, h) and its class scores."""
    out = np.zeros((1, 4 + len(FAMILIES), len(anchors)), dtype=np.float32)
    for a, (box, scores) in enumerate(anchors):
        out[0, :4, a] = box
        for k, v in scores.items():
            out[0, 4 + k, a] = v
    return out


def test_a_rider_and_the_bicycle_under_them_are_both_kept() -> None:
    rider = ((100, 100, 40, 90), {0: 0.9})
    bike = ((100, 120, 50, 60), {1: 0.8})  # overlaps the rider by more than the NMS threshold
    assert sorted(int(r[5]) for r in nms(raw(rider, bike), 0.3, 0.3, FAMILIES)) == [0, 1]
    assert len(nms(raw(rider, bike), 0.3, 0.3)) == 1  # class-agnostic, as for the fall model's Normal/Fall


def test_one_vehicle_called_car_and_truck_is_one_vehicle_with_the_surer_class() -> None:
    car = ((300, 200, 120, 80), {2: 0.6})
    truck = ((302, 201, 118, 80), {3: 0.7})
    (kept,) = nms(raw(car, truck), 0.3, 0.5, FAMILIES)
    assert int(kept[5]) == 3
    assert abs(kept[4] - 0.7) < 1e-6


def test_an_anchor_keeps_the_best_class_of_its_family_and_ignored_classes_never_come_out() -> None:
    both = ((50, 50, 20, 40), {2: 0.4, 3: 0.55, 4: 0.99})
    bag = ((200, 50, 20, 20), {4: 0.95})
    rows = nms(raw(both, bag), 0.3, 0.5, FAMILIES)
    assert [(int(r[5]), round(r[4], 2)) for r in rows] == [(3, 0.55)]


def test_label_families() -> None:
    assert family_of(PERSON) == family_of(FALLEN_PERSON)
    assert family_of(BICYCLE) == family_of(MOTORCYCLE)
    assert len({family_of(PERSON), family_of(VEHICLE), family_of(BICYCLE), family_of("dog")}) == 4


def test_crop_merging_keeps_a_rider_and_their_bicycle() -> None:
    rider = Detection(PERSON, 0.9, Box(80, 55, 120, 145))
    bike = Detection(BICYCLE, 0.7, Box(78, 100, 122, 150))
    again = Detection(PERSON, 0.6, Box(82, 57, 121, 146))  # the rider found again by a neighbouring crop
    assert _suppress([rider, bike, again]) == [rider, bike]


def test_six_sure_anchors_are_suppressed_not_taken_for_an_end_to_end_output() -> None:
    """ultralytics' NMS returns an input with 6 anchors untouched (it takes it for an end-to-end model's
    rows): the anchors left after the confidence filter must still be suppressed and classed."""
    people = [((100 + i, 100, 40, 90), {0: 0.5 + 0.05 * i}) for i in range(6)]  # one person, six anchors
    rows = nms(raw(*people), 0.3, 0.5, FAMILIES)
    assert len(rows) == 1
    assert int(rows[0][5]) == 0
    assert rows[0][4] == pytest.approx(0.75)

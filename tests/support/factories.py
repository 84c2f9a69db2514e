"""Test values built one way: observations (typed, and as a remote worker sends them) and small JPEGs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import cv2
import numpy as np

from detectors.types import Box, Detection, EpisodeState, HazardType, Observation, Severity
from events.schema import ObservationIn

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
A_FALLEN_PERSON = (Detection("fallen_person", 0.9, Box(10, 20, 110, 220), track_id=3),)


def observation(
    episode_id: str = "ep-1",
    *,
    camera_id: str = "C1",
    hazard: HazardType | str = HazardType.FALLEN_PERSON,
    state: EpisodeState | str = EpisodeState.OPENED,
    severity: Severity | str = Severity.HIGH,
    seq: int = 0,
    at: datetime = START,
    zone_id: str | None = None,
    evidence: bytes | None = None,
    summary: str = "",
    people: float = 1.0,
    detections: tuple[Detection, ...] = A_FALLEN_PERSON,
) -> Observation:
    """One step of an episode; by default a fallen person opening on camera C1 at START."""
    return Observation(
        episode_id=episode_id,
        camera_id=camera_id,
        hazard=HazardType(hazard),
        state=EpisodeState(state),
        severity=Severity(severity),
        started_at=at,
        observed_at=at,
        seq=seq,
        zone_id=zone_id,
        summary=summary,
        measurements={"people": people},
        detections=detections,
        evidence_jpeg=evidence,
    )


def remote_observation(
    episode_id: str,
    *,
    camera_id: str = "CAM-01",
    hazard: HazardType | str = HazardType.LOITERING,
    state: EpisodeState | str = EpisodeState.OPENED,
    severity: Severity | str = Severity.MEDIUM,
    seq: int = 0,
    at: datetime = datetime(2026, 1, 1, 8, 0, tzinfo=UTC),
    evidence: bytes | None = None,
) -> dict[str, Any]:
    """An observation as a remote worker sends it (JSON); loitering at medium makes no case on its own."""
    obs = observation(
        episode_id,
        camera_id=camera_id,
        hazard=hazard,
        state=state,
        severity=severity,
        seq=seq,
        at=at,
        evidence=evidence,
        summary=f"{HazardType(hazard)} on {camera_id}",
        people=2,
        detections=(),
    )
    return ObservationIn.from_observation(obs).model_dump(mode="json")


def jpeg(width: int = 64, height: int = 48) -> bytes:
    """A small real JPEG (a gradient), for evidence and photos."""
    row = np.linspace(0, 255, width, dtype=np.uint8)
    image = np.dstack([np.tile(row, (height, 1))] * 3)
    ok, buf = cv2.imencode(".jpg", image)
    assert ok
    return bytes(buf)

"""The serialisable form of an observation, for workers on other machines (JSON over HTTP).

Evidence travels as base64. Validation reports every problem with its path (``detections[2].box.x2``)
and never echoes the input back.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Annotated, Any

from pydantic import AwareDatetime, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from camera_config.issues import pydantic_issues
from core.errors import InvalidInput, Issue
from core.text import CheckedModel
from detectors.types import Box, Detection, EpisodeState, HazardType, Observation, Severity
from events.files import draw_detections
from events.types import HotlineTicket, TriageClass

MAX_EVIDENCE_B64 = 8 * 2**20
"""Base64 text accepted for one snapshot before decoding (the policy's byte limit applies after)."""

Coord = Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)]


class _In(CheckedModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BoxIn(_In):
    x1: Coord = Field(description="Left, pixels of the analysed frame.")
    y1: Coord = Field(description="Top, pixels.")
    x2: Coord = Field(description="Right, pixels; more than x1.")
    y2: Coord = Field(description="Bottom, pixels; more than y1.")

    @field_validator("x2", "y2")
    @classmethod
    def _past_start(cls, v: float, info: ValidationInfo) -> float:
        """x2 right of x1, y2 below y1: a box has an area."""
        start = "x1" if info.field_name == "x2" else "y1"
        if start in info.data and v <= info.data[start]:
            raise ValueError(f"must be more than {start}")
        return v


class DetectionIn(_In):
    label: str = Field(min_length=1, max_length=64, description="gridwatch label: person, fallen_person, ...")
    confidence: float = Field(ge=0, le=1, description="Detector confidence, 0..1.")
    box: BoxIn = Field(description="Where, in pixels of the analysed frame.")
    track_id: int | None = Field(None, ge=0, description="Tracker id, when tracked.")


class ObservationIn(_In):
    """One step of a hazard episode, as a remote worker sends it."""

    episode_id: str = Field(min_length=1, max_length=128, description="The worker's alert id: the idempotency key.")
    camera_id: str = Field(min_length=1, max_length=64, description="Camera the episode is on.")
    hazard: HazardType = Field(description="What the rule saw.")
    state: EpisodeState = Field(description="opened, updated or closed.")
    severity: Severity = Field(description="low, medium, high or critical.")
    started_at: AwareDatetime = Field(description="When the episode began (with time zone).")
    observed_at: AwareDatetime = Field(description="When this step was seen (with time zone).")
    seq: int = Field(0, ge=0, description="Orders the steps of one episode; each step a higher number.")
    zone_id: str | None = Field(None, max_length=64, description="Zone of the camera, when the rule is zonal.")
    summary: str = Field("", max_length=4000, description="One line for people: '7 people at the gate for 40 s'.")
    measurements: dict[str, float] = Field(default_factory=dict, description="Numbers the rule measured.")
    detections: list[DetectionIn] = Field(default_factory=list, max_length=500, description="What was seen.")
    evidence_jpeg_b64: str | None = Field(
        None, max_length=MAX_EVIDENCE_B64, description="Snapshot as base64 JPEG (standard alphabet)."
    )
    evidence_annotated: bool = Field(
        True, description="False: the snapshot is a plain frame, and the boxes of `detections` are drawn on it."
    )

    @field_validator("measurements")
    @classmethod
    def _finite(cls, value: dict[str, float]) -> dict[str, float]:
        bad = sorted(k for k, v in value.items() if not math.isfinite(v))
        if bad:
            raise ValueError(f"not finite: {', '.join(bad)}")
        return value

    @field_validator("evidence_jpeg_b64")
    @classmethod
    def _base64(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("not valid base64") from None
        return value

    @classmethod
    def from_observation(cls, obs: Observation) -> ObservationIn:
        """What a worker sends for one of its observations."""
        return cls(
            episode_id=obs.episode_id,
            camera_id=obs.camera_id,
            hazard=obs.hazard,
            state=obs.state,
            severity=obs.severity,
            started_at=obs.started_at,
            observed_at=obs.observed_at,
            seq=obs.seq,
            zone_id=obs.zone_id,
            summary=obs.summary,
            measurements=dict(obs.measurements),
            detections=[
                DetectionIn(
                    label=d.label,
                    confidence=d.confidence,
                    box=BoxIn(x1=d.box.x1, y1=d.box.y1, x2=d.box.x2, y2=d.box.y2),
                    track_id=d.track_id,
                )
                for d in obs.detections
            ],
            evidence_jpeg_b64=base64.b64encode(obs.evidence_jpeg).decode() if obs.evidence_jpeg else None,
        )

    def to_observation(self) -> Observation:
        detections = tuple(
            Detection(d.label, d.confidence, Box(d.box.x1, d.box.y1, d.box.x2, d.box.y2), d.track_id)
            for d in self.detections
        )
        evidence = base64.b64decode(self.evidence_jpeg_b64) if self.evidence_jpeg_b64 else None
        if evidence is not None and not self.evidence_annotated and detections:
            evidence = draw_detections(evidence, detections)
        return Observation(
            episode_id=self.episode_id,
            camera_id=self.camera_id,
            hazard=self.hazard,
            state=self.state,
            severity=self.severity,
            started_at=self.started_at,
            observed_at=self.observed_at,
            seq=self.seq,
            zone_id=self.zone_id,
            summary=self.summary,
            measurements=dict(self.measurements),
            detections=detections,
            evidence_jpeg=evidence,
        )


def parse_observation(doc: Any) -> Observation:
    """A remote worker's JSON document as an `Observation`, or InvalidInput with every problem."""
    if not isinstance(doc, dict):
        raise InvalidInput(Issue("", "an observation must be a JSON object"))
    try:
        return ObservationIn.model_validate(doc).to_observation()
    except ValidationError as exc:
        raise InvalidInput(pydantic_issues(exc, "")) from None


class HotlineTicketIn(_In):
    """One 12345 hotline ticket as the hotline system exports it."""

    external_id: str = Field(min_length=1, max_length=64, description="The hotline's ticket number (dedup key).")
    grid: str = Field(min_length=1, max_length=64, description="Grid id the ticket is about.")
    title: str = Field(min_length=1, max_length=200, description="Short statement of the problem.")
    description: str = Field("", max_length=4000, description="The caller's account.")
    received_at: AwareDatetime | None = Field(None, description="When the call came in (with time zone).")
    triage: TriageClass | None = Field(None, description="public, collective or private; default: the policy's.")
    severity: Severity = Field(Severity.MEDIUM, description="low, medium, high or critical.")
    location: str = Field("", max_length=300, description="Address or landmark.")
    deadline_at: AwareDatetime | None = Field(None, description="The hotline's own deadline, if it sets one.")

    def to_ticket(self) -> HotlineTicket:
        return HotlineTicket(
            external_id=self.external_id,
            grid_id=self.grid,
            title=self.title,
            description=self.description,
            received_at=self.received_at,
            triage=self.triage,
            severity=self.severity,
            location=self.location,
            deadline_at=self.deadline_at,
        )


def parse_hotline_tickets(doc: Any, where: str = "tickets") -> list[HotlineTicket]:
    """A JSON list of tickets; every problem is reported as ``tickets[3].grid``."""
    if not isinstance(doc, list):
        raise InvalidInput(Issue(where, "must be a list of tickets"))
    issues: list[Issue] = []
    out: list[HotlineTicket] = []
    for i, item in enumerate(doc):
        try:
            out.append(HotlineTicketIn.model_validate(item).to_ticket())
        except ValidationError as exc:
            issues += pydantic_issues(exc, f"{where}[{i}]")
    if issues:
        raise InvalidInput(issues)
    return out

"""Rows (ORM or Core) and column dicts as the typed values events hands out, and checks on them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.errors import Conflict
from detectors.types import EpisodeState, HazardType, Observation, Severity
from events.policy import SEVERITY_RANK
from events.types import (
    ActorRole,
    Alert,
    AlertStatus,
    Attachment,
    AuditEntry,
    Case,
    CaseSource,
    CaseState,
    Comment,
    Level,
    TriageClass,
)


def alert_value(row: Any) -> Alert:
    """From an ORM row or a Core result row (same attribute names)."""
    return Alert(
        id=row.id,
        episode_id=row.episode_id,
        camera_id=row.camera_id,
        zone_id=row.zone_id,
        hazard=HazardType(row.hazard),
        severity=Severity(row.severity),
        episode_state=EpisodeState(row.episode_state),
        status=AlertStatus(row.status),
        seq=row.seq,
        grid_id=row.grid_id,
        community_id=row.community_id,
        street_id=row.street_id,
        started_at=row.started_at,
        last_seen_at=row.last_seen_at,
        received_at=row.received_at,
        closed_at=row.closed_at,
        summary=row.summary,
        measurements=dict(row.measurements),
        updates=row.updates,
        evidence=row.evidence,
        clip=row.clip,
        case_id=row.case_id,
        handled_by=row.handled_by,
        handled_at=row.handled_at,
        dismiss_reason=row.dismiss_reason,
        evidence_removed_at=row.evidence_removed_at,
        evidence_removed_by=row.evidence_removed_by,
        held_back=row.held_back,
    )


def case_value(row: Any) -> Case:
    return Case(
        id=row.id,
        source=CaseSource(row.source),
        state=CaseState(row.state),
        title=row.title,
        triage=TriageClass(row.triage),
        severity=Severity(row.severity),
        level=Level(row.level),
        grid_id=row.grid_id,
        community_id=row.community_id,
        street_id=row.street_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        due_at=row.due_at,
        deadline_at=row.deadline_at,
        hazard=HazardType(row.hazard) if row.hazard else None,
        camera_id=row.camera_id,
        zone_id=row.zone_id,
        assignee_id=row.assignee_id,
        informed_ids=tuple(row.informed),
        reporter_id=row.reporter_id,
        external_id=row.external_id,
        description=row.description,
        location=row.location,
        alert_count=row.alert_count,
        resolved_at=row.resolved_at,
        closed_at=row.closed_at,
        holder=row.holder,
        compound_id=row.compound_id,
    )


def attachment_value(row: Any) -> Attachment:
    return Attachment(
        id=row.id,
        case_id=row.case_id,
        name=row.name,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        path=row.path,
        created_at=row.created_at,
        audit_id=row.audit_id,
        comment_id=row.comment_id,
        removed_at=row.removed_at,
        removed_by=row.removed_by,
    )


def audit_value(row: Any, attachments: Iterable[Attachment] = ()) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        case_id=row.case_id,
        at=row.at,
        actor_id=row.actor_id,
        actor_role=ActorRole(row.actor_role),
        action=row.action,
        from_state=CaseState(row.from_state) if row.from_state else None,
        to_state=CaseState(row.to_state),
        note=row.note,
        data=dict(row.data),
        attachments=tuple(attachments),
    )


def comment_value(row: Any, attachments: Iterable[Attachment] = ()) -> Comment:
    return Comment(row.id, row.case_id, row.at, row.actor_id, ActorRole(row.actor_role), row.text, tuple(attachments))


def max_severity(a: str, b: Severity) -> str:
    """The graver of a stored severity and a new one: an episode's severity only rises."""
    return b.value if SEVERITY_RANK[b] > SEVERITY_RANK[Severity(a)] else a


class Superseded(Conflict):
    """The episode already holds a later step than this one: a worker that sends in order sees it only for a
    step it sent before (the answer was lost); re-sending it changes nothing."""


def check_update(row: Any, obs: Observation) -> None:
    """Refuse an observation that cannot be the next step of the stored episode."""
    for name, stored, given in (
        ("camera_id", row.camera_id, obs.camera_id),
        ("hazard", row.hazard, obs.hazard.value),
        ("zone_id", row.zone_id, obs.zone_id),
    ):
        if stored != given:
            raise Conflict(f'episode "{row.episode_id}" has {name} "{stored}"; this observation says "{given}"')
    if obs.seq < row.seq:
        raise Superseded(
            f'episode "{row.episode_id}": seq {obs.seq} arrived after seq {row.seq}; an out-of-order update '
            "is not applied"
        )
    if obs.seq > row.seq and row.episode_state == EpisodeState.CLOSED.value:
        raise Conflict(f'episode "{row.episode_id}" closed at seq {row.seq}; seq {obs.seq} is not applied')


def detection_json(d: Any) -> dict[str, Any]:
    return {
        "label": d.label,
        "confidence": d.confidence,
        "box": [d.box.x1, d.box.y1, d.box.x2, d.box.y2],
        "track_id": d.track_id,
    }


class Values:
    """Attribute access over a column dict, so `alert_value`/`case_value` read it like a row."""

    __slots__ = ("_d",)

    def __init__(self, d: dict[str, Any]) -> None:
        self._d = d

    def __getattr__(self, name: str) -> Any:
        try:
            return self._d[name]
        except KeyError:
            raise AttributeError(name) from None

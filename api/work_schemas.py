"""HTTP models of alerts, cases and figures: what the console and integrations get and send.

Built from events' frozen values (also those the bus delivers, for server-sent events) and never
from rows. Stored file paths stay inside: evidence and attachments are reached through their URLs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.access import Permission, allowed_actions
from api.errors import ErrorItem
from core.text import CheckedModel
from detectors.types import EpisodeState, HazardType, Severity
from events.lifecycle import TERMINAL, TRANSITIONS
from events.resident import Reporter
from events.types import (
    ActorRole,
    Alert,
    AlertFigures,
    AlertStatus,
    AttachmentInfo,
    AuditEntry,
    Case,
    CaseAction,
    CaseDetail,
    CaseSource,
    CaseState,
    Comment,
    FalseAlarmCount,
    FigureLevel,
    Level,
    RuleFigures,
    TriageClass,
    UnitFigures,
)


class _In(CheckedModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _fields(value: Any) -> dict[str, Any]:
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


# ---------------------------------------------------------------------------- alerts


class AlertPublic(BaseModel):
    """One hazard episode on one camera, as operators see it."""

    id: int = Field(examples=[412])
    episode_id: str = Field(description="The detection worker's id of the episode.", examples=["CAM-01:crowd:1741"])
    camera_id: str = Field(examples=["CAM-01"])
    camera_name: str = Field(description="The camera's name (its id when it was deleted).", examples=["East gate"])
    zone_id: str | None = Field(examples=["plaza"])
    hazard: HazardType = Field(examples=["crowd"])
    severity: Severity = Field(examples=["high"])
    episode_state: EpisodeState = Field(description="opened, updated or closed (the hazard is over).")
    status: AlertStatus = Field(description="new, acknowledged, dismissed, escalated or in_case.")
    grid_id: str = Field(examples=["G-01"])
    community_id: str = Field(examples=["CM-01"])
    street_id: str = Field(examples=["ST-DEMO"])
    started_at: datetime
    last_seen_at: datetime
    received_at: datetime
    closed_at: datetime | None
    summary: str = Field(examples=["7 people in Gate plaza for 40 s"])
    measurements: dict[str, float] = Field(examples=[{"people": 7.0, "duration_s": 40.0}])
    updates: int = Field(description="Observations applied to this alert so far.", examples=[3])
    has_evidence: bool = Field(description="A snapshot can be fetched from evidence_url.")
    evidence_url: str | None = Field(examples=["/api/alerts/412/evidence"])
    evidence_removed: str | None = Field(
        description="Why and when the snapshots and clip were deleted (the evidence URL then answers 410).",
        examples=["removed by retention on 2026-04-01"],
    )
    case_id: int | None = Field(description="The case the alert belongs to.", examples=[None])
    handled_by: str | None = Field(description="Who acknowledged, dismissed or escalated it.", examples=[None])
    handled_at: datetime | None
    dismiss_reason: str | None = Field(examples=[None])
    held_back: str | None = Field(
        None,
        description="The alert-fatigue control that held it back (cooldown, suspend:camera, suspend:grid): it "
        "notified nobody and opened no case.",
        examples=[None],
    )

    @classmethod
    def of(cls, alert: Alert, camera_name: str | None) -> AlertPublic:
        has = alert.evidence is not None and alert.evidence_removed_at is None
        removed = None
        if alert.evidence_removed_at is not None:
            by = "the disk watchdog (disk full)" if alert.evidence_removed_by == "disk" else "retention"
            removed = f"removed by {by} on {alert.evidence_removed_at:%Y-%m-%d}"
        return cls.model_validate(
            {
                **_fields(alert),
                "camera_name": camera_name or alert.camera_id,
                "has_evidence": has,
                "evidence_url": f"/api/alerts/{alert.id}/evidence" if alert.evidence is not None else None,
                "evidence_removed": removed,
            }
        )


class AlertPage(BaseModel):
    items: list[AlertPublic]
    next_cursor: str | None = Field(description="Pass back as ?cursor= for the next page; null at the end.")


class DismissBody(_In):
    reason: str = Field(min_length=1, max_length=200, description="Why it is a false alarm.", examples=["shadow"])


class NoteBody(_In):
    note: str = Field("", max_length=4000, description="Optional note for the case's trail.", examples=["seen live"])


# ---------------------------------------------------------------------------- cases


class CasePublic(BaseModel):
    """A case on the board."""

    id: int = Field(examples=[57])
    source: CaseSource = Field(
        description="camera, patrol, hotline (12345 tickets) or resident (reports through Open311)."
    )
    state: CaseState
    title: str = Field(examples=["Crowd gathering: camera CAM-01"])
    triage: TriageClass = Field(description="public, collective or private matter.")
    severity: Severity
    level: Level = Field(description="Who answers for it now: grid, community or street.")
    grid_id: str = Field(examples=["G-01"])
    community_id: str = Field(examples=["CM-01"])
    street_id: str = Field(examples=["ST-DEMO"])
    created_at: datetime
    updated_at: datetime
    due_at: datetime = Field(description="First deadline; on-time figures are measured against it.")
    deadline_at: datetime = Field(description="Current deadline (moves on escalation and reopening).")
    hazard: HazardType | None
    camera_id: str | None = Field(examples=["CAM-01"])
    camera_name: str | None = Field(examples=["East gate"])
    zone_id: str | None
    assignee_id: str | None = Field(description="Person id of whoever has the task.", examples=["P-GW-01"])
    assignee_name: str | None = Field(
        description="Their name in the site model (null without an assignee or for an unknown id).",
        examples=["Li Na"],
    )
    informed_ids: list[str] = Field(description="Building leaders and party group members told of it.")
    reporter_id: str | None = Field(examples=["gridwatch"])
    external_id: str | None = Field(description="The hotline's ticket number.", examples=[None])
    description: str
    location: str
    alert_count: int = Field(examples=[1])
    resolved_at: datetime | None
    closed_at: datetime | None
    holder: str = Field(
        description="Who holds it now: grid:<id> (its worker), company:<id> (a property company, for collective "
        "matters) or partner:<id> (a partner unit the centre dispatched it to).",
        examples=["grid:G-01"],
    )
    compound_id: str | None = Field(description="The compound of the camera it came from.", examples=["K-01"])
    overdue: bool = Field(description="Open and past its first deadline (due_at).")
    allowed_actions: list[CaseAction] = Field(
        description="What the caller may do to the case now (its state and the caller's role); "
        "POST /transitions accepts exactly these.",
        examples=[["accept"]],
    )
    note_required: list[CaseAction] = Field(
        description="Of allowed_actions, those that need a note (feedback or a reason).", examples=[[]]
    )

    @classmethod
    def of(
        cls,
        case: Case,
        camera_name: str | None,
        now: datetime,
        permissions: frozenset[Permission] = frozenset(),
        *,
        assignee_name: str | None = None,
    ) -> CasePublic:
        """The actions are those of a caller with ``permissions`` (none by default)."""
        out = cls.model_validate(
            {
                **_fields(case),
                "camera_name": camera_name,
                "assignee_name": assignee_name,
                "informed_ids": list(case.informed_ids),
                "overdue": False,
                "allowed_actions": [],
                "note_required": [],
            }
        )
        out.overdue = out.state not in TERMINAL and now > out.due_at
        out.for_caller(permissions)
        return out

    def for_caller(self, permissions: frozenset[Permission]) -> None:
        """Fill in the actions a caller with ``permissions`` may take."""
        self.allowed_actions, self.note_required = caller_actions(self.state, permissions)


def caller_actions(state: CaseState, permissions: frozenset[Permission]) -> tuple[list[CaseAction], list[CaseAction]]:
    """The actions a caller with ``permissions`` may take on a case in ``state``, and those of them
    that need a note."""
    allowed = allowed_actions(state, permissions)
    return allowed, [a for a in allowed if TRANSITIONS[a].needs_note]


class CasePage(BaseModel):
    items: list[CasePublic]
    next_cursor: str | None = Field(description="Pass back as ?cursor= for the next page; null at the end.")


class CaseCounts(BaseModel):
    """Cases per state (for the board's column headers)."""

    reported: int
    registered: int
    dispatched: int
    accepted: int
    in_progress: int
    resolved: int
    verified: int
    closed: int
    dismissed: int
    escalated: int
    reopened: int

    @classmethod
    def of(cls, counts: Mapping[CaseState, int]) -> CaseCounts:
        return cls.model_validate({state.value: counts.get(state, 0) for state in CaseState})


class AttachmentPublic(BaseModel):
    id: int = Field(examples=[9])
    case_id: int = Field(examples=[57])
    name: str = Field(examples=["after.jpg"])
    content_type: str = Field(description="Recognised from the bytes.", examples=["image/jpeg"])
    size_bytes: int = Field(examples=[183204])
    sha256: str
    created_at: datetime
    url: str = Field(description="Answers 410 once the file was removed.", examples=["/api/attachments/9"])
    removed_at: datetime | None = Field(description="When retention deleted the file; it stays listed.")
    removed: str | None = Field(
        description="Says the file was removed and when, for people.", examples=["removed by retention on 2027-04-01"]
    )

    @classmethod
    def of(cls, a: AttachmentInfo) -> AttachmentPublic:
        return cls(
            removed_at=a.removed_at,
            removed=f"removed by retention on {a.removed_at:%Y-%m-%d}" if a.removed_at is not None else None,
            id=a.id,
            case_id=a.case_id,
            name=a.name,
            content_type=a.content_type,
            size_bytes=a.size_bytes,
            sha256=a.sha256,
            created_at=a.created_at,
            url=f"/api/attachments/{a.id}",
        )


class AuditEntryPublic(BaseModel):
    """One step of a case's trail: who did what, when, from which state to which."""

    id: int
    at: datetime
    actor_id: str = Field(examples=["li.na"])
    actor_role: ActorRole
    action: str = Field(examples=["resolve"])
    from_state: CaseState | None
    to_state: CaseState
    note: str = Field(examples=["crowd dispersed"])
    data: dict[str, Any]
    attachments: list[AttachmentPublic]

    @classmethod
    def of(cls, e: AuditEntry) -> AuditEntryPublic:
        return cls(
            id=e.id,
            at=e.at,
            actor_id=e.actor_id,
            actor_role=e.actor_role,
            action=e.action,
            from_state=e.from_state,
            to_state=e.to_state,
            note=e.note,
            data=dict(e.data),
            attachments=[AttachmentPublic.of(a) for a in e.attachments],
        )


class CommentPublic(BaseModel):
    id: int
    case_id: int
    at: datetime
    actor_id: str = Field(examples=["operator"])
    actor_role: ActorRole
    text: str = Field(examples=["called the property office"])
    attachments: list[AttachmentPublic] = Field(description="Photos that came with it.")

    @classmethod
    def of(cls, c: Comment) -> CommentPublic:
        return cls(
            id=c.id,
            case_id=c.case_id,
            at=c.at,
            actor_id=c.actor_id,
            actor_role=c.actor_role,
            text=c.text,
            attachments=[AttachmentPublic.of(a) for a in c.attachments],
        )


class ReporterPublic(BaseModel):
    """The resident who reported a case through an app, for the people who handle it to call back.

    Empty strings where the app sent nothing. The device and account ids the app sent stay inside."""

    name: str = Field(description="First and last name as sent (family name first in Chinese).", examples=["王小明"])
    phone: str = Field(examples=["13800000000"])
    email: str = Field(examples=["wang@example.cn"])
    media_url: str = Field(description="A photo link the app sent (http or https).", examples=[""])
    client: str = Field(description="The app the report came through (its Open311 client name).", examples=["lxq"])

    @classmethod
    def of(cls, r: Reporter) -> ReporterPublic:
        return cls(name=r.name, phone=r.phone, email=r.email, media_url=r.media_url, client=r.client)


class CaseDetailPublic(BaseModel):
    case: CasePublic
    audit: list[AuditEntryPublic] = Field(description="Oldest first, each step with its files.")
    comments: list[CommentPublic] = Field(description="Oldest first.")
    alert_ids: list[int] = Field(description="Alerts in this case.")
    reporter: ReporterPublic | None = Field(
        None,
        description="A resident case's reporter and contact, for callers who handle cases (cases:work) in whose "
        "scope it lies; null for every other case and caller. Each time it is served, the access audit records "
        "reporter_viewed.",
    )

    @classmethod
    def of(
        cls,
        d: CaseDetail,
        camera_name: str | None,
        now: datetime,
        permissions: frozenset[Permission],
        assignee_name: str | None = None,
        reporter: Reporter | None = None,
    ) -> CaseDetailPublic:
        return cls(
            case=CasePublic.of(d.case, camera_name, now, permissions, assignee_name=assignee_name),
            audit=[AuditEntryPublic.of(e) for e in d.audit],
            comments=[CommentPublic.of(c) for c in d.comments],
            alert_ids=list(d.alert_ids),
            reporter=ReporterPublic.of(reporter) if reporter is not None else None,
        )


class TransitionBody(_In):
    action: CaseAction = Field(description="What to do; which actions a state allows is the case loop's table.")
    note: str = Field("", max_length=4000, description="Resolving needs feedback; dismissing and reopening a reason.")
    assignee_id: str | None = Field(
        None, min_length=1, max_length=64, description="Dispatch only: hand the case to this person instead."
    )
    holder: str | None = Field(
        None,
        min_length=3,
        max_length=80,
        description="Dispatch only: hand the case to partner:<unit id>, company:<property company id> or back to "
        "grid:<grid id>; its people then see and work it.",
        examples=["partner:PU-01"],
    )


class CommentBody(_In):
    text: str = Field(min_length=1, max_length=4000, examples=["called the property office"])


class CommentForm(_In):
    """A comment sent as a form: the text may be empty when photos come with it (the service checks)."""

    text: str = Field("", max_length=4000, examples=["barrier up; photos of the gate"])


class PatrolReportBody(_In):
    grid_id: str = Field(min_length=1, max_length=64, description="The grid the problem is in.", examples=["G-01"])
    title: str = Field(min_length=1, max_length=200, examples=["Broken fence by Block 2"])
    description: str = Field("", max_length=4000, examples=["a panel is down; children climb through"])
    severity: Severity = Field(Severity.MEDIUM, description="low, medium, high or critical.")
    hazard: HazardType | None = Field(None, description="When it is one of the hazard types.")
    location: str = Field("", max_length=300, description="Address or landmark.", examples=["Block 2, north side"])


# ---------------------------------------------------------------------------- figures


class RuleFiguresPublic(BaseModel):
    hazard: HazardType
    alerts: int
    dismissed: int
    false_alarm_rate: float | None = Field(description="dismissed / alerts; null without alerts.")

    @classmethod
    def of(cls, r: RuleFigures) -> RuleFiguresPublic:
        return cls(hazard=r.hazard, alerts=r.alerts, dismissed=r.dismissed, false_alarm_rate=r.false_alarm_rate)


class UnitFiguresPublic(BaseModel):
    """Closed-loop figures of one grid, community or street for cases created in the period."""

    level: FigureLevel
    unit_id: str = Field(examples=["G-01"])
    received: int
    closed: int
    dismissed: int
    closed_on_time: int
    completion_rate: float | None = Field(description="closed / (received - dismissed).", examples=[0.98])
    on_time_rate: float | None = Field(description="closed by the first deadline / closed.", examples=[0.9])
    mean_close_s: float | None = Field(description="Mean time from creation to closing, seconds.")
    p90_close_s: float | None = Field(description="90th percentile (nearest rank) of the same.")
    rules: list[RuleFiguresPublic] = Field(description="Alerts and false alarms per hazard type.")

    @classmethod
    def of(cls, u: UnitFigures) -> UnitFiguresPublic:
        return cls.model_validate({**_fields(u), "rules": [RuleFiguresPublic.of(r) for r in u.rules]})


class AlertBucketPublic(BaseModel):
    start: datetime = Field(description="The bucket is [start, start + bucket_s).")
    counts: dict[HazardType, int] = Field(description="Alerts per hazard (absent: none).", examples=[{"crowd": 3}])
    total: int = Field(examples=[3])


class CameraAlertsPublic(BaseModel):
    camera_id: str = Field(examples=["CAM-02"])
    camera_name: str = Field(examples=["Garden path"])
    alerts: int = Field(examples=[40])
    dismissed: int = Field(description="Dismissed as false alarms.", examples=[12])
    false_alarm_rate: float | None = Field(description="dismissed / alerts; null without alerts.", examples=[0.3])


class AlertFiguresPublic(BaseModel):
    """Alerts received in [since, until) in the caller's scope: per hazard over time, and per camera."""

    since: datetime
    until: datetime
    bucket: Literal["hour", "day"]
    bucket_s: int = Field(description="Length of a bucket in seconds.", examples=[86400])
    total: int = Field(examples=[57])
    hazards: list[HazardType] = Field(description="Hazards with alerts in the period.", examples=[["crowd"]])
    buckets: list[AlertBucketPublic] = Field(description="Every bucket from since on, empty ones too.")
    cameras: list[CameraAlertsPublic] = Field(
        description="Cameras with alerts in the period, highest false-alarm rate first."
    )

    @classmethod
    def of(cls, f: AlertFigures, bucket: Literal["hour", "day"], names: Mapping[str, str]) -> AlertFiguresPublic:
        buckets = [
            AlertBucketPublic(start=b.start, counts=dict(b.counts), total=sum(b.counts.values())) for b in f.buckets
        ]
        return cls(
            since=f.since,
            until=f.until,
            bucket=bucket,
            bucket_s=f.bucket_s,
            total=sum(b.total for b in buckets),
            hazards=sorted({h for b in f.buckets for h in b.counts}),
            buckets=buckets,
            cameras=[
                CameraAlertsPublic(
                    camera_id=c.camera_id,
                    camera_name=names.get(c.camera_id, c.camera_id),
                    alerts=c.alerts,
                    dismissed=c.dismissed,
                    false_alarm_rate=c.false_alarm_rate,
                )
                for c in f.cameras
            ],
        )


class FalseAlarmPublic(BaseModel):
    camera_id: str = Field(examples=["CAM-02"])
    camera_name: str = Field(examples=["Garden path"])
    hazard: HazardType
    reason: str = Field(examples=["swaying tree"])
    count: int = Field(examples=[12])

    @classmethod
    def of(cls, f: FalseAlarmCount, camera_name: str | None) -> FalseAlarmPublic:
        return cls(
            camera_id=f.camera_id,
            camera_name=camera_name or f.camera_id,
            hazard=f.hazard,
            reason=f.reason,
            count=f.count,
        )


# ---------------------------------------------------------------------------- worker delivery


class DeliveryItem(BaseModel):
    """What became of one observation of a delivery."""

    index: int = Field(description="Its place in the batch (0 for a single document).")
    status: int = Field(description="200 applied or duplicate; 404, 409 or 422 refused (see error).")
    episode_id: str | None = Field(examples=["CAM-01:crowd:1741"])
    alert_id: int | None = Field(examples=[412])
    created: bool = Field(description="This observation opened a new alert.")
    duplicate: bool = Field(description="Applied before (same episode and seq): nothing changed.")
    superseded: bool = Field(
        False,
        description="Refused (409) because the episode already holds a later step: for a worker that sends in "
        "order, a step it sent before whose answer it lost. Nothing to send again.",
    )
    error: str | None = Field(description="Why it was refused.", examples=[None])


class DeliveryReport(BaseModel):
    """Per observation, in the order sent; refused ones are also listed in ``errors`` by their place."""

    detail: str = Field(examples=["2 applied, 0 refused"])
    errors: list[ErrorItem] = Field(
        description="Refused input: where (``observations[1].seq``) and message.",
        examples=[[{"where": "observations[1].seq", "message": "Input should be greater than or equal to 0"}]],
    )
    results: list[DeliveryItem]

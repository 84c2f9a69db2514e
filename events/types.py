"""What events hands downstream (api, outbound channels): alerts, cases, their audit trail and figures.

Frozen values, never ORM rows, so a caller cannot write one back by accident and a value can be
serialised as it is.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from detectors.types import EpisodeState, HazardType, Severity

T = TypeVar("T")


class AlertStatus(enum.StrEnum):
    """Where the operators are with an alert (independent of the episode being open or closed)."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    DISMISSED = "dismissed"
    ESCALATED = "escalated"
    IN_CASE = "in_case"


class CaseState(enum.StrEnum):
    """The closed loop after GB/T 30428, plus the three side states."""

    REPORTED = "reported"
    REGISTERED = "registered"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    VERIFIED = "verified"
    CLOSED = "closed"
    DISMISSED = "dismissed"
    ESCALATED = "escalated"
    REOPENED = "reopened"


class CaseAction(enum.StrEnum):
    """What a person (or the escalation tick) does to a case; `events.lifecycle` says where each leads."""

    REGISTER = "register"
    DISPATCH = "dispatch"
    ACCEPT = "accept"
    START = "start"
    RESOLVE = "resolve"
    VERIFY = "verify"
    CLOSE = "close"
    REOPEN = "reopen"
    DISMISS = "dismiss"
    ESCALATE = "escalate"


class TriageClass(enum.StrEnum):
    """The "three matters": who has to act."""

    PUBLIC = "public"
    """Government departments."""
    COLLECTIVE = "collective"
    """The property company or the compound."""
    PRIVATE = "private"
    """Residents, mediated by building leaders."""


class Level(enum.StrEnum):
    """Who answers for a case now; escalation moves it up."""

    GRID = "grid"
    COMMUNITY = "community"
    STREET = "street"


class HolderKind(enum.StrEnum):
    """Who holds a case: the grid (its worker), a property company (collective matters), or a partner unit."""

    GRID = "grid"
    COMPANY = "company"
    PARTNER = "partner"


def holder_key(kind: HolderKind, ident: str) -> str:
    """``company:PC-01``: the one string a case's holder is stored, filtered and scoped by."""
    return f"{kind.value}:{ident}"


def split_holder(holder: str) -> tuple[HolderKind, str]:
    kind, _, ident = holder.partition(":")
    return HolderKind(kind), ident


class FigureLevel(enum.StrEnum):
    """The units figures are counted per: the grid hierarchy, or who held the cases."""

    GRID = "grid"
    COMMUNITY = "community"
    STREET = "street"
    PROPERTY_COMPANY = "property_company"
    PARTNER_UNIT = "partner_unit"


class CaseSource(enum.StrEnum):
    CAMERA = "camera"
    PATROL = "patrol"
    HOTLINE = "hotline"
    RESIDENT = "resident"
    """A resident's report through an app (Open311 GeoReport v2, `api.routes.open311`), placed by its point."""


class ActorRole(enum.StrEnum):
    OPERATOR = "operator"
    GRID_WORKER = "grid_worker"
    COMMUNITY = "community"
    STREET = "street"
    PROPERTY = "property"
    """A property company's or compound's staff."""
    PARTNER = "partner"
    """A partner unit's member."""
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something. Plain identifiers: authentication is the API's job."""

    id: str
    role: ActorRole


SYSTEM = Actor("gridwatch", ActorRole.SYSTEM)


@dataclass(frozen=True, slots=True)
class Route:
    """Who answers for a place: the grid, its worker, and who is informed."""

    grid_id: str
    community_id: str
    street_id: str
    assignee_id: str | None
    """The grid's worker; None when the grid has none (the case still lands on the grid)."""
    informed_ids: tuple[str, ...] = ()
    """Building leaders of the grid and members of its party group."""
    compound_id: str | None = None
    """The camera's compound, when the case comes from a camera in one."""
    company_id: str | None = None
    """That compound's property company: collective matters go to it."""


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    episode_id: str
    camera_id: str
    zone_id: str | None
    hazard: HazardType
    severity: Severity
    episode_state: EpisodeState
    status: AlertStatus
    seq: int
    grid_id: str
    community_id: str
    street_id: str
    started_at: datetime
    last_seen_at: datetime
    received_at: datetime
    closed_at: datetime | None = None
    summary: str = ""
    measurements: Mapping[str, float] = field(default_factory=dict)
    updates: int = 1
    evidence: str | None = None
    """Path of the latest evidence snapshot, relative to the data dir."""
    clip: str | None = None
    case_id: int | None = None
    handled_by: str | None = None
    handled_at: datetime | None = None
    dismiss_reason: str | None = None
    evidence_removed_at: datetime | None = None
    """When the snapshots and clip were deleted (``evidence`` and ``clip`` still name what there was)."""
    evidence_removed_by: str | None = None
    """``retention`` or ``disk`` (the disk watchdog)."""
    held_back: str | None = None
    """The alert-fatigue control that held it back: ``cooldown``, ``suspend:camera`` or ``suspend:grid``;
    it notified nobody and opened no case."""


@dataclass(frozen=True, slots=True)
class Case:
    id: int
    source: CaseSource
    state: CaseState
    title: str
    triage: TriageClass
    severity: Severity
    level: Level
    grid_id: str
    community_id: str
    street_id: str
    created_at: datetime
    updated_at: datetime
    due_at: datetime
    """First deadline, fixed at creation: on-time figures are measured against it."""
    deadline_at: datetime
    """Current deadline: moves on escalation and reopening."""
    hazard: HazardType | None = None
    camera_id: str | None = None
    zone_id: str | None = None
    assignee_id: str | None = None
    informed_ids: tuple[str, ...] = ()
    reporter_id: str | None = None
    external_id: str | None = None
    description: str = ""
    location: str = ""
    alert_count: int = 0
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    holder: str = ""
    """Who holds it now (`holder_key`): ``grid:G-01``, ``company:PC-01`` or ``partner:PU-01``."""
    compound_id: str | None = None


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    """A stored file as it may leave the process: without where it is stored (files are fetched
    through the API)."""

    id: int
    case_id: int
    name: str
    content_type: str
    size_bytes: int
    sha256: str
    created_at: datetime
    audit_id: int | None = None
    comment_id: int | None = None
    removed_at: datetime | None = None
    """When retention deleted the file; the attachment stays listed with this date."""
    removed_by: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment(AttachmentInfo):
    path: str = field(kw_only=True)
    """Relative to the data dir."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of a case's trail: a transition (from ≠ to) or a note on it (absorbed alert, re-route)."""

    id: int
    case_id: int
    at: datetime
    actor_id: str
    actor_role: ActorRole
    action: str
    from_state: CaseState | None
    to_state: CaseState
    note: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class Comment:
    id: int
    case_id: int
    at: datetime
    actor_id: str
    actor_role: ActorRole
    text: str
    attachments: tuple[AttachmentInfo, ...] = ()
    """Photos of a progress note (the service's own values carry their `Attachment`, path and all)."""


@dataclass(frozen=True, slots=True)
class CaseDetail:
    case: Case
    audit: tuple[AuditEntry, ...]
    comments: tuple[Comment, ...]
    alert_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a keyset-paginated list; pass ``next_cursor`` back for the next one (None: the end)."""

    items: tuple[T, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ObservationResult:
    alert: Alert
    created: bool
    """False for an update or a redelivery."""
    duplicate: bool = False
    """True when the observation had been applied before (same episode and seq): nothing changed."""
    case: Case | None = None


@dataclass(frozen=True, slots=True)
class NewAttachment:
    """A file handed in with a transition or a report; checked against the policy's limits."""

    name: str
    content: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class PatrolReport:
    """A problem a grid worker found on patrol."""

    grid_id: str
    title: str
    description: str = ""
    triage: TriageClass | None = None
    """None: the policy's default for patrol reports."""
    severity: Severity = Severity.MEDIUM
    hazard: HazardType | None = None
    location: str = ""
    camera_id: str | None = None


@dataclass(frozen=True, slots=True)
class HotlineTicket:
    """A ticket from the 12345 citizen hotline; ``external_id`` is the hotline's own number."""

    external_id: str
    grid_id: str
    title: str
    description: str = ""
    received_at: datetime | None = None
    triage: TriageClass | None = None
    severity: Severity = Severity.MEDIUM
    location: str = ""
    deadline_at: datetime | None = None
    """The hotline's own deadline, when it sets one; otherwise the policy's."""


@dataclass(frozen=True, slots=True)
class ResidentReport:
    """A problem a resident reported through an app, at a point: placed in the grid that contains it.

    ``kind`` is a service code of `events.resident.KINDS`; contact details are kept for the grid's people and
    never handed back to an app."""

    client: str
    """The app it came through (an Open311 client's name)."""
    kind: str
    lat: float
    lon: float
    description: str = ""
    address: str = ""
    address_id: str = ""
    media_url: str = ""
    email: str = ""
    phone: str = ""
    first_name: str = ""
    last_name: str = ""
    device_id: str = ""
    account_id: str = ""
    idempotency_key: str | None = None
    """The app's own key for this report: sent again, the same case answers (no second one)."""


@dataclass(frozen=True, slots=True)
class ResidentRequest:
    """A resident report as the public sees it: the case's state, where and what, and the reply it got.

    No contact details, no people's names, no internal notes: ``reply`` is the note of the step that
    ended the case (close or dismiss), which the centre writes for the resident."""

    case: Case
    client: str
    kind: str
    lat: float
    lon: float
    address: str
    address_id: str
    media_url: str
    reply: str = ""
    created: bool = True
    """False when the app's idempotency key named a report made before."""


@dataclass(frozen=True, slots=True)
class HotlineImportReport:
    created: tuple[int, ...]
    """Case ids made from new tickets."""
    duplicates: tuple[str, ...]
    """External ids already imported before (or twice in the batch): skipped."""


class _FalseAlarms:
    """Alerts and how many of them were dismissed as false alarms."""

    __slots__ = ()
    alerts: int
    dismissed: int

    @property
    def false_alarm_rate(self) -> float | None:
        return self.dismissed / self.alerts if self.alerts else None


@dataclass(frozen=True, slots=True)
class RuleFigures(_FalseAlarms):
    """False alarms of one rule (hazard type) in one unit and period."""

    hazard: HazardType
    alerts: int
    dismissed: int


@dataclass(frozen=True, slots=True)
class UnitFigures:
    """Closed-loop figures of one grid, community or street over a period (cases created in it).

    completion_rate = closed / (received - dismissed); on_time_rate = closed by the first deadline /
    closed; times to close are from creation to closing, in seconds; p90 is the nearest-rank 90th
    percentile.
    """

    level: FigureLevel
    unit_id: str
    received: int
    closed: int
    dismissed: int
    closed_on_time: int
    completion_rate: float | None
    on_time_rate: float | None
    mean_close_s: float | None
    p90_close_s: float | None
    rules: tuple[RuleFigures, ...] = ()


@dataclass(frozen=True, slots=True)
class AlertBucket:
    """Alerts received in [start, start + the bucket's length), per hazard type."""

    start: datetime
    counts: Mapping[HazardType, int]


@dataclass(frozen=True, slots=True)
class CameraAlertCount(_FalseAlarms):
    """Alerts of one camera over a period, and how many were dismissed as false alarms."""

    camera_id: str
    alerts: int
    dismissed: int


@dataclass(frozen=True, slots=True)
class AlertFigures:
    """Alerts over time per hazard (every bucket of the period, empty ones too) and per camera."""

    since: datetime
    until: datetime
    bucket_s: int
    buckets: tuple[AlertBucket, ...]
    cameras: tuple[CameraAlertCount, ...]


@dataclass(frozen=True, slots=True)
class GridActivity:
    """How busy one grid is: its cases open now, and the alerts it received over a recent period."""

    grid_id: str
    open_cases: int
    alerts: int


@dataclass(frozen=True, slots=True)
class FalseAlarmCount:
    camera_id: str
    hazard: HazardType
    reason: str
    count: int

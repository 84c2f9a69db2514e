"""Alert → case (and patrol report / hotline ticket / resident report → case), planned once, without a database.

Both writers of cases use these plans: the operator path (`EventsService`, one case per call) and
the batch path (`ObservationBatch`, many cases per statement). Deciding the open key, title,
deadline, state and trail here keeps the two from drifting apart; they only differ in how the rows
go in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from detectors.types import HazardType, Severity
from events.policy import Policy
from events.resident import BY_CODE
from events.types import (
    Actor,
    ActorRole,
    Alert,
    CaseAction,
    CaseSource,
    CaseState,
    HolderKind,
    HotlineTicket,
    Level,
    PatrolReport,
    ResidentReport,
    Route,
    TriageClass,
    holder_key,
)

HOTLINE = Actor("12345", ActorRole.SYSTEM)
"""Who reports a case imported from the 12345 hotline."""
ADD_ALERT = "add_alert"
"""The trail's action when an alert joins an open case (the state stays as it is)."""
REPORT = "report"


@dataclass(frozen=True, slots=True)
class AuditStep:
    """One row of a case's trail before it is written: a transition (from ≠ to) or a note on one."""

    action: str
    from_state: CaseState | None
    to_state: CaseState
    actor: Actor
    at: datetime
    note: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    def columns(self, case_id: int) -> dict[str, Any]:
        """The ``case_audit`` row: the one place that decides what a trail row holds."""
        return {
            "case_id": case_id,
            "at": self.at,
            "actor_id": self.actor.id,
            "actor_role": self.actor.role.value,
            "action": self.action,
            "from_state": self.from_state.value if self.from_state else None,
            "to_state": self.to_state.value,
            "note": self.note,
            "data": dict(self.data),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseDraft:
    """A new case before it has an id: already in its final state (e.g. dispatched)."""

    # what came in, and from where
    source: CaseSource
    external_id: str | None
    title: str
    description: str
    location: str
    hazard: HazardType | None
    camera_id: str | None
    zone_id: str | None
    alert_count: int
    # how it is handled, and by whom
    state: CaseState
    triage: TriageClass
    severity: Severity
    open_key: str | None
    route: Route
    holder: str
    assignee_id: str | None
    reporter: Actor
    # when
    created_at: datetime
    updated_at: datetime
    deadline_at: datetime
    """Also the first deadline (``due_at``): a new case has not moved it yet."""

    def columns(self) -> dict[str, Any]:
        """The ``cases`` row (without its id)."""
        return {
            "source": self.source.value,
            "external_id": self.external_id,
            "state": self.state.value,
            "is_open": True,
            "open_key": self.open_key,
            "title": self.title,
            "description": self.description,
            "location": self.location,
            "triage": self.triage.value,
            "severity": self.severity.value,
            "level": Level.GRID.value,
            "hazard": self.hazard.value if self.hazard else None,
            "grid_id": self.route.grid_id,
            "community_id": self.route.community_id,
            "street_id": self.route.street_id,
            "camera_id": self.camera_id,
            "zone_id": self.zone_id,
            "assignee_id": self.assignee_id,
            "holder": self.holder,
            "compound_id": self.route.compound_id,
            "informed": list(self.route.informed_ids),
            "reporter_id": self.reporter.id,
            "alert_count": self.alert_count,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "due_at": self.deadline_at,
            "deadline_at": self.deadline_at,
            "resolved_at": None,
            "closed_at": None,
        }


@dataclass(frozen=True, slots=True)
class CasePlan:
    """A new case and the trail that brought it to its state, oldest step first."""

    draft: CaseDraft
    steps: tuple[AuditStep, ...]


def absorb_key(policy: Policy, camera_id: str, hazard: HazardType) -> str | None:
    """The key under which alerts of one camera and hazard share an open case; None when the policy
    gives every alert its own case."""
    return f"{camera_id}|{hazard.value}" if policy.absorb_into_open_case else None


def plan_case(
    policy: Policy,
    *,
    source: CaseSource,
    title: str,
    triage: TriageClass,
    severity: Severity,
    route: Route,
    actor: Actor,
    now: datetime,
    created_at: datetime | None = None,
    deadline_at: datetime | None = None,
    dispatch: bool = False,
    note: str = "",
    description: str = "",
    location: str = "",
    hazard: HazardType | None = None,
    camera_id: str | None = None,
    zone_id: str | None = None,
    open_key: str | None = None,
    external_id: str | None = None,
    alert_count: int = 0,
) -> CasePlan:
    """A reported case; ``dispatch`` also registers it and hands it to its holder at once, one trail step each:
    a collective matter on a compound to the compound's property company (when the policy says so), anything
    else to the grid's worker (when the grid has one). The deadline runs from ``created_at`` unless given."""
    created = created_at or now
    company = route.company_id if triage is TriageClass.COLLECTIVE and policy.collective_to_company else None
    holder = holder_key(HolderKind.COMPANY, company) if company else holder_key(HolderKind.GRID, route.grid_id)
    assignee = None if company else route.assignee_id
    steps = [AuditStep(REPORT, None, CaseState.REPORTED, actor, now, note, {"source": source.value, "holder": holder})]
    if dispatch:
        steps.append(AuditStep(CaseAction.REGISTER.value, CaseState.REPORTED, CaseState.REGISTERED, actor, now))
        if company or assignee is not None:
            data = {"holder": holder} if company else {"assignee_id": assignee}
            steps.append(
                AuditStep(CaseAction.DISPATCH.value, CaseState.REGISTERED, CaseState.DISPATCHED, actor, now, "", data)
            )
    draft = CaseDraft(
        source=source,
        state=steps[-1].to_state,
        title=title[:200],
        triage=triage,
        severity=severity,
        route=route,
        holder=holder,
        assignee_id=assignee,
        reporter=actor,
        created_at=created,
        updated_at=now,
        deadline_at=deadline_at or created + policy.deadline(severity, hazard),
        description=description,
        location=location,
        hazard=hazard,
        camera_id=camera_id,
        zone_id=zone_id,
        open_key=open_key,
        external_id=external_id,
        alert_count=alert_count,
    )
    return CasePlan(draft, tuple(steps))


def plan_alert_case(
    policy: Policy, alert: Alert, route: Route, actor: Actor, now: datetime, note: str = ""
) -> CasePlan:
    """A camera case for a stored alert: titled after its hazard, registered and dispatched at once."""
    hp = policy.hazard(alert.hazard)
    return plan_case(
        policy,
        source=CaseSource.CAMERA,
        title=f"{hp.title}: camera {alert.camera_id}",
        description=alert.summary,
        triage=hp.triage,
        severity=alert.severity,
        hazard=alert.hazard,
        route=route,
        camera_id=alert.camera_id,
        zone_id=alert.zone_id,
        actor=actor,
        note=note,
        now=now,
        open_key=absorb_key(policy, alert.camera_id, alert.hazard),
        dispatch=True,
        alert_count=1,
    )


def plan_absorb(alert: Alert, state: CaseState, actor: Actor, now: datetime, note: str = "") -> AuditStep:
    """The trail step of an alert joining an open case (which keeps its state)."""
    data = {"alert_id": alert.id, "episode_id": alert.episode_id}
    return AuditStep(ADD_ALERT, state, state, actor, now, note, data)


def plan_patrol_case(policy: Policy, report: PatrolReport, route: Route, actor: Actor, now: datetime) -> CasePlan:
    """A grid worker's finding: reported, for the centre to register (texts already checked)."""
    return plan_case(
        policy,
        source=CaseSource.PATROL,
        title=report.title,
        description=report.description,
        location=report.location,
        triage=report.triage or policy.patrol_triage,
        severity=report.severity,
        hazard=report.hazard,
        camera_id=report.camera_id,
        route=route,
        actor=actor,
        now=now,
    )


def plan_hotline_case(policy: Policy, ticket: HotlineTicket, route: Route, now: datetime) -> CasePlan:
    """A 12345 ticket: registered and dispatched at once, on the hotline's clock and deadline when
    it gives them."""
    return plan_case(
        policy,
        source=CaseSource.HOTLINE,
        external_id=ticket.external_id.strip(),
        title=ticket.title.strip(),
        description=ticket.description,
        location=ticket.location,
        triage=ticket.triage or policy.hotline_triage,
        severity=ticket.severity,
        route=route,
        actor=HOTLINE,
        now=now,
        created_at=ticket.received_at,
        deadline_at=ticket.deadline_at,
        dispatch=True,
    )


def resident_actor(client: str) -> Actor:
    """Who reports a case that came through the app ``client`` (the app, never the resident)."""
    return Actor(f"open311:{client}"[:64], ActorRole.SYSTEM)


def resident_key(client: str, key: str | None) -> str | None:
    """The case's ``external_id``: the app and its own idempotency key (None: every post is a new report)."""
    return f"{client}:{key}"[:64] if key else None


def plan_resident_case(policy: Policy, report: ResidentReport, route: Route, now: datetime) -> CasePlan:
    """A resident's report through an app: like a 12345 ticket, registered and dispatched to the grid's
    worker at once (a collective matter in a compound to its property company, when the policy says so)."""
    kind = BY_CODE[report.kind]
    where = report.address or f"{report.lat:.6f}, {report.lon:.6f}"
    return plan_case(
        policy,
        source=CaseSource.RESIDENT,
        external_id=resident_key(report.client, report.idempotency_key),
        title=kind.title(policy),
        description=report.description,
        location=where[:300],
        triage=kind.triage_in(policy),
        severity=kind.severity,
        hazard=kind.hazard,
        route=route,
        actor=resident_actor(report.client),
        now=now,
        note=f"{kind.name} ({report.client})",
        dispatch=True,
    )

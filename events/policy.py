"""How alerts become cases and how cases move: triage, deadlines, auto-case rules, escalation, file limits.

This is configuration, not code: a site loads its own from YAML and every field has a default that
matches common practice. Unknown keys are errors, and errors name their exact place.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from camera_config.issues import pydantic_issues
from core.errors import InvalidInput, Issue
from core.files import read_yaml_file
from detectors.types import HazardType, Severity
from events.types import Level, TriageClass

SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


Hours = Annotated[float, Field(gt=0, le=24 * 90)]
"""A deadline in hours: more than nothing, at most 90 days."""


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HazardPolicy(_Config):
    triage: TriageClass = Field(description="Which of the three matters a case of this hazard is.")
    auto_case_min_severity: Severity | None = Field(
        description="Alerts at or above this severity become cases without an operator; null: operators decide."
    )
    title: str = Field(min_length=1, description="Case title prefix, e.g. 'Crowd gathering'.")
    deadline_h: float | None = Field(
        None, gt=0, le=24 * 90, description="Hours to resolve; null: the deadline of the case's severity."
    )


def _h(triage: TriageClass, auto: Severity | None, title: str) -> HazardPolicy:
    return HazardPolicy(triage=triage, auto_case_min_severity=auto, title=title)


def _default_hazards() -> dict[HazardType, HazardPolicy]:
    pub, col = TriageClass.PUBLIC, TriageClass.COLLECTIVE
    return {
        HazardType.CROWD: _h(pub, Severity.HIGH, "Crowd gathering"),
        HazardType.FALLEN_PERSON: _h(pub, Severity.LOW, "Person fallen"),
        HazardType.STRUCTURE: _h(col, Severity.HIGH, "Structural change (wall)"),
        HazardType.INTRUSION: _h(col, Severity.HIGH, "Intrusion in a restricted area"),
        HazardType.LOITERING: _h(col, None, "Loitering in a restricted area"),
        HazardType.CAMERA_OFFLINE: _h(col, Severity.MEDIUM, "Camera offline"),
        HazardType.CAMERA_COVERED: _h(col, Severity.MEDIUM, "Camera covered"),
        HazardType.CAMERA_DEFOCUSED: _h(col, None, "Camera out of focus"),
        HazardType.CAMERA_MOVED: _h(col, Severity.MEDIUM, "Camera moved"),
        HazardType.CAMERA_FROZEN: _h(col, Severity.MEDIUM, "Camera picture frozen"),
        HazardType.FIRE_LANE_BLOCKED: _h(col, Severity.HIGH, "Fire lane blocked by a vehicle"),
        HazardType.EBIKE_INDOORS: _h(col, Severity.HIGH, "Bicycle or e-bike inside a building"),
    }


def _default_deadlines() -> dict[Severity, float]:
    return {Severity.CRITICAL: 2.0, Severity.HIGH: 8.0, Severity.MEDIUM: 24.0, Severity.LOW: 72.0}


class EscalationStep(_Config):
    to: Level = Field(description="Who takes an overdue case over: community or street.")
    deadline_h: float = Field(gt=0, le=24 * 90, description="Hours that level gets before the next step.")


def _default_escalation() -> list[EscalationStep]:
    return [
        EscalationStep(to=Level.COMMUNITY, deadline_h=24.0),
        EscalationStep(to=Level.STREET, deadline_h=48.0),
    ]


class AttachmentPolicy(_Config):
    max_bytes: int = Field(10 * 2**20, ge=1024, le=2**30, description="Largest file accepted, in bytes.")
    max_files: int = Field(5, ge=1, le=50, description="Most files with one transition or report.")
    types: list[str] = Field(
        default_factory=lambda: ["image/jpeg", "image/png", "video/mp4", "application/pdf"],
        min_length=1,
        description="Accepted content types, recognised from the file's bytes (never from its name).",
    )


class EvidencePolicy(_Config):
    max_snapshot_bytes: int = Field(
        4 * 2**20, ge=1024, le=2**28, description="Largest evidence snapshot (JPEG) accepted with an alert."
    )
    max_clip_bytes: int = Field(
        50 * 2**20, ge=1024, le=2**31, description="Largest evidence clip (MP4) accepted for an alert."
    )


Days = Annotated[int, Field(ge=1, le=36500)]
"""A keeping period in whole days: at least one, at most a hundred years."""


class RetentionPolicy(_Config):
    """How long pictures of people (evidence snapshots, clips, case photos) and other records are kept.

    Personal-information law allows keeping them only as long as they are needed: an alert nobody made
    a case of is not needed for long, a dismissed false alarm even less, a case's files while the case
    is open and for a period after it closed (complaints, reviews). Files of an open case are never
    removed; a removed file stays listed in its alert or case, marked removed by retention with the date.
    """

    alert_evidence_days: Days = Field(
        30,
        description="Days the snapshots and clip of an alert that never became a case are kept after it was last seen.",
    )
    dismissed_evidence_days: Days = Field(
        7,
        description="Days the snapshots and clip of an alert dismissed as a false alarm are kept after the dismissal.",
    )
    case_files_days_after_close: Days = Field(
        365,
        description="Days a closed or dismissed case's files (its alerts' snapshots and clips, its photos and "
        "documents) are kept after it closed; an open case keeps all of them.",
    )
    audit_days: Days = Field(365, description="Days access-audit rows are kept (for stores the shell adds as pruners).")
    outbox_days: Days = Field(7, description="Days published bus messages are kept in the outbox.")
    delivery_log_days: Days = Field(
        30, description="Days sent and discarded notification deliveries stay in the delivery log (dead ones stay)."
    )
    run_every_min: int = Field(60, ge=1, le=24 * 60, description="Minutes between two retention runs in the service.")
    batch_size: int = Field(
        500, ge=1, le=100_000, description="Most alerts and attachments one run removes files of (the rest: next run)."
    )


class DiskPolicy(_Config):
    """A watchdog on the data dir: when free space falls below the floor, or the data dir grows above its
    quota, the oldest evidence of alerts that are in no case is removed first (never case files, never the
    database) until it is back within bounds, and admins are told (bus topic ``system.disk_low``)."""

    min_free_mb: int = Field(
        1024, ge=0, le=2**30, description="Free space (MiB) the data dir's file system keeps at least; 0: no floor."
    )
    data_quota_mb: int | None = Field(
        None, ge=1, le=2**30, description="Most MiB the data dir may take (database included); null: no quota."
    )
    check_every_s: int = Field(60, ge=5, le=24 * 3600, description="Seconds between two checks in the service.")


class NotifyPolicy(_Config):
    """Alert-fatigue controls that apply before any channel: held-back alerts notify nobody and open no case."""

    cooldown_s: float = Field(
        0,
        ge=0,
        le=7 * 86400,
        description="Seconds after an alert during which new alerts of the same camera, zone and hazard are held "
        "back (critical ones pass); 0: off.",
    )
    cooldown_by_hazard_s: dict[HazardType, Annotated[float, Field(ge=0, le=7 * 86400)]] = Field(
        default_factory=dict, description="The cooldown per hazard type, overriding cooldown_s."
    )


class Policy(_Config):
    """The whole events policy; ``Policy()`` is the default a fresh site runs with."""

    hazards: dict[HazardType, HazardPolicy] = Field(
        default_factory=_default_hazards,
        description="Per hazard type: triage class, auto-case threshold, title, deadline. Unlisted types keep "
        "their defaults.",
    )
    deadline_h: dict[Severity, Hours] = Field(
        default_factory=_default_deadlines,
        description="Hours to resolve a case, by severity. Unlisted severities keep their defaults.",
    )
    escalation: list[EscalationStep] = Field(
        default_factory=_default_escalation,
        max_length=2,
        description="Overdue cases move up these levels in order (grid → community → street), one step "
        "per missed deadline.",
    )
    patrol_triage: TriageClass = Field(
        TriageClass.PRIVATE, description="Triage class of a patrol report that does not give one."
    )
    hotline_triage: TriageClass = Field(
        TriageClass.PUBLIC, description="Triage class of a 12345 hotline ticket that does not give one."
    )
    collective_to_company: bool = Field(
        False,
        description="A collective-matter case (triage collective) from a camera in a compound goes to the compound's "
        "property company rather than the grid's worker. Off by default: turn it on once the property companies "
        "have accounts (role property_staff), or their cases wait with nobody to take them.",
    )
    absorb_into_open_case: bool = Field(
        True, description="New alerts of the same hazard on a camera with an open case join that case."
    )
    attachments: AttachmentPolicy = Field(
        default_factory=AttachmentPolicy, description="Limits for files attached to cases."
    )
    evidence: EvidencePolicy = Field(default_factory=EvidencePolicy, description="Limits for alert evidence.")
    retention: RetentionPolicy = Field(
        default_factory=RetentionPolicy, description="How long evidence, case files and audit rows are kept."
    )
    disk: DiskPolicy = Field(default_factory=DiskPolicy, description="Free-space floor and quota of the data dir.")
    notify: NotifyPolicy = Field(default_factory=NotifyPolicy, description="Alert-fatigue cooldowns.")

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: Any) -> Any:
        """A site lists only what it changes: partial maps are merged over the defaults."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for key, defaults in (("hazards", _default_hazards()), ("deadline_h", _default_deadlines())):
            given = out.get(key)
            if isinstance(given, dict):
                merged: dict[Any, Any] = {k.value: v for k, v in defaults.items()}
                for k, v in given.items():
                    base = merged.get(k)
                    if key == "hazards" and isinstance(base, HazardPolicy) and isinstance(v, dict):
                        v = {**base.model_dump(), **v}
                    merged[k] = v
                out[key] = merged
        return out

    @model_validator(mode="after")
    def _check(self) -> Policy:
        levels = [s.to for s in self.escalation]
        if Level.GRID in levels:
            raise ValueError("escalation: a case starts at the grid; steps go to community or street")
        if levels != sorted(levels, key=[Level.COMMUNITY, Level.STREET].index) or len(set(levels)) != len(levels):
            raise ValueError("escalation: steps must go up, community before street, each once")
        return self

    # ------------------------------------------------------------------ questions the service asks

    def hazard(self, hazard: HazardType) -> HazardPolicy:
        return self.hazards[hazard]

    def deadline(self, severity: Severity, hazard: HazardType | None = None) -> timedelta:
        hours = self.hazards[hazard].deadline_h if hazard is not None else None
        return timedelta(hours=hours if hours is not None else self.deadline_h[severity])

    def auto_case(self, hazard: HazardType, severity: Severity) -> bool:
        threshold = self.hazards[hazard].auto_case_min_severity
        return threshold is not None and SEVERITY_RANK[severity] >= SEVERITY_RANK[threshold]

    def next_step(self, level: Level) -> EscalationStep | None:
        """The escalation step above ``level``, or None at the top."""
        order = [Level.GRID, *(s.to for s in self.escalation)]
        if level not in order:
            return None
        i = order.index(level)
        return self.escalation[i] if i < len(self.escalation) else None


def parse_policy(doc: Any, where: str = "") -> Policy:
    """Validate a parsed document; every problem is reported with its path (``hazards.crowd.triage``)."""
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise InvalidInput(Issue(where, "the policy must be a mapping"))
    try:
        return Policy.model_validate(doc)
    except ValidationError as exc:
        raise InvalidInput(pydantic_issues(exc, where)) from None


def load_policy(path: Path) -> Policy:
    """Read a policy YAML file; errors are prefixed with the file name."""
    return parse_policy(read_yaml_file(path), path.name)

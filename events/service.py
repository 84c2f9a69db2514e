"""The events service: alerts in, cases through the loop, figures and bus messages out.

Every write is one transaction that also writes its outbox messages; files it writes are removed if
the transaction fails. Input is checked before anything is written, so a refused request changes
nothing. On SQLite (one writer at a time) writes are serialised in-process; on PostgreSQL concurrent
writers are kept apart by row locks and unique keys (episode id, one open case per camera and
hazard, hotline ticket id), and a transaction that loses such a race is retried and finds the
winner's row.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal, TypeVar

from sqlalchemy import func, insert, select, true, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from camera_config.store import SiteStore
from core.clock import Clock, SystemClock
from core.db import transaction
from core.errors import Conflict, Gone, GridwatchError, InvalidInput, Issue, NotFound
from detectors.types import HazardType, Observation, Severity
from events import queries, resident
from events.case_plan import (
    AuditStep,
    CasePlan,
    absorb_key,
    plan_absorb,
    plan_alert_case,
    plan_hotline_case,
    plan_patrol_case,
    plan_resident_case,
    resident_key,
)
from events.files import FileStore, Staged, attachment_path, check_attachments, sniff
from events.lifecycle import OVERDUE_CAN_ESCALATE, TERMINAL, next_state
from events.messages import (
    AlertAcknowledged,
    AlertClipAttached,
    AlertDismissed,
    AlertEscalated,
    AlertInCase,
    BusMessage,
    CaseAlertAdded,
    CaseChanged,
    CaseCommented,
    CaseCreated,
)
from events.notify.fatigue import Fatigue
from events.observation_batch import LINK_ALERT, ObservationBatch
from events.orm import (
    CASE_AUDIT,
    CASES,
    AlertRow,
    CaseAttachmentRow,
    CaseAuditRow,
    CaseCommentRow,
    CaseRow,
    ResidentReportRow,
)
from events.outbox import Bus, Outbox
from events.policy import Policy
from events.queries import AlertFilter, CaseFilter, CaseOrder
from events.risk.report import RiskLevel, RiskReport, risk_report
from events.routing import Router
from events.schema import parse_observation
from events.types import (
    SYSTEM,
    Actor,
    Alert,
    AlertFigures,
    AlertStatus,
    Attachment,
    Case,
    CaseAction,
    CaseDetail,
    CaseSource,
    CaseState,
    Comment,
    FalseAlarmCount,
    FigureLevel,
    GridActivity,
    HolderKind,
    HotlineImportReport,
    HotlineTicket,
    Level,
    NewAttachment,
    ObservationResult,
    Page,
    PatrolReport,
    ResidentReport,
    ResidentRequest,
    Route,
    UnitFigures,
    holder_key,
    split_holder,
)
from events.values import alert_value, attachment_value, audit_value, case_value, comment_value, max_severity

log = logging.getLogger(__name__)
T = TypeVar("T")
Messages = list[BusMessage]
Publish = Literal["inline", "thread", "off"]

_RETRIES = 3
_RETRY_STATES = {"40P01", "40001"}
"""PostgreSQL's deadlock and serialization failures: the transaction can simply run again."""
_INSERT_CASE = insert(CASES).returning(*CASES.c)
MAX_TEXT = 4000


def _text(value: str, where: str, *, required: bool, limit: int = MAX_TEXT) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidInput(Issue(where, "required"))
    if len(value) > limit:
        raise InvalidInput(Issue(where, f"at most {limit} characters, got {len(value)}"))
    return value


def _aware(value: datetime, where: str, issues: list[Issue]) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        issues.append(Issue(where, "needs a time zone (aware UTC datetime)"))


class EventsService:
    """Alerts, cases, figures and the outbox, over one database and one data dir."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        site: SiteStore,
        data_dir: Path,
        *,
        policy: Policy | None = None,
        clock: Clock | None = None,
        bus: Bus | None = None,
        site_ttl_s: float = 5.0,
        publish: Publish = "inline",
    ) -> None:
        """``publish``: "inline" relays the outbox before each write returns (simple, ordered);
        "thread" relays from a background thread (`start`/`close`), batching under load; "off"
        leaves messages in the outbox until `relay` is called (another process relays, or a test
        stands in for a crash between commit and publish)."""
        self._sessions = sessions
        self.policy = policy or Policy()
        self.clock: Clock = clock or SystemClock()
        self.files = FileStore(data_dir)
        self.site = site
        self.router = Router(site, self.clock, ttl_s=site_ttl_s)
        self.bus = bus or Bus()
        self.outbox = Outbox(sessions, self.bus, self.clock)
        self.fatigue = Fatigue(self.policy.notify.cooldown_s, self.policy.notify.cooldown_by_hazard_s)
        """Cooldowns and suspends, consulted as each new alert is stored (`events.notify.fatigue`)."""
        self._publish = publish
        engine = sessions.kw.get("bind")
        sqlite = engine is not None and engine.dialect.name == "sqlite"
        self._write_lock: AbstractContextManager[Any] = threading.RLock() if sqlite else nullcontext()

    # ------------------------------------------------------------------ plumbing

    def _write(self, work: Callable[[Session, Staged, Messages], T]) -> T:
        """Run ``work`` in one transaction with its outbox messages; run again when it loses a race
        (a unique key taken meanwhile, a deadlock), and then it finds the winner's rows."""
        for attempt in range(_RETRIES):
            messages: Messages = []
            try:
                with self._write_lock, self.files.staged() as staged, transaction(self._sessions) as s:
                    result = work(s, staged, messages)
                    self.outbox.add(s, messages)
                    staged.finish()
                break
            except DBAPIError as exc:
                retry = isinstance(exc, IntegrityError) or getattr(exc.orig, "sqlstate", None) in _RETRY_STATES
                if not retry:
                    raise
                if attempt == _RETRIES - 1:
                    raise Conflict(f"a concurrent change collided with this one: {exc.orig}") from None
                log.info("retrying after a race with a concurrent change: %s", exc.orig)
        if self._publish == "inline":
            self.relay()
        elif self._publish == "thread":
            self.outbox.notify()
        return result

    @property
    def sessions(self) -> sessionmaker[Session]:
        """Sessions on the service's database (reading; writes go through `write`)."""
        return self._sessions

    def write(self, work: Callable[[Session, Staged, Messages], T]) -> T:
        """Run ``work`` as one of the service's own writes: one transaction with the outbox messages it
        appends (published after the commit), serialised with the service's other writes on SQLite.
        For jobs beside the service that change its rows, such as retention (`events.retention`)."""
        return self._write(work)

    def start(self) -> None:
        """Load the site into the router, publish what a previous run left in the outbox, and start
        the background relay (``publish="thread"``)."""
        self.router.refresh()
        self.relay()
        if self._publish == "thread":
            self.outbox.start()

    def close(self) -> None:
        """Stop the background relay (after a last pass) and the file writers."""
        self.outbox.stop()
        self.files.close()

    def relay(self) -> int:
        """Publish what the outbox holds (also what a crashed process left behind)."""
        return self.outbox.relay()

    def _route(self, grid_id: str, fallback: tuple[str, str, str] | None = None) -> Route:
        try:
            return self.router.grid(grid_id)
        except NotFound:
            if fallback is None:
                raise
            return Route(*fallback, assignee_id=None)

    # ------------------------------------------------------------------ alerts: ingest

    def apply_observation(self, obs: Observation) -> ObservationResult:
        """Apply one observation: open, update or close its alert (idempotent on episode id and seq).

        Refused (and nothing stored) for an unknown camera, a new episode on a disabled camera (an
        episode already open there is still updated and closed), an unknown zone, a changed
        camera/hazard/zone under the same episode, an update older than the stored one, or after
        the episode closed.
        """
        result = self.apply_observations([obs])[0]
        if isinstance(result, GridwatchError):
            raise result
        return result

    def apply_observations(self, observations: Sequence[Observation]) -> list[ObservationResult | GridwatchError]:
        """Apply a batch in one transaction; each observation gets its result or its own error.

        A refused observation changes nothing and does not hold back the others. Observations of one
        episode apply in the order given. Results show each alert and case as the batch left them.
        """
        results: list[ObservationResult | GridwatchError | None] = [None] * len(observations)
        ready: list[tuple[int, Observation, Route]] = []
        continue_only: dict[int, GridwatchError] = {}
        for i, obs in enumerate(observations):
            try:
                self._check_observation(obs)
                cam = self.router.camera(obs.camera_id, allow_disabled=True)
                if not cam.enabled:
                    # An episode already open goes on to its close (so its alert does not stay open
                    # forever); a disabled camera cannot start a new one.
                    continue_only[i] = Conflict(f'camera "{cam.id}" is disabled: its alerts are refused')
                if obs.zone_id is not None and obs.zone_id not in {z.id for z in cam.zones}:
                    raise InvalidInput(Issue("zone_id", f'camera "{cam.id}" has no zone "{obs.zone_id}"'))
                ready.append((i, obs, self.router.camera_route(cam)))
            except GridwatchError as exc:
                results[i] = exc
        if ready:
            for i, outcome in self._write(
                lambda s, staged, out: ObservationBatch(self.policy, self.clock, s, staged, out, self.fatigue).run(
                    ready, continue_only
                )
            ):
                results[i] = outcome
        return [r if r is not None else Conflict("not applied") for r in results]

    def apply_remote_observation(self, doc: Any) -> ObservationResult:
        """An observation from a worker on another machine (JSON, evidence in base64), validated first."""
        return self.apply_observation(parse_observation(doc))

    def _check_observation(self, obs: Observation) -> None:
        issues: list[Issue] = []
        if not obs.episode_id or len(obs.episode_id) > 128 or not obs.episode_id.isprintable():
            issues.append(Issue("episode_id", "1 to 128 printable characters required"))
        if obs.seq < 0:
            issues.append(Issue("seq", f"must be ≥ 0, got {obs.seq}"))
        _aware(obs.started_at, "started_at", issues)
        _aware(obs.observed_at, "observed_at", issues)
        if not issues and obs.observed_at < obs.started_at:
            issues.append(Issue("observed_at", "is before started_at"))
        if len(obs.summary) > MAX_TEXT:
            issues.append(Issue("summary", f"at most {MAX_TEXT} characters"))
        for key, value in obs.measurements.items():
            if not math.isfinite(value):
                issues.append(Issue(f"measurements.{key}", "must be a finite number"))
        if obs.evidence_jpeg is not None:
            limit = self.policy.evidence.max_snapshot_bytes
            if len(obs.evidence_jpeg) > limit:
                issues.append(Issue("evidence_jpeg", f"{len(obs.evidence_jpeg)} bytes; the limit is {limit}"))
            elif sniff(obs.evidence_jpeg) != "image/jpeg":
                issues.append(Issue("evidence_jpeg", "not a JPEG image"))
        if issues:
            raise InvalidInput(issues)

    def attach_clip(self, alert_id: int, clip_mp4: bytes) -> Alert:
        """Store a short evidence clip (MP4) for an alert, when the source could provide one."""
        limit = self.policy.evidence.max_clip_bytes
        if len(clip_mp4) > limit:
            raise InvalidInput(Issue("clip", f"{len(clip_mp4)} bytes; the limit is {limit}"))
        if sniff(clip_mp4) != "video/mp4":
            raise InvalidInput(Issue("clip", "not an MP4 video"))

        def work(s: Session, staged: Staged, out: Messages) -> Alert:
            row = self._alert_row(s, alert_id)
            row.clip = staged.write(f"clips/{row.received_at:%Y/%m/%d}/{row.id}.mp4", clip_mp4)
            out.append(AlertClipAttached.of(alert_value(row)))
            return alert_value(row)

        return self._write(work)

    # ------------------------------------------------------------------ alerts: operators

    def acknowledge_alert(self, alert_id: int, actor: Actor) -> Alert:
        def work(s: Session, _staged: Staged, out: Messages) -> Alert:
            row = self._alert_row(s, alert_id)
            if row.status != AlertStatus.NEW.value:
                raise Conflict(f"alert {alert_id} is {row.status}: only a new alert can be acknowledged")
            self._handled(row, actor, AlertStatus.ACKNOWLEDGED)
            out.append(AlertAcknowledged.of(alert_value(row)))
            return alert_value(row)

        return self._write(work)

    def dismiss_alert(self, alert_id: int, actor: Actor, reason: str) -> Alert:
        """A false alarm: the reason is counted per camera and rule (`false_alarms`)."""
        reason = _text(reason, "reason", required=True, limit=200)

        def work(s: Session, _staged: Staged, out: Messages) -> Alert:
            row = self._alert_row(s, alert_id)
            if row.case_id is not None:
                raise Conflict(f"alert {alert_id} belongs to case {row.case_id}: dismiss the case instead")
            if row.status not in (AlertStatus.NEW.value, AlertStatus.ACKNOWLEDGED.value):
                raise Conflict(f"alert {alert_id} is {row.status}: only a new or acknowledged alert can be dismissed")
            self._handled(row, actor, AlertStatus.DISMISSED)
            row.dismiss_reason = reason
            out.append(AlertDismissed.of(alert_value(row)))
            return alert_value(row)

        return self._write(work)

    def alert_to_case(self, alert_id: int, actor: Actor, note: str = "") -> Case:
        """Turn an alert into a case (or add it to the open case of its camera and hazard).

        An alert already in a case returns that case: a repeated click never makes a second one.
        """
        note = _text(note, "note", required=False)
        route = self._alert_route(alert_id)

        def work(s: Session, _staged: Staged, out: Messages) -> Case:
            row = self._alert_row(s, alert_id)
            if row.case_id is not None:
                return case_value(s.get_one(CaseRow, row.case_id))
            if row.status == AlertStatus.DISMISSED.value:
                raise Conflict(f"alert {alert_id} was dismissed as a false alarm")
            case = self._case_for_alert(s, alert_value(row), route, actor, note, self.clock.now(), out)
            s.refresh(row)
            out.insert(0, AlertInCase.of(alert_value(row)))
            return case

        return self._write(work)

    def escalate_alert(self, alert_id: int, actor: Actor, note: str = "") -> Case:
        """Take an alert's case (made now if needed) one level up, past the grid."""
        note = _text(note, "note", required=False)
        route = self._alert_route(alert_id)

        def work(s: Session, _staged: Staged, out: Messages) -> Case:
            now = self.clock.now()
            row = self._alert_row(s, alert_id)
            if row.status == AlertStatus.DISMISSED.value:
                raise Conflict(f"alert {alert_id} was dismissed as a false alarm")
            if row.case_id is None:
                case_id = self._case_for_alert(s, alert_value(row), route, actor, note, now, out).id
                s.refresh(row)
            else:
                case_id = row.case_id
            case_row = self._case_row(s, case_id)
            self._move(s, case_row, CaseAction.ESCALATE, actor, now, note, out)
            row.status = AlertStatus.ESCALATED.value
            row.handled_by, row.handled_at = actor.id, now
            out.insert(0, AlertEscalated.of(alert_value(row)))
            return case_value(case_row)

        return self._write(work)

    def _alert_route(self, alert_id: int) -> Route:
        with self._sessions() as s:
            row = s.get(AlertRow, alert_id)
            if row is None:
                raise NotFound.of("alert", alert_id)
            route = self._route(row.grid_id, (row.grid_id, row.community_id, row.street_id))
        try:
            cam = self.router.camera(row.camera_id, allow_disabled=True)
        except NotFound:
            return route  # the camera was removed since: the alert's grid still answers
        return route if cam.grid_id != row.grid_id else self.router.camera_route(cam)

    @staticmethod
    def _alert_row(s: Session, alert_id: int) -> AlertRow:
        return _locked(s, AlertRow, alert_id, "alert")

    def _handled(self, row: AlertRow, actor: Actor, status: AlertStatus) -> None:
        row.status = status.value
        row.handled_by = actor.id
        row.handled_at = self.clock.now()

    # ------------------------------------------------------------------ cases: creation

    def _case_for_alert(
        self, s: Session, alert: Alert, route: Route, actor: Actor, note: str, now: datetime, out: Messages
    ) -> Case:
        """Put a stored alert into the open case of its camera and hazard, or into a new case."""
        c = CASES
        key = absorb_key(self.policy, alert.camera_id, alert.hazard)
        found = None
        if key is not None:
            found = s.execute(select(c.c.id, c.c.severity).where(c.c.open_key == key).with_for_update()).one_or_none()
        if found is not None:
            row = s.execute(
                update(c)
                .where(c.c.id == found.id)
                .values(
                    alert_count=c.c.alert_count + 1,
                    severity=max_severity(found.severity, alert.severity),
                    updated_at=now,
                )
                .returning(*c.c)
            ).one()
            case = case_value(row)
            _write_trail(s, case.id, [plan_absorb(alert, case.state, actor, now, note)])
            out.append(CaseAlertAdded(case, alert.id))
        else:
            case = self._new_case(s, plan_alert_case(self.policy, alert, route, actor, now, note), out)
        s.execute(LINK_ALERT, {"alert_id": alert.id, "case_id": case.id, "status": AlertStatus.IN_CASE.value})
        return case

    @staticmethod
    def _new_case(s: Session, plan: CasePlan, out: Messages) -> Case:
        """Insert a planned case, already in its final state, with one trail row per step."""
        case = case_value(s.execute(_INSERT_CASE, plan.draft.columns()).one())
        _write_trail(s, case.id, plan.steps)
        out.append(CaseCreated.of(case))
        return case

    def patrol_report(self, report: PatrolReport, actor: Actor, attachments: Sequence[NewAttachment] = ()) -> Case:
        """A grid worker's own finding: a case in the reported state, for the centre to register."""
        cleaned = dataclasses.replace(
            report,
            title=_text(report.title, "title", required=True, limit=200),
            description=_text(report.description, "description", required=False),
            location=_text(report.location, "location", required=False, limit=300),
        )
        files = check_attachments(attachments, self.policy.attachments)
        route = self.router.grid(report.grid_id)
        if report.camera_id is not None:
            cam = self.router.camera(report.camera_id)
            if cam.grid_id == report.grid_id:  # a finding at a compound's camera: collective matters go to its company
                route = self.router.camera_route(cam)

        def work(s: Session, staged: Staged, out: Messages) -> Case:
            now = self.clock.now()
            plan = plan_patrol_case(self.policy, cleaned, route, actor, now)
            case = self._new_case(s, plan, out)
            reported = s.scalars(select(CaseAuditRow).where(CaseAuditRow.case_id == case.id)).first()
            self._store_files(s, staged, case.id, reported, files, now)
            return case

        return self._write(work)

    def import_hotline(self, tickets: Iterable[HotlineTicket]) -> HotlineImportReport:
        """12345 tickets as cases, registered and dispatched to the grid; a ticket id seen before is skipped.

        All-or-nothing: any invalid ticket refuses the batch, with every problem at its place.
        """
        batch = list(tickets)
        issues: list[Issue] = []
        routes: dict[str, Route] = {}
        for i, t in enumerate(batch):
            at = f"tickets[{i}]"
            if not t.external_id.strip() or len(t.external_id) > 64:
                issues.append(Issue(f"{at}.external_id", "1 to 64 characters required"))
            if not t.title.strip() or len(t.title) > 200:
                issues.append(Issue(f"{at}.title", "1 to 200 characters required"))
            for name, value in (("received_at", t.received_at), ("deadline_at", t.deadline_at)):
                if value is not None:
                    _aware(value, f"{at}.{name}", issues)
            if t.grid_id not in routes:
                try:
                    routes[t.grid_id] = self.router.grid(t.grid_id)
                except NotFound:
                    issues.append(Issue(f"{at}.grid_id", f'grid "{t.grid_id}" does not exist'))
        if issues:
            raise InvalidInput(issues)

        def work(s: Session, _staged: Staged, out: Messages) -> HotlineImportReport:
            now = self.clock.now()
            ids = [t.external_id.strip() for t in batch]
            seen = set(
                s.scalars(
                    select(CaseRow.external_id).where(
                        CaseRow.source == CaseSource.HOTLINE.value, CaseRow.external_id.in_(ids)
                    )
                )
            )
            created: list[int] = []
            duplicates: list[str] = []
            for t, ext in zip(batch, ids, strict=True):
                if ext in seen:
                    duplicates.append(ext)
                    continue
                seen.add(ext)
                case = self._new_case(s, plan_hotline_case(self.policy, t, routes[t.grid_id], now), out)
                created.append(case.id)
            return HotlineImportReport(tuple(created), tuple(duplicates))

        return self._write(work)

    def resident_report(self, report: ResidentReport) -> ResidentRequest:
        """A resident's report through an app: a case of the grid whose polygon (or compound outline) holds
        its point (`Router.locate`), registered and dispatched at once like a 12345 ticket.

        Refused, naming the field, for an unknown kind, a point off the globe or in no grid, or text over its
        limit. With an idempotency key, the app's report made before answers (``created`` False).
        """
        issues = resident.report_issues(report)
        if issues:
            raise InvalidInput(issues)
        route = self.router.locate(report.lat, report.lon)
        if route is None:
            raise InvalidInput(
                Issue(
                    "location",
                    f"the point lat={report.lat}, long={report.lon} lies outside every grid of this site: "
                    "nobody here answers for it",
                )
            ).with_code("outside_every_grid", lat=report.lat, lon=report.lon)
        external_id = resident_key(report.client, report.idempotency_key)

        def work(s: Session, _staged: Staged, out: Messages) -> ResidentRequest:
            if external_id is not None:
                found = s.execute(
                    select(CaseRow, ResidentReportRow)
                    .join(ResidentReportRow, ResidentReportRow.case_id == CaseRow.id)
                    .where(CaseRow.source == CaseSource.RESIDENT.value, CaseRow.external_id == external_id)
                ).one_or_none()
                if found is not None:
                    return resident.request_value(*found, created=False)
            case = self._new_case(s, plan_resident_case(self.policy, report, route, self.clock.now()), out)
            row = resident.report_row(case.id, report)
            s.add(row)
            s.flush()
            return resident.request_value(s.get_one(CaseRow, case.id), row)

        return self._write(work)

    def resident_requests(self, f: resident.RequestFilter) -> list[ResidentRequest]:
        """Resident reports as the public sees them (no contact details, only the reply), newest first."""
        with self._sessions() as s:
            return resident.requests(s, f)

    def resident_request(self, case_id: int) -> ResidentRequest:
        found = self.resident_requests(resident.RequestFilter(ids=[case_id], limit=1))
        if not found:
            raise NotFound(f"service request {case_id} does not exist")
        return found[0]

    def resident_reporter(self, case_id: int) -> resident.Reporter | None:
        """The resident's contact on a resident case (None for any other case); the caller checks who may see it."""
        with self._sessions() as s:
            return resident.reporter(s, case_id)

    # ------------------------------------------------------------------ cases: the loop

    def transition(
        self,
        case_id: int,
        action: CaseAction,
        actor: Actor,
        note: str = "",
        attachments: Sequence[NewAttachment] = (),
        *,
        assignee_id: str | None = None,
        holder: str | None = None,
    ) -> Case:
        """Move a case along the loop; an action the table does not allow from its state is refused.

        ``assignee_id`` (dispatch only) hands the case to someone other than the grid's worker, e.g.
        a community officer after escalation; ``holder`` (dispatch only) hands it to a partner unit
        (``partner:PU-01``), a property company or back to its grid, whose people then see and work it.
        The trail says who held the case from when. Dismissing a camera case marks its alerts false alarms.
        """
        note = _text(note, "note", required=False)
        files = check_attachments(attachments, self.policy.attachments)
        for name, value, what in (("assignee_id", assignee_id, "an assignee"), ("holder", holder, "a holder")):
            if value is not None and action is not CaseAction.DISPATCH:
                raise InvalidInput(Issue(name, f"only a dispatch names {what}"))
        if holder is not None:
            self._check_holder(holder)

        def work(s: Session, staged: Staged, out: Messages) -> Case:
            now = self.clock.now()
            row = self._case_row(s, case_id)
            data: dict[str, Any] = {}
            new_holder = holder
            if new_holder is None and assignee_id is not None:
                new_holder = holder_key(HolderKind.GRID, row.grid_id)  # a named person: the grid holds it again
            worker = assignee_id
            if holder is not None and split_holder(holder)[0] is HolderKind.GRID:
                if holder != holder_key(HolderKind.GRID, row.grid_id):
                    raise InvalidInput(Issue("holder", f'case {row.id} belongs to grid "{row.grid_id}", not {holder}'))
                worker = worker or self._route(row.grid_id).assignee_id  # back to the grid: to its worker
                if worker is None:
                    raise InvalidInput(
                        Issue("assignee_id", f'grid "{row.grid_id}" has no grid worker: name an assignee')
                    )
            if worker is not None:
                data["assignee_id"] = worker
            elif (
                action is CaseAction.DISPATCH
                and row.assignee_id is None
                and new_holder is None
                and split_holder(row.holder)[0] is HolderKind.GRID
            ):
                raise InvalidInput(Issue("assignee_id", f'grid "{row.grid_id}" has no grid worker: name an assignee'))
            if new_holder is not None and new_holder != row.holder:
                data.update({"holder": new_holder, "from_holder": row.holder})
            # Set before the move, so its message carries the new holder (a refused move rolls all of it back).
            if new_holder is not None:
                row.holder = new_holder
                if holder is not None and worker is None:
                    row.assignee_id = None  # the unit's or company's people take it, whoever answers first
            if worker is not None:
                row.assignee_id = worker
            audit = self._move(s, row, action, actor, now, note, out, data)
            self._store_files(s, staged, row.id, audit, files, now)
            if action is CaseAction.DISMISS:
                s.execute(
                    update(AlertRow)
                    .where(AlertRow.case_id == row.id)
                    .values(
                        status=AlertStatus.DISMISSED.value,
                        dismiss_reason=note[:200],
                        handled_by=actor.id,
                        handled_at=now,
                    )
                )
            return case_value(row)

        return self._write(work)

    def _check_holder(self, holder: str) -> None:
        """A holder that exists now: a partner unit, a property company or a grid of the site."""
        try:
            kind, ident = split_holder(holder)
        except ValueError:
            kinds = ", ".join(f"{k.value}:<id>" for k in HolderKind)
            raise InvalidInput(Issue("holder", f'"{holder}" is not one of {kinds}')) from None
        if kind is HolderKind.PARTNER:
            known: Collection[str] = {u.id for u in self.site.partner_units([ident])}
        elif kind is HolderKind.COMPANY:
            known = self.site.index().property_companies
        else:
            known = {g.id for g in self.site.grids()}
        if ident not in known:
            raise InvalidInput(Issue("holder", f'no {kind.value} "{ident}" in the site'))

    def _move(
        self,
        s: Session,
        row: CaseRow,
        action: CaseAction,
        actor: Actor,
        now: datetime,
        note: str,
        out: Messages | None,
        data: dict[str, Any] | None = None,
    ) -> CaseAuditRow:
        """Apply one transition to a locked row: state, dates, level, audit row and message."""
        current = CaseState(row.state)
        target = next_state(current, action, note)
        data = dict(data or {})
        if action is CaseAction.ESCALATE:
            step = self.policy.next_step(Level(row.level))
            if step is None:
                raise Conflict(f"case {row.id} is already at the {row.level} level; there is none above it")
            data.update({"from_level": row.level, "to_level": step.to.value})
            row.level = step.to.value
            row.deadline_at = now + timedelta(hours=step.deadline_h)
        elif action is CaseAction.REOPEN:
            row.resolved_at = None
            row.deadline_at = now + self.policy.deadline(Severity(row.severity), _hazard(row))
        elif action is CaseAction.RESOLVE:
            row.resolved_at = now
        if target in TERMINAL:
            row.closed_at = now
            row.is_open = False
            row.open_key = None
        row.state = target.value
        row.updated_at = now
        audit = CaseAuditRow(**AuditStep(action.value, current, target, actor, now, note, data).columns(row.id))
        s.add(audit)
        if out is not None:
            out.append(CaseChanged(case_value(row), action))
        return audit

    def _store_files(
        self,
        s: Session,
        staged: Staged,
        case_id: int,
        audit: CaseAuditRow | None,
        files: Sequence[Any],
        now: datetime,
        comment: CaseCommentRow | None = None,
    ) -> list[Attachment]:
        if not files:
            return []
        s.flush()  # the audit or comment row's id
        audit_id = audit.id if audit is not None else None
        comment_id = comment.id if comment is not None else None
        rows = []
        for f in files:
            rel = staged.write(attachment_path(case_id, f), f.content)
            row = CaseAttachmentRow(
                case_id=case_id,
                audit_id=audit_id,
                comment_id=comment_id,
                name=f.name,
                content_type=f.content_type,
                size_bytes=len(f.content),
                sha256=f.sha256,
                path=rel,
                created_at=now,
            )
            s.add(row)
            rows.append(row)
        s.flush()  # the attachments' ids
        return [attachment_value(r) for r in rows]

    @staticmethod
    def _case_row(s: Session, case_id: int) -> CaseRow:
        return _locked(s, CaseRow, case_id, "case")

    def comment(self, case_id: int, actor: Actor, text: str, attachments: Sequence[NewAttachment] = ()) -> Comment:
        """A note on a case that leaves its state alone, e.g. progress from the field with photos.

        The text may be empty only when photos come with it; the photos are checked like a step's.
        """
        text = _text(text, "text", required=not attachments)
        files = check_attachments(attachments, self.policy.attachments, "photos")

        def work(s: Session, staged: Staged, out: Messages) -> Comment:
            row = self._case_row(s, case_id)
            now = self.clock.now()
            c = CaseCommentRow(case_id=row.id, at=now, actor_id=actor.id, actor_role=actor.role.value, text=text)
            s.add(c)
            s.flush()
            stored = self._store_files(s, staged, row.id, None, files, now, comment=c)
            value = comment_value(c, stored)
            out.append(CaseCommented.of(value))  # stored paths stay inside
            return value

        return self._write(work)

    def escalation_tick(self, *, batch: int = 500) -> list[Case]:
        """Escalate every open case whose deadline has passed one level up (grid → community → street).

        Run it periodically; each call looks at the clock once. A case at the top level stays there.
        """
        now = self.clock.now()
        top = [Level.GRID, *(st.to for st in self.policy.escalation)][-1]
        escalated: list[Case] = []
        while True:

            def work(s: Session, _staged: Staged, out: Messages) -> list[Case]:
                rows = s.scalars(
                    select(CaseRow)
                    .where(
                        CaseRow.is_open == true(),
                        CaseRow.deadline_at <= now,
                        CaseRow.state.in_([st.value for st in OVERDUE_CAN_ESCALATE]),
                        CaseRow.level != top.value,
                    )
                    .order_by(CaseRow.deadline_at, CaseRow.id)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                ).all()
                done = []
                for row in rows:
                    overdue_s = (now - row.deadline_at).total_seconds()
                    note = f"overdue by {overdue_s / 3600:.1f} h"
                    self._move(s, row, CaseAction.ESCALATE, SYSTEM, now, note, out, {"overdue_s": overdue_s})
                    done.append(case_value(row))
                return done

            got = self._write(work)
            escalated += got
            if len(got) < batch:
                return escalated

    # ------------------------------------------------------------------ reading

    def alert(self, alert_id: int) -> Alert:
        with self._sessions() as s:
            row = s.get(AlertRow, alert_id)
            if row is None:
                raise NotFound.of("alert", alert_id)
            return alert_value(row)

    def alert_by_episode(self, episode_id: str) -> Alert:
        with self._sessions() as s:
            row = s.scalars(select(AlertRow).where(AlertRow.episode_id == episode_id)).one_or_none()
            if row is None:
                raise NotFound(f'episode "{episode_id}" has no alert')
            return alert_value(row)

    def alerts(self, f: AlertFilter | None = None, *, cursor: str | None = None, limit: int = 50) -> Page[Alert]:
        """Newest first; filters combine with AND."""
        with self._sessions() as s:
            rows = s.execute(queries.alert_query(f or AlertFilter(), cursor, limit)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = queries.encode_cursor(rows[-1].received_at, rows[-1].id) if more else None
        return Page(tuple(alert_value(r) for r in rows), nxt)

    def cases(
        self,
        f: CaseFilter | None = None,
        *,
        cursor: str | None = None,
        limit: int = 50,
        order: CaseOrder = "deadline",
    ) -> Page[Case]:
        """The case board: most urgent first (``deadline``) or newest first; filters combine with AND."""
        if order not in ("deadline", "newest"):
            raise InvalidInput(Issue("order", f'"deadline" or "newest", got "{order}"'))
        with self._sessions() as s:
            rows = s.execute(queries.case_query(f or CaseFilter(), cursor, limit, order)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = None
        if more:
            last = rows[-1]
            nxt = queries.encode_cursor(last.deadline_at if order == "deadline" else last.created_at, last.id)
        return Page(tuple(case_value(r) for r in rows), nxt)

    def case(self, case_id: int) -> CaseDetail:
        """A case with its audit trail (oldest first, with the files of each step), comments and alerts."""
        with self._sessions() as s:
            row = s.get(CaseRow, case_id)
            if row is None:
                raise NotFound.of("case", case_id)
            files: dict[int | None, list[Attachment]] = {}
            notes: dict[int | None, list[Attachment]] = {}
            for a in s.scalars(
                select(CaseAttachmentRow).where(CaseAttachmentRow.case_id == case_id).order_by(CaseAttachmentRow.id)
            ):
                if a.comment_id is not None:
                    notes.setdefault(a.comment_id, []).append(attachment_value(a))
                else:
                    files.setdefault(a.audit_id, []).append(attachment_value(a))
            audit = tuple(
                audit_value(a, files.get(a.id, []))
                for a in s.scalars(
                    select(CaseAuditRow).where(CaseAuditRow.case_id == case_id).order_by(CaseAuditRow.id)
                )
            )
            comments = tuple(
                comment_value(c, notes.get(c.id, []))
                for c in s.scalars(
                    select(CaseCommentRow).where(CaseCommentRow.case_id == case_id).order_by(CaseCommentRow.id)
                )
            )
            alert_ids = tuple(s.scalars(select(AlertRow.id).where(AlertRow.case_id == case_id).order_by(AlertRow.id)))
            return CaseDetail(case_value(row), audit, comments, alert_ids)

    def case_by_external_id(self, source: CaseSource, external_id: str) -> Case:
        with self._sessions() as s:
            row = s.scalars(
                select(CaseRow).where(CaseRow.source == source.value, CaseRow.external_id == external_id)
            ).one_or_none()
            if row is None:
                raise NotFound(f'{source.value} ticket "{external_id}" has no case')
            return case_value(row)

    def case_counts(self, f: CaseFilter | None = None) -> dict[CaseState, int]:
        """Cases per state under the same filters as the board (for its column headers)."""
        q = queries.case_query(f or CaseFilter(), None, queries.MAX_LIMIT, "deadline").order_by(None).limit(None)
        sub = q.with_only_columns(CASES.c.state).subquery()
        with self._sessions() as s:
            rows = s.execute(select(sub.c.state, func.count()).group_by(sub.c.state)).all()
        got: dict[str, int] = {state: int(n) for state, n in rows}
        return {state: int(got.get(state.value, 0)) for state in CaseState}

    def evidence_file(self, alert_id: int) -> Path:
        """The alert's latest snapshot; Gone when retention (or the disk watchdog) removed it."""
        alert = self.alert(alert_id)
        if alert.evidence is None:
            raise NotFound(f"alert {alert_id} has no evidence snapshot")
        if alert.evidence_removed_at is not None:
            by = "the disk watchdog (disk full)" if alert.evidence_removed_by == "disk" else "retention"
            raise Gone(
                f"the evidence snapshot of alert {alert_id} was removed by {by} on {alert.evidence_removed_at:%Y-%m-%d}"
            )
        return self.files.path(alert.evidence)

    def attachment_file(self, attachment_id: int) -> tuple[Attachment, Path]:
        """An attachment and where its file is; Gone (after the attachment's scope is checked by the
        caller with `attachment`) when retention removed the file."""
        value = self.attachment(attachment_id)
        if value.removed_at is not None:
            raise Gone(
                f'attachment {attachment_id} ("{value.name}") was removed by retention on {value.removed_at:%Y-%m-%d}'
            )
        return value, self.files.path(value.path)

    def attachment(self, attachment_id: int) -> Attachment:
        with self._sessions() as s:
            row = s.get(CaseAttachmentRow, attachment_id)
            if row is None:
                raise NotFound.of("attachment", attachment_id)
            return attachment_value(row)

    def figures(self, level: FigureLevel, since: datetime, until: datetime) -> list[UnitFigures]:
        """Received, closed, completion and on-time rates, times to close and false alarms, per unit."""
        with self._sessions() as s:
            return queries.figures(s, level, since, until)

    def alert_figures(
        self, since: datetime, until: datetime, bucket_s: int, *, grid_ids: frozenset[str] | None = None
    ) -> AlertFigures:
        """Alerts per hazard in buckets from ``since``, and per camera with their false alarms (in SQL)."""
        with self._sessions() as s:
            return queries.alert_figures(s, since, until, bucket_s, grid_ids)

    def grid_activity(self, since: datetime, *, grid_ids: frozenset[str] | None = None) -> list[GridActivity]:
        """Cases open now and alerts received since ``since``, per grid that has any (in SQL)."""
        with self._sessions() as s:
            return queries.grid_activity(s, since, grid_ids)

    def false_alarms(self, since: datetime, until: datetime, *, camera_id: str | None = None) -> list[FalseAlarmCount]:
        """Dismissed alerts per camera, rule (hazard type) and reason, most frequent first."""
        q = (
            select(AlertRow.camera_id, AlertRow.hazard, AlertRow.dismiss_reason, func.count())
            .where(
                AlertRow.status == AlertStatus.DISMISSED.value,
                AlertRow.received_at >= since,
                AlertRow.received_at < until,
            )
            .group_by(AlertRow.camera_id, AlertRow.hazard, AlertRow.dismiss_reason)
        )
        if camera_id is not None:
            q = q.where(AlertRow.camera_id == camera_id)
        with self._sessions() as s:
            rows = s.execute(q).all()
        out = [FalseAlarmCount(c, HazardType(h), r or "", int(n)) for c, h, r, n in rows]
        return sorted(out, key=lambda x: (-x.count, x.camera_id, x.hazard.value, x.reason))

    def risk(self, level: RiskLevel, week: datetime, tz: tzinfo) -> RiskReport:
        """Each grid's or compound's risk for the week holding ``week`` (weeks and hours local to ``tz``)."""
        if level is RiskLevel.GRID:
            unit_ids = [g.id for g in self.site.grids()]
        else:
            unit_ids = [c.id for c in self.site.compounds()]
        compound_of = {c.id: c.compound_id for c in self.site.camera_places()}
        with self._sessions() as s:
            return risk_report(s, level=level, unit_ids=unit_ids, compound_of=compound_of, week=week, tz=tz)


def _write_trail(s: Session, case_id: int, steps: Sequence[AuditStep]) -> None:
    """Trail rows of one case with one statement (a transition adds its ORM row in `_move`, whose id
    its files need)."""
    s.execute(insert(CASE_AUDIT), [step.columns(case_id) for step in steps])


def _hazard(row: CaseRow) -> HazardType | None:
    return HazardType(row.hazard) if row.hazard else None


_Row = TypeVar("_Row", AlertRow, CaseRow)


def _locked(s: Session, model: type[_Row], row_id: int, noun: str) -> _Row:
    """The row, locked for this transaction (PostgreSQL), or NotFound naming it."""
    row = s.scalars(select(model).where(model.id == row_id).with_for_update()).one_or_none()
    if row is None:
        raise NotFound.of(noun, row_id)
    return row

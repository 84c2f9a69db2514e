"""The events service on SQLite and the real PostgreSQL: alerts in, cases around the loop, nothing lost."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from camera_config.store import SiteStore
from core.clock import FakeClock
from core.errors import Conflict, InvalidInput, NotFound
from detectors.types import EpisodeState, HazardType, Severity
from events.orm import CASES, AlertRow, CaseAttachmentRow, CaseAuditRow, CaseRow, OutboxRow
from events.policy import parse_policy
from events.queries import AlertFilter, CaseFilter
from events.service import EventsService
from events.types import (
    Actor,
    ActorRole,
    AlertStatus,
    CaseAction,
    CaseSource,
    CaseState,
    FigureLevel,
    HotlineTicket,
    Level,
    NewAttachment,
    ObservationResult,
    PatrolReport,
    TriageClass,
)
from tests.events.conftest import MakeService, Recorder
from tests.support.factories import START, observation

OPERATOR = Actor("op-1", ActorRole.OPERATOR)
WORKER = Actor("W1", ActorRole.GRID_WORKER)
A = CaseAction


def counts(sessions: sessionmaker[Session]) -> tuple[int, ...]:
    with sessions() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(t)) or 0
            for t in (AlertRow, CaseRow, CaseAuditRow, CaseAttachmentRow, OutboxRow)
        )


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def png(size: int = 2000) -> bytes:
    ok, buf = cv2.imencode(".png", np.random.default_rng(1).integers(0, 255, (size // 40, 40, 3), dtype=np.uint8))
    assert ok
    return bytes(buf)


# ----------------------------------------------------------------------------- alerts


def test_an_alert_becomes_a_routed_case_with_evidence_on_disk(
    service: EventsService, bus_log: Recorder, evidence_jpeg: bytes, tmp_path: Path
) -> None:
    result = service.apply_observation(observation(evidence=evidence_jpeg))
    alert, case = result.alert, result.case
    assert result.created
    assert case is not None
    assert (alert.status, alert.case_id, alert.grid_id, alert.community_id, alert.street_id) == (
        AlertStatus.IN_CASE,
        case.id,
        "G1",
        "CM1",
        "S1",
    )
    # camera → grid G1 → its worker W1; building leader B1 and party group PG1's member M1 informed
    assert (case.state, case.assignee_id, case.informed_ids) == (CaseState.DISPATCHED, "W1", ("B1", "M1"))
    assert (case.triage, case.level, case.source) == (TriageClass.PUBLIC, Level.GRID, CaseSource.CAMERA)
    assert case.deadline_at == START + timedelta(hours=8)  # high severity
    assert alert.evidence is not None
    stored = service.evidence_file(alert.id)
    assert stored.is_relative_to(tmp_path / "data")
    assert stored.read_bytes() == evidence_jpeg
    image = cv2.imdecode(np.frombuffer(stored.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    assert image.shape == (576, 768, 3)
    assert bus_log.topics == ["alert.opened", "case.created"]
    assert bus_log.messages[0].payload["case_id"] == case.id
    trail = service.case(case.id).audit
    assert [(e.action, e.from_state, e.to_state) for e in trail] == [
        ("report", None, CaseState.REPORTED),
        ("register", CaseState.REPORTED, CaseState.REGISTERED),
        ("dispatch", CaseState.REGISTERED, CaseState.DISPATCHED),
    ]


def test_redelivery_is_idempotent_and_updates_apply_in_order(
    service: EventsService, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    first = service.apply_observation(observation(severity=Severity.MEDIUM))
    again = service.apply_observation(observation(severity=Severity.MEDIUM))
    assert (again.duplicate, again.created, again.alert.id) == (True, False, first.alert.id)
    assert counts(sessions)[:2] == (1, 1)

    clock.advance(5)
    upd = service.apply_observation(
        observation(state=EpisodeState.UPDATED, seq=1, severity=Severity.CRITICAL, at=clock.now())
    )
    assert (upd.alert.seq, upd.alert.updates, upd.alert.severity) == (1, 2, Severity.CRITICAL)
    assert upd.case is not None
    assert upd.case.severity is Severity.CRITICAL
    closed = service.apply_observation(observation(state=EpisodeState.CLOSED, seq=2, at=clock.now()))
    assert (closed.alert.episode_state, closed.alert.closed_at) == (EpisodeState.CLOSED, clock.now())
    assert service.apply_observation(observation(state=EpisodeState.CLOSED, seq=2, at=clock.now())).duplicate


def test_bad_observations_are_refused_and_change_nothing(
    service: EventsService, sessions: sessionmaker[Session], evidence_jpeg: bytes, tmp_path: Path
) -> None:
    service.apply_observation(observation(seq=3, state=EpisodeState.UPDATED, evidence=evidence_jpeg))
    before = (counts(sessions), service.alert_by_episode("ep-1"), files_under(tmp_path / "data"))

    cases: list[tuple[type[Exception], str, dict[str, object]]] = [
        (Conflict, "seq 1 arrived after seq 3", {"seq": 1, "state": EpisodeState.UPDATED}),
        (Conflict, 'has camera_id "C1"', {"seq": 4, "camera_id": "C2"}),
        (Conflict, 'has hazard "fallen_person"', {"seq": 4, "hazard": HazardType.CROWD}),
        (NotFound, 'camera "C9" does not exist', {"episode_id": "ep-x", "camera_id": "C9"}),
        (Conflict, 'camera "C3" is disabled', {"episode_id": "ep-y", "camera_id": "C3"}),
        (InvalidInput, 'zone_id: camera "C1" has no zone "z9"', {"episode_id": "ep-z", "zone_id": "z9"}),
        (InvalidInput, "evidence_jpeg: not a JPEG", {"episode_id": "ep-w", "evidence": b"GIF89a" + bytes(100)}),
        (InvalidInput, "seq: must be ≥ 0", {"episode_id": "ep-v", "seq": -1}),
    ]
    for kind, message, over in cases:
        with pytest.raises(kind, match=message):
            service.apply_observation(observation(**over))  # type: ignore[arg-type]
    service.apply_observation(observation(seq=5, state=EpisodeState.CLOSED))
    with pytest.raises(Conflict, match="closed at seq 5"):
        service.apply_observation(observation(seq=6, state=EpisodeState.UPDATED))
    after = service.alert_by_episode("ep-1")
    assert before[0][0] == counts(sessions)[0]
    assert (after.seq, after.evidence) == (5, before[1].evidence)
    assert files_under(tmp_path / "data") == before[2]


def test_oversized_evidence_is_refused(make_service: MakeService, sessions: sessionmaker[Session]) -> None:
    service = make_service(policy=parse_policy({"evidence": {"max_snapshot_bytes": 2048}}))
    with pytest.raises(InvalidInput, match="evidence_jpeg: 5000 bytes; the limit is 2048"):
        service.apply_observation(observation(evidence=b"\xff\xd8\xff" + bytes(4997)))
    assert counts(sessions) == (0, 0, 0, 0, 0)


def test_alerts_of_an_open_case_join_it_instead_of_a_new_case(
    service: EventsService, sessions: sessionmaker[Session], bus_log: Recorder
) -> None:
    first = service.apply_observation(observation("ep-1")).case
    second = service.apply_observation(observation("ep-2")).case
    other_hazard = service.apply_observation(
        observation("ep-3", hazard=HazardType.CROWD, severity=Severity.CRITICAL)
    ).case
    assert first is not None
    assert second is not None
    assert other_hazard is not None
    assert second.id == first.id
    assert second.alert_count == 2
    assert other_hazard.id != first.id
    assert service.case(first.id).alert_ids == (1, 2)
    assert "case.alert_added" in bus_log.topics
    assert service.case(first.id).audit[-1].data == {"alert_id": 2, "episode_id": "ep-2"}

    # Once the case is over, the next alert makes a new case.
    service.transition(first.id, A.DISMISS, OPERATOR, note="cat on the lens")
    third = service.apply_observation(observation("ep-4")).case
    assert third is not None
    assert third.id not in (first.id, other_hazard.id)
    # the dismissed case's alerts count as false alarms of the rule
    assert service.alert(1).status is AlertStatus.DISMISSED
    assert service.alert(2).dismiss_reason == "cat on the lens"


def test_simultaneous_alerts_on_one_camera_make_one_case(service: EventsService) -> None:
    hazards = [HazardType.FALLEN_PERSON, HazardType.CROWD, HazardType.INTRUSION]
    errors: list[BaseException] = []
    for hazard in hazards:  # a few rounds: the race is real, so give it chances to happen
        barrier = threading.Barrier(6)

        def send(i: int, hazard: HazardType = hazard, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                service.apply_observation(
                    observation(f"race-{hazard.value}-{i}", hazard=hazard, severity=Severity.CRITICAL)
                )
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert errors == []
    page = service.cases()
    assert sorted((c.hazard, c.alert_count) for c in page.items if c.hazard) == sorted((h, 6) for h in hazards)


def test_losing_the_race_for_a_new_case_joins_the_winner(
    service: EventsService, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """Deterministic on PostgreSQL: another transaction takes the open-case key first and commits
    while ingest waits on it; ingest's insert fails on the unique key, and its retry joins that case."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: there is no such race to lose")
    winner = service.apply_observation(observation("first", camera_id="C2")).case  # a template row to copy
    assert winner is not None
    with engine.connect() as conn:
        row = dict(conn.execute(select(CASES).where(CASES.c.id == winner.id)).one()._mapping)
        row.pop("id")
        conn.execute(CASES.insert().values({**row, "camera_id": "C1", "open_key": "C1|fallen_person"}))
        done: list[object] = []
        t = threading.Thread(target=lambda: done.append(service.apply_observation(observation("second"))))
        t.start()
        t.join(1.0)
        assert t.is_alive()  # waiting on the uncommitted key
        conn.commit()
    t.join(30)
    (result,) = done
    assert isinstance(result, ObservationResult)
    assert result.case is not None
    assert (result.case.camera_id, result.case.alert_count) == ("C1", 2)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(CaseRow)) == 2


def test_operator_actions_on_alerts(service: EventsService, clock: FakeClock) -> None:
    low = Severity.LOW
    a1 = service.apply_observation(observation("ep-1", hazard=HazardType.CROWD, severity=low)).alert
    a2 = service.apply_observation(observation("ep-2", hazard=HazardType.LOITERING, severity=low)).alert
    a3 = service.apply_observation(observation("ep-3", hazard=HazardType.STRUCTURE, severity=low)).alert
    assert {a1.case_id, a2.case_id, a3.case_id} == {None}  # below the auto-case thresholds

    acked = service.acknowledge_alert(a1.id, OPERATOR)
    assert (acked.status, acked.handled_by, acked.handled_at) == (AlertStatus.ACKNOWLEDGED, "op-1", clock.now())
    with pytest.raises(Conflict, match="is acknowledged"):
        service.acknowledge_alert(a1.id, OPERATOR)
    with pytest.raises(InvalidInput, match="reason: required"):
        service.dismiss_alert(a1.id, OPERATOR, reason=" ")
    assert service.dismiss_alert(a1.id, OPERATOR, reason="shadows").dismiss_reason == "shadows"

    case = service.alert_to_case(a2.id, OPERATOR, note="looks real")
    assert (case.triage, case.state, case.reporter_id) == (TriageClass.COLLECTIVE, CaseState.DISPATCHED, "op-1")
    assert service.alert_to_case(a2.id, OPERATOR).id == case.id  # a second click makes no second case
    with pytest.raises(Conflict, match="belongs to case"):
        service.dismiss_alert(a2.id, OPERATOR, reason="x")
    with pytest.raises(Conflict, match="was dismissed"):
        service.alert_to_case(a1.id, OPERATOR)

    escalated = service.escalate_alert(a3.id, OPERATOR, note="wall leaning")
    assert (escalated.state, escalated.level) == (CaseState.ESCALATED, Level.COMMUNITY)
    assert service.alert(a3.id).status is AlertStatus.ESCALATED
    with pytest.raises(NotFound, match="alert 99 does not exist"):
        service.acknowledge_alert(99, OPERATOR)


def test_false_alarms_are_counted_per_camera_rule_and_reason(service: EventsService, clock: FakeClock) -> None:
    for i, (hazard, reason) in enumerate(
        [
            (HazardType.CROWD, "queue"),
            (HazardType.CROWD, "queue"),
            (HazardType.CROWD, "bus stop"),
            (HazardType.LOITERING, "guard"),
        ]
    ):
        alert = service.apply_observation(observation(f"ep-{i}", hazard=hazard, severity=Severity.LOW)).alert
        service.dismiss_alert(alert.id, OPERATOR, reason=reason)
    got = service.false_alarms(START, START + timedelta(days=1))
    assert [(f.camera_id, f.hazard, f.reason, f.count) for f in got] == [
        ("C1", HazardType.CROWD, "queue", 2),
        ("C1", HazardType.CROWD, "bus stop", 1),
        ("C1", HazardType.LOITERING, "guard", 1),
    ]
    assert service.false_alarms(START, START + timedelta(days=1), camera_id="C2") == []


def test_grid_activity_counts_open_cases_and_alerts_since(service: EventsService, clock: FakeClock) -> None:
    """What the map colours grids by: cases open now (a dismissed one is not), and alerts since a moment."""
    low = Severity.LOW

    def alert(episode: str, camera: str = "C1") -> int:
        obs = observation(episode, camera_id=camera, hazard=HazardType.LOITERING, severity=low, at=clock.now())
        found = service.apply_observation(obs)
        return found.alert.id

    kept = service.alert_to_case(alert("ep-1"), OPERATOR)
    gone = service.alert_to_case(alert("ep-2", "C2"), OPERATOR)
    service.transition(gone.id, A.DISMISS, OPERATOR, "a shadow")
    clock.advance(3600)
    since = clock.now()
    alert("ep-3", "C2")
    alert("ep-4", "C2")
    got = service.grid_activity(since)
    assert [(g.grid_id, g.open_cases, g.alerts) for g in got] == [("G1", 1, 0), ("G2b", 0, 2)]
    assert kept.grid_id == "G1"
    assert [g.grid_id for g in service.grid_activity(since, grid_ids=frozenset({"G1", "G3"}))] == ["G1"]
    assert service.grid_activity(START)[1].alerts == 3


# ----------------------------------------------------------------------------- the loop


def run_loop(service: EventsService, case_id: int, clock: FakeClock) -> None:
    """dispatched → accepted → in_progress → resolved (with a photo) → verified → closed."""
    photo = NewAttachment("after.png", png())
    for action, actor, note, files in [
        (A.ACCEPT, WORKER, "", ()),
        (A.START, WORKER, "on my way", ()),
        (A.RESOLVE, WORKER, "cleared", (photo,)),
        (A.VERIFY, OPERATOR, "checked on camera", ()),
        (A.CLOSE, OPERATOR, "", ()),
    ]:
        clock.advance(600)
        service.transition(case_id, action, actor, note, files)


@pytest.mark.parametrize("triage", list(TriageClass))
def test_full_loop_per_triage_class(
    triage: TriageClass, service: EventsService, clock: FakeClock, bus_log: Recorder
) -> None:
    if triage is TriageClass.PUBLIC:  # a fallen person, auto-cased
        case = service.apply_observation(observation()).case
    elif triage is TriageClass.COLLECTIVE:  # a wall, turned into a case by an operator
        alert = service.apply_observation(observation(hazard=HazardType.STRUCTURE, severity=Severity.MEDIUM)).alert
        case = service.alert_to_case(alert.id, OPERATOR)
    else:  # a grid worker's patrol finding, registered and dispatched by the centre
        case = service.patrol_report(
            PatrolReport(grid_id="G1", title="Blocked fire lane", location="Block 1"),
            WORKER,
            [NewAttachment("lane.png", png())],
        )
        assert (case.state, case.source, case.reporter_id) == (CaseState.REPORTED, CaseSource.PATROL, "W1")
        service.transition(case.id, A.REGISTER, OPERATOR)
        service.transition(case.id, A.DISPATCH, OPERATOR)
    assert case is not None
    assert case.triage is triage
    run_loop(service, case.id, clock)

    detail = service.case(case.id)
    done = detail.case
    assert (done.state, done.closed_at, done.resolved_at) == (
        CaseState.CLOSED,
        clock.now(),
        clock.now() - timedelta(seconds=1200),
    )
    steps = [(e.action, e.from_state, e.to_state, e.actor_id) for e in detail.audit if e.action != "report"]
    assert steps[-5:] == [
        ("accept", CaseState.DISPATCHED, CaseState.ACCEPTED, "W1"),
        ("start", CaseState.ACCEPTED, CaseState.IN_PROGRESS, "W1"),
        ("resolve", CaseState.IN_PROGRESS, CaseState.RESOLVED, "W1"),
        ("verify", CaseState.RESOLVED, CaseState.VERIFIED, "op-1"),
        ("close", CaseState.VERIFIED, CaseState.CLOSED, "op-1"),
    ]
    resolve = next(e for e in detail.audit if e.action == "resolve")
    assert (resolve.note, [a.name for a in resolve.attachments]) == ("cleared", ["after.png"])
    _, path = service.attachment_file(resolve.attachments[0].id)
    assert path.read_bytes().startswith(b"\x89PNG")
    assert bus_log.topics[-1] == "case.closed"
    with pytest.raises(Conflict, match="cannot reopen a case that is closed; it is final"):
        service.transition(case.id, A.REOPEN, OPERATOR, note="again")


def test_illegal_transitions_name_the_state_and_change_nothing(
    service: EventsService, sessions: sessionmaker[Session]
) -> None:
    case = service.apply_observation(observation()).case
    assert case is not None
    before = (counts(sessions), service.case(case.id))
    for action in (A.REGISTER, A.START, A.RESOLVE, A.VERIFY, A.CLOSE, A.REOPEN):
        with pytest.raises(Conflict, match=f"cannot {action.value} a case that is dispatched"):
            service.transition(case.id, action, OPERATOR, note="n")
    with pytest.raises(NotFound, match="case 77 does not exist"):
        service.transition(77, A.ACCEPT, WORKER)
    assert (counts(sessions), service.case(case.id)) == before


def test_reopen_and_redispatch_after_failed_verification(service: EventsService, clock: FakeClock) -> None:
    case = service.apply_observation(observation()).case
    assert case is not None
    for action in (A.ACCEPT, A.RESOLVE):
        service.transition(case.id, action, WORKER, note="done")
    clock.advance(3600)
    reopened = service.transition(case.id, A.REOPEN, OPERATOR, note="still there on camera")
    assert (reopened.state, reopened.resolved_at) == (CaseState.REOPENED, None)
    assert reopened.deadline_at == clock.now() + timedelta(hours=8)
    assert reopened.due_at == case.due_at  # the first deadline stays for the figures
    assert service.transition(case.id, A.DISPATCH, OPERATOR).state is CaseState.DISPATCHED


def test_a_grid_without_a_worker_needs_a_named_assignee(service: EventsService) -> None:
    case = service.apply_observation(observation(camera_id="C2")).case
    assert case is not None
    assert (case.grid_id, case.assignee_id, case.state) == ("G2b", None, CaseState.REGISTERED)
    with pytest.raises(InvalidInput, match='grid "G2b" has no grid worker'):
        service.transition(case.id, A.DISPATCH, OPERATOR)
    with pytest.raises(InvalidInput, match="only a dispatch names an assignee"):
        service.transition(case.id, A.ACCEPT, OPERATOR, assignee_id="X")
    sent = service.transition(case.id, A.DISPATCH, OPERATOR, assignee_id="W1")
    assert (sent.state, sent.assignee_id) == (CaseState.DISPATCHED, "W1")


def test_bad_attachments_are_refused_before_anything_is_stored(
    make_service: MakeService, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    service = make_service(policy=parse_policy({"attachments": {"max_bytes": 4096, "max_files": 2}}))
    case = service.apply_observation(observation()).case
    assert case is not None
    service.transition(case.id, A.ACCEPT, WORKER)
    before = (counts(sessions), service.case(case.id), files_under(tmp_path / "data"))
    bad = [
        ([NewAttachment("big.png", png(9000))], 'attachments[0]: "big.png" is .* the limit is 4096'),
        ([NewAttachment("x.exe", b"MZ" + bytes(100))], 'attachments[0]: "x.exe" is of an unknown type'),
        ([NewAttachment("e.png", b"")], 'attachments[0]: "e.png" is empty'),
        ([NewAttachment("a.png", png())] * 3, "attachments: at most 2 files"),
    ]
    for files, message in bad:
        with pytest.raises(InvalidInput, match=message.replace("[", r"\[").replace("]", r"\]")):
            service.transition(case.id, A.RESOLVE, WORKER, "fixed", files)
    assert (counts(sessions), service.case(case.id), files_under(tmp_path / "data")) == before


def test_a_progress_note_keeps_its_photos_and_leaves_the_state_alone(
    service: EventsService, bus_log: Recorder, tmp_path: Path
) -> None:
    case = service.apply_observation(observation()).case
    assert case is not None
    service.transition(case.id, A.ACCEPT, WORKER)
    photo = png()
    note = service.comment(case.id, WORKER, "barrier up at the gate", [NewAttachment("gate.png", photo)])
    only_photo = service.comment(case.id, WORKER, "", [NewAttachment("later.png", png(3000))])
    with pytest.raises(InvalidInput, match="text"):
        service.comment(case.id, WORKER, "  ")  # neither words nor photos
    [stored] = note.attachments
    assert (stored.name, stored.content_type, stored.size_bytes, stored.comment_id, stored.audit_id) == (
        "gate.png",
        "image/png",
        len(photo),
        note.id,
        None,
    )
    assert service.attachment_file(stored.id)[1].read_bytes() == photo
    detail = service.case(case.id)
    assert detail.case.state is CaseState.ACCEPTED
    assert [c.attachments for c in detail.comments] == [note.attachments, only_photo.attachments]
    assert all(not e.attachments for e in detail.audit)  # the trail's steps keep only their own files
    [message] = [m for m in bus_log.messages if m.topic == "case.comment" and m.payload["id"] == note.id]
    assert [a["name"] for a in message.payload["attachments"]] == ["gate.png"]
    assert "path" not in message.payload["attachments"][0]


def test_bad_progress_note_photos_are_refused_before_anything_is_stored(
    make_service: MakeService, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    service = make_service(policy=parse_policy({"attachments": {"max_bytes": 4096, "max_files": 2}}))
    case = service.apply_observation(observation()).case
    assert case is not None
    before = (counts(sessions), service.case(case.id), files_under(tmp_path / "data"))
    for files, message in [
        ([NewAttachment("big.png", png(9000))], 'photos[0]: "big.png" is .* the limit is 4096'),
        ([NewAttachment("x.exe", b"MZ" + bytes(100))], 'photos[0]: "x.exe" is of an unknown type'),
        ([NewAttachment("a.png", png())] * 3, "photos: at most 2 files"),
    ]:
        with pytest.raises(InvalidInput, match=message.replace("[", r"\[").replace("]", r"\]")):
            service.comment(case.id, WORKER, "progress", files)
    assert (counts(sessions), service.case(case.id), files_under(tmp_path / "data")) == before


# ----------------------------------------------------------------------------- escalation


def test_overdue_cases_escalate_grid_community_street_on_the_fake_clock(
    service: EventsService, clock: FakeClock, bus_log: Recorder
) -> None:
    late = service.apply_observation(observation("ep-1")).case  # high: 8 h
    done = service.apply_observation(
        observation("ep-2", hazard=HazardType.CROWD, severity=Severity.CRITICAL)
    ).case  # 2 h
    assert late is not None
    assert done is not None
    service.transition(done.id, A.ACCEPT, WORKER)
    service.transition(done.id, A.RESOLVE, WORKER, note="dispersed")

    clock.advance(8 * 3600 - 1)
    assert service.escalation_tick() == []
    clock.advance(1)
    (first,) = service.escalation_tick()
    assert (first.id, first.state, first.level) == (late.id, CaseState.ESCALATED, Level.COMMUNITY)
    assert first.deadline_at == clock.now() + timedelta(hours=24)
    assert service.escalation_tick() == []  # once per missed deadline

    clock.advance(24 * 3600)
    (second,) = service.escalation_tick()
    assert (second.level, second.deadline_at) == (Level.STREET, clock.now() + timedelta(hours=48))
    clock.advance(30 * 24 * 3600)
    assert service.escalation_tick() == []  # the street is the top
    trail = [e for e in service.case(late.id).audit if e.action == "escalate"]
    assert [(e.actor_id, e.data["from_level"], e.data["to_level"]) for e in trail] == [
        ("gridwatch", "grid", "community"),
        ("gridwatch", "community", "street"),
    ]
    assert bus_log.topics.count("case.escalated") == 2
    assert service.case(done.id).case.level is Level.GRID  # resolved in time: never escalated


# ----------------------------------------------------------------------------- people


def test_hotline_tickets_are_deduplicated_on_their_id(service: EventsService, sessions: sessionmaker[Session]) -> None:
    t1 = HotlineTicket("12345-001", "G1", "Noise at night", received_at=START - timedelta(hours=1))
    t2 = HotlineTicket("12345-002", "G2b", "Broken lamp")
    first = service.import_hotline([t1, t2, t1])
    assert (len(first.created), first.duplicates) == (2, ("12345-001",))
    again = service.import_hotline([t2, HotlineTicket("12345-003", "G1", "Pothole")])
    assert (len(again.created), again.duplicates) == (1, ("12345-002",))
    case = service.case_by_external_id(CaseSource.HOTLINE, "12345-001")
    assert (case.triage, case.state, case.assignee_id, case.created_at) == (
        TriageClass.PUBLIC,
        CaseState.DISPATCHED,
        "W1",
        START - timedelta(hours=1),
    )
    before = counts(sessions)
    with pytest.raises(InvalidInput) as err:
        service.import_hotline([HotlineTicket("12345-009", "G1", "ok"), HotlineTicket("12345-010", "G404", "x")])
    assert [str(i) for i in err.value.issues] == ['tickets[1].grid_id: grid "G404" does not exist']
    assert counts(sessions) == before


def test_patrol_report_in_an_unknown_grid_is_refused(service: EventsService, sessions: sessionmaker[Session]) -> None:
    with pytest.raises(NotFound, match='grid "G404" does not exist'):
        service.patrol_report(PatrolReport(grid_id="G404", title="x"), WORKER)
    with pytest.raises(InvalidInput, match="title: required"):
        service.patrol_report(PatrolReport(grid_id="G1", title=" "), WORKER)
    assert counts(sessions) == (0, 0, 0, 0, 0)


def test_comments(service: EventsService) -> None:
    case = service.patrol_report(PatrolReport(grid_id="G1", title="Litter"), WORKER)
    service.comment(case.id, OPERATOR, "seen")
    assert [(c.actor_id, c.text) for c in service.case(case.id).comments] == [("op-1", "seen")]
    with pytest.raises(InvalidInput, match="text: required"):
        service.comment(case.id, OPERATOR, "")


# ----------------------------------------------------------------------------- outbox


def test_the_outbox_replays_after_a_crash_between_commit_and_publish(
    make_service: MakeService, sessions: sessionmaker[Session]
) -> None:
    crashed = make_service(publish="off")  # commits, then dies before publishing
    lost = Recorder()
    crashed.bus.subscribe("*", lost)
    case = crashed.apply_observation(observation()).case
    assert case is not None
    crashed.transition(case.id, A.ACCEPT, WORKER)
    assert lost.messages == []
    assert crashed.outbox.pending() == 3

    restarted = make_service()
    got = Recorder()
    restarted.bus.subscribe("*", got)
    assert restarted.relay() == 3
    assert got.topics == ["alert.opened", "case.created", "case.accepted"]
    assert [m.id for m in got.messages] == sorted(m.id for m in got.messages)
    assert got.messages[2].payload["case"]["state"] == "accepted"
    assert restarted.relay() == 0
    assert restarted.outbox.pending() == 0


def test_a_failing_subscriber_does_not_stop_the_others(service: EventsService, bus_log: Recorder) -> None:
    def broken(_message: object) -> None:
        raise RuntimeError("subscriber bug")

    service.bus.subscribe("alert.*", broken)
    service.apply_observation(observation())
    assert bus_log.topics == ["alert.opened", "case.created"]
    assert service.bus.failures == 1
    assert service.outbox.pending() == 0


def test_background_relay_publishes_and_stops(make_service: MakeService) -> None:
    service = make_service(publish="thread")
    got = Recorder()
    done = threading.Event()
    service.bus.subscribe("*", got)
    service.bus.subscribe("case.created", lambda _m: done.set())
    service.start()
    try:
        service.apply_observation(observation())
        assert done.wait(10)
    finally:
        service.close()
    assert got.topics == ["alert.opened", "case.created"]


# ----------------------------------------------------------------------------- lists and figures


def test_lists_page_through_with_filters(service: EventsService, clock: FakeClock) -> None:
    for i in range(7):
        clock.advance(60)
        service.apply_observation(
            observation(f"ep-{i}", camera_id="C1" if i % 2 else "C2", hazard=HazardType.LOITERING)
        )
    seen: list[int] = []
    cursor = None
    while True:
        page = service.alerts(AlertFilter(), cursor=cursor, limit=3)
        seen += [a.id for a in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [7, 6, 5, 4, 3, 2, 1]
    assert [a.id for a in service.alerts(AlertFilter(grid_id="G1"), limit=10).items] == [6, 4, 2]
    assert [a.id for a in service.alerts(AlertFilter(camera_id="C2", since=START + timedelta(minutes=3))).items] == [
        7,
        5,
        3,
    ]
    with pytest.raises(InvalidInput, match="cursor: not a cursor"):
        service.alerts(cursor="nonsense")
    with pytest.raises(InvalidInput, match="limit: must be 1 to 500"):
        service.alerts(limit=0)

    ids = [service.alert_to_case(i, OPERATOR).id for i in (1, 2)]
    t = service.transition(ids[0], A.ESCALATE, OPERATOR)
    board = service.cases(CaseFilter(open=True), limit=1)
    assert [c.id for c in board.items] == [ids[1]]  # the later deadline comes second
    assert [c.id for c in service.cases(CaseFilter(open=True), cursor=board.next_cursor).items] == [t.id]
    assert [c.id for c in service.cases(CaseFilter(level=Level.COMMUNITY)).items] == [ids[0]]
    assert [c.id for c in service.cases(order="newest").items] == [ids[1], ids[0]]
    assert service.case_counts(CaseFilter(open=True))[CaseState.ESCALATED] == 1


def test_figures_match_hand_computed_values(
    service: EventsService, clock: FakeClock, sessions: sessionmaker[Session]
) -> None:
    """Four cases in grid G1 (community CM1), one in G2b (CM1), all created on day one.

    G1: A closed after 1 h (due 8 h, on time), B closed after 10 h (late), C dismissed, D still open.
        completion = 2 / (4 - 1); on time = 1 / 2; mean = (3600 + 36000) / 2; p90 of [3600, 36000] = 36000
    G2b: E closed after 2 h (on time).
    CM1: received 5, dismissed 1, closed 3: completion 3/4, on time 2/3, mean (3600+36000+7200)/3,
        p90 = 36000 (nearest rank: ceil(0.9 × 3) = 3rd of 3)
    """
    hazards = [HazardType.FALLEN_PERSON, HazardType.CROWD, HazardType.INTRUSION, HazardType.STRUCTURE]
    ids = []
    for i, hazard in enumerate(hazards):
        made = service.apply_observation(observation(f"g1-{i}", hazard=hazard, severity=Severity.CRITICAL)).case
        assert made is not None
        ids.append(made.id)
    e = service.apply_observation(observation("g2", camera_id="C2", severity=Severity.CRITICAL)).case
    assert e is not None
    service.transition(e.id, A.DISPATCH, OPERATOR, assignee_id="W1")
    service.transition(ids[2], A.DISMISS, OPERATOR, note="false alarm")

    def close_after(case_id: int, hours: float) -> None:
        with sessions() as s:
            created = s.get_one(CaseRow, case_id).created_at
        clock.advance((created + timedelta(hours=hours) - clock.now()).total_seconds())
        for action in (A.ACCEPT, A.RESOLVE, A.VERIFY, A.CLOSE):
            service.transition(case_id, action, OPERATOR, note="ok")

    close_after(ids[0], 1)
    close_after(e.id, 2)
    close_after(ids[1], 10)  # critical: due after 2 h, so late

    day = (START, START + timedelta(days=1))
    by_grid = {f.unit_id: f for f in service.figures(FigureLevel.GRID, *day)}
    g1 = by_grid["G1"]
    assert (g1.received, g1.closed, g1.dismissed, g1.closed_on_time) == (4, 2, 1, 1)
    assert g1.completion_rate == pytest.approx(2 / 3)
    assert g1.on_time_rate == pytest.approx(1 / 2)
    assert g1.mean_close_s == pytest.approx((3600 + 36000) / 2)
    assert g1.p90_close_s == pytest.approx(36000)
    rules = {r.hazard: (r.alerts, r.dismissed, r.false_alarm_rate) for r in g1.rules}
    assert rules[HazardType.INTRUSION] == (1, 1, 1.0)
    assert rules[HazardType.CROWD] == (1, 0, 0.0)
    g2b = by_grid["G2b"]
    assert (g2b.received, g2b.closed, g2b.completion_rate, g2b.on_time_rate, g2b.mean_close_s) == (
        1,
        1,
        1.0,
        1.0,
        7200.0,
    )
    (cm1,) = service.figures(FigureLevel.COMMUNITY, *day)
    assert (cm1.unit_id, cm1.received, cm1.closed, cm1.dismissed) == ("CM1", 5, 3, 1)
    assert cm1.completion_rate == pytest.approx(3 / 4)
    assert cm1.on_time_rate == pytest.approx(2 / 3)
    assert cm1.mean_close_s == pytest.approx((3600 + 36000 + 7200) / 3)
    assert cm1.p90_close_s == pytest.approx(36000)
    (street,) = service.figures(FigureLevel.STREET, *day)
    assert (street.unit_id, street.received) == ("S1", 5)
    assert service.figures(FigureLevel.GRID, START + timedelta(days=1), START + timedelta(days=2)) == []
    with pytest.raises(InvalidInput, match="until: must be after since"):
        service.figures(FigureLevel.GRID, START, START)


def test_a_site_change_reaches_routing(make_service: MakeService, site_store: SiteStore) -> None:
    service = make_service()
    site_store.set_enabled("C1", False)
    with pytest.raises(Conflict, match='camera "C1" is disabled'):
        service.apply_observation(observation())
    site_store.set_enabled("C1", True)
    assert service.apply_observation(observation()).case is not None


def test_a_disabled_cameras_open_episode_still_closes(make_service: MakeService, site_store: SiteStore) -> None:
    service = make_service()
    opened = service.apply_observation(observation("ep-open")).alert
    site_store.set_enabled("C1", False)
    later = START + timedelta(seconds=30)
    update = service.apply_observation(observation("ep-open", state=EpisodeState.UPDATED, seq=1, at=later)).alert
    assert update.id == opened.id
    closed = service.apply_observation(observation("ep-open", state=EpisodeState.CLOSED, seq=2, at=later)).alert
    assert (closed.id, closed.episode_state, closed.closed_at) == (opened.id, EpisodeState.CLOSED, later)
    # nothing new starts there, whatever the state it claims, alone or in a batch
    with pytest.raises(Conflict, match='camera "C1" is disabled'):
        service.apply_observation(observation("ep-new"))
    refused = service.apply_observations(
        [observation("ep-new2"), observation("ep-new2", state=EpisodeState.CLOSED, seq=1)]
    )
    assert all(isinstance(r, Conflict) for r in refused)
    with pytest.raises(NotFound):
        service.alert_by_episode("ep-new2")


def test_a_clip_is_stored_for_an_alert_and_checked(service: EventsService, sessions: sessionmaker[Session]) -> None:
    alert = service.apply_observation(observation()).alert
    mp4 = bytes(4) + b"ftypisom" + bytes(200)
    with pytest.raises(InvalidInput, match="clip: not an MP4 video"):
        service.attach_clip(alert.id, b"RIFF" + bytes(100))
    stored = service.attach_clip(alert.id, mp4)
    assert stored.clip is not None
    assert service.files.path(stored.clip).read_bytes() == mp4
    with pytest.raises(NotFound, match="alert 42 does not exist"):
        service.attach_clip(42, mp4)


def test_published_messages_can_be_pruned(service: EventsService, clock: FakeClock) -> None:
    service.apply_observation(observation())
    clock.advance(3600)
    assert service.outbox.prune(clock.now() - timedelta(minutes=30)) == 2
    assert service.outbox.prune(clock.now()) == 0
    assert service.outbox.pending() == 0


def test_a_cached_site_is_reread_in_the_background(
    sessions: sessionmaker[Session], site_store: SiteStore, tmp_path: Path, clock: FakeClock
) -> None:
    service = EventsService(sessions, site_store, tmp_path / "data", clock=clock, site_ttl_s=5.0)
    service.start()
    site_store.set_enabled("C1", False)
    assert service.apply_observation(observation("before")).created  # within the cache's life, the old view holds
    clock.advance(6)
    deadline = time.monotonic() + 10
    refused = False
    while not refused and time.monotonic() < deadline:
        try:
            service.router.camera("C1")
            time.sleep(0.02)
        except Conflict:
            refused = True
    assert refused
    with pytest.raises(Conflict, match='camera "C1" is disabled'):
        service.apply_observation(observation("after"))

"""The alert → case planner, without a database: key, title, deadline, state and trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from detectors.types import EpisodeState, HazardType, Severity
from events.case_plan import (
    HOTLINE,
    AuditStep,
    absorb_key,
    plan_absorb,
    plan_alert_case,
    plan_hotline_case,
    plan_patrol_case,
)
from events.policy import Policy, parse_policy
from events.types import (
    SYSTEM,
    Actor,
    ActorRole,
    Alert,
    AlertStatus,
    CaseSource,
    CaseState,
    HotlineTicket,
    PatrolReport,
    Route,
    TriageClass,
)

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
WORKED = Route("G1", "CM1", "S1", "W1", ("B1", "M1"))
UNSTAFFED = Route("G2", "CM1", "S1", None)
OPERATOR = Actor("op", ActorRole.OPERATOR)
S = CaseState
REGISTERED = [("report", None, S.REPORTED), ("register", S.REPORTED, S.REGISTERED)]


def alert(hazard: HazardType = HazardType.FALLEN_PERSON, severity: Severity = Severity.HIGH) -> Alert:
    return Alert(
        id=7,
        episode_id="ep-7",
        camera_id="C1",
        zone_id="z1",
        hazard=hazard,
        severity=severity,
        episode_state=EpisodeState.OPENED,
        status=AlertStatus.NEW,
        seq=0,
        grid_id="G1",
        community_id="CM1",
        street_id="S1",
        started_at=NOW,
        last_seen_at=NOW,
        received_at=NOW,
        summary="one person down",
    )


def trail(steps: tuple[AuditStep, ...]) -> list[tuple[str, CaseState | None, CaseState]]:
    return [(st.action, st.from_state, st.to_state) for st in steps]


@pytest.mark.parametrize(
    ("route", "state", "actions"),
    [
        (WORKED, S.DISPATCHED, [*REGISTERED, ("dispatch", S.REGISTERED, S.DISPATCHED)]),
        (UNSTAFFED, S.REGISTERED, REGISTERED),
    ],
)
def test_an_alert_case_is_dispatched_to_the_grids_worker_when_there_is_one(
    route: Route, state: CaseState, actions: list[tuple[str, CaseState | None, CaseState]]
) -> None:
    plan = plan_alert_case(Policy(), alert(), route, OPERATOR, NOW, "seen live")
    d = plan.draft
    assert (d.source, d.state, d.title, d.triage, d.severity, d.hazard) == (
        CaseSource.CAMERA,
        state,
        "Person fallen: camera C1",
        TriageClass.PUBLIC,
        Severity.HIGH,
        HazardType.FALLEN_PERSON,
    )
    assert (d.camera_id, d.zone_id, d.description, d.open_key, d.alert_count) == (
        "C1",
        "z1",
        "one person down",
        "C1|fallen_person",
        1,
    )
    assert (d.created_at, d.updated_at, d.deadline_at) == (NOW, NOW, NOW + timedelta(hours=8))
    assert trail(plan.steps) == actions
    assert all((st.actor, st.at) == (OPERATOR, NOW) for st in plan.steps)
    assert [st.note for st in plan.steps] == ["seen live"] + [""] * (len(actions) - 1)
    assert plan.steps[0].data == {"source": "camera", "holder": f"grid:{route.grid_id}"}
    if route.assignee_id is not None:
        assert plan.steps[-1].data == {"assignee_id": "W1"}


@pytest.mark.parametrize(
    ("severity", "policy", "hours"),
    [
        (Severity.CRITICAL, Policy(), 2),
        (Severity.LOW, Policy(), 72),
        (Severity.LOW, parse_policy({"hazards": {"fallen_person": {"deadline_h": 5}}}), 5),
    ],
)
def test_the_deadline_is_the_hazards_or_else_the_severitys(severity: Severity, policy: Policy, hours: int) -> None:
    d = plan_alert_case(policy, alert(severity=severity), WORKED, SYSTEM, NOW).draft
    assert d.deadline_at == NOW + timedelta(hours=hours)
    assert d.columns()["due_at"] == d.columns()["deadline_at"] == d.deadline_at


def test_without_absorption_an_alert_case_has_no_open_key() -> None:
    policy = parse_policy({"absorb_into_open_case": False})
    assert absorb_key(policy, "C1", HazardType.CROWD) is None
    assert plan_alert_case(policy, alert(), WORKED, SYSTEM, NOW).draft.open_key is None
    assert absorb_key(Policy(), "C1", HazardType.CROWD) == "C1|crowd"


def test_an_absorbed_alert_leaves_a_step_that_keeps_the_state() -> None:
    step = plan_absorb(alert(), S.ACCEPTED, SYSTEM, NOW)
    assert (step.action, step.from_state, step.to_state, step.note) == ("add_alert", S.ACCEPTED, S.ACCEPTED, "")
    assert step.data == {"alert_id": 7, "episode_id": "ep-7"}


def test_a_patrol_report_stays_reported_for_the_centre() -> None:
    report = PatrolReport("G1", "Broken fence", "a panel is down", location="Block 2", camera_id="C1")
    worker = Actor("W1", ActorRole.GRID_WORKER)
    plan = plan_patrol_case(Policy(), report, WORKED, worker, NOW)
    d = plan.draft
    assert (d.source, d.state, d.triage, d.severity, d.hazard, d.open_key, d.alert_count) == (
        CaseSource.PATROL,
        S.REPORTED,
        TriageClass.PRIVATE,
        Severity.MEDIUM,
        None,
        None,
        0,
    )
    assert (d.title, d.description, d.location, d.camera_id, d.reporter) == (
        "Broken fence",
        "a panel is down",
        "Block 2",
        "C1",
        worker,
    )
    assert trail(plan.steps) == [("report", None, S.REPORTED)]
    assert plan.steps[0].data == {"source": "patrol", "holder": "grid:G1"}


def test_a_hotline_ticket_keeps_its_own_clock_and_deadline() -> None:
    received = NOW - timedelta(hours=3)
    ticket = HotlineTicket(" T-1 ", "G1", " Noise ", received_at=received, deadline_at=NOW + timedelta(hours=1))
    plan = plan_hotline_case(Policy(), ticket, WORKED, NOW)
    d = plan.draft
    assert (d.source, d.external_id, d.title, d.triage, d.state, d.reporter) == (
        CaseSource.HOTLINE,
        "T-1",
        "Noise",
        TriageClass.PUBLIC,
        S.DISPATCHED,
        HOTLINE,
    )
    assert (d.created_at, d.updated_at, d.deadline_at) == (received, NOW, NOW + timedelta(hours=1))
    assert all(st.actor == HOTLINE and st.at == NOW for st in plan.steps)

    plain = plan_hotline_case(Policy(), HotlineTicket("T-2", "G2", "Noise"), UNSTAFFED, NOW).draft
    assert (plain.created_at, plain.deadline_at, plain.state) == (NOW, NOW + timedelta(hours=24), S.REGISTERED)


def test_rows_hold_what_the_plan_says() -> None:
    plan = plan_alert_case(Policy(), alert(), WORKED, OPERATOR, NOW, "n")
    cols = plan.draft.columns()
    assert {k: cols[k] for k in ("source", "state", "level", "hazard", "assignee_id", "informed", "reporter_id")} == {
        "source": "camera",
        "state": "dispatched",
        "level": "grid",
        "hazard": "fallen_person",
        "assignee_id": "W1",
        "informed": ["B1", "M1"],
        "reporter_id": "op",
    }
    assert (cols["is_open"], cols["resolved_at"], cols["closed_at"]) == (True, None, None)
    assert plan.steps[0].columns(57) == {
        "case_id": 57,
        "at": NOW,
        "actor_id": "op",
        "actor_role": "operator",
        "action": "report",
        "from_state": None,
        "to_state": "reported",
        "note": "n",
        "data": {"source": "camera", "holder": "grid:G1"},
    }


def test_a_long_title_is_cut_to_the_columns_size() -> None:
    report = PatrolReport("G1", "x" * 300)
    assert len(plan_patrol_case(Policy(), report, WORKED, OPERATOR, NOW).draft.title) == 200

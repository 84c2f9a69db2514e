"""Who holds a case: a property company for collective matters (by policy), a partner unit by dispatch."""

from __future__ import annotations

from datetime import timedelta

import pytest

from camera_config.store import SiteStore
from camera_config.validate import validate_site
from core.clock import FakeClock
from core.errors import InvalidInput
from detectors.types import HazardType, Observation, Severity
from events.messages import Delivery, encode
from events.notify.config import facts_of
from events.policy import Policy
from events.queries import CaseFilter
from events.service import EventsService
from events.types import Actor, ActorRole, CaseAction, CaseState, FigureLevel, PatrolReport
from tests.events.conftest import MakeService, events_site
from tests.support.factories import observation

A = CaseAction
OPERATOR = Actor("op", ActorRole.OPERATOR)
COMPANY_STAFF = Actor("pc1-staff", ActorRole.GRID_WORKER)
UNIT_MEMBER = Actor("pu1-member", ActorRole.GRID_WORKER)
PU1 = {"id": "PU1", "name": "Volunteers", "contact": {"name": "Gao Lin", "phone": "+86 21 5555 0101"}}


@pytest.fixture
def with_units(site_store: SiteStore) -> SiteStore:
    site_store.apply_site(validate_site({**events_site(), "partner_units": [{**PU1, "communities": ["CM1"]}]}))
    return site_store


def intrusion(episode: str, camera: str = "C1") -> Observation:
    return observation(episode, camera_id=camera, hazard=HazardType.INTRUSION, severity=Severity.HIGH, detections=())


def test_by_policy_a_collective_matter_goes_to_the_compounds_property_company(make_service: MakeService) -> None:
    service = make_service(policy=Policy(collective_to_company=True))
    case = service.apply_observation(intrusion("in-1")).case  # intrusion: a collective matter
    assert case is not None
    assert (case.state, case.holder, case.assignee_id, case.compound_id) == (
        CaseState.DISPATCHED,
        "company:PC1",
        None,
        "K1",
    )
    trail = service.case(case.id).audit
    assert [(t.action, t.data.get("holder")) for t in trail] == [
        ("report", "company:PC1"),
        ("register", None),
        ("dispatch", "company:PC1"),
    ]
    fallen = service.apply_observation(observation("fall-1")).case  # a public matter stays with the grid
    assert fallen is not None
    assert (fallen.holder, fallen.assignee_id) == ("grid:G1", "W1")


def test_without_the_policy_every_case_stays_with_its_grid(service: EventsService) -> None:
    case = service.apply_observation(intrusion("in-2")).case
    assert case is not None
    assert (case.holder, case.assignee_id, case.compound_id) == ("grid:G1", "W1", "K1")


def test_an_operator_dispatches_a_case_to_a_partner_unit_whose_member_resolves_it(
    make_service: MakeService, with_units: SiteStore, clock: FakeClock
) -> None:
    service = make_service()
    worker = Actor("W1", ActorRole.GRID_WORKER)
    report = service.patrol_report(PatrolReport("G1", "Elderly resident needs help moving"), worker)
    service.transition(report.id, A.REGISTER, OPERATOR)
    clock.advance(60)
    handed = service.transition(report.id, A.DISPATCH, OPERATOR, "volunteers are near", holder="partner:PU1")
    assert (handed.state, handed.holder, handed.assignee_id) == (CaseState.DISPATCHED, "partner:PU1", None)
    for action in (A.ACCEPT, A.START):
        service.transition(report.id, action, UNIT_MEMBER)
    done = service.transition(report.id, A.RESOLVE, UNIT_MEMBER, "moved the furniture")
    assert done.state is CaseState.RESOLVED
    trail = service.case(report.id).audit
    dispatch = next(t for t in trail if t.action == "dispatch")
    assert dict(dispatch.data) == {"holder": "partner:PU1", "from_holder": "grid:G1"}
    assert dispatch.at == handed.updated_at
    assert [t.actor_id for t in trail if t.action in ("accept", "start", "resolve")] == ["pu1-member"] * 3
    held = service.cases(CaseFilter(holders=frozenset({"partner:PU1"})), limit=50).items
    assert [c.id for c in held] == [report.id]


def test_a_dispatched_camera_case_can_be_handed_over_before_anyone_accepts(
    service: EventsService, with_units: SiteStore
) -> None:
    case = service.apply_observation(observation("fall-2")).case
    assert case is not None
    moved = service.transition(case.id, A.DISPATCH, OPERATOR, holder="partner:PU1")
    assert moved.holder == "partner:PU1"
    back = service.transition(moved.id, A.DISPATCH, OPERATOR, assignee_id="W1")
    assert (back.holder, back.assignee_id) == ("grid:G1", "W1")
    away = service.transition(back.id, A.DISPATCH, OPERATOR, holder="partner:PU1")
    assert away.assignee_id is None
    home = service.transition(away.id, A.DISPATCH, OPERATOR, holder="grid:G1")  # back to the grid: to its worker
    assert (home.holder, home.assignee_id) == ("grid:G1", "W1")
    with pytest.raises(InvalidInput, match='belongs to grid "G1", not grid:G3'):
        service.transition(home.id, A.DISPATCH, OPERATOR, holder="grid:G3")


@pytest.mark.parametrize(
    ("holder", "message"),
    [
        ("partner:PU9", 'no partner "PU9" in the site'),
        ("company:PC9", 'no company "PC9" in the site'),
        ("grid:G9", 'no grid "G9" in the site'),
        ("ministry:M1", '"ministry:M1" is not one of grid:<id>, company:<id>, partner:<id>'),
    ],
)
def test_a_dispatch_to_an_unknown_holder_names_it_and_changes_nothing(
    service: EventsService, with_units: SiteStore, holder: str, message: str
) -> None:
    case = service.apply_observation(observation("fall-3")).case
    assert case is not None
    with pytest.raises(InvalidInput, match=message) as info:
        service.transition(case.id, A.DISPATCH, OPERATOR, holder=holder)
    assert info.value.issues[0].where == "holder"
    assert service.case(case.id).case == case
    with pytest.raises(InvalidInput, match="only a dispatch names a holder"):
        service.transition(case.id, A.ACCEPT, OPERATOR, holder="partner:PU1")


def test_figures_per_property_company_and_partner_unit(
    make_service: MakeService, with_units: SiteStore, clock: FakeClock
) -> None:
    service = make_service(policy=Policy(collective_to_company=True))
    start = clock.now()
    first = service.apply_observation(intrusion("in-3")).case
    second = service.apply_observation(intrusion("in-4", camera="C2")).case  # K2: PC1 too
    assert first is not None
    assert second is not None
    for action, note in ((A.ACCEPT, ""), (A.RESOLVE, "gate locked"), (A.VERIFY, ""), (A.CLOSE, "")):
        service.transition(first.id, action, OPERATOR if action in (A.VERIFY, A.CLOSE) else COMPANY_STAFF, note)
    fall = service.apply_observation(observation("fall-4")).case
    assert fall is not None
    service.transition(fall.id, A.DISPATCH, OPERATOR, holder="partner:PU1")
    period = (start - timedelta(minutes=1), clock.now() + timedelta(minutes=1))
    companies = service.figures(FigureLevel.PROPERTY_COMPANY, *period)
    assert [(u.unit_id, u.received, u.closed, u.closed_on_time, u.completion_rate) for u in companies] == [
        ("PC1", 2, 1, 1, 0.5)
    ]
    units = service.figures(FigureLevel.PARTNER_UNIT, *period)
    assert [(u.level, u.unit_id, u.received, u.closed, u.completion_rate) for u in units] == [
        (FigureLevel.PARTNER_UNIT, "PU1", 1, 0, 0.0)
    ]


def test_a_cases_holder_is_a_place_notification_rules_and_subscriptions_match(
    make_service: MakeService, with_units: SiteStore
) -> None:
    service = make_service(policy=Policy(collective_to_company=True))
    seen: list[Delivery] = []
    unsubscribe = service.bus.subscribe("case.*", seen.append)
    try:
        case = service.apply_observation(intrusion("in-5")).case
        assert case is not None
        service.transition(case.id, A.DISPATCH, OPERATOR, holder="partner:PU1")
    finally:
        unsubscribe()
    created, dispatched = (facts_of(encode(d.message)) for d in (seen[0], seen[-1]))
    assert {"G1", "CM1", "company:PC1"} <= created.places
    assert "partner:PU1" in dispatched.places
    assert "company:PC1" not in dispatched.places

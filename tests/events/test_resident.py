"""Residents' reports (the Open311 façade's service): placed by their point, routed like a 12345 ticket,
their reply read back without anything internal."""

from __future__ import annotations

import json
from typing import Any

import pytest

from camera_config.store import SiteStore
from camera_config.validate import validate_site
from core.errors import InvalidInput
from events.case_plan import plan_resident_case
from events.policy import Policy
from events.resident import BY_CODE, KINDS, Reporter, RequestFilter
from events.service import EventsService
from events.types import (
    Actor,
    ActorRole,
    CaseAction,
    CaseSource,
    CaseState,
    PatrolReport,
    ResidentReport,
    Route,
    TriageClass,
)
from tests.events.conftest import Recorder, events_site
from tests.support.factories import START

OPERATOR = Actor("op", ActorRole.OPERATOR)
WORKER = Actor("W1", ActorRole.GRID_WORKER)


def box(lon: float, lat: float, size: float) -> list[list[float]]:
    return [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size]]


@pytest.fixture
def placed(site_store: SiteStore) -> SiteStore:
    """K1 (G1's) lies inside the road grid GR's polygon; K2 is split between G2a and G2b; GS is a small
    polygon inside GR's."""
    doc: dict[str, Any] = events_site()
    outlines = {"K1": box(121.02, 31.02, 0.01), "K2": box(121.2, 31.2, 0.01), "K3": box(121.3, 31.3, 0.01)}
    doc["compounds"] = [{**k, "outline": outlines[k["id"]]} for k in doc["compounds"]]
    doc["grids"] = [
        *doc["grids"],
        {"id": "GS", "name": "Square", "community": "CM2", "polygon": box(121.06, 31.06, 0.02)},
    ]
    site_store.apply_site(validate_site(doc))
    return site_store


def report(lat: float, lon: float, **over: Any) -> ResidentReport:
    return ResidentReport(**{"client": "app", "kind": "fire_lane_blocked", "lat": lat, "lon": lon, **over})


@pytest.mark.parametrize(
    ("lat", "lon", "grid", "compound"),
    [
        (31.025, 121.025, "G1", "K1"),  # the compound's grid, though the point is in GR's polygon as well
        (31.205, 121.205, "G2a", "K2"),  # a compound of two grids without polygons: the lowest id
        (31.05, 121.05, "GR", None),  # only the road's polygon
        (31.07, 121.07, "GS", None),  # two polygons: the smaller
    ],
)
def test_a_point_finds_its_grid(
    placed: SiteStore, service: EventsService, lat: float, lon: float, grid: str, compound: str | None
) -> None:
    route = service.router.locate(lat, lon)
    assert route is not None
    assert (route.grid_id, route.compound_id) == (grid, compound)
    if compound == "K1":
        assert route.company_id == "PC1"


def test_a_point_in_no_grid_is_none(placed: SiteStore, service: EventsService) -> None:
    assert service.router.locate(30.0, 120.0) is None
    assert service.router.locate(31.1, 121.2) is None  # between K2 and GR


def test_a_report_becomes_a_dispatched_case_of_its_grid(placed: SiteStore, service: EventsService) -> None:
    done = service.resident_report(report(31.025, 121.025, description="三轮车堵住通道", phone="13800000000"))
    case = done.case
    assert done.created
    assert (case.source, case.grid_id, case.state, case.assignee_id) == (
        CaseSource.RESIDENT,
        "G1",
        CaseState.DISPATCHED,
        "W1",
    )
    assert case.reporter_id == "open311:app"
    assert case.description == "三轮车堵住通道"
    assert case.title == "Fire lane blocked by a vehicle: resident report"
    assert (done.lat, done.lon, done.kind, done.client) == (31.025, 121.025, "fire_lane_blocked", "app")
    trail = [e.action for e in service.case(case.id).audit]
    assert trail == ["report", "register", "dispatch"]


def test_outside_every_grid_names_the_location(placed: SiteStore, service: EventsService) -> None:
    with pytest.raises(InvalidInput) as caught:
        service.resident_report(report(30.0, 120.0))
    [issue] = caught.value.issues
    assert issue.where == "location"
    assert "lat=30.0" in issue.message
    assert "long=120.0" in issue.message


def test_bad_fields_are_named(placed: SiteStore, service: EventsService) -> None:
    with pytest.raises(InvalidInput) as caught:
        service.resident_report(report(95.0, float("nan"), kind="pothole", description="x" * 4001))
    assert {i.where for i in caught.value.issues} == {"kind", "lat", "lon", "description"}


def test_the_same_idempotency_key_answers_with_the_first_case(placed: SiteStore, service: EventsService) -> None:
    first = service.resident_report(report(31.05, 121.05, idempotency_key="k1"))
    again = service.resident_report(report(31.05, 121.05, idempotency_key="k1"))
    other_app = service.resident_report(report(31.05, 121.05, idempotency_key="k1", client="other"))
    assert again.case.id == first.case.id
    assert not again.created
    assert other_app.case.id != first.case.id


def test_the_reply_is_the_closing_note_only(placed: SiteStore, service: EventsService) -> None:
    case_id = service.resident_report(report(31.025, 121.025)).case.id
    for action, actor, note in (
        (CaseAction.ACCEPT, WORKER, ""),
        (CaseAction.START, WORKER, ""),
        (CaseAction.RESOLVE, WORKER, "internal feedback"),
        (CaseAction.VERIFY, OPERATOR, ""),
    ):
        service.transition(case_id, action, actor, note)
    assert service.resident_request(case_id).reply == ""
    service.transition(case_id, CaseAction.CLOSE, OPERATOR, "cleared, thank you")
    closed = service.resident_request(case_id)
    assert closed.reply == "cleared, thank you"
    assert closed.case.state is CaseState.CLOSED
    listed = service.resident_requests(RequestFilter(is_open=False))
    assert [r.case.id for r in listed] == [case_id]
    assert service.resident_requests(RequestFilter(is_open=True)) == []


def test_every_kind_plans_a_case() -> None:
    policy = Policy()
    route = Route("G1", "CM1", "S1", "W1", compound_id="K1", company_id="PC1")
    for kind in KINDS:
        plan = plan_resident_case(policy, report(31.0, 121.0, kind=kind.code), route, START)
        assert plan.draft.source is CaseSource.RESIDENT
        assert plan.draft.state is CaseState.DISPATCHED
        assert plan.draft.hazard == kind.hazard
        assert plan.draft.location == "31.000000, 121.000000"
    collective = Policy(collective_to_company=True)
    plan = plan_resident_case(collective, report(31.0, 121.0, kind="litter"), route, START)
    assert BY_CODE["litter"].triage is TriageClass.COLLECTIVE
    assert plan.draft.holder == "company:PC1"  # a collective matter in a compound: its property company


def test_the_reporter_is_kept_for_the_case_and_never_goes_on_the_bus(
    placed: SiteStore, service: EventsService, bus_log: Recorder
) -> None:
    contact = {"phone": "13800000000", "email": "wang@example.cn", "first_name": "小明", "last_name": "王"}
    done = service.resident_report(report(31.025, 121.025, media_url="https://img.example.cn/1.jpg", **contact))
    found = service.resident_reporter(done.case.id)
    assert found is not None
    assert (found.name, found.phone, found.email, found.client) == ("王小明", "13800000000", "wang@example.cn", "app")
    assert found.media_url == "https://img.example.cn/1.jpg"
    assert found.has_contact
    service.transition(done.case.id, CaseAction.ACCEPT, WORKER)
    payloads = json.dumps([dict(d.payload) for d in bus_log.messages], ensure_ascii=False, default=str)
    assert bus_log.topics
    for private in ("13800000000", "wang@example.cn", "小明"):
        assert private not in payloads
    quiet = service.resident_reporter(service.resident_report(report(31.025, 121.025)).case.id)
    assert quiet is not None
    assert not quiet.has_contact
    assert quiet.name == ""


@pytest.mark.parametrize(
    ("first", "last", "name"),
    [("Ming", "Wang", "Ming Wang"), ("小明", "王", "王小明"), ("", "王", "王"), ("A", "", "A")],
)
def test_a_reporters_name_reads_as_written(first: str, last: str, name: str) -> None:
    r = Reporter("app", first, last, "", "", "", "", "")
    assert r.name == name


def test_a_case_that_is_not_a_residents_has_no_reporter(placed: SiteStore, service: EventsService) -> None:
    case = service.patrol_report(PatrolReport(grid_id="G1", title="Broken fence"), WORKER)
    assert service.resident_reporter(case.id) is None

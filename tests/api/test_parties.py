"""Four levels and their parties: each sees exactly its own cameras, alerts, cases, figures, events and map.

On the demo site: PC-01 manages K-01 (G-01: CAM-01, CAM-04) and K-02 (G-02: CAM-02); PC-02 manages K-03
(G-03: CAM-03). The policy sends collective matters to the compound's property company.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from api.access import Role, Scope, ScopeKind
from api.users import UserStore
from core.clock import FakeClock
from events.policy import Policy
from events.service import EventsService
from events.types import Actor, ActorRole, CaseAction, PatrolReport
from tests.api.conftest import PASSWORD, Api
from tests.support.factories import remote_observation

PARTIES: dict[str, tuple[Role, Scope]] = {
    "pc1": (Role.PROPERTY_STAFF, Scope(ScopeKind.COMPANY, ("PC-01",))),
    "k3": (Role.COMPOUND_STAFF, Scope(ScopeKind.COMPOUNDS, ("K-03",))),
    "pu1": (Role.PARTNER_MEMBER, Scope(ScopeKind.PARTNER, ("PU-01",))),
    "street": (Role.OPERATOR, Scope(ScopeKind.STREET, ("ST-DEMO",))),
}


@pytest.fixture
def events_policy() -> Policy:
    """Collective matters go to the compound's property company."""
    return Policy(collective_to_company=True)


@pytest.fixture
def world(api: Api, users: UserStore, events: EventsService) -> dict[str, Any]:
    """The parties' accounts, and a case for each holder: PC-01's, PC-02's, a grid's, PU-01's."""
    for name, (role, scope) in PARTIES.items():
        users.create(name, role, scope=scope, password=PASSWORD)
    ids: dict[str, Any] = {}
    for key, camera, hazard in (("pc1", "CAM-01", "intrusion"), ("pc2", "CAM-03", "intrusion")):
        result = events.apply_remote_observation(
            remote_observation(f"ep-{key}", camera_id=camera, hazard=hazard, severity="high")
        )
        assert result.case is not None
        ids[f"case_{key}"], ids[f"alert_{key}"] = result.case.id, result.alert.id
    grid = events.apply_remote_observation(
        remote_observation("ep-grid", camera_id="CAM-02", hazard="fallen_person", severity="high")
    )
    assert grid.case is not None
    ids["case_grid"], ids["alert_grid"] = grid.case.id, grid.alert.id  # a public matter: G-02's worker
    op = api.as_("operator")
    report = op.post("/api/cases", json={"grid_id": "G-03", "title": "Elderly resident needs help moving"}).json()
    op.post(f"/api/cases/{report['id']}/transitions", json={"action": "register"})
    res = op.post(f"/api/cases/{report['id']}/transitions", json={"action": "dispatch", "holder": "partner:PU-01"})
    assert res.status_code == 200, res.text
    ids["case_pu1"] = report["id"]
    return ids


SEES: dict[str, dict[str, set[str]]] = {
    # user: cameras, alerts (by camera), cases (by holder), map grids
    "pc1": {"cameras": {"CAM-01", "CAM-02", "CAM-04"}, "cases": {"company:PC-01"}, "grids": {"G-01", "G-02"}},
    "k3": {"cameras": {"CAM-03"}, "cases": {"company:PC-02"}, "grids": {"G-03"}},
    "pu1": {"cameras": set(), "cases": {"partner:PU-01"}, "grids": set()},
    "operator": {
        "cameras": {"CAM-01", "CAM-02", "CAM-03", "CAM-04"},
        "cases": {"company:PC-01", "company:PC-02", "grid:G-02", "partner:PU-01"},
        "grids": {"G-01", "G-02", "G-03"},
    },
    "street": {
        "cameras": {"CAM-01", "CAM-02", "CAM-03", "CAM-04"},
        "cases": {"company:PC-01", "company:PC-02", "grid:G-02", "partner:PU-01"},
        "grids": {"G-01", "G-02", "G-03"},
    },
}


@pytest.mark.parametrize("user", SEES)
def test_each_party_sees_exactly_its_own(api: Api, world: dict[str, Any], user: str) -> None:
    client, want = api.as_(user), SEES[user]
    cameras = {c["id"] for c in client.get("/api/cameras").json()["items"]}
    assert cameras == want["cameras"]
    alerts = {a["camera_id"] for a in client.get("/api/alerts").json()["items"]}
    assert alerts == want["cameras"] & {"CAM-01", "CAM-02", "CAM-03"}
    cases = {c["holder"] for c in client.get("/api/cases").json()["items"]}
    assert cases == want["cases"]
    grids = {g["id"] for g in client.get("/api/map").json()["grids"]}
    assert grids == want["grids"]
    for key, holder in (("case_pc1", "company:PC-01"), ("case_pc2", "company:PC-02"), ("case_pu1", "partner:PU-01")):
        status = client.get(f"/api/cases/{world[key]}").status_code
        assert status == (200 if holder in want["cases"] else 404), (key, status)
    for camera, key in (("CAM-01", "alert_pc1"), ("CAM-03", "alert_pc2")):
        assert client.get(f"/api/alerts/{world[key]}").status_code == (200 if camera in want["cameras"] else 404)
        assert client.get(f"/api/cameras/{camera}").status_code == (200 if camera in want["cameras"] else 404)
        live = client.post(f"/api/cameras/{camera}/live", json={"sdp": "v=0", "type": "offer"})
        if camera not in want["cameras"]:  # no wall tile of another's camera; a partner unit has no live view
            assert live.status_code == (403 if user == "pu1" else 404), live.text


def test_a_company_sees_only_the_cases_it_holds_not_every_case_of_its_grids(api: Api, world: dict[str, Any]) -> None:
    pc1 = api.as_("pc1")
    assert pc1.get(f"/api/cases/{world['case_grid']}").status_code == 404  # G-02's public matter
    assert pc1.get(f"/api/alerts/{world['alert_grid']}").status_code == 200  # its camera's alert, all the same


def test_parties_work_their_cases_and_not_others(api: Api, world: dict[str, Any]) -> None:
    pc1, pu1 = api.as_("pc1"), api.as_("pu1")
    case = pc1.get(f"/api/cases/{world['case_pc1']}").json()["case"]
    assert case["allowed_actions"] == ["accept"]
    for action, note in (("accept", ""), ("start", ""), ("resolve", "gate re-locked, lock replaced")):
        res = pc1.post(f"/api/cases/{world['case_pc1']}/transitions", json={"action": action, "note": note})
        assert res.status_code == 200, res.text
    assert res.json()["state"] == "resolved"
    refused = pu1.post(f"/api/cases/{world['case_pc1']}/transitions", json={"action": "verify"})
    assert refused.status_code in (403, 404)
    assert pu1.post(f"/api/cases/{world['case_pc2']}/transitions", json={"action": "accept"}).status_code == 404
    res = pu1.post(f"/api/cases/{world['case_pu1']}/transitions", json={"action": "accept"})
    assert res.status_code == 200, res.text
    mine = pu1.get("/api/cases", params={"mine": "true", "open": "true"}).json()["items"]
    assert [c["id"] for c in mine] == [world["case_pu1"]]
    trail = api.as_("operator").get(f"/api/cases/{world['case_pu1']}").json()["audit"]
    dispatch = next(t for t in trail if t["action"] == "dispatch")
    assert (dispatch["data"]["holder"], dispatch["data"]["from_holder"]) == ("partner:PU-01", "grid:G-03")
    accepted = next(t for t in trail if t["action"] == "accept")
    assert (accepted["actor_id"], accepted["actor_role"]) == ("pu1", "partner")


def test_figures_per_company_and_unit_in_scope(api: Api, world: dict[str, Any], clock: FakeClock) -> None:
    clock.advance(60)  # the period ends now, exclusive: the cases were made a minute ago

    def units(user: str, level: str) -> set[str]:
        res = api.as_(user).get("/api/figures", params={"level": level})
        assert res.status_code == 200, res.text
        return {u["unit_id"] for u in res.json()}

    assert units("admin", "property_company") == {"PC-01", "PC-02"}
    assert units("pc1", "property_company") == {"PC-01"}
    assert units("pu1", "partner_unit") == {"PU-01"}
    assert units("pc1", "grid") == set()  # grid figures count cases a company does not hold
    assert units("k3", "property_company") == set()  # a compound's staff: not the whole company's
    assert units("street", "partner_unit") == {"PU-01"}
    received = {u["unit_id"]: u["received"] for u in api.as_("admin").get("/api/figures?level=property_company").json()}
    assert received == {"PC-01": 1, "PC-02": 1}


def test_a_party_hears_only_its_own_events(served: str, world: dict[str, Any], events: EventsService) -> None:
    """Each party's stream replays what it may see; a last event of its own, made once it is listening, marks the
    end of the replay (events come in order), so nothing is left to a quiet period."""
    operator = Actor("op", ActorRole.OPERATOR)

    def alert_on(camera: str) -> Callable[[], str]:
        def make() -> str:
            events.apply_remote_observation(remote_observation(f"last-{camera}", camera_id=camera, hazard="loitering"))
            return f"last-{camera}"

        return make

    def handed_to_pu1() -> str:
        case = events.patrol_report(PatrolReport("G-03", "Last one"), Actor("P-GW-03", ActorRole.GRID_WORKER))
        events.transition(case.id, CaseAction.REGISTER, operator)
        events.transition(case.id, CaseAction.DISPATCH, operator, holder="partner:PU-01")
        return f"case-{case.id}"

    def heard(user: str, last: Callable[[], str]) -> set[tuple[str, str]]:
        with httpx.Client(base_url=served, timeout=30) as client:
            res = client.post("/api/auth/login", json={"username": user, "password": PASSWORD})
            assert res.status_code == 200, res.text
            seen: set[tuple[str, str]] = set()
            with client.stream("GET", "/api/events", headers={"Last-Event-ID": "0"}) as stream:
                marker = last()  # made after the stream opened: it comes after the whole replay
                for line in stream.iter_lines():
                    if not line.startswith("data: "):
                        continue
                    data = json.loads(line.removeprefix("data: "))
                    if marker in (data.get("episode_id"), f"case-{data['id']}" if "holder" in data else None):
                        return seen
                    seen.add(("case", data["holder"]) if "holder" in data else ("alert", data["camera_id"]))
            raise AssertionError(f"the stream of {user} ended before its last event")

    assert heard("pc1", alert_on("CAM-01")) == {("alert", "CAM-01"), ("alert", "CAM-02"), ("case", "company:PC-01")}
    assert heard("k3", alert_on("CAM-03")) == {("alert", "CAM-03"), ("case", "company:PC-02")}
    assert heard("pu1", handed_to_pu1) == {("case", "partner:PU-01")}


def test_bad_scopes_for_the_new_roles_name_the_field(users: UserStore) -> None:
    from core.errors import InvalidInput

    with pytest.raises(InvalidInput, match='property company "PC-09" does not exist'):
        users.create("x1", Role.PROPERTY_STAFF, scope=Scope(ScopeKind.COMPANY, ("PC-09",)), password=PASSWORD)
    with pytest.raises(InvalidInput, match='may have scope partner, not "grids"'):
        users.create("x2", Role.PARTNER_MEMBER, scope=Scope(ScopeKind.GRIDS, ("G-01",)), password=PASSWORD)
    with pytest.raises(InvalidInput, match="needs a scope: compounds"):
        users.create("x3", Role.COMPOUND_STAFF, password=PASSWORD)


def test_patrol_reports_route_by_their_camera(events: EventsService) -> None:
    worker = Actor("P-GW-01", ActorRole.GRID_WORKER)
    case = events.patrol_report(
        PatrolReport("G-01", "Gate lock broken", triage=None, camera_id="CAM-01"), worker
    )  # a patrol report is a private matter by default: it stays with the grid
    assert case.holder == "grid:G-01"


def test_partner_units_are_listed_to_those_who_may_dispatch_to_them(api: Api, world: dict[str, Any]) -> None:
    def listed(user: str) -> list[str]:
        res = api.as_(user).get("/api/site/partner-units")
        assert res.status_code == 200, res.text
        return [u["id"] for u in res.json()]

    assert listed("admin") == listed("operator") == ["PU-01", "PU-02"]
    assert listed("pu1") == ["PU-01"]
    unit = api.as_("operator").get("/api/site/partner-units").json()[0]
    assert (unit["holder"], unit["contact_name"], unit["community_ids"]) == ("partner:PU-01", "Gao Lin", ["CM-01"])

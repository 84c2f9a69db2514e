"""GET /api/map: each level sees exactly its own map features. A grid worker gets their grid, its compound
and cameras; a community operator their community's grids and not the next community's; the street and the
whole site everything, with the street's outline. Another grid is 404 like one that does not exist.

The site is the demo site plus a second community (CM-02) with a compound drawn by its outline and a road
grid drawn by its own polygon."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import yaml

from api.access import Role, Scope, ScopeKind
from api.users import UserStore
from camera_config.store import SiteStore
from camera_config.validate import validate_site
from core.clock import FakeClock
from events.service import EventsService
from events.types import Actor, ActorRole
from tests.api.conftest import PASSWORD, Api
from tests.support.factories import remote_observation
from tests.support.paths import EXAMPLES

K09 = [[121.4776, 31.2279], [121.4781, 31.2279], [121.4781, 31.2300], [121.4776, 31.2300]]
ROAD = [[121.4720, 31.2273], [121.4780, 31.2273], [121.4780, 31.2277], [121.4720, 31.2277]]


@pytest.fixture
def two_communities(site: SiteStore, users: UserStore) -> SiteStore:
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / "demo-site.yaml").read_text(encoding="utf-8"))
    doc["communities"].append({"id": "CM-02", "name": "Dock Street Community"})
    doc["property_companies"].append({"id": "PC-09", "name": "Dock Estates", "community": "CM-02"})
    doc["compounds"].append({"id": "K-09", "name": "Dock Yard", "property_company": "PC-09", "outline": K09})
    doc["grids"] += [
        {"id": "G-09", "name": "Dock Yard grid", "community": "CM-02", "compounds": ["K-09"]},
        {"id": "G-10", "name": "South road", "community": "CM-02", "polygon": ROAD},
    ]
    doc["cameras"] += [
        {
            "id": "CAM-09",
            "name": "Dock Yard gate",
            "compound": "K-09",
            "location": {"lat": 31.229, "lon": 121.4778},
            "streams": {"main": "rtsp://10.0.9.1/main"},
        },
        {
            "id": "CAM-10",
            "name": "South road crossing",
            "level": "street",
            "location": {"lat": 31.2275, "lon": 121.4750},
            "streams": {"main": "rtsp://10.0.9.2/main"},
        },
    ]
    site.apply_site(validate_site(doc, allow_files=True))
    users.create("street-viewer", Role.VIEWER, scope=Scope(ScopeKind.STREET, ("ST-DEMO",)), password=PASSWORD)
    users.create("dock-operator", Role.OPERATOR, scope=Scope(ScopeKind.COMMUNITY, ("CM-02",)), password=PASSWORD)
    return site


def features(answer: dict[str, Any]) -> dict[str, list[str]]:
    return {kind: [item["id"] for item in answer[kind]] for kind in ("streets", "grids", "compounds", "cameras")}


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (
            "gw1",
            {"streets": [], "grids": ["G-01"], "compounds": ["K-01"], "cameras": ["CAM-01", "CAM-04"]},
        ),
        (
            "operator",
            {
                "streets": [],
                "grids": ["G-01", "G-02", "G-03"],
                "compounds": ["K-01", "K-02", "K-03"],
                "cameras": ["CAM-01", "CAM-02", "CAM-03", "CAM-04"],
            },
        ),
        (
            "dock-operator",
            {"streets": [], "grids": ["G-09", "G-10"], "compounds": ["K-09"], "cameras": ["CAM-09", "CAM-10"]},
        ),
        *(
            (
                user,
                {
                    "streets": ["ST-DEMO"],
                    "grids": ["G-01", "G-02", "G-03", "G-09", "G-10"],
                    "compounds": ["K-01", "K-02", "K-03", "K-09"],
                    "cameras": ["CAM-01", "CAM-02", "CAM-03", "CAM-04", "CAM-09", "CAM-10"],
                },
            )
            for user in ("street-viewer", "admin")
        ),
    ],
)
def test_each_level_sees_exactly_its_map_features(
    api: Api, two_communities: SiteStore, user: str, expected: dict[str, list[str]]
) -> None:
    res = api.as_(user).get("/api/map")
    assert res.status_code == 200, res.text
    assert features(res.json()) == expected
    if user == "gw1":
        assert "Maple" not in res.text
        assert "Dock" not in res.text


def test_grids_are_drawn_by_their_polygon_or_their_compounds_outlines(api: Api, two_communities: SiteStore) -> None:
    answer = api.as_("admin").get("/api/map").json()
    grids = {g["id"]: g for g in answer["grids"]}
    assert grids["G-10"]["polygon"] == ROAD
    assert grids["G-10"]["shapes"] == [ROAD]
    assert grids["G-09"]["polygon"] == []
    assert grids["G-09"]["shapes"] == [K09]
    assert grids["G-09"]["compound_ids"] == ["K-09"]
    assert (grids["G-01"]["community_id"], grids["G-09"]["community_id"]) == ("CM-01", "CM-02")
    assert grids["G-09"]["community_name"] == "Dock Street Community"
    assert {g: grids[g]["cameras"] for g in grids} == {"G-01": 2, "G-02": 1, "G-03": 1, "G-09": 1, "G-10": 1}
    [street] = answer["streets"]
    assert len(street["outline"]) == 5
    compounds = {k["id"]: k for k in answer["compounds"]}
    assert compounds["K-09"] == {"id": "K-09", "name": "Dock Yard", "community_id": "CM-02", "outline": K09}
    cameras = {c["id"]: c for c in answer["cameras"]}
    assert cameras["CAM-10"] == {
        "id": "CAM-10",
        "name": "South road crossing",
        "grid_id": "G-10",  # placed by its location in the road's polygon
        "compound_id": None,
        "lat": 31.2275,
        "lon": 121.475,
        "enabled": True,
        "state": "unknown",  # no live pipeline in this app
    }


def test_a_grid_outside_the_scope_is_404_like_one_that_does_not_exist(api: Api, two_communities: SiteStore) -> None:
    gw1 = api.as_("gw1")
    other, missing = gw1.get("/api/map", params={"grid": "G-09"}), gw1.get("/api/map", params={"grid": "G-99"})
    assert other.status_code == missing.status_code == 404
    assert other.json()["detail"] == 'grid "G-09" does not exist'
    assert missing.json()["detail"] == 'grid "G-99" does not exist'
    assert api.as_("admin").get("/api/map", params={"grid": "G-99"}).status_code == 404
    own = gw1.get("/api/map", params={"grid": "G-01"}).json()
    assert features(own) == {"streets": [], "grids": ["G-01"], "compounds": ["K-01"], "cameras": ["CAM-01", "CAM-04"]}
    one = api.as_("admin").get("/api/map", params={"grid": "G-09"}).json()
    assert (one["grids"][0]["id"], features(one)["cameras"], features(one)["streets"]) == (
        "G-09",
        ["CAM-09"],
        ["ST-DEMO"],
    )


def test_each_grid_has_its_open_cases_and_its_alerts_of_the_last_24_hours(
    api: Api, two_communities: SiteStore, events: EventsService, clock: FakeClock
) -> None:
    def alert(episode: str, camera: str) -> int:
        result = events.apply_remote_observation(remote_observation(episode, camera_id=camera, at=clock.now()))
        assert result.alert is not None
        return result.alert.id

    operator = Actor("operator", ActorRole.OPERATOR)
    events.alert_to_case(alert("old-1", "CAM-01"), operator)  # a case still open, from an alert of yesterday
    alert("old-2", "CAM-09")
    clock.advance(25 * 3600)
    alert("new-1", "CAM-09")
    alert("new-2", "CAM-10")
    alert("new-3", "CAM-10")
    answer = api.as_("admin").get("/api/map").json()
    figures = {g["id"]: (g["open_cases"], g["alerts_24h"]) for g in answer["grids"]}
    assert figures == {"G-01": (1, 0), "G-02": (0, 0), "G-03": (0, 0), "G-09": (0, 1), "G-10": (0, 2)}
    assert datetime.fromisoformat(answer["alerts_since"]) == clock.now() - timedelta(hours=24)
    mine = api.as_("gw1").get("/api/map").json()
    assert [(g["id"], g["open_cases"], g["alerts_24h"]) for g in mine["grids"]] == [("G-01", 1, 0)]


def test_a_detection_worker_sees_places_but_no_case_or_alert_figures(api: Api, worker: dict[str, str]) -> None:
    """A worker account reads the site (it needs its cameras) but never alerts or cases."""
    res = api.anonymous().get("/api/map", headers=worker)
    assert res.status_code == 200, res.text
    assert {(g["open_cases"], g["alerts_24h"]) for g in res.json()["grids"]} == {(None, None)}

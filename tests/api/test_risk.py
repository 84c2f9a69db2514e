"""GET /api/risk on the demo site: weeks of real alerts and reports in, ranked units with reasons out."""

from __future__ import annotations

from typing import Any

import pytest

from core.clock import FakeClock
from events.service import EventsService
from events.types import Actor, ActorRole, HotlineTicket, PatrolReport
from tests.api.conftest import Api
from tests.support.factories import remote_observation

WEEK_S = 7 * 86400
GW3 = Actor("P-GW-03", ActorRole.GRID_WORKER)


def seed_weeks(events: EventsService, clock: FakeClock, weeks: int, tag: str = "") -> None:
    """Each week: 3 crowd alerts on CAM-01 (G-01, K-01), 1 intrusion on CAM-02 (G-02, K-02), 2 patrol reports
    and a 12345 ticket on G-03; plus what must not count: a camera fault, and an alert dismissed as false."""
    for n in range(weeks):
        w = f"{tag}{n}"
        start = clock.now()
        for i in range(3):
            events.apply_remote_observation(
                remote_observation(f"w{w}-crowd-{i}", camera_id="CAM-01", hazard="crowd", at=clock.now())
            )
            clock.advance(3600)
        events.apply_remote_observation(
            remote_observation(f"w{w}-in", camera_id="CAM-02", hazard="intrusion", at=clock.now())
        )
        fault = events.apply_remote_observation(
            remote_observation(f"w{w}-off", camera_id="CAM-02", hazard="camera_offline", at=clock.now())
        )
        assert fault.alert is not None
        false = events.apply_remote_observation(
            remote_observation(f"w{w}-false", camera_id="CAM-04", hazard="loitering", at=clock.now())
        )
        assert false.alert is not None
        events.dismiss_alert(false.alert.id, Actor("op", ActorRole.OPERATOR), "a cat")
        for i in range(2):
            events.patrol_report(PatrolReport("G-03", f"Blocked stairwell {w}.{i}"), GW3)
        events.import_hotline([HotlineTicket(f"T{w}", "G-03", "Noise at night")])
        clock.advance(WEEK_S - (clock.now() - start).total_seconds())


def test_with_no_history_the_answer_says_so(api: Api) -> None:
    res = api.as_("admin").get("/api/risk")
    assert res.status_code == 200, res.text
    body = res.json()
    assert (body["enough_history"], body["history_weeks"], body["weeks_needed"], body["units"]) == (False, 0, 4, [])
    assert body["history_start"] is None
    assert "nothing was recorded" in body["message"]


def test_three_weeks_are_not_enough(api: Api, events: EventsService, clock: FakeClock) -> None:
    seed_weeks(events, clock, 3)
    body = api.as_("admin").get("/api/risk").json()
    assert (body["enough_history"], body["history_weeks"], body["units"]) == (False, 3, [])
    assert "3 complete weeks" in body["message"]


def units(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {u["id"]: u for u in body["units"]}


def test_grids_are_ranked_with_their_reasons(api: Api, events: EventsService, clock: FakeClock) -> None:
    seed_weeks(events, clock, 10)
    res = api.as_("admin").get("/api/risk", params={"level": "grid"})
    assert res.status_code == 200, res.text
    body = res.json()
    assert (body["enough_history"], body["history_weeks"], body["message"]) == (True, 10, None)
    assert body["time_zone"] == "Asia/Shanghai"
    assert body["week_start"].endswith("T00:00:00+08:00")
    got = units(body)
    assert [u["id"] for u in body["units"]] == ["G-01", "G-03", "G-02"]
    assert got["G-01"]["expected"] == pytest.approx(3.0, abs=0.01)
    assert got["G-01"]["events"] == 30  # the dismissed alerts on CAM-04 (G-01) do not count
    assert [(r["source"], r["hazard"]) for r in got["G-01"]["reasons"]] == [("camera", "crowd")]
    assert got["G-02"]["expected"] == pytest.approx(1.0, abs=0.01)  # the camera faults do not count
    g3 = got["G-03"]
    assert g3["expected"] == pytest.approx(3.0 - 0.0, abs=0.01)
    assert [(r["source"], r["hazard"], r["expected"]) for r in g3["reasons"]] == [
        ("patrol", "other", pytest.approx(2.0, abs=0.01)),
        ("hotline", "other", pytest.approx(1.0, abs=0.01)),
    ]
    assert got["G-01"]["band"] == "high"
    assert got["G-01"]["warning"] == {
        "warning": False,
        "recent_rate": 3.0,
        "earlier_rate": 3.0,
        "p_value": pytest.approx(0.5, abs=0.2),
    }


def test_the_forecast_of_a_past_week_uses_only_the_weeks_before_it(
    api: Api, events: EventsService, clock: FakeClock
) -> None:
    seed_weeks(events, clock, 6)
    six = api.as_("admin").get("/api/risk").json()
    seed_weeks(events, clock, 4, tag="later-")
    back = api.as_("admin").get("/api/risk", params={"week": six["week_start"][:10]}).json()
    assert (back["week_start"], back["history_weeks"]) == (six["week_start"], 6)
    assert units(back)["G-01"]["events"] == units(six)["G-01"]["events"] == 18


def test_each_caller_sees_the_units_its_scope_covers(api: Api, events: EventsService, clock: FakeClock) -> None:
    seed_weeks(events, clock, 5)
    for user, grids in (("admin", {"G-01", "G-02", "G-03"}), ("operator", {"G-01", "G-02", "G-03"}), ("gw1", {"G-01"})):
        assert set(units(api.as_(user).get("/api/risk").json())) == grids, user
    gw1 = api.as_("gw1")
    mine = gw1.get("/api/risk", params={"unit": "G-01"}).json()
    assert [u["rank"] for u in mine["units"]] == [1]  # the site's rank, not the caller's
    res = gw1.get("/api/risk", params={"unit": "G-02"})
    assert res.status_code == 404
    assert res.json()["detail"] == 'grid "G-02" does not exist'
    assert set(units(gw1.get("/api/risk", params={"level": "compound"}).json())) == {"K-01"}
    compounds = units(api.as_("admin").get("/api/risk", params={"level": "compound"}).json())
    assert set(compounds) == {"K-01", "K-02", "K-03"}
    # Patrol reports and tickets name a grid, not a compound: K-03 has no camera event.
    assert (compounds["K-01"]["events"], compounds["K-02"]["events"], compounds["K-03"]["events"]) == (15, 5, 0)
    assert api.as_("gw1").get("/api/risk", params={"level": "compound", "unit": "K-02"}).status_code == 404


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"tz": "Mars/Olympus"}, "query.tz"),
        ({"level": "street"}, "query.level"),
        ({"week": "2026-02-30"}, "query.week"),
    ],
)
def test_bad_requests_name_the_parameter(api: Api, params: dict[str, str], where: str) -> None:
    res = api.as_("admin").get("/api/risk", params=params)
    assert res.status_code == 422, res.text
    assert where in [e["where"] for e in res.json()["errors"]]


def test_a_viewer_without_case_access_is_refused(api: Api) -> None:
    assert api.anonymous().get("/api/risk").status_code == 401

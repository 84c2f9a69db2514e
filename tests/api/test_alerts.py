"""Alert routes: the scoped list with filters and pages, evidence, and acknowledge / dismiss / escalate / case."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from api.access import Role
from api.app import create_app
from api.context import ApiContext
from core.clock import FakeClock
from events.service import EventsService
from tests.api.conftest import Api, fast_auth
from tests.support.factories import jpeg, remote_observation


def _alert(events: EventsService, episode: str, **kw: object) -> int:
    return events.apply_remote_observation(remote_observation(episode, **kw)).alert.id  # type: ignore[arg-type]


def test_list_is_scoped_filtered_and_paged(api: Api, events: EventsService, clock: FakeClock) -> None:
    ids = []
    for n in range(3):
        ids.append(_alert(events, f"g1-{n}", camera_id="CAM-01"))
        clock.advance(1)
    other = _alert(events, "g2-0", camera_id="CAM-02", hazard="intrusion", severity="low")
    admin, gw1, gw2 = api.as_("admin"), api.as_("gw1"), api.as_("gw2")

    page = admin.get("/api/alerts", params={"limit": 2}).json()
    assert [a["id"] for a in page["items"]] == [other, ids[2]]
    rest = admin.get("/api/alerts", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [a["id"] for a in rest["items"]] == [ids[1], ids[0]]
    assert rest["next_cursor"] is None

    assert [a["id"] for a in gw1.get("/api/alerts").json()["items"]] == ids[::-1]
    assert [a["id"] for a in gw2.get("/api/alerts").json()["items"]] == [other]
    assert gw1.get("/api/alerts", params={"grid_id": "G-02"}).json()["items"] == []

    only = admin.get("/api/alerts", params={"hazard": "intrusion", "severity": "low"}).json()["items"]
    assert [a["id"] for a in only] == [other]
    assert only[0]["camera_name"] == "Maple Gardens garden path"
    assert only[0]["has_evidence"] is False
    assert only[0]["evidence_url"] is None
    since = (clock.now() - timedelta(seconds=1.5)).isoformat()
    assert [a["id"] for a in admin.get("/api/alerts", params={"since": since}).json()["items"]] == [other, ids[2]]


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": 201}, "query.limit"),
        ({"status": "bogus"}, "query.status"),
        ({"since": "2026-01-01T00:00:00"}, "query.since"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_bad_queries_name_the_field(api: Api, params: dict[str, Any], where: str) -> None:
    res = api.as_("viewer").get("/api/alerts", params=params)
    assert res.status_code == 422
    assert where in [e["where"] for e in res.json()["errors"]]


def test_other_grids_alerts_do_not_exist_for_a_grid_worker(api: Api, events: EventsService) -> None:
    theirs = _alert(events, "g2", camera_id="CAM-02", evidence=jpeg())
    gw1 = api.as_("gw1")
    missing = gw1.get("/api/alerts/999999")
    for path in (f"/api/alerts/{theirs}", f"/api/alerts/{theirs}/evidence"):
        res = gw1.get(path)
        assert res.status_code == 404
        assert res.json()["detail"] == missing.json()["detail"].replace("999999", str(theirs))
    assert api.as_("gw2").get(f"/api/alerts/{theirs}").status_code == 200


def test_evidence_is_the_jpeg(api: Api, events: EventsService) -> None:
    image = jpeg()
    with_evidence = _alert(events, "ev", evidence=image)
    without = _alert(events, "no-ev")
    viewer = api.as_("viewer")
    body = viewer.get(f"/api/alerts/{with_evidence}").json()
    assert body["has_evidence"] is True
    res = viewer.get(body["evidence_url"])
    assert res.status_code == 200
    assert res.headers["content-type"] == "image/jpeg"
    assert res.content == image
    assert viewer.get(f"/api/alerts/{without}/evidence").status_code == 404


def test_acknowledge_then_dismiss_feeds_false_alarms(api: Api, events: EventsService, clock: FakeClock) -> None:
    alert_id = _alert(events, "ack")
    op = api.as_("operator")
    acked = op.post(f"/api/alerts/{alert_id}/ack")
    assert acked.status_code == 200, acked.text
    assert acked.json()["status"] == "acknowledged"
    assert acked.json()["handled_by"] == "operator"
    again = op.post(f"/api/alerts/{alert_id}/ack")
    assert again.status_code == 409
    assert "acknowledged" in again.json()["detail"]

    no_reason = op.post(f"/api/alerts/{alert_id}/dismiss", json={})
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"] == [{"where": "reason", "message": "required", "code": "missing"}]
    dismissed = op.post(f"/api/alerts/{alert_id}/dismiss", json={"reason": "tree shadow"})
    assert dismissed.json()["status"] == "dismissed"
    assert dismissed.json()["dismiss_reason"] == "tree shadow"

    clock.advance(1)
    counts = op.get("/api/figures/false-alarms").json()
    assert counts == [
        {
            "camera_id": "CAM-01",
            "camera_name": "Willow Court east gate plaza",
            "hazard": "loitering",
            "reason": "tree shadow",
            "count": 1,
        }
    ]
    assert api.as_("gw2").get("/api/figures/false-alarms").json() == []


def test_make_case_is_idempotent_and_escalate_goes_up(api: Api, events: EventsService) -> None:
    alert_id = _alert(events, "to-case")
    op = api.as_("operator")
    made = op.post(f"/api/alerts/{alert_id}/case", json={"note": "seen live"})
    assert made.status_code == 200, made.text
    case = made.json()
    assert case["state"] == "dispatched"
    assert case["assignee_id"] == "P-GW-01"
    assert case["camera_name"] == "Willow Court east gate plaza"
    assert case["overdue"] is False
    assert op.post(f"/api/alerts/{alert_id}/case").json()["id"] == case["id"]
    alert = op.get(f"/api/alerts/{alert_id}").json()
    assert (alert["status"], alert["case_id"]) == ("in_case", case["id"])

    other = _alert(events, "to-escalate", camera_id="CAM-03")
    escalated = op.post(f"/api/alerts/{other}/escalate", json={"note": "needs the community"})
    assert escalated.status_code == 200, escalated.text
    assert (escalated.json()["state"], escalated.json()["level"]) == ("escalated", "community")


@pytest.mark.parametrize("user", ["gw1", "viewer", "integrator"])
def test_only_operators_handle_alerts(api: Api, events: EventsService, user: str) -> None:
    alert_id = _alert(events, "roles")
    client = api.as_(user)
    assert client.get(f"/api/alerts/{alert_id}").status_code == 200
    for action, body in (("ack", None), ("dismiss", {"reason": "x"}), ("escalate", {}), ("case", {})):
        assert client.post(f"/api/alerts/{alert_id}/{action}", json=body).status_code == 403, action


def test_without_the_events_service_the_routes_answer_503(api: Api) -> None:
    runtime = api.app.state.runtime
    app = create_app(ApiContext(engine=runtime.context.engine, site=runtime.context.site, auth=fast_auth()))
    bare = Api(app, api.clients)
    res = bare.as_("admin").get("/api/alerts")
    assert res.status_code == 503
    assert "events service" in res.json()["detail"]
    runtime.users.create("detector-9", Role.WORKER)
    worker = bare.token("detector-9")
    for body in (remote_observation("no-events"), {"observations": ["not even an observation"]}):
        res = bare.anonymous().post("/api/worker/observations", json=body, headers=worker)
        assert res.status_code == 503, res.text
        assert "events service" in res.json()["detail"]


def test_alert_figures_are_counted_per_bucket_and_camera_in_scope(
    api: Api, events: EventsService, clock: FakeClock
) -> None:
    t0 = clock.now()
    first = events.apply_remote_observation(
        remote_observation("fig-1", camera_id="CAM-01", hazard="loitering")
    ).alert.id
    clock.advance(2 * 3600)
    events.apply_remote_observation(remote_observation("fig-2", camera_id="CAM-01", hazard="intrusion", at=clock.now()))
    events.apply_remote_observation(remote_observation("fig-3", camera_id="CAM-02", hazard="loitering", at=clock.now()))
    op, admin = api.as_("operator"), api.as_("admin")
    assert op.post(f"/api/alerts/{first}/dismiss", json={"reason": "cat"}).status_code == 200
    since, until = t0 - timedelta(minutes=10), t0 + timedelta(hours=3)
    period = {"since": since.isoformat(), "until": until.isoformat()}

    res = admin.get("/api/figures/alerts", params={**period, "bucket": "hour"})
    assert res.status_code == 200, res.text
    hourly = res.json()
    assert (hourly["bucket_s"], hourly["total"], hourly["hazards"]) == (3600, 3, ["intrusion", "loitering"])
    assert [b["counts"] for b in hourly["buckets"]] == [
        {"loitering": 1},
        {},
        {"intrusion": 1, "loitering": 1},
        {},
    ]
    assert datetime.fromisoformat(hourly["buckets"][2]["start"]) == since + timedelta(hours=2)
    assert [(c["camera_id"], c["alerts"], c["dismissed"], c["false_alarm_rate"]) for c in hourly["cameras"]] == [
        ("CAM-01", 2, 1, 0.5),
        ("CAM-02", 1, 0, 0.0),
    ]
    assert hourly["cameras"][0]["camera_name"] == "Willow Court east gate plaza"

    daily = admin.get(
        "/api/figures/alerts", params={"since": since.isoformat(), "until": (t0 + timedelta(days=1)).isoformat()}
    ).json()
    assert (daily["bucket"], [b["total"] for b in daily["buckets"]]) == ("day", [3, 0])

    mine = api.as_("gw1").get("/api/figures/alerts", params={**period, "bucket": "hour"}).json()
    assert [b["counts"] for b in mine["buckets"]] == [{"loitering": 1}, {}, {"intrusion": 1}, {}]
    assert [c["camera_id"] for c in mine["cameras"]] == ["CAM-01"]
    assert api.as_("gw2").get("/api/figures/alerts", params=period).json()["cameras"][0]["camera_id"] == "CAM-02"


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"bucket": "week"}, "query.bucket"),
        ({"since": "2026-11-20T00:00:00+00:00", "until": "2026-11-19T00:00:00+00:00"}, "query.until"),
        ({"since": "2026-01-01T00:00:00+00:00", "until": "2026-06-01T00:00:00+00:00", "bucket": "hour"}, "query.until"),
        ({"since": "2026-01-01T00:00:00"}, "query.since"),
    ],
)
def test_alert_figures_refuse_bad_periods(api: Api, params: dict[str, str], where: str) -> None:
    res = api.as_("operator").get("/api/figures/alerts", params=params)
    assert res.status_code == 422, res.text
    assert where in [e["where"] for e in res.json()["errors"]]

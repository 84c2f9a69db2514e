"""Worker delivery, SSE for alerts and cases, metrics and figures: what reaches consoles and Prometheus."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest

from api.access import Role, Scope, ScopeKind
from api.users import UserStore
from core.clock import FakeClock
from events.service import EventsService
from tests.api.conftest import PASSWORD, Api, collect_events
from tests.support.factories import jpeg, remote_observation
from tests.support.wait import wait_for


def test_delivery_is_idempotent(api: Api, worker: dict[str, str]) -> None:
    client = api.anonymous()
    doc = remote_observation("w-1", evidence=jpeg())
    first = client.post("/api/worker/observations", json=doc, headers=worker)
    assert first.status_code == 200, first.text
    [item] = first.json()["results"]
    assert (item["index"], item["status"], item["created"], item["duplicate"]) == (0, 200, True, False)
    again = client.post("/api/worker/observations", json=doc, headers=worker)
    assert again.status_code == 200
    assert again.json()["results"][0] | {"created": True} == item | {"duplicate": True}
    alert = api.as_("admin").get(f"/api/alerts/{item['alert_id']}").json()
    assert alert["episode_id"] == "w-1"
    assert alert["has_evidence"]


def test_a_bad_item_is_refused_by_place_and_the_rest_applied(api: Api, worker: dict[str, str]) -> None:
    bad_seq = remote_observation("w-bad") | {"seq": -1}
    batch = {
        "observations": [
            remote_observation("w-a"),
            bad_seq,
            remote_observation("w-b", camera_id="NO-SUCH-CAM"),
            "not an object",
            remote_observation("w-c", camera_id="CAM-02"),
        ]
    }
    res = api.anonymous().post("/api/worker/observations", json=batch, headers=worker)
    assert res.status_code == 422, res.text
    body = res.json()
    assert [r["status"] for r in body["results"]] == [200, 422, 404, 422, 200]
    wheres = [e["where"] for e in body["errors"]]
    assert "observations[1].seq" in wheres
    assert "observations[2]" in wheres
    assert "observations[3]" in wheres
    assert body["detail"].startswith("2 applied, 3 refused")
    listed = api.as_("admin").get("/api/alerts").json()["items"]
    assert sorted(a["episode_id"] for a in listed) == ["w-a", "w-c"]

    late = api.anonymous().post(
        "/api/worker/observations",
        json={"observations": [remote_observation("w-a", seq=5), remote_observation("w-a", seq=2)]},
        headers=worker,
    )
    assert late.status_code == 409
    assert [r["status"] for r in late.json()["results"]] == [200, 409]


@pytest.mark.parametrize(
    ("body", "status", "where"),
    [
        (b"{not json", 422, "body"),
        (json.dumps({"observations": "x"}).encode(), 422, "observations"),
        (json.dumps({"observations": [], "extra": 1}).encode(), 422, "extra"),
        (json.dumps({"observations": [{}] * 501}).encode(), 422, "observations"),
    ],
)
def test_malformed_deliveries(api: Api, worker: dict[str, str], body: bytes, status: int, where: str) -> None:
    res = api.anonymous().post(
        "/api/worker/observations", content=body, headers={**worker, "content-type": "application/json"}
    )
    assert res.status_code == status
    assert res.json()["errors"][0]["where"] == where


def test_only_worker_accounts_deliver(api: Api, users: UserStore) -> None:
    assert api.as_("operator").post("/api/worker/observations", json=remote_observation("x")).status_code == 403
    users.create("detector-g2", Role.WORKER, scope=Scope(ScopeKind.GRIDS, ("G-02",)))
    scoped = api.token("detector-g2")
    res = api.anonymous().post("/api/worker/observations", json=remote_observation("g1-cam"), headers=scoped)
    assert res.status_code == 404
    assert res.json()["errors"][0]["message"] == 'camera "CAM-01" does not exist'


def _listen(url: str, user: str, want: int, out: list[dict[str, Any]], ready: threading.Event) -> None:
    with httpx.Client(base_url=url, timeout=10) as http:
        assert http.post("/api/auth/login", json={"username": user, "password": PASSWORD}).status_code == 200
        with http.stream("GET", "/api/events") as res:
            ready.set()
            collect_events(res.iter_lines(), want, out)


def test_sse_delivers_alerts_and_cases_in_scope(api: Api, served: str, worker: dict[str, str]) -> None:
    """alert.new for an observation a worker delivers, within a bounded time, and the case it made;
    a grid worker of another grid sees none of it."""
    seen_g1: list[dict[str, Any]] = []
    seen_g2: list[dict[str, Any]] = []
    ready = [threading.Event(), threading.Event()]
    listeners = [
        threading.Thread(target=_listen, args=(served, "gw1", 2, seen_g1, ready[0]), daemon=True),
        threading.Thread(target=_listen, args=(served, "gw2", 1, seen_g2, ready[1]), daemon=True),
    ]
    for t in listeners:
        t.start()
    assert all(r.wait(10) for r in ready)
    wait_for(lambda: api.app.state.runtime.sse.subscribers >= 2)
    started = time.monotonic()
    res = httpx.post(
        served + "/api/worker/observations", json=remote_observation("sse-1", hazard="fallen_person"), headers=worker
    )
    assert res.status_code == 200, res.text
    listeners[0].join(5)
    assert not listeners[0].is_alive()
    assert time.monotonic() - started < 5
    assert [e["event"] for e in seen_g1] == ["alert.new", "case.new"]
    alert, case = seen_g1[0]["data"], seen_g1[1]["data"]
    assert alert["episode_id"] == "sse-1"
    assert alert["camera_name"] == "Willow Court east gate plaza"
    assert (case["grid_id"], case["state"], case["overdue"]) == ("G-01", "dispatched", False)
    # gw2's stream is still open and empty; an event of its own grid does arrive
    assert seen_g2 == []
    res = httpx.post(
        served + "/api/worker/observations", json=remote_observation("sse-2", camera_id="CAM-02"), headers=worker
    )
    assert res.status_code == 200
    listeners[1].join(5)
    assert [(e["event"], e["data"]["episode_id"]) for e in seen_g2] == [("alert.new", "sse-2")]


def test_metrics_show_alerts_cases_and_queues(api: Api, worker: dict[str, str], clock: FakeClock) -> None:
    client = api.anonymous()
    client.post(
        "/api/worker/observations",
        json=remote_observation("m-1", hazard="fallen_person", severity="high"),
        headers=worker,
    )
    client.post("/api/worker/observations", json=remote_observation("m-2"), headers=worker)
    text = api.as_("admin").get("/metrics").text
    assert 'gridwatch_alerts_received_total{hazard="fallen_person",severity="high"} 1.0' in text
    assert 'gridwatch_alerts_received_total{hazard="loitering",severity="medium"} 1.0' in text
    assert 'gridwatch_cases{state="dispatched"} 1.0' in text
    assert 'gridwatch_cases{state="closed"} 0.0' in text
    assert "gridwatch_cases_overdue 0.0" in text
    assert "gridwatch_events_outbox_pending 0.0" in text
    assert "gridwatch_events_ingest_in_flight 0.0" in text
    # Two deliveries one after the other: two transactions of one observation each.
    assert "gridwatch_worker_transactions 2.0" in text
    assert "gridwatch_worker_observations_applied 2.0" in text
    [free] = [line for line in text.splitlines() if line.startswith("gridwatch_data_dir_free_bytes ")]
    assert float(free.split()[1]) > 0
    clock.advance(3 * 24 * 3600)
    assert "gridwatch_cases_overdue 1.0" in api.as_("admin").get("/metrics").text


def test_figures_per_unit_in_scope(api: Api, worker: dict[str, str], events: EventsService, clock: FakeClock) -> None:
    client = api.anonymous()
    for episode, camera in (("f-1", "CAM-01"), ("f-2", "CAM-02")):
        client.post(
            "/api/worker/observations",
            json=remote_observation(episode, camera_id=camera, hazard="fallen_person"),
            headers=worker,
        )
    clock.advance(60)
    admin = api.as_("admin")
    grids = admin.get("/api/figures", params={"level": "grid"}).json()
    assert [(u["unit_id"], u["received"]) for u in grids] == [("G-01", 1), ("G-02", 1)]
    assert grids[0]["rules"] == [{"hazard": "fallen_person", "alerts": 1, "dismissed": 0, "false_alarm_rate": 0.0}]
    assert [u["unit_id"] for u in admin.get("/api/figures", params={"level": "community"}).json()] == ["CM-01"]
    assert [u["unit_id"] for u in api.as_("gw1").get("/api/figures").json()] == ["G-01"]
    assert api.as_("gw1").get("/api/figures", params={"level": "community"}).json() == []
    assert [u["unit_id"] for u in api.as_("operator").get("/api/figures", params={"level": "community"}).json()] == [
        "CM-01"
    ]
    bad = admin.get("/api/figures", params={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["where"] == "query.until"


def test_concurrent_deliveries_go_through_the_group_commit(api: Api, worker: dict[str, str]) -> None:
    """Workers posting at once share transactions: every observation passes through the one batcher
    (how many share a transaction depends on timing; that they all arrive, each with its own answer, does not)."""
    client = api.anonymous()
    ingest = api.app.state.runtime.ingest
    before = ingest.observations
    answers: list[int] = []

    def post(i: int) -> None:
        doc = remote_observation(f"many-{i}", camera_id=f"CAM-0{1 + i % 4}")
        answers.append(client.post("/api/worker/observations", json=doc, headers=worker).status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert answers == [200] * 12
    assert ingest.observations - before == 12
    listed = api.as_("admin").get("/api/alerts", params={"limit": 100}).json()
    assert {a["episode_id"] for a in listed["items"]} >= {f"many-{i}" for i in range(12)}

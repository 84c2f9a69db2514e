"""Remote workers report their health; operators see it (scoped), Prometheus scrapes it, silence shows."""

from __future__ import annotations

from typing import Any

import pytest

from api.access import Role
from api.users import UserStore
from core.clock import FakeClock
from tests.api.conftest import Api

REPORT: dict[str, Any] = {
    "name": "box-1 1/2",
    "cameras": ["CAM-01", "CAM-02"],
    "spool_depth": 12,
    "spool_bytes": 40960,
    "spool_dropped": 3,
    "delivered": 900,
    "refused": 1,
    "delivery_state": "ok",
    "latency_p95_s": 0.4,
}


@pytest.fixture
def worker(api: Api, users: UserStore) -> dict[str, str]:
    users.create("box-1", Role.WORKER)
    return api.token("box-1")


def test_a_report_shows_in_the_list_and_the_metrics_and_goes_stale(
    api: Api, worker: dict[str, str], clock: FakeClock
) -> None:
    res = api.anonymous().post("/api/worker/heartbeat", json=REPORT, headers=worker)
    assert res.status_code == 204, res.text
    [listed] = api.as_("admin").get("/api/workers").json()
    assert listed["account"] == "box-1"
    assert {k: listed[k] for k in REPORT} == REPORT
    assert listed["stale"] is False

    metrics = api.as_("admin").get("/metrics").text
    assert 'gridwatch_worker_spool_depth{worker="box-1/box-1 1/2"} 12.0' in metrics
    assert 'gridwatch_worker_cameras{worker="box-1/box-1 1/2"} 2.0' in metrics
    assert 'gridwatch_worker_spool_dropped{worker="box-1/box-1 1/2"} 3.0' in metrics

    clock.advance(31)  # no report for longer than a worker ever waits between two
    [listed] = api.as_("admin").get("/api/workers").json()
    assert listed["stale"] is True
    assert 'gridwatch_worker_report_age_seconds{worker="box-1/box-1 1/2"} 31.0' in api.as_("admin").get("/metrics").text

    api.anonymous().post("/api/worker/heartbeat", json=REPORT | {"spool_depth": 0}, headers=worker)
    [listed] = api.as_("admin").get("/api/workers").json()
    assert (listed["stale"], listed["spool_depth"]) == (False, 0)  # one entry per worker name, the latest report


def test_a_scoped_user_sees_only_their_cameras_of_a_worker(api: Api, worker: dict[str, str]) -> None:
    api.anonymous().post("/api/worker/heartbeat", json=REPORT, headers=worker)  # CAM-01 in G-01, CAM-02 in G-02
    [seen] = api.as_("gw1").get("/api/workers").json()
    assert seen["cameras"] == ["CAM-01"]
    api.anonymous().post("/api/worker/heartbeat", json=REPORT | {"cameras": ["CAM-02"]}, headers=worker)
    assert api.as_("gw1").get("/api/workers").json() == []  # a worker with none of theirs is not listed


@pytest.mark.parametrize(
    ("change", "where"),
    [({"name": "a\u0000b"}, "name"), ({"spool_depth": -1}, "spool_depth"), ({"name": ""}, "name")],
)
def test_a_bad_report_names_the_field(api: Api, worker: dict[str, str], change: dict[str, Any], where: str) -> None:
    res = api.anonymous().post("/api/worker/heartbeat", json=REPORT | change, headers=worker)
    assert res.status_code == 422, res.text
    assert [e["where"] for e in res.json()["errors"]] == [where]
    assert api.as_("admin").get("/api/workers").json() == []


def test_only_workers_report(api: Api) -> None:
    assert api.as_("operator").post("/api/worker/heartbeat", json=REPORT).status_code == 403

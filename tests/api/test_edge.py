"""Hostile bytes at the API's edge: refused with 422 naming the field, on SQLite and on PostgreSQL, and
an unexpected failure still answers in the JSON error shape."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.access import Role
from api.users import UserStore
from tests.api.conftest import Api
from tests.support.factories import remote_observation

CAMERA: dict[str, Any] = {
    "id": "CAM-10",
    "name": "Maple Gardens bike shed",
    "compound": "K-02",
    "streams": {"main": "rtsp://10.2.0.10:554/main"},
}


def wheres(res: Any) -> list[str]:
    assert res.status_code == 422, res.text
    assert res.headers["content-type"] == "application/json"
    return [e["where"] for e in res.json()["errors"]]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"name": "a\u0000b"}, "name"),
        ({"name": "bell\u0007"}, "name"),
        ({"streams": {"main": "rtsp://10.2.0.10:554/ma\u0000in"}}, "streams.main"),
        ({"id": "CAM-\u0000"}, "id"),
    ],
)
def test_control_characters_in_a_body_are_refused_by_field(api: Api, change: dict[str, Any], where: str) -> None:
    client = api.as_("integrator")
    res = client.post("/api/cameras", json={**CAMERA, **change})
    assert where in wheres(res)
    assert client.get("/api/cameras/CAM-10").status_code == 404, "nothing was stored"
    assert client.post("/api/cameras", json=CAMERA).status_code == 201, "the connection and the API are fine"


def test_a_nul_in_a_token_name_and_a_query_is_refused(api: Api) -> None:
    client = api.as_("integrator")
    assert wheres(client.post("/api/tokens", json={"name": "\u0000"})) == ["name"]
    assert wheres(client.get("/api/alerts", params={"grid_id": "\u0000"})) == ["query.grid_id"]
    assert wheres(client.get("/api/alerts?grid_id=G-01%00x")) == ["query.grid_id"]
    assert wheres(client.get("/api/alerts", params={"limit": str(2**63)})) == ["query.limit"]
    assert wheres(client.get("/api/alerts", params={"limit": "9" * 5000})) == ["query.limit"]
    # leading zeros are no number's size: 5,000 digits of them would have made int() refuse (a 500)
    assert wheres(client.get("/api/alerts", params={"limit": "0" * 5000})) == ["query.limit"]
    assert client.get("/api/alerts", params={"limit": "0" * 4999 + "5"}).status_code == 200
    assert wheres(client.get("/api/cameras/CAM-01%00")) == ["path"]
    assert client.get("/api/alerts", params={"grid_id": "G-01"}).status_code == 200


def test_an_out_of_range_seq_is_refused_alone_and_the_rest_of_the_batch_stored(api: Api, users: UserStore) -> None:
    users.create("detector-1", Role.WORKER)
    good = [remote_observation(f"ok-{i}") for i in range(5)]
    batch = {"observations": [*good, remote_observation("huge") | {"seq": 2**70}]}
    res = api.anonymous().post("/api/worker/observations", json=batch, headers=api.token("detector-1"))
    assert res.status_code == 422, res.text
    body = res.json()
    assert [r["status"] for r in body["results"]] == [200] * 5 + [422]
    assert [e["where"] for e in body["errors"]] == ["observations[5].seq"]
    listed = api.as_("admin").get("/api/alerts").json()["items"]
    assert sorted(a["episode_id"] for a in listed) == [f"ok-{i}" for i in range(5)]


@pytest.mark.parametrize(
    "query",
    [
        "bucket=day&since=0001-01-02T00:00:00Z&until=0001-01-03T00:00:00Z",
        "until=0188-09-23T08:34:12%2B09:03",
        "since=2100-01-01T00:00:00Z&until=2100-01-02T00:00:00Z",
    ],
)
def test_periods_far_from_now_are_refused_not_crashed_on(api: Api, query: str) -> None:
    res = api.as_("admin").get(f"/api/figures/alerts?{query}")
    assert set(wheres(res)) <= {"query.since", "query.until"}
    assert wheres(res)


def test_an_unexpected_failure_still_answers_in_the_json_error_shape(api: Api) -> None:
    def broken() -> None:
        raise RuntimeError("rtsp://admin:hunter2@10.0.0.9/main went away")

    api.app.add_api_route("/api/broken", broken)
    client = TestClient(api.app, raise_server_exceptions=False)
    res = client.get("/api/broken")
    assert res.status_code == 500
    assert res.headers["content-type"] == "application/json"
    assert res.json() == {
        "detail": "internal error: the request was not carried out",
        "errors": [],
        "code": "internal_error",
    }
    assert "hunter2" not in res.text

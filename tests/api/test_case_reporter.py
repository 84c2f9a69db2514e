"""A resident's contact on their case: the people who handle the case see it (and the access audit records
each read), read-only roles and other grids do not, and neither do the public Open311 reads."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.open311 import Clients
from tests.api.conftest import Api

IN_G01 = {"lat": "31.2304", "long": "121.4737"}
"""Inside compound K-01, which grid G-01 (gw1's) covers."""
CONTACT = {
    "first_name": "小明",
    "last_name": "王",
    "phone": "138-0000-0000",
    "email": "wang@example.cn",
    "media_url": "https://img.example.cn/r/1.jpg",
    "device_id": "dev-77",
    "account_id": "acct-99",
}


@pytest.fixture
def app_key(api: Api) -> str:
    clients: Clients = api.app.state.runtime.open311.clients
    return clients.add("lianxinqiao", 30).key


def report(api: Api, key: str, **fields: str) -> int:
    body = {"api_key": key, "service_code": "fire_lane_blocked", "description": "消防通道被堵", **IN_G01, **fields}
    res = api.anonymous().post("/open311/v2/requests.json", data=body)
    assert res.status_code == 200, res.text
    return int(res.json()[0]["service_request_id"])


def audit_rows(api: Api, case_id: int) -> list[tuple[str, str, str]]:
    res = api.as_("admin").get("/api/audit", params={"action": "reporter_viewed", "target": f"case {case_id}"})
    assert res.status_code == 200, res.text
    return [(e["actor"], e["target"], e["detail"]) for e in res.json()["items"]]


def test_the_operator_and_the_grids_worker_see_the_reporter(api: Api, app_key: str) -> None:
    case_id = report(api, app_key, **CONTACT)
    for user in ("operator", "gw1", "admin"):
        res = api.as_(user).get(f"/api/cases/{case_id}")
        assert res.status_code == 200, res.text
        assert res.json()["reporter"] == {
            "name": "王小明",
            "phone": "138-0000-0000",
            "email": "wang@example.cn",
            "media_url": "https://img.example.cn/r/1.jpg",
            "client": "lianxinqiao",
        }, user
        assert "dev-77" not in res.text
        assert "acct-99" not in res.text
    rows = audit_rows(api, case_id)
    assert sorted(r[0] for r in rows) == ["admin", "gw1", "operator"]
    assert {r[1:] for r in rows} == {(f"case {case_id}", "app lianxinqiao")}
    assert "138" not in str(rows)


def test_read_only_roles_get_no_reporter_and_other_grids_no_case(api: Api, app_key: str) -> None:
    case_id = report(api, app_key, **CONTACT)
    for user in ("viewer", "integrator"):
        res = api.as_(user).get(f"/api/cases/{case_id}")
        assert res.status_code == 200, res.text
        assert res.json()["reporter"] is None
        assert "0000" not in res.text
    assert api.as_("gw2").get(f"/api/cases/{case_id}").status_code == 404
    assert audit_rows(api, case_id) == []
    listed: Any = api.as_("operator").get("/api/cases", params={"source": "resident"}).json()
    assert case_id in [c["id"] for c in listed["items"]]
    assert "0000" not in str(listed)  # the board carries no contact: only the case page does
    public: TestClient = api.anonymous()
    for path in (
        f"/open311/v2/requests/{case_id}.json",
        "/open311/v2/requests.json",
        f"/open311/v2/requests/{case_id}.xml",
    ):
        text = public.get(path).text
        for private in ("138-0000-0000", "wang@example.cn", "小明"):
            assert private not in text, path


def test_a_report_without_contact_is_shown_but_not_audited(api: Api, app_key: str) -> None:
    case_id = report(api, app_key)
    body = api.as_("gw1").get(f"/api/cases/{case_id}").json()
    assert body["reporter"] == {"name": "", "phone": "", "email": "", "media_url": "", "client": "lianxinqiao"}
    assert audit_rows(api, case_id) == []


def test_other_cases_have_no_reporter(api: Api) -> None:
    worker = api.as_("gw1")
    res = worker.post("/api/cases", json={"grid_id": "G-01", "title": "Broken fence by Block 2"})
    assert res.status_code == 201, res.text
    case_id = res.json()["id"]
    for user in ("gw1", "operator"):
        assert api.as_(user).get(f"/api/cases/{case_id}").json()["reporter"] is None

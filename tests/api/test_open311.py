"""The Open311 GeoReport v2 façade, driven as a spec-following client drives it: form-encoded posts with an
api_key, reads of ``.json`` and ``.xml`` resources, errors as ``[{code, description}]`` / ``<errors>``.

The demo site's grids have no polygons of their own: they are drawn by their compounds' outlines (K-01 is
G-01's, K-02 G-02's, K-03 G-03's)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from api.open311 import KEY_PREFIX, Clients
from core.clock import FakeClock
from events.service import EventsService
from events.types import CaseSource, CaseState
from tests.api.conftest import Api

IN_G01 = {"lat": "31.2304", "long": "121.4737"}
"""Inside compound K-01 (Willow Court), which grid G-01 covers."""
IN_G03 = {"lat": "31.2284", "long": "121.4750"}
OUTSIDE = {"lat": "31.1000", "long": "121.3000"}
BASE = "/open311/v2"


@pytest.fixture
def app_key(api: Api) -> str:
    clients: Clients = api.app.state.runtime.open311.clients
    return clients.add("lianxinqiao", 30).key


@pytest.fixture
def public(api: Api) -> TestClient:
    return api.anonymous()


def post(client: TestClient, key: str | None, fmt: str = "json", **fields: str) -> Any:
    body = {"service_code": "fire_lane_blocked", "description": "消防通道被三轮车堵住", **fields}
    if key is not None:
        body["api_key"] = key
    return client.post(f"{BASE}/requests.{fmt}", data=body)


def errors_of(res: Any) -> list[str]:
    body = res.json()
    assert isinstance(body, list), body
    assert body
    for item in body:
        assert set(item) == {"code", "description"}
        assert item["code"] == res.status_code
    return [item["description"] for item in body]


def test_services_list_in_both_formats(public: TestClient) -> None:
    res = public.get(f"{BASE}/services.json")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("application/json")
    services = {s["service_code"]: s for s in res.json()}
    assert {"fire_lane_blocked", "ebike_indoors", "crowd", "litter", "noise", "other"} <= set(services)
    assert "camera_offline" not in services
    fire = services["fire_lane_blocked"]
    assert fire["service_name"] == "消防通道占用"
    assert fire["metadata"] is False
    assert fire["type"] == "realtime"
    assert fire["group"] == "安全隐患"

    xml = public.get(f"{BASE}/services.xml")
    assert xml.status_code == 200
    assert xml.headers["content-type"].startswith("text/xml")
    assert xml.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = etree.fromstring(xml.content)
    assert root.tag == "services"
    codes = [s.findtext("service_code") for s in root.findall("service")]
    assert codes == list(services)
    assert root.find("service/metadata").text == "false"

    definition = public.get(f"{BASE}/services/noise.json").json()
    assert definition == {"service_code": "noise", "attributes": []}
    assert public.get(f"{BASE}/services/pothole.json").status_code == 404


def test_discovery(public: TestClient) -> None:
    doc = public.get(f"{BASE}/discovery.json").json()
    endpoint = doc["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2/")
    assert "text/xml" in endpoint["formats"]
    root = ET.fromstring(public.get(f"{BASE}/discovery.xml").content)
    assert root.tag == "discovery"
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]


def test_a_report_inside_a_grid_becomes_its_case_and_closes_with_it(
    api: Api, app_key: str, public: TestClient, events: EventsService, clock: FakeClock
) -> None:
    res = post(public, app_key, email="wang@example.cn", phone="13800000000", first_name="小明", **IN_G01)
    assert res.status_code == 200, res.text
    [answer] = res.json()
    assert set(answer) == {"service_request_id", "service_notice", "account_id"}
    case_id = int(answer["service_request_id"])
    assert "G-01" in answer["service_notice"]

    case = events.case(case_id).case
    assert case.grid_id == "G-01"
    assert case.source is CaseSource.RESIDENT
    assert case.state is CaseState.DISPATCHED  # registered and handed to the grid's worker at once
    assert case.compound_id == "K-01"
    assert api.as_("operator").get(f"/api/cases/{case_id}").json()["case"]["source"] == "resident"

    [item] = public.get(f"{BASE}/requests/{case_id}.json").json()
    assert item["status"] == "open"
    assert item["service_code"] == "fire_lane_blocked"
    assert item["service_name"] == "消防通道占用"
    assert item["lat"] == 31.2304
    assert item["long"] == 121.4737
    assert item["requested_datetime"].endswith("Z")
    assert "已派发" in item["status_notes"]
    text = str(item)
    for private in ("wang@example.cn", "13800000000", "小明"):
        assert private not in text

    worker, operator = api.as_("gw1"), api.as_("operator")
    steps = [
        (worker, {"action": "accept"}),
        (worker, {"action": "start"}),
        (worker, {"action": "resolve", "note": "GW-01 李工 已联系车主挪车（内部）"}),
        (operator, {"action": "verify"}),
    ]
    for client, body in steps:
        clock.advance(600)
        res = client.post(f"/api/cases/{case_id}/transitions", json=body)
        assert res.status_code == 200, res.text
    [item] = public.get(f"{BASE}/requests/{case_id}.json").json()
    assert item["status"] == "open"
    assert "内部" not in item["status_notes"]
    clock.advance(600)
    res = operator.post(
        f"/api/cases/{case_id}/transitions", json={"action": "close", "note": "通道已清理，感谢您的反映"}
    )
    assert res.status_code == 200, res.text
    closed_at = events.case(case_id).case.closed_at
    assert closed_at is not None

    [item] = public.get(f"{BASE}/requests/{case_id}.json").json()
    assert item["status"] == "closed"
    assert item["status_notes"] == "已办结：通道已清理，感谢您的反映"
    assert item["updated_datetime"] == closed_at.replace(microsecond=0).isoformat().replace("+00:00", "Z")

    root = etree.fromstring(public.get(f"{BASE}/requests/{case_id}.xml").content)
    assert root.tag == "service_requests"
    assert root.findtext("request/status") == "closed"
    assert root.findtext("request/service_request_id") == str(case_id)

    listed = public.get(f"{BASE}/requests.json", params={"status": "closed"}).json()
    assert [r["service_request_id"] for r in listed] == [str(case_id)]
    assert public.get(f"{BASE}/requests.json", params={"status": "open"}).json() == []


def test_xml_post_and_a_compound_of_another_grid(app_key: str, public: TestClient, events: EventsService) -> None:
    res = post(public, app_key, "xml", service_code="noise", **IN_G03)
    assert res.status_code == 200, res.text
    root = etree.fromstring(res.content)
    assert root.tag == "service_requests"
    case_id = int(root.findtext("request/service_request_id") or "0")
    assert events.case(case_id).case.grid_id == "G-03"


def test_outside_every_grid_is_a_400_naming_the_point(app_key: str, public: TestClient) -> None:
    res = post(public, app_key, **OUTSIDE)
    assert res.status_code == 400
    [message] = errors_of(res)
    assert message.startswith("lat/long:")
    assert "31.1" in message
    assert "121.3" in message
    xml = post(public, app_key, "xml", **OUTSIDE)
    root = etree.fromstring(xml.content)
    assert root.tag == "errors"
    assert root.findtext("error/code") == "400"
    assert "lat/long" in (root.findtext("error/description") or "")


def test_bad_keys_are_403(api: Api, app_key: str, public: TestClient) -> None:
    assert errors_of(post(public, None, **IN_G01)) == ["api_key: required"]
    res = post(public, KEY_PREFIX + "not-a-key", **IN_G01)
    assert res.status_code == 403
    assert "api_key" in errors_of(res)[0]
    clients: Clients = api.app.state.runtime.open311.clients
    clients.set_enabled("lianxinqiao", False)
    assert post(public, app_key, **IN_G01).status_code == 403
    clients.set_enabled("lianxinqiao", True)
    assert post(public, app_key, **IN_G01).status_code == 200


def test_a_flood_is_429_with_retry_after(api: Api, public: TestClient, clock: FakeClock) -> None:
    clients: Clients = api.app.state.runtime.open311.clients
    key = clients.add("flood", 3).key
    codes = [post(public, key, **IN_G01).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    res = post(public, key, **IN_G01)
    assert res.status_code == 429
    assert int(res.headers["retry-after"]) >= 1
    assert "too many" in errors_of(res)[0]
    clock.advance(int(res.headers["retry-after"]))
    assert post(public, key, **IN_G01).status_code == 200

    api.app.state.runtime.open311.public_rate_per_min = 2
    reads = [public.get(f"{BASE}/services.json").status_code for _ in range(3)]
    assert reads == [200, 200, 429]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"service_code": "pothole", **IN_G01}, "service_code"),
        ({"service_code": "", **IN_G01}, "service_code"),
        ({"lat": "91", "long": "121.47"}, "lat"),
        ({"lat": "31.23", "long": "east"}, "long"),
        ({"lat": "NaN", "long": "121.47"}, "lat"),
        ({"lat": "31.23"}, "long"),
        ({"long": "121.47"}, "lat"),
        ({}, "lat/long"),
        ({"address_string": "南京西路 1 号"}, "address_string"),
        ({"description": "x" * 4001, **IN_G01}, "description"),
        ({"email": "not-an-address", **IN_G01}, "email"),
        ({"media_url": "ftp://example.cn/a.jpg", **IN_G01}, "media_url"),
        ({"phone": "1" * 40, **IN_G01}, "phone"),
        ({"first_name": "a\x00b", **IN_G01}, "first_name"),
    ],
)
def test_malformed_fields_are_400_naming_the_field(
    app_key: str, public: TestClient, fields: dict[str, str], field: str
) -> None:
    res = post(public, app_key, **fields)
    assert res.status_code == 400, res.text
    messages = errors_of(res)
    assert any(m.startswith(f"{field}:") for m in messages), messages


def test_address_alone_says_why_it_cannot_be_placed(app_key: str, public: TestClient) -> None:
    [message] = errors_of(post(public, app_key, address_string="南京西路 1 号"))
    assert "geocoder" in message
    assert "lat and long" in message


def test_bad_reads_are_400_naming_the_parameter(public: TestClient) -> None:
    for params, field in (
        ({"start_date": "yesterday"}, "start_date"),
        ({"end_date": "2026-12-01T00:00:00"}, "end_date"),
        ({"status": "pending"}, "status"),
        ({"service_code": "pothole"}, "service_code"),
        ({"service_request_id": "12,abc"}, "service_request_id"),
        ({"page_size": "0"}, "page_size"),
        ({"start_date": "2026-12-02T00:00:00Z", "end_date": "2026-12-01T00:00:00Z"}, "end_date"),
    ):
        res = public.get(f"{BASE}/requests.json", params=params)
        assert res.status_code == 400, (params, res.text)
        assert errors_of(res)[0].startswith(f"{field}:"), params
    res = public.get(f"{BASE}/requests.json", params={"status": "open\x00"})
    assert res.status_code == 400
    assert errors_of(res)[0].startswith("status:")


def test_bad_suffixes_and_unknown_resources(public: TestClient) -> None:
    res = public.get(f"{BASE}/services.csv")
    assert res.status_code == 400
    root = etree.fromstring(res.content)  # an unknown format is answered in XML, the spec's required one
    assert (root.findtext("error/description") or "").startswith("format:")
    res = public.get(f"{BASE}/services")
    assert res.status_code == 400
    assert public.get(f"{BASE}/requests/999999.json").status_code == 404
    assert errors_of(public.get(f"{BASE}/requests/abc.json"))[0].startswith("service_request_id:")
    assert public.get(f"{BASE}/tokens/abc.json").status_code == 404
    assert public.post(f"{BASE}/services.json").status_code == 404


def test_an_idempotency_key_makes_one_case(app_key: str, public: TestClient, events: EventsService) -> None:
    body = {"api_key": app_key, "service_code": "litter", **IN_G01}
    headers = {"Idempotency-Key": "report-7"}
    first = public.post(f"{BASE}/requests.json", data=body, headers=headers).json()
    again = public.post(f"{BASE}/requests.json", data=body, headers=headers).json()
    assert first[0]["service_request_id"] == again[0]["service_request_id"]
    other = public.post(f"{BASE}/requests.json", data=body).json()
    assert other[0]["service_request_id"] != first[0]["service_request_id"]


def test_requests_list_defaults_to_90_days_and_filters(app_key: str, public: TestClient, clock: FakeClock) -> None:
    old = post(public, app_key, **IN_G01).json()[0]["service_request_id"]
    clock.advance(91 * 86400)
    new = post(public, app_key, service_code="noise", **IN_G03).json()[0]["service_request_id"]
    assert [r["service_request_id"] for r in public.get(f"{BASE}/requests.json").json()] == [new]
    both = public.get(f"{BASE}/requests.json", params={"service_request_id": f"{old},{new}"}).json()
    assert {r["service_request_id"] for r in both} == {old, new}
    start = "2020-01-01T00:00:00+08:00"
    listed = public.get(f"{BASE}/requests.json", params={"start_date": start, "service_code": "noise"}).json()
    assert listed == []  # 90 days from start_date
    listed = public.get(f"{BASE}/requests.json", params={"service_code": "noise"}).json()
    assert [r["service_request_id"] for r in listed] == [new]


def test_camera_cases_are_not_service_requests(api: Api, public: TestClient, events: EventsService) -> None:
    assert public.get(f"{BASE}/requests.json").json() == []
    root = etree.fromstring(public.get(f"{BASE}/requests.xml").content)
    assert root.tag == "service_requests"
    assert len(root) == 0


def test_odd_bodies_are_refused_in_the_spec_format(app_key: str, public: TestClient) -> None:
    url = f"{BASE}/requests.json"
    odd = [
        public.post(url, content=b"api_key=" + app_key.encode() + b"&description=" + b"x" * 70_000),
        public.post(url, content=b"\xff\xfe=\xff", headers={"content-type": "application/x-www-form-urlencoded"}),
        public.post(url, json={"api_key": app_key, "service_code": "noise", **IN_G01}),
        public.post(url, data={"api_key": app_key}, files={"media": ("a.jpg", b"\xff\xd8", "image/jpeg")}),
        public.post(url, content="&".join(f"f{i}=1" for i in range(300)).encode()),
    ]
    assert [r.status_code for r in odd] == [413, 400, 400, 400, 400]
    for res in odd:
        assert errors_of(res)
    multipart = public.post(url, data={"api_key": app_key, "service_code": "noise", **IN_G01}, files={"x": ("", b"")})
    assert multipart.status_code < 500  # an empty file part: read or refused, never a crash

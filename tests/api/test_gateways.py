"""The gateway routes on the demo site against the wvp-like simulator: add (password in, never out), import
all-or-nothing with every bad channel named, a gateway that is down named in a 503, site-wide writers only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from api.context import ApiContext
from camera_config.store import SiteStore
from events.service import EventsService
from ingest.gateway_sync import GatewaySync
from ingest.gateways import GatewayClients
from tests.api.conftest import Api, fast_auth
from tests.support.wvp_sim import DEVICE, WvpSimulator, gateway_with_channels

DEV = DEVICE


@pytest.fixture
def sim() -> Iterator[WvpSimulator]:
    with gateway_with_channels(2) as s:
        yield s


@pytest.fixture
def gw_api(engine: Engine, site: SiteStore, users: object, events: EventsService) -> Iterator[Api]:
    clients = GatewayClients(site.gateways.access)
    context = ApiContext(
        engine=engine, site=site, auth=fast_auth(), events=events, gateway_sync=GatewaySync(site, clients)
    )
    holder = Api(create_app(context), [])
    yield holder
    for client in holder.clients:
        client.__exit__(None, None, None)
    clients.close()


def body(sim: WvpSimulator, **over: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "id": "gw-1",
        "url": sim.url,
        "username": "admin",
        "password": "gw-pass",
        "compound": "K-01",
    }
    doc.update(over)
    return doc


def test_add_list_and_import(gw_api: Api, sim: WvpSimulator) -> None:
    client = gw_api.as_("integrator")
    res = client.post("/api/gateways", json=body(sim))
    assert res.status_code == 201, res.text
    assert "password" not in res.json()
    assert "gw-pass" not in res.text
    assert client.post("/api/gateways", json=body(sim)).status_code == 409
    res = client.post("/api/gateways/gw-1/sync")
    assert res.status_code == 200, res.text
    assert res.json() == {
        "gateway": "gw-1",
        "channels": 2,
        "added": ["gw-1-34020000001310000001", "gw-1-34020000001310000002"],
        "removed": [],
        "restored": [],
        "updated": 0,
        "unchanged": 0,
    }
    cams = client.get("/api/cameras", params={"compound": "K-01", "q": "gw-1"}).json()["items"]
    assert [(c["id"], c["grid_id"]) for c in cams] == [
        ("gw-1-34020000001310000001", "G-01"),
        ("gw-1-34020000001310000002", "G-01"),
    ]
    sim.remove_channel(DEV, "34020000001310000002")
    res = client.post("/api/gateways/gw-1/sync")
    assert (res.json()["removed"], res.json()["unchanged"]) == (["gw-1-34020000001310000002"], 1)
    [listed] = client.get("/api/gateways").json()
    assert (listed["id"], listed["retired"], listed["sync_summary"]) == (
        "gw-1",
        ["gw-1-34020000001310000002"],
        "gw-1: 1 channel; removed gw-1-34020000001310000002; 0 updated, 1 unchanged",
    )
    sim.stop()  # the connection test asks the gateway for the stream, as ingest does
    res = client.post("/api/cameras/gw-1-34020000001310000001/test", params={"timeout_s": 2})
    assert res.status_code == 200, res.text
    assert (res.json()["ok"], res.json()["reason"]) == (False, "gateway")
    assert res.json()["detail"].startswith('camera "gw-1-34020000001310000001": GB28181 网关 gw-1 无法连接')


def test_bad_input_names_the_field(gw_api: Api, sim: WvpSimulator) -> None:
    client = gw_api.as_("integrator")
    res = client.post("/api/gateways", json=body(sim, password=None, compound="K-99", url="ftp://x"))
    assert res.status_code == 422
    assert [e["where"] for e in res.json()["errors"]] == ["url"]
    res = client.post("/api/gateways", json=body(sim, password=None, compound="K-99"))
    assert res.status_code == 422
    assert res.json()["errors"] == [
        {"where": "compound", "message": 'compound "K-99" does not exist'},
        {"where": "password", "message": "a new gateway needs the password gridwatch logs in with"},
    ]
    assert client.post("/api/gateways", json=body(sim)).status_code == 201
    sim.channels[(DEV, "34020000001310000002")].latitude = 95.0
    sim.channels[(DEV, "34020000001310000002")].longitude = 121.0
    res = client.post("/api/gateways/gw-1/sync")
    assert res.status_code == 422
    assert res.json()["errors"] == [
        {
            "where": f"gateway gw-1 device {DEV} channel 34020000001310000002",
            "message": "latitude: Input should be less than or equal to 90",
        }
    ]
    assert client.get("/api/cameras", params={"q": "gw-1"}).json()["total"] == 0  # nothing half-imported
    sim.stop()
    res = client.post("/api/gateways/gw-1/sync")
    assert res.status_code == 503
    assert res.json()["detail"].startswith(f"GB28181 网关 gw-1 无法连接 (unreachable): {sim.url}")
    assert client.post("/api/gateways/gw-9/sync").status_code == 404


def test_only_site_wide_writers(gw_api: Api, sim: WvpSimulator) -> None:
    assert gw_api.as_("operator").post("/api/gateways", json=body(sim)).status_code == 403
    assert gw_api.as_("viewer").get("/api/gateways").status_code == 403
    anonymous: TestClient = gw_api.anonymous()
    assert anonymous.get("/api/gateways").status_code == 401

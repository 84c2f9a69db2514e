"""Adding cameras by ONVIF through the API, against the protocol simulator: probe, add (the stream URIs filled
in from the profiles, the stream tested over real RTSP, then saved), and every refusal naming its field with
nothing saved."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from camera_config.store import SiteStore
from ingest.demo_server import free_port
from tests.api.conftest import Api
from tests.support.onvif_sim import OnvifSimulator, running_device
from tests.support.rtsp import RtspCamera


@pytest.fixture
def dead_sim() -> Iterator[OnvifSimulator]:
    """A device whose streams point where nothing answers (the connection test must fail)."""
    port = free_port()
    with running_device(f"rtsp://127.0.0.1:{port}/main", f"rtsp://127.0.0.1:{port}/sub") as sim:
        yield sim


def device(sim: OnvifSimulator, **changes: Any) -> dict[str, Any]:
    return {"address": "127.0.0.1", "port": sim.port, "username": sim.username, "password": sim.password, **changes}


def camera(sim: OnvifSimulator, **changes: Any) -> dict[str, Any]:
    fields = {"id": "CAM-20", "name": "Maple Gardens bike shed", "compound": "K-02", "timeout_s": 5, **changes}
    return device(sim, **fields)


def wheres(res: Any) -> list[str]:
    return [e["where"] for e in res.json()["errors"]]


def test_a_probe_lists_the_profiles_with_the_suggested_main_and_sub_stream(api: Api, dead_sim: OnvifSimulator) -> None:
    res = api.as_("integrator").post("/api/cameras/onvif/probe", json=device(dead_sim))
    assert res.status_code == 200, res.text
    body = res.json()
    assert (body["model"], body["serial"], body["events"]) == ("GW-SIM-1", "SIM-0001", True)
    assert [p["token"] for p in body["profiles"]] == ["profile_main", "profile_sub"]
    assert (body["main_profile"], body["sub_profile"]) == ("profile_main", "profile_sub")
    assert body["profiles"][1]["stream_uri"].endswith("/sub")
    assert dead_sim.password not in res.text
    for user in ("viewer", "operator", "gw1"):
        assert api.as_(user).post("/api/cameras/onvif/probe", json=device(dead_sim)).status_code == 403, user


def test_wrong_credentials_name_the_fields_and_nothing_is_saved(
    api: Api, site: SiteStore, dead_sim: OnvifSimulator
) -> None:
    client = api.as_("integrator")
    res = client.post("/api/cameras/onvif/probe", json=device(dead_sim, password="not-it"))
    assert res.status_code == 422
    assert wheres(res) == ["username", "password"]
    assert res.json()["errors"][0]["code"] == "onvif_credentials"
    res = client.post("/api/cameras/onvif", json=camera(dead_sim, password="not-it"))
    assert res.status_code == 422
    assert wheres(res) == ["username", "password"]
    assert "not-it" not in res.text
    assert "CAM-20" not in site.index().cameras


def test_a_soap_fault_is_answered_with_its_reason_and_nothing_is_saved(
    api: Api, site: SiteStore, dead_sim: OnvifSimulator
) -> None:
    dead_sim.fail("GetDeviceInformation", reason="device is rebooting")
    res = api.as_("integrator").post("/api/cameras/onvif", json=camera(dead_sim))
    assert res.status_code == 422
    [error] = res.json()["errors"]
    assert error["where"] == "address"
    assert "device is rebooting" in error["message"]
    assert "CAM-20" not in site.index().cameras


def test_an_unreachable_device_names_the_address(api: Api) -> None:
    port = free_port()
    body = {"address": "127.0.0.1", "port": port, "username": "admin", "password": "x", "timeout_s": 3}
    res = api.as_("integrator").post("/api/cameras/onvif/probe", json=body)
    assert res.status_code == 422
    assert wheres(res) == ["address"]
    res = api.as_("integrator").post("/api/cameras/onvif/probe", json={**body, "address": "http://10.0.0.1/onvif"})
    assert res.status_code == 422
    assert wheres(res) == ["address"]


def test_the_sites_own_checks_come_before_the_device_is_asked(api: Api, dead_sim: OnvifSimulator) -> None:
    client = api.as_("integrator")
    res = client.post("/api/cameras/onvif", json=camera(dead_sim, compound="K-99"))
    assert res.status_code == 422
    assert wheres(res) == ["compound"]
    assert client.post("/api/cameras/onvif", json=camera(dead_sim, id="CAM-01")).status_code == 409
    assert dead_sim.calls == {}, "the device was not asked"


def test_an_unknown_profile_is_refused_naming_it(api: Api, site: SiteStore, dead_sim: OnvifSimulator) -> None:
    res = api.as_("integrator").post("/api/cameras/onvif", json=camera(dead_sim, sub_profile="profile_x"))
    assert res.status_code == 422
    assert wheres(res) == ["sub_profile"]
    assert "CAM-20" not in site.index().cameras


def test_a_failed_connection_test_saves_nothing(api: Api, site: SiteStore, dead_sim: OnvifSimulator) -> None:
    res = api.as_("integrator").post("/api/cameras/onvif", json=camera(dead_sim))
    assert res.status_code == 422
    [error] = res.json()["errors"]
    assert error["where"] == "streams.sub"
    assert "connection test failed (refused)" in error["message"]
    assert "CAM-20" not in site.index().cameras


def test_adding_by_onvif_fills_the_streams_tests_them_and_saves(
    api: Api, site: SiteStore, rtsp_camera: RtspCamera
) -> None:
    with running_device(rtsp_camera.url, username=rtsp_camera.username, password=rtsp_camera.password) as sim:
        res = api.as_("integrator").post("/api/cameras/onvif", json=camera(sim, events=False))
    assert res.status_code == 201, res.text
    body = res.json()
    assert body["test"]["ok"] is True
    assert body["test"]["stream"] == "main"
    assert (body["test"]["width"], body["test"]["height"]) == (768, 576)
    assert body["camera"]["streams"] == {"main": rtsp_camera.url, "sub": None}
    assert body["camera"]["onvif"] == {"host": "127.0.0.1", "port": sim.port, "events": False}
    assert rtsp_camera.password not in res.text
    saved = site.camera("CAM-20")
    assert saved.onvif is not None
    assert saved.grid_id == "G-02"
    creds = site.credentials("CAM-20")
    assert (creds.username, creds.password) == (rtsp_camera.username, rtsp_camera.password)

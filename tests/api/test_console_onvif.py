"""The console's "Add by ONVIF" form in a real browser against the server process and the ONVIF simulator:
refused credentials marked on their fields, the device's profiles shown, the camera added after its stream
passed the connection test (over real RTSP)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.api.conftest import Server, http_login
from tests.support.browser import login, shot
from tests.support.onvif_sim import OnvifSimulator, running_device
from tests.support.rtsp import RtspCamera

pytestmark = pytest.mark.slow


@pytest.fixture
def sim(rtsp_camera: RtspCamera) -> Iterator[OnvifSimulator]:
    with running_device(rtsp_camera.url, username=rtsp_camera.username, password=rtsp_camera.password) as device:
        yield device


def test_add_by_onvif_marks_refused_credentials_then_adds_the_camera(
    page: Page, server: Server, sim: OnvifSimulator
) -> None:
    login(page, server, "integrator")
    page.goto(server.url + "/#/cameras")
    page.click("#add-by-onvif")
    expect(page.locator("h1")).to_have_text("Add by ONVIF")
    page.fill("input[name=address]", "127.0.0.1")
    page.fill("input[name=port]", str(sim.port))
    page.fill("input[name=username]", sim.username)
    page.fill("input[name=password]", "not-the-password")
    page.click("#onvif-probe")
    expect(page.locator("label:has(input[name=password]) .field-error")).to_contain_text("user name or password")
    expect(page.locator("input[name=username]")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#onvif-camera")).to_be_hidden()
    shot(page, "onvif-refused")

    page.fill("input[name=password]", sim.password)
    page.click("#onvif-probe")
    expect(page.locator("#onvif-profiles tbody tr")).to_have_count(1)
    expect(page.locator("#onvif-device")).to_contain_text("GW-SIM-1")
    page.fill("input[name=id]", "UI-ONVIF-1")
    page.fill("input[name=name]", "Harbour View side gate")
    page.select_option("select[name=compound]", "K-03")
    shot(page, "onvif-profiles")
    page.click("#onvif-add")
    expect(page.locator("h1")).to_have_text("Harbour View side gate", timeout=30_000)
    assert sim.password not in page.content()
    with http_login(server, "integrator") as http:
        camera = http.get("/api/cameras/UI-ONVIF-1").json()
        assert camera["onvif"] == {"host": "127.0.0.1", "port": sim.port, "events": True}
        assert http.delete("/api/cameras/UI-ONVIF-1").status_code == 204

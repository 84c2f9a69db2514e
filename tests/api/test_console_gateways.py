"""The console's Gateways page in a real browser against a server process and the wvp simulator: a refused field
marked with the server's message, the gateway added, "sync now" reporting what it changed (the cameras then there
through the API), a vanished channel's camera counted as retired, and a gateway that is down named in the error; an
integrator whose scope is not the whole site neither sees the link nor the page (the API refuses them too)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.api.conftest import Server, http_login, run_server
from tests.support.browser import login, shot
from tests.support.rtsp import RtspCamera
from tests.support.wvp_sim import DEVICE, WvpSimulator, gateway_with_channels

pytestmark = pytest.mark.slow

CAMERAS = ["gw-ui-34020000001310000001", "gw-ui-34020000001310000002"]


@pytest.fixture(scope="module")
def own_server(demo_clip: Path, rtsp_camera: RtspCamera, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of this module's own without the periodic gateway sync: only the page's "sync now" imports, so the
    page's report is the one that added the channels (and no gateway is left behind in the shared server)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GRIDWATCH_GATEWAY_SYNC_S", "0")  # read by the server process run_server starts
        root = tmp_path_factory.mktemp("gateways-server")
        with run_server(demo_clip, rtsp_camera, root, detect=False) as server:
            yield server


@pytest.fixture
def sim() -> Iterator[WvpSimulator]:
    with gateway_with_channels(2) as s:
        yield s


def test_add_a_gateway_sync_it_and_see_what_changed(page: Page, own_server: Server, sim: WvpSimulator) -> None:
    server = own_server
    login(page, server, "integrator")
    page.goto(server.url + "/#/cameras")
    page.click("#gateways-link")
    expect(page.locator("h1")).to_have_text("Gateways")
    expect(page.locator("#gateways-empty")).to_be_visible()

    page.fill("input[name=id]", "gw-ui")
    page.fill("input[name=name]", "East gate NVR")
    page.fill("input[name=url]", "ftp://127.0.0.1")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "gw-pass")
    page.select_option("select[name=compound]", "K-01")
    page.click("#gateway-add")
    expect(page.locator("label:has(input[name=url]) .field-error")).to_contain_text("http(s)://host")
    expect(page.locator("input[name=url]")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#gateways-table tbody tr")).to_have_count(0)
    shot(page, "gateways-refused")

    page.fill("input[name=url]", sim.url)
    page.click("#gateway-add")
    row = page.locator("#gateways-table tr[data-gateway=gw-ui]")
    expect(row.locator(".synced-at")).to_have_text("never")
    expect(page.locator(".field-error")).to_have_count(0)
    assert page.input_value("input[name=password]") == ""  # the form was cleared

    row.locator(".sync-now").click()
    report = page.locator("#sync-result .sync-report[data-gateway=gw-ui]")
    expect(report).to_contain_text("channels listed: 2. Added 2, removed 0, restored 0, updated 0, unchanged 0.")
    expect(report.locator("li[data-kind=added] a")).to_have_text(CAMERAS)
    expect(row.locator(".synced-at")).not_to_have_text("never")
    with http_login(server, "integrator") as http:
        cams = http.get("/api/cameras", params={"q": "gw-ui"}).json()["items"]
        assert [(c["id"], c["compound_id"], c["name"]) for c in cams] == [
            (CAMERAS[0], "K-01", "Gate 1"),
            (CAMERAS[1], "K-01", "Gate 2"),
        ]

    sim.remove_channel(DEVICE, "34020000001310000002")
    row.locator(".sync-now").click()
    expect(report).to_contain_text("removed 1")
    expect(row.locator(".retired summary")).to_have_text("1")
    shot(page, "gateways-synced")

    sim.stop()
    row.locator(".sync-now").click()
    failed = page.locator("#sync-result .error[data-gateway=gw-ui]")
    expect(failed).to_contain_text("Gateway gw-ui was not synced")
    expect(failed).to_contain_text(f"GB28181 网关 gw-ui 无法连接 (unreachable): {sim.url}")
    assert "gw-pass" not in page.content()


def test_the_page_is_only_for_site_wide_writers(page: Page, own_server: Server) -> None:
    with http_login(own_server, "admin") as admin:
        res = admin.post(
            "/api/users",
            json={"username": "cm.integrator", "role": "integrator", "scope": {"kind": "community", "ids": ["CM-01"]}},
        )
        assert res.status_code == 201, res.text
        password = res.json()["password"]
    server = dataclasses.replace(own_server, passwords={**own_server.passwords, "cm.integrator": password})
    login(page, server, "cm.integrator")
    page.goto(server.url + "/#/cameras")
    expect(page.locator("#add-by-onvif")).to_be_visible()  # a writer of their part of the site
    expect(page.locator("#gateways-link")).to_have_count(0)
    page.goto(server.url + "/#/gateways")
    expect(page.locator("h1")).to_have_text("Not found")

"""The console in a real browser: Debian's Chromium driven by Playwright against the server process.

Screenshots of every page go to test-artifacts/console/ (ignored by git).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, FilePayload, Page, expect, sync_playwright

from tests.api.conftest import Server, http_login, wait_until
from tests.api.test_live import live_metrics
from tests.conftest import REPO

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO / "test-artifacts" / "console"
FRAMES_DECODED = """async () => {
  const pc = window.gridwatch && window.gridwatch.livePeer;
  if (!pc) return 0;
  let frames = 0;
  (await pc.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
  });
  return frames;
}"""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: scripts/setup.sh installs it (make test does)")
    profile = tmp_path_factory.mktemp("chromium")
    # Without this, Chromium hides local addresses behind mDNS names and loopback WebRTC cannot connect.
    local_state = {"browser": {"enabled_labs_experiments": ["enable-webrtc-hide-local-ips-with-mdns@2"]}}
    (profile / "Local State").write_text(json.dumps(local_state), encoding="utf-8")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
            viewport={"width": 1280, "height": 800},
        )
        context.set_default_timeout(20_000)
        yield context
        context.close()


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    browser.clear_cookies()
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    page.close()
    assert errors == [], errors


def login(page: Page, server: Server, user: str) -> None:
    page.goto(server.url + "/")
    page.fill("#username", user)
    page.fill("#password", server.passwords[user])
    page.click("button[type=submit]")
    expect(page.locator("#user-name")).not_to_be_empty()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_login(page: Page, server: Server) -> None:
    page.goto(server.url + "/")
    assert page.url == server.url + "/login?next=%2F"
    shot(page, "login")
    page.fill("#username", "operator")
    page.fill("#password", "not-the-password")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("Wrong user name or password.")
    shot(page, "login-refused")
    page.fill("#password", server.passwords["operator"])
    page.click("button[type=submit]")
    expect(page.locator("#user-name")).to_have_text("He Ping · operator")
    expect(page.locator("#nav a")).to_have_text(["Site", "Cameras"])  # no integrator pages for an operator


def test_camera_tree(page: Page, server: Server) -> None:
    login(page, server, "operator")
    tree = page.locator("#site-tree")
    expect(tree.locator("li.camera")).to_have_count(5)
    for name in ("Riverside Sub-district", "Willow Lane Community", "Greenfield Property Services", "Willow Court"):
        expect(tree.get_by_text(name, exact=True)).to_be_visible()
    expect(tree.locator(".grids .chip")).to_have_count(3)
    expect(tree.locator("li.camera[data-camera=CAM-01] .badge")).to_have_text("unknown")
    shot(page, "site-tree")


def test_camera_page_receives_webrtc_video(page: Page, server: Server) -> None:
    login(page, server, "operator")
    page.click("a[href='#/camera/CAM-01']")
    expect(page.locator("h1")).to_have_text("Willow Court east gate plaza")
    expect(page.locator("#live polygon[data-zone=plaza]")).to_have_count(1)
    page.wait_for_function(f"async () => ({FRAMES_DECODED})() .then(n => n > 10)", timeout=20_000)
    expect(page.locator(".live-status")).to_have_text("live · main stream")
    size = page.evaluate(
        "() => [document.querySelector('#live video').videoWidth, document.querySelector('#live video').videoHeight]"
    )
    assert size == [768, 576]
    shot(page, "camera-live")
    with http_login(server, "admin") as admin:
        assert live_metrics(admin, "gridwatch_live_pulls") == {'{camera="CAM-01"}': 1.0}
        page.click("text=← Site")  # leaving the page closes the view
        wait_until(lambda: live_metrics(admin, "gridwatch_live_pulls") == {})


BAD_CSV = (
    "id,name,compound,grid,rtsp_url\n"
    "UI-1,New north gate,K-01,,rtsp://10.7.0.1/main\n"
    "UI-2,Bad grid,K-01,G-119,rtsp://10.7.0.2/main\n"
    "UI-3,Bad url,K-02,,http://10.7.0.3/main\n"
)


def test_integrator_csv_import_shows_the_error_report(page: Page, server: Server) -> None:
    login(page, server, "integrator")
    expect(page.locator("#nav a")).to_have_text(["Site", "Cameras", "Add camera", "Import CSV"])
    page.click("#nav >> text=Import CSV")
    upload: FilePayload = {"name": "cameras.csv", "mimeType": "text/csv", "buffer": BAD_CSV.encode()}
    page.set_input_files("#csv-file", upload)
    page.click("#import-form button[type=submit]")
    report = page.locator("#import-report")
    expect(report.locator(".report-bad")).to_have_text("Nothing was imported: 2 problems.")
    rows = report.locator("#import-errors tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text('cameras.csv line 3grid "G-119" does not exist')
    expect(rows.nth(1)).to_contain_text("cameras.csv line 4rtsp_url: only rtsp:// or rtsps:// URLs are accepted")
    shot(page, "import-refused")
    page.check("#skip-invalid")
    page.set_input_files("#csv-file", upload)
    page.click("#import-form button[type=submit]")
    expect(report.locator(".report-ok")).to_have_text("3 rows: 1 created, 0 updated, 0 unchanged, 2 skipped.")
    expect(rows).to_have_count(2)
    shot(page, "import-skipped")
    page.goto(server.url + "/#/cameras")
    expect(page.locator("#cameras-table tbody tr")).to_have_count(6)
    shot(page, "cameras-table")
    with http_login(server, "integrator") as http:
        assert http.delete("/api/cameras/UI-1").status_code == 204


def test_add_camera_form_marks_the_refused_field(page: Page, server: Server) -> None:
    login(page, server, "integrator")
    page.goto(server.url + "/#/cameras/new")
    page.fill("input[name=id]", "UI-9")
    page.fill("input[name=name]", "Harbour View gate")
    page.select_option("select[name=compound]", "K-03")
    page.fill("input[name=main]", "http://10.7.0.9/main")
    page.fill("input[name=password]", "ui-secret-9")
    page.click("#camera-form button[type=submit]")
    main_field = page.locator("input[name=main]")
    expect(main_field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("label:has(input[name=main]) .field-error")).to_contain_text("only rtsp:// or rtsps:// URLs")
    shot(page, "add-camera-refused")
    main_field.fill("rtsp://10.7.0.9/main")
    page.click("#camera-form button[type=submit]")
    expect(page.locator("h1")).to_have_text("Harbour View gate")
    expect(page.locator(".facts")).to_contain_text("G-03")
    assert "ui-secret-9" not in page.content()
    with http_login(server, "integrator") as http:
        assert http.delete("/api/cameras/UI-9").status_code == 204


def test_grid_worker_on_a_phone_sees_only_their_grid(page: Page, server: Server) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, server, "gridworker")
    tree = page.locator("#site-tree")
    expect(tree.locator("li.camera")).to_have_count(2)
    expect(tree.locator("li.camera[data-camera=CAM-02]")).to_have_count(0)
    expect(page.locator("#nav")).to_be_hidden()
    page.click("#menu-toggle")
    expect(page.locator("#nav a")).to_have_text(["Site", "Cameras"])
    shot(page, "phone-tree")
    page.goto(server.url + "/#/camera/CAM-02")
    expect(page.locator("#page")).to_contain_text('camera "CAM-02" does not exist')
    page.goto(server.url + "/#/camera/CAM-01")
    page.wait_for_function(f"async () => ({FRAMES_DECODED})() .then(n => n > 5)", timeout=20_000)
    expect(page.locator(".live-status")).to_have_text("live · main stream")
    width = page.evaluate("() => document.querySelector('#live').getBoundingClientRect().width")
    assert width <= 390
    shot(page, "phone-camera")

"""The console in a real browser: Debian's Chromium driven by Playwright against the server process.

Screenshots of every page go to test-artifacts/console/ (ignored by git).
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import httpx
import pytest
from playwright.sync_api import FilePayload, Page, expect

from tests.api.conftest import Server, http_login, live_metrics
from tests.support.browser import login, shot
from tests.support.wait import wait_for

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


def wait_decoded(page: Page, more_than: int, timeout_s: float = 20.0) -> int:
    """Frames the live view decoded, once more than ``more_than``. Polled from here: Playwright's
    wait_for_function takes an async predicate's promise for a true answer at once, so it cannot wait on
    getStats()."""
    return wait_for(
        lambda: (n := int(page.evaluate(FRAMES_DECODED))) > more_than and n,
        timeout_s,
        0.2,
        what=lambda: f"more than {more_than} decoded frames (now {page.evaluate(FRAMES_DECODED)})",
    )


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
    # operators land on the alert wall; no integrator pages for them
    expect(page.locator("#nav a")).to_have_text(
        ["Alerts", "Wall", "Cases", "Figures", "Risk", "Map", "Site", "Cameras"]
    )
    expect(page.locator("#alert-wall")).to_be_attached()
    assert page.url.endswith("/#/alerts")


def test_camera_tree(page: Page, server: Server) -> None:
    login(page, server, "operator")
    page.click("#nav >> text=Site")
    tree = page.locator("#site-tree")
    expect(tree.locator("li.camera")).to_have_count(5)
    for name in ("Riverside Sub-district", "Willow Lane Community", "Greenfield Property Services", "Willow Court"):
        expect(tree.get_by_text(name, exact=True)).to_be_visible()
    expect(tree.locator(".grids .chip")).to_have_count(3)
    expect(tree.locator("li.camera[data-camera=CAM-01] .badge")).to_have_text("unknown")
    shot(page, "site-tree")


def test_the_site_tree_shows_the_remote_worker_that_runs_a_camera(page: Page, delivery: Delivery) -> None:
    server = delivery.server
    report = {"name": "box-ui", "cameras": ["CAM-04"], "spool_depth": 7, "delivery_state": "ok"}
    res = httpx.post(
        server.url + "/api/worker/heartbeat", json=report, headers={"Authorization": f"Bearer {delivery.token}"}
    )
    assert res.status_code == 204, res.text
    login(page, server, "operator")
    page.goto(server.url + "/#/tree")
    row = page.locator("#workers tr[data-worker$='/box-ui']")
    expect(row).to_contain_text("reporting")
    expect(row.locator(".spool")).to_have_text("7 waiting")
    expect(page.locator("#site-tree li.camera[data-camera=CAM-04] .worker")).to_have_text("worker box-ui")


def test_camera_page_receives_webrtc_video(page: Page, server: Server) -> None:
    login(page, server, "operator")
    page.click("#nav >> text=Site")
    page.click("a[href='#/camera/CAM-01']")
    expect(page.locator("h1")).to_have_text("Willow Court east gate plaza")
    expect(page.locator("#live polygon[data-zone=plaza]")).to_have_count(1)
    wait_decoded(page, 10)
    expect(page.locator(".live-status")).to_have_text("live · main stream")
    size = page.evaluate(
        "() => [document.querySelector('#live video').videoWidth, document.querySelector('#live video').videoHeight]"
    )
    assert size == [768, 576]
    shot(page, "camera-live")
    with http_login(server, "admin") as admin:
        assert live_metrics(admin, "gridwatch_live_pulls") == {'{camera="CAM-01"}': 1.0}
        page.click("text=← Site")  # leaving the page closes the view
        wait_for(lambda: live_metrics(admin, "gridwatch_live_pulls") == {})


# The zone overlay's box relative to the live view's, and the picture's size.
OVERLAY_BOX = """() => {
  const live = document.querySelector('#live').getBoundingClientRect();
  const zones = document.querySelector('#zones').getBoundingClientRect();
  const video = document.querySelector('#live video');
  return [zones.x - live.x, zones.y - live.y, zones.width, zones.height, video.videoWidth, video.videoHeight];
}"""


@pytest.mark.parametrize(("width", "height"), [(800, 300), (300, 560)], ids=["wide", "tall"])
def test_zones_cover_the_picture_not_its_bars(page: Page, server: Server, width: int, height: int) -> None:
    """A live view box of another shape than the stream shows the picture whole between bars (at the sides of
    a wide box, above and below in a tall one); the zones are drawn over the picture only."""
    login(page, server, "operator")
    page.goto(server.url + "/#/camera/CAM-01")
    expect(page.locator("#live video")).to_be_attached()
    page.wait_for_function("() => document.querySelector('#live video').videoWidth > 0", timeout=20_000)
    page.evaluate(
        f"() => Object.assign(document.querySelector('#live').style, {{ width: '{width}px', height: '{height}px' }})"
    )
    vw, vh = page.evaluate(OVERLAY_BOX)[4:]
    assert (vw, vh) == (768, 576)
    scale = min(width / vw, height / vh)
    want = [(width - vw * scale) / 2, (height - vh * scale) / 2, vw * scale, vh * scale]
    assert want[0] > 1 if width / height > vw / vh else want[1] > 1  # there are bars to stay off
    # the overlay follows the box on its next resize notification
    page.wait_for_function(
        f"want => ({OVERLAY_BOX})().slice(0, 4).every((v, i) => Math.abs(v - want[i]) < 1)", arg=want, timeout=5_000
    )
    shot(page, f"camera-zones-{width}x{height}")
    # and the zone polygon (the plaza: the lower 65 % of the picture) ends at the picture's bottom edge
    plaza = page.evaluate(
        "() => { const l = document.querySelector('#live').getBoundingClientRect();"
        " const r = document.querySelector('#live polygon[data-zone=plaza]').getBoundingClientRect();"
        " return [r.x - l.x, r.bottom - l.y]; }"
    )
    assert abs(plaza[0] - want[0]) < 2, (plaza, want)
    assert abs(plaza[1] - (want[1] + want[3])) < 2, (plaza, want)


@dataclass
class Account:
    """A console login of the test's own, for `login` (it needs the server's address and the password)."""

    url: str
    passwords: dict[str, str]


def test_admin_sees_on_the_audit_page_who_watched_a_camera_live(page: Page, server: Server) -> None:
    """An operator of the test's own (so rows of other tests on this server cannot stand in) watches
    CAM-01 live; the admin's access audit page shows that live view, who and which camera, and its end."""
    name, password = f"op-{uuid.uuid4().hex[:8]}", "watch-" + uuid.uuid4().hex[:8]
    with http_login(server, "admin") as admin:
        body = {"username": name, "role": "operator", "scope": {"kind": "community", "ids": ["CM-01"]}}
        res = admin.post("/api/users", json={**body, "display_name": "Audit Watcher", "password": password})
        assert res.status_code == 201, res.text

        def views(action: str) -> list[dict[str, object]]:
            found = admin.get("/api/audit", params={"actor": name, "action": action}).json()["items"]
            return list(found)

        login(page, Account(server.url, {name: password}), name)
        page.goto(server.url + "/#/camera/CAM-01")
        wait_decoded(page, 5)
        expect(page.locator("#nav a", has_text="Access audit")).to_have_count(0)  # not for operators
        page.click("text=← Site")  # leaving the page closes the view
        [ended] = wait_for(lambda: views("live_view_ended"), what="the end of the live view in the audit")
    assert ended["target"] == "CAM-01"

    page.goto("about:blank")
    page.context.clear_cookies()
    login(page, server, "admin")
    page.click("#nav >> text=Access audit")
    expect(page.locator("h1")).to_have_text("Access audit")
    page.fill("#audit-actor", name)
    page.click("#audit-filters button[type=submit]")
    # Its landing page, the alert wall, may have opened other tests' evidence (audited too): live views only.
    table = page.locator("#audit-table tbody tr[data-action^=live_view]")
    expect(table).to_have_count(2)  # newest first: the end, then the start
    start = page.locator("#audit-table tbody tr[data-action=live_view]")
    expect(start.locator(".actor")).to_contain_text(name)
    expect(start.locator(".actor")).to_contain_text("operator")
    expect(start.locator(".target")).to_have_text("CAM-01")
    expect(start.locator(".action")).to_have_text("live view")
    expect(page.locator("#audit-table tbody tr[data-action=live_view_ended] .target")).to_have_text("CAM-01")
    assert f"actor={name}" in (page.locator("#audit-csv").get_attribute("href") or "")
    shot(page, "access-audit")
    page.select_option("#audit-action", "user_created")
    expect(page.locator("#audit-table tbody tr")).to_have_count(0)  # the admin created it: nothing as actor
    expect(page.locator("#audit-summary")).to_have_text("Nothing recorded for these filters.")


BAD_CSV = (
    "id,name,compound,grid,rtsp_url\n"
    "UI-1,New north gate,K-01,,rtsp://10.7.0.1/main\n"
    "UI-2,Bad grid,K-01,G-119,rtsp://10.7.0.2/main\n"
    "UI-3,Bad url,K-02,,http://10.7.0.3/main\n"
)


def test_integrator_csv_import_shows_the_error_report(page: Page, server: Server) -> None:
    login(page, server, "integrator")
    expect(page.locator("#nav a")).to_have_text(
        ["Alerts", "Cases", "Figures", "Risk", "Map", "Site", "Cameras", "Add camera", "Import CSV"]
    )  # integrators read alerts and cases, and land on the site
    expect(page.locator("#site-tree")).to_be_attached()
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
    expect(page.locator("h1")).to_have_text("My tasks")  # a grid worker lands on their tasks
    page.goto(server.url + "/#/tree")
    tree = page.locator("#site-tree")
    expect(tree.locator("li.camera")).to_have_count(2)
    expect(tree.locator("li.camera[data-camera=CAM-02]")).to_have_count(0)
    expect(page.locator("#nav")).to_be_hidden()
    page.click("#menu-toggle")
    expect(page.locator("#nav a")).to_have_text(["My tasks", "Risk", "Map", "Site", "Cameras"])
    shot(page, "phone-tree")
    page.goto(server.url + "/#/camera/CAM-02")
    expect(page.locator("#page")).to_contain_text('camera "CAM-02" does not exist')
    page.goto(server.url + "/#/camera/CAM-01")
    wait_decoded(page, 5)
    expect(page.locator(".live-status")).to_have_text("live · main stream")
    width = page.evaluate("() => document.querySelector('#live').getBoundingClientRect().width")
    assert width <= 390
    shot(page, "phone-camera")


# ---------------------------------------------------------------------------- alerts and cases


@dataclass(frozen=True)
class Delivery:
    """A detection worker's account on the server: delivers observations with its API token."""

    server: Server
    token: str
    jpeg: bytes

    def observe(self, *, camera: str = "CAM-01", hazard: str = "crowd", summary: str, severity: str = "medium") -> int:
        """One new hazard episode, as a remote worker sends it; the id of the alert it made."""
        now = datetime.now(UTC)
        doc = {
            "episode_id": f"ui-{uuid.uuid4().hex[:12]}",
            "camera_id": camera,
            "hazard": hazard,
            "state": "opened",
            "severity": severity,
            "started_at": (now - timedelta(seconds=40)).isoformat(),
            "observed_at": now.isoformat(),
            "seq": 0,
            "zone_id": "plaza" if camera == "CAM-01" else None,
            "summary": summary,
            "measurements": {"people": 7.0, "duration_s": 40.0},
            "evidence_jpeg_b64": base64.b64encode(self.jpeg).decode(),
        }
        res = httpx.post(
            self.server.url + "/api/worker/observations",
            json={"observations": [doc]},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )
        assert res.status_code == 200, res.text
        result = res.json()["results"][0]
        assert result["created"] is True, result
        return int(result["alert_id"])


@pytest.fixture(scope="module")
def delivery(server: Server, footage: Path) -> Delivery:
    return worker_delivery(server, footage)


def worker_delivery(server: Server, footage: Path) -> Delivery:
    """A worker account with a token (made by the admin over the API) and a real frame as evidence."""
    capture = cv2.VideoCapture(str(footage / "vtest.avi"))
    try:
        ok, frame = capture.read()
    finally:
        capture.release()
    assert ok
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    name = f"ui-worker-{uuid.uuid4().hex[:6]}"
    with http_login(server, "admin") as admin:
        res = admin.post("/api/users", json={"username": name, "role": "worker"})
        assert res.status_code == 201, res.text
        res = admin.post(f"/api/users/{name}/tokens", json={"name": "console tests"})
        assert res.status_code == 201, res.text
        token = res.json()["secret"]
    return Delivery(server, token, jpeg.tobytes())


def case_in(delivery: Delivery, state: str, *, camera: str, hazard: str, summary: str) -> int:
    """A case of a new alert on a camera of grid G-01, driven over the API to ``state``: the precondition
    of a browser test that starts in the middle of the loop.

    Each test takes its own camera and hazard: an open case of the same camera and hazard would
    take the new alert in instead of making a new case.
    """
    alert_id = delivery.observe(camera=camera, hazard=hazard, summary=summary)
    with http_login(delivery.server, "operator") as op:
        res = op.post(f"/api/alerts/{alert_id}/case", json={"note": ""})
        assert res.status_code == 200, res.text
        case = res.json()
    assert case["state"] == "dispatched", case  # the grid has a worker: the case goes to them at once
    steps = {"dispatched": [], "resolved": [("accept", ""), ("start", ""), ("resolve", "Fixed on site")]}[state]
    with http_login(delivery.server, "gridworker") as gw:
        for action, note in steps:
            res = gw.post(f"/api/cases/{case['id']}/transitions", json={"action": action, "note": note})
            assert res.status_code == 200, res.text
    return int(case["id"])


def no_horizontal_scroll(page: Page, width: int = 390) -> None:
    scroll = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll <= width, f"the page is {scroll} px wide on a {width} px screen"


def test_operator_sees_a_new_alert_without_reload_and_makes_a_case(page: Page, delivery: Delivery) -> None:
    server = delivery.server
    login(page, server, "operator")
    expect(page.locator("#live-state")).to_have_text("live")
    page.evaluate("() => { window.__sameDocument = true; }")  # gone if the page reloaded

    # medium: below the crowd rule's automatic case, so it waits for the operator
    false_alarm = delivery.observe(summary="Shadows of the trees moving at the gate")
    card = page.locator(f"#alert-wall li[data-alert='{false_alarm}']")
    expect(card).to_be_visible(timeout=10_000)
    alert_id = delivery.observe(summary="7 people gathered at the gate plaza for 40 s")
    card = page.locator(f"#alert-wall li[data-alert='{alert_id}']")
    expect(card).to_be_visible(timeout=10_000)
    expect(page.locator("#alert-wall > li").first).to_have_attribute("data-alert", str(alert_id))
    assert page.evaluate("() => window.__sameDocument === true")
    expect(card.locator(".camera-name")).to_have_text("Willow Court east gate plaza")
    expect(card.locator(".alert-where")).to_contain_text("grid G-01")
    expect(card.locator(".hazard")).to_have_text("crowd")
    expect(card.locator(".sev-medium")).to_have_text("medium")
    expect(card.locator("time")).not_to_be_empty()
    page.wait_for_function(
        "id => { const i = document.querySelector(`li[data-alert='${id}'] .thumb img`);"
        " return i && i.naturalWidth > 0; }",
        arg=alert_id,
    )
    shot(page, "alert-wall")

    # a false alarm: acknowledged, then dismissed with a reason
    other = page.locator(f"#alert-wall li[data-alert='{false_alarm}']")
    other.locator(".act-ack").click()
    expect(other).to_have_attribute("data-status", "acknowledged")
    other.locator(".act-dismiss").click()
    other.locator(".dismiss-form button[type=submit]").click()
    expect(other.locator("input[name=reason]")).to_have_attribute("aria-invalid", "true")  # a reason is needed
    other.locator("input[name=reason]").fill("tree shadows")
    other.locator(".dismiss-form button[type=submit]").click()
    expect(other).to_have_attribute("data-status", "dismissed")
    expect(other).to_contain_text("dismissed: tree shadows")

    card.locator(".act-case").click()
    expect(page.locator("#case-title")).to_contain_text("camera CAM-01")
    case_id = int(page.url.rsplit("/", 1)[1])
    # made into a case, it was registered and dispatched to the grid's worker in the same step
    expect(page.locator("#case-facts")).to_contain_text("dispatched")
    expect(page.locator("#case-assignee")).to_have_text("Li Na")  # the grid worker's name, not their id
    expect(page.locator("#case-assignee")).to_have_attribute("title", "P-GW-01")
    expect(page.locator("#case-timeline li")).to_have_count(3)
    expect(page.locator("#case-timeline li").nth(2)).to_have_attribute("data-action", "dispatch")
    expect(page.locator(f"#case-evidence a[data-alert='{alert_id}'] img")).to_be_visible()
    expect(page.locator("#step-buttons button")).to_have_text(["Dispatch", "Accept", "Dismiss", "Escalate"])
    shot(page, "case-dispatched")

    page.click("text=← Cases")
    column = page.locator("#case-board .board-col[data-state=dispatched]")
    expect(column.locator(f"a[data-case='{case_id}']")).to_be_visible()
    page.click("#nav >> text=Alerts")
    expect(page.locator(f"#alert-wall li[data-alert='{alert_id}']")).to_have_attribute("data-status", "in_case")
    expect(page.locator(f"#alert-wall li[data-alert='{alert_id}'] .case-link")).to_have_text(f"case #{case_id}")


def test_a_dismiss_reason_being_typed_survives_a_live_update_of_its_alert(page: Page, delivery: Delivery) -> None:
    server = delivery.server
    login(page, server, "operator")
    expect(page.locator("#live-state")).to_have_text("live")
    alert_id = delivery.observe(summary="A bag left by the bins")
    card = page.locator(f"#alert-wall li[data-alert='{alert_id}']")
    expect(card).to_have_attribute("data-status", "new")
    card.locator(".act-dismiss").click()
    card.locator("input[name=reason]").fill("the cleaner's")

    # another operator acknowledges it: the card is redrawn from the live event, the draft stays
    with http_login(server, "operator") as other:
        res = other.post(f"/api/alerts/{alert_id}/ack")
        assert res.status_code == 200, res.text
    expect(card).to_have_attribute("data-status", "acknowledged")
    expect(card.locator(".dismiss-form")).to_be_visible()
    expect(card.locator("input[name=reason]")).to_have_value("the cleaner's")
    expect(card.locator("input[name=reason]")).to_be_focused()
    card.locator(".dismiss-form button[type=submit]").click()
    expect(card).to_have_attribute("data-status", "dismissed")
    expect(card).to_contain_text("dismissed: the cleaner's")


def test_grid_worker_on_a_phone_accepts_reports_progress_with_a_photo_and_resolves(
    page: Page, delivery: Delivery
) -> None:
    server = delivery.server
    case_id = case_in(
        delivery, "dispatched", camera="CAM-01", hazard="fallen_person", summary="Person down on the plaza"
    )
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, server, "gridworker")
    assert page.url.endswith("/#/tasks")
    task = page.locator(f"#my-tasks a[data-case='{case_id}']")
    expect(task).to_be_visible()
    expect(task.locator(".badge.state")).to_have_text("dispatched")
    expect(task.locator(".case-assignee")).to_have_text("assigned to Li Na")
    no_horizontal_scroll(page)
    shot(page, "phone-tasks")

    task.click()
    expect(page.locator("#case-title")).to_contain_text(f"#{case_id}")
    expect(page.locator("#step-buttons button")).to_have_text(["Accept"])  # a grid worker cannot dismiss
    no_horizontal_scroll(page)
    page.click("#step-buttons button[data-action=accept]")
    expect(page.locator("#case-facts")).to_contain_text("accepted")

    expect(page.locator("#step-photos")).to_have_attribute("capture", "environment")
    page.fill("#step-note", "On site: people are waiting for the shuttle bus, moving them along")
    photo: FilePayload = {"name": "on-site.jpg", "mimeType": "image/jpeg", "buffer": delivery.jpeg}
    page.set_input_files("#step-photos", photo)
    page.click("#step-buttons button[data-action=start]")
    expect(page.locator("#case-facts")).to_contain_text("in progress")
    started = page.locator("#case-timeline li[data-action=start]")
    expect(started).to_contain_text("waiting for the shuttle bus")
    page.wait_for_function(
        "() => { const i = document.querySelector('#case-timeline li[data-action=start] .photos img');"
        " return i && i.naturalWidth === 768; }"
    )
    expect(page.locator("#step-note")).to_have_value("")

    # a progress note with a photo from the phone's camera: the case stays in progress
    expect(page.locator("#comment-photos")).to_have_attribute("capture", "environment")
    page.fill("#comment-text", "Shuttle bus due in 5 minutes; the crowd is thinning")
    page.set_input_files("#comment-photos", {**photo, "name": "queue.jpg"})
    page.click("#comment-form button[type=submit]")
    progress = page.locator("#case-timeline li[data-action=comment]")
    expect(progress).to_contain_text("crowd is thinning")
    page.wait_for_function(
        "() => { const i = document.querySelector('#case-timeline li[data-action=comment] .photos img');"
        " return i && i.naturalWidth === 768; }"
    )
    expect(page.locator("#comment-text")).to_have_value("")
    expect(page.locator("#case-facts")).to_contain_text("in progress")
    expect(page.locator("#step-buttons button")).to_have_text(["Resolve"])
    no_horizontal_scroll(page)
    shot(page, "phone-progress-note")

    page.click("#step-buttons button[data-action=resolve]")  # feedback is required
    expect(page.locator("#step-error")).to_have_text("Resolve needs a note saying why.")
    expect(page.locator("#step-note")).to_have_attribute("aria-invalid", "true")
    page.fill("#step-note", "Plaza clear; the property company put up a queue barrier")
    page.click("#step-buttons button[data-action=resolve]")
    expect(page.locator("#case-facts")).to_contain_text("resolved")
    expect(page.locator("#step-form")).to_be_hidden()  # nothing left for the grid worker to do
    no_horizontal_scroll(page)
    shot(page, "phone-case-resolved")

    page.click("text=← My tasks")
    expect(page.locator(f"#my-tasks a[data-case='{case_id}'] .badge.state")).to_have_text("resolved")

    page.click("#patrol summary")  # a problem found on patrol becomes a case for the centre
    page.fill("#patrol-form input[name=title]", "Broken railing by Block 2")
    page.select_option("#patrol-form select[name=severity]", "high")
    page.click("#patrol-form button[type=submit]")
    expect(page.locator("#case-title")).to_contain_text("Broken railing by Block 2")
    expect(page.locator("#case-facts")).to_contain_text("reported")
    expect(page.locator("#case-facts")).to_contain_text("patrol")
    expect(page.locator("#step-form")).to_be_hidden()  # registering it is the centre's move
    no_horizontal_scroll(page)


def test_operator_verifies_and_closes_and_the_board_shows_it_closed(page: Page, delivery: Delivery) -> None:
    server = delivery.server
    case_id = case_in(delivery, "resolved", camera="CAM-04", hazard="loitering", summary="Loitering by the gate")
    login(page, server, "operator")
    page.click("#nav >> text=Cases")
    page.select_option("#board-grid", "G-01")
    resolved = page.locator("#case-board .board-col[data-state=resolved]")
    expect(resolved.locator(f"a[data-case='{case_id}']")).to_be_visible()
    closed_before = int(page.locator("#case-board .board-col[data-state=closed] .count").inner_text())
    shot(page, "case-board")

    resolved.locator(f"a[data-case='{case_id}']").click()
    expect(page.locator("#case-timeline li[data-action=resolve]")).to_contain_text("Fixed on site")
    expect(page.locator("#step-buttons button")).to_have_text(["Verify", "Reopen"])
    page.click("#step-buttons button[data-action=verify]")
    expect(page.locator("#step-buttons button")).to_have_text(["Close", "Reopen"])
    page.fill("#comment-text", "Checked on the camera: plaza clear")
    page.click("#comment-form button[type=submit]")
    expect(page.locator("#case-timeline li[data-action=comment]")).to_contain_text(
        ["Checked on the camera: plaza clear"]
    )
    expect(page.locator("#case-facts")).to_contain_text("verified")  # a note leaves the state alone
    page.click("#step-buttons button[data-action=close]")
    expect(page.locator("#case-facts")).to_contain_text("closed")
    expect(page.locator("#step-form")).to_be_hidden()
    expect(page.locator("#case-timeline li").last).to_have_attribute("data-action", "close")
    shot(page, "case-closed")

    page.click("text=← Cases")
    expect(page.locator("#board-grid")).to_have_value("G-01")  # the filter is kept in the address
    closed = page.locator("#case-board .board-col[data-state=closed]")
    expect(closed.locator(f"a[data-case='{case_id}']")).to_be_visible()
    expect(closed.locator(".count")).to_have_text(str(closed_before + 1))
    expect(resolved.locator(f"a[data-case='{case_id}']")).to_have_count(0)
    shot(page, "case-board-closed")


def test_figures_page_draws_its_charts(page: Page, delivery: Delivery) -> None:
    server = delivery.server
    case_in(delivery, "dispatched", camera="CAM-04", hazard="camera_covered", summary="Picture is one colour")
    dismissed = delivery.observe(camera="CAM-04", hazard="camera_defocused", summary="test pattern looks soft")
    with http_login(server, "operator") as op:
        assert op.post(f"/api/alerts/{dismissed}/dismiss", json={"reason": "test pattern"}).status_code == 200
    login(page, server, "operator")
    page.click("#nav >> text=Figures")
    states = page.locator("#chart-case-states")
    expect(states.locator("g[data-row]")).to_have_count(3)  # G-01..G-03
    assert int(states.locator("g[data-row=G-01]").get_attribute("data-total") or 0) >= 1
    expect(states.locator("g[data-row=G-01] rect[data-key=dispatched]")).to_have_count(1)
    expect(page.locator("#chart-alert-hazards rect[data-key=camera_covered]").first).to_be_attached()
    expect(page.locator("#chart-alert-hazards rect[data-key=camera_defocused]").first).to_be_attached()
    frozen = page.locator("#chart-false-alarms g[data-camera=CAM-04]")
    expect(frozen).to_have_attribute("data-rate", re.compile(r"^(0\.\d+|1\.000)$"))
    assert float(frozen.get_attribute("data-rate") or 0) > 0
    expect(page.locator("#false-alarm-reasons")).to_contain_text("test pattern")
    expect(page.locator("#grid-figures tr[data-unit=G-01]")).to_be_visible()
    shot(page, "figures")


def test_case_board_marks_overdue_cases(page: Page, server: Server, tmp_path: Path) -> None:
    # A 12345 hotline ticket whose own deadline passed yesterday, imported with the command line.
    now = datetime.now(UTC)
    ticket = {
        "external_id": f"12345-{uuid.uuid4().hex[:8]}",
        "grid": "G-02",
        "title": "Streetlight out on Maple Lane",
        "received_at": (now - timedelta(days=2)).isoformat(),
        "deadline_at": (now - timedelta(days=1)).isoformat(),
    }
    tickets = tmp_path / "tickets.json"
    tickets.write_text(json.dumps([ticket]), encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "gridwatch", "events", "import-hotline", str(tickets)],
        env=server.env,
        check=True,
        timeout=60,
        capture_output=True,
    )
    login(page, server, "operator")
    page.goto(server.url + "/#/cases?grid=G-02")
    card = page.locator("#case-board .board-col[data-state=dispatched] a.case-card", has_text="Streetlight out")
    expect(card).to_have_class(re.compile(r"\bis-overdue\b"))
    expect(card.locator(".badge.overdue")).to_have_text("overdue")
    expect(page.locator("#board-summary")).to_contain_text("1 overdue")
    page.check("#board-overdue")
    expect(page.locator("#case-board a.case-card")).to_have_count(1)
    shot(page, "case-board-overdue")
    card.click()
    expect(page.locator("#case-facts .badge.overdue")).to_be_visible()

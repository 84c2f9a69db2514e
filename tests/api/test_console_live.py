"""The console on a server running the live pipeline, as `make run` starts it: real streams, the real
model, alerts the pipeline raises itself. Each test has a server of its own."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.api.conftest import Server, http_login
from tests.support.browser import login, shot

pytestmark = pytest.mark.slow


@pytest.mark.timeout(300)  # the first user of the live models exports them: over 100 s on a slow 2-core box
def test_operator_watches_alerts_arrive_from_the_pipeline(page: Page, live_server: Server) -> None:
    """Nothing is delivered by hand: the demo cameras are pulled, the model and rules run, and the
    first alert they raise shows up on the wall of an operator who is already watching it."""
    login(page, live_server, "operator")
    expect(page.locator("#live-state")).to_have_text("live")
    page.evaluate("() => { window.__sameDocument = true; }")
    with http_login(live_server, "operator") as operator:
        before = {a["id"] for a in operator.get("/api/alerts").json()["items"]}
    # the crowd at CAM-01's plaza or CAM-04's covered picture: each needs its rule's seconds to persist;
    # a card for an alert raised before the operator looked may be there already, so wait for a new one
    new_card = "ids => [...document.querySelectorAll('#alert-wall > li')].find(li => !ids.includes(+li.dataset.alert))"
    page.wait_for_function(f"ids => !!({new_card})(ids)", arg=sorted(before), timeout=150_000)
    assert page.evaluate("() => window.__sameDocument === true")
    alert_id = int(page.evaluate(f"ids => ({new_card})(ids).dataset.alert", sorted(before)))
    assert alert_id not in before
    card = page.locator(f"#alert-wall > li[data-alert='{alert_id}']")
    expect(card).to_be_visible()
    expect(card.locator(".camera-name")).not_to_be_empty()
    # whichever rule fires first: the card names its hazard in words ("camera covered") and keeps the value
    hazard = card.get_attribute("data-hazard") or ""
    assert re.fullmatch(r"crowd|camera_\w+", hazard), hazard
    expect(card.locator(".hazard")).to_have_text(hazard.replace("_", " "))
    card.scroll_into_view_if_needed()  # the thumbnail loads lazily: only once its card is in view
    page.wait_for_function(  # its request is audited, a write that queues behind the pipeline's on a busy box
        "id => { const i = document.querySelector(`li[data-alert='${id}'] .thumb img`);"
        " return i && i.naturalWidth > 0; }",
        arg=alert_id,
        timeout=60_000,
    )
    shot(page, "alert-wall-live")
    with http_login(live_server, "operator") as operator:
        alert = operator.get(f"/api/alerts/{alert_id}").json()
        assert alert["has_evidence"] is True
        cameras = operator.get("/api/cameras").json()["items"]
    # the tree and camera pages show what ingest reports
    assert any(c["health"]["state"] == "online" for c in cameras)


@pytest.mark.timeout(300)  # the first user of the live models exports them
def test_camera_page_shows_snapshot_stats_and_the_connection_test(page: Page, live_server: Server) -> None:
    """CAM-05 is the authenticated RTSP camera, CAM-03 the same server with a wrong password."""
    login(page, live_server, "integrator")
    page.goto(live_server.url + "/#/camera/CAM-05")
    expect(page.locator("h1")).to_have_text("Harbour View car park")
    # the live pipeline needs a moment to connect: the page refreshes the snapshot until it shows one
    page.wait_for_function(
        "() => { const i = document.querySelector('#snapshot'); return i && !i.hidden && i.naturalWidth > 0; }",
        timeout=30_000,
    )
    assert page.evaluate("() => document.querySelector('#snapshot').naturalWidth") == 640  # ?width=640
    expect(page.locator("#stats [data-stat=decode_mode]")).to_have_text(re.compile(r"full|sampled|keyframe"))
    page.click("#test-connection")
    expect(page.locator("#test-result")).to_have_text(re.compile(r"^ok \(main stream\): h264 768×576"), timeout=15_000)
    shot(page, "camera-snapshot-test")

    page.goto(live_server.url + "/#/camera/CAM-03")
    expect(page.locator("h1")).to_have_text("Harbour View courtyard wall")
    page.click("#test-connection")
    expect(page.locator("#test-result")).to_have_text(re.compile(r"^failed: unauthorized — "), timeout=15_000)
    assert live_server.rtsp_password not in page.content()

    page.goto("about:blank")  # leave the page first: its refresh timer would meet the cleared session
    page.context.clear_cookies()  # a viewer sees the camera but cannot test it
    login(page, live_server, "viewer")
    page.goto(live_server.url + "/#/camera/CAM-05")
    expect(page.locator("h1")).to_have_text("Harbour View car park")
    expect(page.locator("#stats")).to_be_attached()
    expect(page.locator("#test-connection")).to_have_count(0)

"""Notifications in the console, in Chromium against the server process: an admin's channels (add, the one-time
secret, test send, a refused field, the delivery log and dead letters), the push control on the grid worker's
phone page, and an operator suspending a camera's notifications (the camera page, the site tree, the alert's
mark, the figures).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.api.conftest import Server, http_login
from tests.api.test_console import Delivery, worker_delivery
from tests.support.browser import login, shot
from tests.support.receiver import receiver
from tests.support.wait import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def notify_delivery(server: Server, footage: Path) -> Delivery:
    return worker_delivery(server, footage)


def dead_of(server: Server, channel: str) -> list[int]:
    with http_login(server, "admin") as admin:
        res = admin.get(f"/api/notifications/channels/{channel}/deliveries", params={"state": "dead"})
        assert res.status_code == 200, res.text
        return [d["id"] for d in res.json()]


def test_admin_adds_a_webhook_tests_it_and_a_refused_url_is_marked(page: Page, server: Server) -> None:
    channel = f"ui-hook-{uuid.uuid4().hex[:6]}"
    with receiver([200]) as rx:
        login(page, server, "admin")
        page.click("#nav >> text=Notifications")
        expect(page.locator("h1")).to_have_text("Notifications")
        page.click("#channel-add")
        expect(page.locator("#ch-kind")).to_have_value("webhook")
        page.fill("#ch-id", channel)
        page.fill("#ch-name", "City platform")
        page.fill("#ch-url", rx.url)
        page.click("#channel-save")
        # the generated signing secret, once, with a way to copy it
        expect(page.locator("#channel-secret")).to_be_visible()
        expect(page.locator("#channel-secret-value")).to_have_text(re.compile(r"^whsec_\S+$"))
        expect(page.locator("#channel-secret-copy")).to_be_visible()
        row = page.locator(f"#channels-table tr[data-channel='{channel}']")
        expect(row).to_contain_text("City platform")
        expect(row).to_contain_text("enabled")
        shot(page, "notify-channel-added")
        row.locator(".act-test").click()
        expect(row.locator(".test-result")).to_have_attribute("data-ok", "true")
        expect(row.locator(".test-result")).to_have_text("OK: the receiver answered HTTP 200")
        [req] = rx.wait_for(1)
        assert "webhook-signature" in req.headers
        # the secret is not shown again
        page.reload()
        expect(row).to_be_visible()
        expect(page.locator("#channel-secret")).to_be_hidden()
        # disable and enable again
        row.locator(".act-toggle").click()
        expect(row).to_have_attribute("data-enabled", "false")
        row.locator(".act-toggle").click()
        expect(row).to_have_attribute("data-enabled", "true")

    # a robot URL off the vendor's host: refused, and marked on the address field
    page.click("#channel-add")
    page.select_option("#ch-kind", "wecom")
    page.fill("#ch-id", "ui-robot")
    page.fill("#ch-url", "https://evil.example/send")
    page.click("#channel-save")
    url_field = page.locator("#ch-url")
    expect(url_field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("label:has(#ch-url) .field-error")).to_contain_text("qyapi.weixin.qq.com")
    expect(page.locator("#channel-errors")).to_contain_text("Address:")
    expect(page.locator("#ch-id")).not_to_have_attribute("aria-invalid", "true")
    shot(page, "notify-channel-refused")
    with http_login(server, "admin") as admin:
        assert admin.get("/api/notifications/channels/ui-robot/deliveries").status_code == 404

    # deleting asks first
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#channels-table tr[data-channel='{channel}'] .act-delete").click()
    expect(page.locator(f"#channels-table tr[data-channel='{channel}']")).to_have_count(0)


def test_a_dead_letter_is_listed_and_resent(page: Page, server: Server, notify_delivery: Delivery) -> None:
    """A channel without retries whose receiver refuses the first message: the delivery is dead, listed in the
    channel's log (filtered by state) and among the dead letters; resending it reaches the receiver again."""
    channel = f"ui-dead-{uuid.uuid4().hex[:6]}"
    with receiver([400, 200]) as rx:
        login(page, server, "admin")
        page.goto(server.url + "/#/notifications")
        page.click("#channel-add")
        page.fill("#ch-id", channel)
        page.fill("#ch-url", rx.url)
        # one topic only, and no retries (advanced JSON)
        for box in page.locator("#ch-topics input").all():
            box.uncheck()
        page.check("#ch-topics input[value='alert.opened']")
        page.check("#ch-hazards input[value='ebike_indoors']")
        page.click("#ch-advanced-box summary")
        page.fill("#ch-advanced", '{"retry_s": []}')
        page.click("#channel-save")
        expect(page.locator(f"#channels-table tr[data-channel='{channel}']")).to_be_visible()
        try:
            notify_delivery.observe(camera="CAM-05", hazard="ebike_indoors", summary="e-bike in the lobby")
            rx.wait_for(1, timeout_s=30)
            wait_for(lambda: dead_of(server, channel), 30, 0.2, "the refused delivery is dead")
            page.reload()
            row = page.locator(f"#channels-table tr[data-channel='{channel}']")
            expect(row.locator(".counts [data-state=dead]")).to_have_text("dead letter 1")
            row.locator(".act-log").click()
            log = page.locator("#delivery-log tbody tr")
            expect(log).to_have_count(1)
            page.select_option("#delivery-state", "sent")
            expect(page.locator("#deliveries-empty")).to_be_visible()
            page.select_option("#delivery-state", "dead")
            expect(log).to_have_count(1)
            expect(log.first).to_contain_text("new alert")
            expect(log.first).to_contain_text("HTTP 400")
            dead = page.locator(f"#dead-table tbody tr:has(td:text-is('{channel}'))")
            expect(dead).to_have_count(1)
            shot(page, "notify-dead-letters")
            dead.locator(".act-retry").click()
            expect(dead).to_have_count(0)
            rx.wait_for(2, timeout_s=30)
        finally:
            with http_login(server, "admin") as admin:
                admin.delete(f"/api/notifications/channels/{channel}")


def test_the_grid_workers_phone_page_offers_push(page: Page, server: Server) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.context.grant_permissions(["notifications"], origin=server.url)
    try:
        login(page, server, "gridworker")
        control = page.locator("#push-control")
        expect(control).to_have_attribute("data-state", "off")  # set once the service worker is registered
        expect(control).to_contain_text("This browser receives no push notifications.")
        expect(page.locator("#push-toggle")).to_have_text("Receive push")
        scope = page.evaluate("async () => (await navigator.serviceWorker.getRegistration('/'))?.scope")
        assert scope == server.url + "/"
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390
        shot(page, "notify-push-phone")
    finally:
        page.context.clear_permissions()


@pytest.mark.parametrize(
    ("script", "state", "says"),
    [
        ("delete window.PushManager;", "unsupported", "This browser cannot receive push notifications."),
        (
            "Object.defineProperty(Notification, 'permission', { get: () => 'denied' });",
            "denied",
            "Notifications are blocked for this site",
        ),
    ],
    ids=["unsupported", "denied"],
)
def test_the_push_control_says_why_it_cannot_subscribe(
    page: Page, server: Server, script: str, state: str, says: str
) -> None:
    page.add_init_script(script)
    login(page, server, "operator")  # the alert wall has the control too
    control = page.locator("#push-control")
    expect(control).to_have_attribute("data-state", state)
    expect(control).to_contain_text(says)
    expect(page.locator("#push-toggle")).to_be_hidden()


def test_an_operator_suspends_a_camera_and_lifts_it(page: Page, server: Server, notify_delivery: Delivery) -> None:
    login(page, server, "operator")
    page.goto(server.url + "/#/camera/CAM-02")
    card = page.locator("#suspend-card")
    expect(card).to_contain_text("Notifications are on.")
    page.select_option("#suspend-minutes", "30")
    page.fill("#suspend-reason", "roadworks at the gate")
    page.click("#suspend-form button[type=submit]")
    item = page.locator("#camera-suspends li[data-kind=camera]")
    expect(item).to_contain_text("roadworks at the gate")
    expect(item).to_contain_text("by operator")
    try:
        shot(page, "notify-camera-suspended")
        page.goto(server.url + "/#/tree")
        expect(page.locator("#site-tree li.camera[data-camera=CAM-02] .badge.suspended")).to_have_text(
            "notifications suspended"
        )
        expect(page.locator("#site-tree .badge.suspended")).to_have_count(1)

        # an alert of the suspended camera is marked on the wall, and counted in the figures
        alert_id = notify_delivery.observe(camera="CAM-02", hazard="loitering", summary="someone by the gate")
        page.goto(server.url + "/#/alerts")
        mark = page.locator(f"#alert-wall li[data-alert='{alert_id}'] .held-back")
        expect(mark).to_have_attribute("data-held", "suspend:camera")
        expect(mark).to_have_text("held back: camera suspended")
        page.goto(server.url + "/#/figures")
        expect(page.locator("#held-back tr[data-held='suspend:camera'] td")).not_to_have_text("0")
        expect(page.locator("#held-back tr")).to_have_count(4)
        page.goto(server.url + "/#/camera/CAM-02")
        page.locator("#camera-suspends li[data-kind=camera] .lift").click()
        expect(page.locator("#camera-suspends li[data-kind=camera]")).to_have_count(0)
        expect(card).to_contain_text("Notifications are on.")
    finally:  # other tests of this server expect no suspend
        with http_login(server, "operator") as op:
            for s in op.get("/api/suspends").json():
                op.post(f"/api/suspends/{s['id']}/lift")
    page.goto(server.url + "/#/tree")
    expect(page.locator("#site-tree li.camera")).to_have_count(5)
    expect(page.locator("#site-tree .badge.suspended")).to_have_count(0)

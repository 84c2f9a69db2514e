"""The resident who reported a case, on the grid worker's phone: a report posted through Open311 shows on its
case page with a tel: link to call back and the app's photo link (who gets it at all: test_case_reporter.py)."""

from __future__ import annotations

import subprocess
import sys
import uuid

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.api.conftest import Server
from tests.support.browser import login, shot

pytestmark = pytest.mark.slow


def test_grid_worker_sees_the_reporter_with_a_number_to_call(page: Page, server: Server) -> None:
    app = f"app-{uuid.uuid4().hex[:8]}"
    added = subprocess.run(
        [sys.executable, "-m", "gridwatch", "open311", "client", "add", app, "--rate", "30/min"],
        env=server.env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    key = added.stdout.strip().splitlines()[-1]
    fields = {
        "api_key": key,
        "service_code": "ebike_indoors",
        "lat": "31.2304",  # in compound K-01: grid G-01, the grid worker's
        "long": "121.4737",
        "first_name": "小明",
        "last_name": "王",
        "phone": "138 0000 0000",
        "media_url": "https://img.example.cn/r/7.jpg",
    }
    res = httpx.post(f"{server.url}/open311/v2/requests.json", data=fields, timeout=10)
    assert res.status_code == 200, res.text
    case_id = res.json()[0]["service_request_id"]

    page.set_viewport_size({"width": 390, "height": 844})
    login(page, server, "gridworker")
    page.goto(f"{server.url}/#/case/{case_id}")
    card = page.locator("#case-reporter")
    expect(card).to_be_visible()
    expect(card.locator("h2")).to_have_text("Reporter")
    expect(page.locator("#reporter-name")).to_have_text("王小明")
    expect(page.locator("#reporter-phone")).to_have_attribute("href", "tel:13800000000")
    expect(page.locator("#reporter-phone")).to_have_text("138 0000 0000")
    expect(page.locator("#reporter-photo")).to_have_attribute("href", "https://img.example.cn/r/7.jpg")
    expect(card).to_contain_text(app)
    expect(page.locator("#page")).not_to_contain_text("null")  # no empty part drawn as a word
    shot(page, "phone-case-reporter")

"""Browser fixtures (a pytest plugin, loaded by tests/conftest.py): Debian's Chromium driven by Playwright.

Screenshots go to test-artifacts/console/ (ignored by git).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from tests.support.paths import REPO

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO / "test-artifacts" / "console"


class ConsoleServer(Protocol):
    """What a browser test needs of the server it drives."""

    url: str
    passwords: dict[str, str]


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


def login(page: Page, server: ConsoleServer, user: str) -> None:
    page.goto(server.url + "/")
    page.fill("#username", user)
    page.fill("#password", server.passwords[user])
    page.click("button[type=submit]")
    expect(page.locator("#user-name")).not_to_be_empty()


def shot(page: Page, name: str) -> None:
    page.evaluate("() => window.scrollTo(0, 0)")  # else the sticky top bar lands mid-picture
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

"""The risk page in Chromium, on the test app with ten weeks of real alerts and reports behind it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Page, expect

from core.clock import FakeClock
from events.service import EventsService
from tests.api.conftest import PASSWORD, USERS
from tests.api.test_risk import seed_weeks
from tests.support.browser import login, shot

pytestmark = pytest.mark.slow


@dataclass
class Served:
    url: str
    passwords: dict[str, str] = field(default_factory=lambda: dict.fromkeys(USERS, PASSWORD))


def test_the_risk_page_ranks_grids_with_reasons_and_says_when_history_is_short(
    page: Page, served: str, events: EventsService, clock: FakeClock
) -> None:
    seed_weeks(events, clock, 10)
    server = Served(served)
    login(page, server, "operator")
    page.click("#nav >> text=Risk")
    rows = page.locator("#risk-table tbody tr")
    expect(rows).to_have_count(3)
    assert [rows.nth(i).get_attribute("data-unit") for i in range(3)] == ["G-01", "G-03", "G-02"]
    first = rows.first
    expect(first.locator("a")).to_have_attribute("href", "#/cases?grid=G-01")
    expect(first.locator(".badge.band-high")).to_have_text("high")
    expect(first).to_contain_text("camera · crowd: 100%")
    expect(rows.nth(1)).to_contain_text("patrol · other matters: 67%")
    expect(page.locator("#risk-week")).to_have_value("2026-03-09")  # the server's week: its clock says 12 March
    expect(page.locator("#page h2").first).to_have_text("Mar 9, 2026 – Mar 15, 2026")  # Shanghai's Monday to Sunday
    shot(page, "risk-grids")

    page.select_option("#risk-level", "compound")
    expect(rows.first).to_have_attribute("data-unit", "K-01")
    expect(rows).to_have_count(3)

    page.fill("#risk-week", "2026-01-12")  # two weeks after the first alert
    page.dispatch_event("#risk-week", "change")
    expect(page.locator("#risk-not-enough")).to_contain_text("2 complete weeks")
    shot(page, "risk-not-enough")


def test_a_grid_worker_on_a_phone_sees_only_their_grid(
    page: Page, served: str, events: EventsService, clock: FakeClock
) -> None:
    seed_weeks(events, clock, 5)
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, Served(served), "gw1")
    page.goto(served + "/#/risk")
    rows = page.locator("#risk-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-unit", "G-01")
    expect(rows.first.locator("a")).to_have_count(0)  # no board for a grid worker to go to
    shot(page, "risk-phone")

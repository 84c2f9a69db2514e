"""The parties on their phones in Chromium: a property company takes a collective matter from dispatched to
resolved; an operator dispatches a case to a partner unit, whose member resolves it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from api.access import Role, Scope, ScopeKind
from api.users import UserStore
from core.clock import FakeClock
from events.policy import Policy
from events.service import EventsService
from tests.api.conftest import PASSWORD, USERS
from tests.support.browser import login, shot
from tests.support.factories import remote_observation

pytestmark = pytest.mark.slow
PHONE: ViewportSize = {"width": 390, "height": 844}


@dataclass
class Served:
    url: str
    passwords: dict[str, str] = field(default_factory=lambda: dict.fromkeys([*USERS, "pc1", "pu1"], PASSWORD))


@pytest.fixture
def clock() -> FakeClock:
    """Today, as the browser's figures page counts from the browser's own clock."""
    return FakeClock(datetime.now(UTC) - timedelta(hours=1))


@pytest.fixture
def events_policy() -> Policy:
    """Collective matters go to the compound's property company."""
    return Policy(collective_to_company=True)


@pytest.fixture
def parties(users: UserStore) -> None:
    users.create("pc1", Role.PROPERTY_STAFF, scope=Scope(ScopeKind.COMPANY, ("PC-01",)), password=PASSWORD)
    users.create("pu1", Role.PARTNER_MEMBER, scope=Scope(ScopeKind.PARTNER, ("PU-01",)), password=PASSWORD)


def take_to_resolved(page: Page, case_id: int, feedback: str) -> None:
    """Accept, start and resolve the case from its page, as the buttons offer."""
    page.locator(f"#my-tasks [data-case='{case_id}']").click()
    for action in ("accept", "start"):
        page.locator(f"#step-buttons button[data-action={action}]").click()
        expect(page.locator("#case-timeline li").last).to_have_attribute("data-action", action)
    page.fill("#step-note", feedback)
    page.locator("#step-buttons button[data-action=resolve]").click()
    expect(page.locator("#case-timeline li").last).to_have_attribute("data-action", "resolve")


def test_a_property_company_takes_a_collective_matter_on_a_phone(
    page: Page, served: str, events: EventsService, parties: None
) -> None:
    result = events.apply_remote_observation(
        remote_observation("ep-intrusion", camera_id="CAM-01", hazard="intrusion", severity="high")
    )
    assert result.case is not None
    assert result.case.holder == "company:PC-01"
    page.set_viewport_size(PHONE)
    login(page, Served(served), "pc1")
    expect(page.locator(f"#my-tasks [data-case='{result.case.id}']")).to_be_visible()
    expect(page.locator("#patrol")).to_have_count(0)
    shot(page, "parties-company-tasks")
    take_to_resolved(page, result.case.id, "Gate lock replaced; guard on duty")
    expect(page.locator("#case-holder")).to_have_text("property company PC-01")
    dispatched = page.locator("#case-timeline li[data-action=dispatch] .tl-holder")
    expect(dispatched).to_have_text("Held from here by property company PC-01")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "parties-company-resolved")


def test_an_operator_dispatches_to_a_partner_unit_whose_member_resolves_it(
    page: Page, served: str, events: EventsService, parties: None
) -> None:
    result = events.apply_remote_observation(
        remote_observation("ep-fall", camera_id="CAM-02", hazard="fallen_person", severity="high")
    )
    assert result.case is not None
    case_id = result.case.id
    server = Served(served)
    login(page, server, "operator")
    page.goto(f"{served}/#/case/{case_id}")
    expect(page.locator("#dispatch-to-label")).to_be_visible()
    page.select_option("#dispatch-to", "partner:PU-01")
    page.fill("#step-note", "volunteers are next door")
    page.locator("#step-buttons button[data-action=dispatch]").click()
    expect(page.locator("#case-holder")).to_have_text("partner unit Riverside Hospital Volunteer Team")
    handed = page.locator("#case-timeline li[data-action=dispatch] .tl-holder").last
    expect(handed).to_have_text("Held from here by partner unit Riverside Hospital Volunteer Team")
    shot(page, "parties-dispatch-partner")

    page.goto("about:blank")
    page.context.clear_cookies()
    page.set_viewport_size(PHONE)
    login(page, server, "pu1")
    expect(page.locator(f"#my-tasks [data-case='{case_id}']")).to_be_visible()
    take_to_resolved(page, case_id, "Helped her up; family called")
    shot(page, "parties-partner-resolved")
    trail = page.locator("#case-timeline li[data-action=resolve]")
    expect(trail).to_contain_text("pu1")


def test_the_figures_page_counts_per_company_and_partner_unit(
    page: Page, served: str, events: EventsService, parties: None, clock: FakeClock
) -> None:
    made = events.apply_remote_observation(
        remote_observation("ep-k1", camera_id="CAM-01", hazard="intrusion", severity="high", at=clock.now())
    )
    assert made.case is not None
    login(page, Served(served), "admin")
    page.goto(f"{served}/#/figures")
    row = page.locator("#company-figures tr[data-unit=PC-01]")
    expect(row).to_contain_text("PC-01")
    expect(row.locator("td").nth(1)).to_have_text("1")
    expect(page.locator("#partner-figures")).to_have_count(0)  # no case was dispatched to a unit
    shot(page, "parties-figures")

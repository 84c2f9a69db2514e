"""The map page in Chromium, on the test app (the demo site with its outlines): one shape per visible grid and a dot
per visible camera, grids coloured by open cases, alert rate or next week's risk, a grid opening its cases and a
camera its own page; on a phone a grid worker sees their grid alone."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from core.clock import FakeClock
from events.service import EventsService
from events.types import Actor, ActorRole
from tests.api.conftest import PASSWORD, USERS
from tests.api.test_risk import seed_weeks
from tests.support.browser import login, shot
from tests.support.factories import remote_observation

pytestmark = pytest.mark.slow

BAND_COLOUR = {"low": "#8fd19e", "elevated": "#f2c14e", "high": "#cf222e"}


@dataclass
class Served:
    url: str
    passwords: dict[str, str] = field(default_factory=lambda: dict.fromkeys(USERS, PASSWORD))


def visible(served: str, user: str) -> dict[str, list[str]]:
    """What GET /api/map gives ``user``: the ids of the grids with a shape and of every camera."""
    with httpx.Client(base_url=served, timeout=10) as client:
        assert client.post("/api/auth/login", json={"username": user, "password": PASSWORD}).status_code == 200
        answer = client.get("/api/map").json()
    return {
        "grids": [g["id"] for g in answer["grids"] if g["shapes"]],
        "cameras": [c["id"] for c in answer["cameras"]],
    }


def click_grid(page: Page, grid: str) -> None:
    """Near the corner of the grid's shape: its middle may hold a camera, which opens its own page."""
    page.click(f"#site-map path[data-grid={grid}]", position={"x": 6, "y": 6})


def test_the_map_draws_each_grid_and_camera_and_a_grid_leads_to_its_cases(
    page: Page, served: str, events: EventsService
) -> None:
    found = events.apply_remote_observation(remote_observation("map-1", camera_id="CAM-01", hazard="crowd"))
    assert found.alert is not None
    events.alert_to_case(found.alert.id, Actor("operator", ActorRole.OPERATOR))
    want = visible(served, "operator")
    assert (want["grids"], want["cameras"]) == (["G-01", "G-02", "G-03"], ["CAM-01", "CAM-02", "CAM-03", "CAM-04"])
    login(page, Served(served), "operator")
    page.click("#nav >> text=Map")
    shapes = page.locator("#site-map path.grid-shape")
    expect(shapes).to_have_count(len(want["grids"]))
    assert [shapes.nth(i).get_attribute("data-grid") for i in range(3)] == want["grids"]
    dots = page.locator("#site-map circle.camera-dot")
    expect(dots).to_have_count(len(want["cameras"]))
    expect(page.locator("#site-map path.street-outline")).to_have_count(0)  # a community's operator: no street
    expect(page.locator("#site-map path.compound-outline")).to_have_count(3)
    # open cases: G-01 has the one, the others none
    expect(page.locator("#site-map path[data-grid=G-01]")).to_have_attribute("data-class", "1")
    expect(page.locator("#site-map path[data-grid=G-02]")).to_have_attribute("data-class", "0")
    expect(page.locator("#map-legend li")).to_have_text(["0", "1"])
    shot(page, "map-open-cases")
    page.uncheck("#map-cameras")  # the grids' colours without the dots over them
    expect(dots.first).to_be_hidden()
    page.check("#map-cameras")
    expect(dots.first).to_be_visible()

    page.select_option("#map-measure", "alerts_24h")
    expect(page.locator("#map-grids tr[data-grid=G-01] td").nth(1)).to_have_text("1")
    expect(page.locator("#site-map path[data-grid=G-01]")).to_have_attribute("data-class", "1")

    click_grid(page, "G-02")
    panel = page.locator("#map-panel")
    expect(panel.locator("h2")).to_have_text("Maple Gardens grid")
    expect(panel.locator("[data-fact=cameras]")).to_have_text("1")
    expect(panel.locator("[data-fact=community]")).to_have_text("Willow Lane Community")
    expect(page.locator("#site-map path[data-grid=G-02]")).to_have_class("grid-shape selected")
    assert page.url.endswith("#/map?grid=G-02&measure=alerts_24h")
    shot(page, "map-grid-panel")
    page.click("#map-cases")
    expect(page.locator("#board-grid")).to_have_value("G-02")
    assert page.url.endswith("#/cases?grid=G-02")


def test_the_map_shows_grids_coloured_by_risk(page: Page, served: str, events: EventsService, clock: FakeClock) -> None:
    seed_weeks(events, clock, 10)
    with httpx.Client(base_url=served, timeout=10) as client:
        client.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
        bands = {u["id"]: u["band"] for u in client.get("/api/risk", params={"level": "grid"}).json()["units"]}
    assert set(bands.values()) > {"high"}  # the seeded weeks make the grids differ
    login(page, Served(served), "admin")
    page.goto(served + "/#/map?measure=risk")
    for grid, band in bands.items():
        shape = page.locator(f"#site-map path[data-grid={grid}]")
        expect(shape).to_have_attribute("data-band", band)
        expect(shape).to_have_attribute("fill", BAND_COLOUR[band])
    expect(page.locator("#map-legend li")).to_have_text(["low", "elevated", "high"])
    expect(page.locator("#site-map path.street-outline")).to_have_count(1)  # the whole site: the street too
    click_grid(page, "G-01")
    expect(page.locator("#map-panel [data-fact=risk]")).to_contain_text(bands["G-01"])
    shot(page, "map-risk")


def test_without_forecasts_the_risk_measure_says_so_and_nothing_breaks(page: Page, served: str) -> None:
    """A server without the risk route (404) or with too short a history: grey grids and a note, no error."""
    login(page, Served(served), "operator")
    page.goto(served + "/#/map?measure=risk")
    expect(page.locator("#map-note")).to_contain_text("No risk forecast yet: nothing was recorded before this week.")
    expect(page.locator("#site-map path[data-band=none]")).to_have_count(3)

    def missing(route: Route) -> None:
        route.fulfill(status=404, content_type="application/json", body='{"detail": "Not Found"}')

    page.route("**/api/risk*", missing)
    page.goto(served + "/#/tree")
    page.goto(served + "/#/map?measure=risk")
    expect(page.locator("#map-note")).to_contain_text("Risk forecasts are not available on this server")
    expect(page.locator("#site-map path[data-band=none]")).to_have_count(3)
    expect(page.locator("#map-legend")).to_have_count(0)


def test_a_grid_worker_on_a_phone_sees_their_grid_and_opens_a_camera(page: Page, served: str) -> None:
    want = visible(served, "gw1")
    assert want == {"grids": ["G-01"], "cameras": ["CAM-01", "CAM-04"]}
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, Served(served), "gw1")
    page.goto(served + "/#/map")
    expect(page.locator("#site-map path.grid-shape")).to_have_count(1)
    expect(page.locator("#site-map circle.camera-dot")).to_have_count(2)
    expect(page.locator("#site-map circle[data-camera=CAM-02]")).to_have_count(0)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert page.evaluate("() => document.querySelector('#site-map').getBoundingClientRect().right") <= 390
    shot(page, "map-phone")
    click_grid(page, "G-01")
    expect(page.locator("#map-panel a[href='#/tasks']")).to_have_text("My tasks")  # no board: their tasks
    page.click("#site-map circle[data-camera=CAM-01]")
    expect(page.locator("h1")).to_have_text("Willow Court east gate plaza")
    assert page.url.endswith("#/camera/CAM-01")

"""GET /api/stats: the box's totals for callers who see the whole site, their own cameras' rows for everyone,
503 without a live pipeline; and the console's Box card on the site page.

The live pipeline is faked at the edge (`ApiContext.box`, `ApiContext.camera_figures`) with the fixed figures of
tests/support/live_figures.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from api.access import Role, Scope, ScopeKind
from api.app import create_app
from api.context import ApiContext
from api.users import UserStore
from camera_config.store import SiteStore
from core.clock import FakeClock
from tests.api.conftest import PASSWORD, USERS, Api, fast_auth, serve_app
from tests.support.browser import login, shot
from tests.support.live_figures import BOX, FIGURES


@pytest.fixture
def live(engine: Engine, site: SiteStore, users: UserStore, clock: FakeClock) -> Iterator[Api]:
    """The API with a fake live pipeline: fixed box totals and camera figures (also per camera)."""
    app = create_app(
        ApiContext(
            engine=engine,
            site=site,
            clock=clock,
            auth=fast_auth(),
            box=lambda: BOX,
            camera_figures=lambda: list(FIGURES),
            stats=lambda camera_id: next((f for f in FIGURES if f.camera_id == camera_id), None),
        )
    )
    holder = Api(app, [])
    yield holder
    for client in holder.clients:
        client.__exit__(None, None, None)


def _ids(body: dict[str, Any]) -> list[str]:
    return [row["camera_id"] for row in body["cameras"]]


def _name(api: Api, camera_id: str) -> str:
    name: str = api.app.state.runtime.context.site.camera(camera_id).name
    return name


def test_an_admin_gets_the_box_totals_and_every_pulled_camera(live: Api) -> None:
    res = live.as_("admin").get("/api/stats")
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["box"] == {
        "cameras": 4,
        "online": 2,
        "detecting": 1,
        "input_fps": 75.0,
        "decoded_fps": 12.0,
        "analysed_fps": 4.5,
        "dropped": 7,
        "skipped_quiet": 30,
        "deferred": 3,
        "starved": 1,
        "inference_ms": 38.2,
        "budget": 0.8,
        "busy": 0.6,
        "latency_p95_s": 0.42,
        "cpu_percent": 135.0,
        "rss_mib": 910.4,
    }
    assert _ids(body) == ["CAM-01", "CAM-02", "CAM-03"]  # by id; the deleted CAM-99 is nobody's to see
    rows = {row["camera_id"]: row for row in body["cameras"]}
    assert rows["CAM-01"] == {
        "camera_id": "CAM-01",
        "name": _name(live, "CAM-01"),
        "online": True,
        "input_fps": 25.0,
        "analysed_fps": 1.5,
        "detected_frames": 120,
        "need": "motion",
        "deferred": 3,
        "starved": 1,
        "skipped_quiet": 30,
        "decode_mode": "keyframe",
    }
    assert rows["CAM-02"]["online"] is True  # degraded still streams
    assert (rows["CAM-02"]["detected_frames"], rows["CAM-02"]["deferred"], rows["CAM-02"]["starved"]) == (
        None,
        None,
        None,
    )
    assert rows["CAM-03"]["online"] is False


@pytest.mark.parametrize(
    ("user", "box", "cameras"),
    [
        ("viewer", True, ["CAM-01", "CAM-02", "CAM-03"]),  # a site-wide viewer sees the whole box
        ("integrator", True, ["CAM-01", "CAM-02", "CAM-03"]),
        ("operator", False, ["CAM-01", "CAM-02", "CAM-03"]),  # CM-01 covers every grid, but is not the site
        ("gw1", False, ["CAM-01"]),  # G-01: CAM-01 (CAM-04 is not pulled)
        ("gw2", False, ["CAM-02"]),
    ],
)
def test_scoped_callers_get_their_cameras_and_no_box(live: Api, user: str, box: bool, cameras: list[str]) -> None:
    body = live.as_(user).get("/api/stats").json()
    assert (body["box"] is not None, _ids(body)) == (box, cameras)


def test_a_viewer_scoped_to_a_grid_sees_only_its_cameras(live: Api, users: UserStore) -> None:
    users.create("op-harbour", Role.VIEWER, scope=Scope(ScopeKind.GRIDS, ("G-03",)), password=PASSWORD)
    body = live.as_("op-harbour").get("/api/stats").json()
    assert body["box"] is None
    assert _ids(body) == ["CAM-03"]


def test_a_worker_token_with_the_default_site_scope_gets_the_box(live: Api, users: UserStore) -> None:
    users.create("detector-1", Role.WORKER)
    res = live.anonymous().get("/api/stats", headers=live.token("detector-1"))
    assert res.status_code == 200
    assert res.json()["box"]["cameras"] == 4


def test_without_a_live_pipeline_503_says_why(api: Api) -> None:
    res = api.as_("admin").get("/api/stats")
    assert res.status_code == 503
    assert res.json() == {
        "detail": "no live pipeline runs on this server (started with --no-detect): nothing to measure",
        "errors": [],
    }


def test_without_credentials_401(live: Api) -> None:
    res = live.anonymous().get("/api/stats")
    assert res.status_code == 401
    assert res.json()["detail"]


def test_the_route_is_documented(live: Api) -> None:
    op = live.anonymous().get("/openapi.json").json()["paths"]["/api/stats"]["get"]
    assert {"200", "401", "403", "503"} <= set(op["responses"])
    assert "whole site" in op["description"]


# ---------------------------------------------------------------------------- the console's Box card


class _Console:
    def __init__(self, url: str) -> None:
        self.url = url
        self.passwords = {name: PASSWORD for name in USERS}


@pytest.mark.slow
def test_the_site_page_shows_the_box_card_to_an_admin_only(page: Page, live: Api) -> None:
    with serve_app(live.app) as url:
        console = _Console(url)
        login(page, console, "admin")
        page.goto(url + "/#/tree")
        card = page.locator("#box")
        expect(card).to_be_visible()
        expect(card.locator("[data-stat=cameras]")).to_have_text("2 / 4")
        expect(card.locator("[data-stat=busy]")).to_have_text("75% of budget (0.60 of 0.80 s/s)")
        expect(card.locator("[data-stat=latency_p95_s]")).to_have_text("0.42 s")
        expect(card.locator("[data-stat=cpu_percent]")).to_have_text("135 %")
        expect(card.locator("[data-stat=rss_mib]")).to_have_text("910 MiB")
        expect(card.locator("[data-stat=skipped_quiet]")).to_have_text("30")
        shot(page, "site-box")
        page.click("#logout")
        page.wait_for_url("**/login")
        login(page, console, "gw1")
        page.goto(url + "/#/tree")
        expect(page.locator("#site-tree")).to_be_attached()
        expect(page.locator("#box")).to_be_hidden()


@pytest.mark.slow
def test_the_box_card_is_one_line_without_a_live_pipeline(page: Page, api: Api) -> None:
    with serve_app(api.app) as url:
        login(page, _Console(url), "admin")
        page.goto(url + "/#/tree")
        expect(page.locator("#box-note")).to_have_text(
            "No box figures: no live pipeline runs on this server (started with --no-detect): nothing to measure"
        )
        expect(page.locator("#box table tr")).to_have_count(0)


@pytest.mark.slow
def test_the_camera_page_shows_the_schedulers_figures(page: Page, live: Api) -> None:
    with serve_app(live.app) as url:
        login(page, _Console(url), "viewer")  # no live view for viewers: the page only polls the figures
        page.goto(url + "/#/camera/CAM-01")
        stats = page.locator("#stats")
        for key, label, value in (
            ("need", "Scheduler need", "motion"),
            ("deferred", "Deferred frames", "3"),
            ("starved", "Starved", "1"),
            ("skipped_quiet", "Quiet keyframes skipped", "30"),
        ):
            expect(stats.locator(f"[data-stat={key}]")).to_have_text(value)
            expect(stats.locator("tr", has=page.locator(f"[data-stat={key}]")).locator("th")).to_have_text(label)
        page.goto(url + "/#/camera/CAM-02")  # not detected: the scheduler's figures are null
        expect(stats.locator("[data-stat=deferred]")).to_have_text("—")
        expect(stats.locator("[data-stat=skipped_quiet]")).to_have_text("0")

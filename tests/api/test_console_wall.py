"""The video wall in Chromium, on a server of this module's own: tiles of live video from real RTSP cameras (sub
streams of the footage server), a tile taken by a camera that raises an alert, the patrol tour, and the tiles the
server refuses. After every test the wall is left and the server must hold no live view: tiles that change camera,
tours and alerts leave nothing open behind them."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from ingest.demo_server import FootageServer
from tests.api.conftest import Server, http_login, live_metrics, run_server
from tests.api.test_console import Delivery, worker_delivery
from tests.support.browser import login, shot
from tests.support.rtsp import RtspCamera
from tests.support.wait import wait_for

pytestmark = pytest.mark.slow

LIMIT = 6
"""The module's server serves this many live views at once (GRIDWATCH_LIVE_MAX_VIEWERS)."""
WALL_CAMERAS = {"W-1": "K-01", "W-2": "K-02", "W-3": "K-03", "W-4": "K-01"}
"""Cameras added for the wall, each with a main and a sub stream of its own on the footage server."""

# Frames each tile's peer decoded so far (null for a tile without a view).
TILE_FRAMES = """async () => {
  const peers = (window.gridwatch && window.gridwatch.wallPeers) || [];
  return Promise.all(peers.map(async (pc) => {
    if (!pc) return null;
    let frames = 0;
    (await pc.getStats()).forEach((r) => {
      if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
    });
    return frames;
  }));
}"""


@dataclass(frozen=True)
class Wall:
    server: Server
    delivery: Delivery

    def viewers(self) -> dict[str, float]:
        """Live views the server holds, by camera."""
        with http_login(self.server, "admin") as admin:
            got = live_metrics(admin, "gridwatch_live_viewers")
        return {labels.split('"')[1]: n for labels, n in got.items() if n}

    def alert(self, camera: str, hazard: str = "crowd") -> int:
        """A new hazard episode on ``camera`` as a detection worker delivers it; the alert's id. The events service
        learns of cameras added over the API within its site cache's few seconds: until then it answers 404."""
        now = datetime.now(UTC)
        doc = {
            "episode_id": f"wall-{uuid.uuid4().hex[:12]}",
            "camera_id": camera,
            "hazard": hazard,
            "state": "opened",
            "severity": "high",
            "started_at": (now - timedelta(seconds=20)).isoformat(),
            "observed_at": now.isoformat(),
            "seq": 0,
            "summary": "6 people gathered for 20 s",
            "measurements": {"people": 6.0, "duration_s": 20.0},
            "evidence_jpeg_b64": base64.b64encode(self.delivery.jpeg).decode(),
        }

        def deliver() -> int | None:
            res = httpx.post(
                self.server.url + "/api/worker/observations",
                json={"observations": [doc]},
                headers={"Authorization": f"Bearer {self.delivery.token}"},
                timeout=30,
            )
            if res.status_code == 404:
                return None
            assert res.status_code == 200, res.text
            return int(res.json()["results"][0]["alert_id"])

        return wait_for(deliver, 15, 0.5, what=f"an alert on {camera}")


@pytest.fixture(scope="module")
def wall_server(
    demo_clip: Path,
    rtsp_camera: RtspCamera,
    rtsp_server: FootageServer,
    footage: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Wall]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GRIDWATCH_LIVE_MAX_VIEWERS", str(LIMIT))
        with run_server(demo_clip, rtsp_camera, tmp_path_factory.mktemp("wall-server"), detect=False) as server:
            with http_login(server, "integrator") as integrator:
                for i, (camera, compound) in enumerate(WALL_CAMERAS.items(), start=1):
                    mount = f"/cam/CAM-{i:04d}"
                    streams = {"main": rtsp_server.url(mount + "/main"), "sub": rtsp_server.url(mount + "/sub")}
                    body = {"id": camera, "name": f"Wall camera {i}", "compound": compound, "streams": streams}
                    res = integrator.post("/api/cameras", json=body)
                    assert res.status_code == 201, res.text
            yield Wall(server, worker_delivery(server, footage))


@pytest.fixture
def wall(wall_server: Wall, page: Page) -> Iterator[Wall]:
    """The module's server with no live view open; after the test, the wall left and every view it opened gone."""
    wait_for(lambda: not wall_server.viewers(), 30, 0.5, what=lambda: f"views left open: {wall_server.viewers()}")
    yield wall_server
    if page.url.endswith("#/wall"):
        page.click("#nav >> text=Alerts")  # leaving the page closes its views
    wait_for(lambda: not wall_server.viewers(), 15, 0.2, what=lambda: f"views left open: {wall_server.viewers()}")


def choose(page: Page, server: Server, username: str, choice: dict[str, Any]) -> None:
    """The wall as the user left it last time on this browser (the page keeps its choice in localStorage)."""
    page.evaluate(f"c => localStorage.setItem('gridwatch.wall.{username}', JSON.stringify(c))", choice)


def tiles_decode(page: Page, tiles: slice, timeout_s: float = 20.0) -> list[int]:
    """Wait until each of these tiles has decoded pictures; their frame counts. Polled from here: Playwright's
    wait_for_function takes an async predicate's promise for a true answer, so it cannot wait on getStats()."""

    def decoded() -> list[int] | None:
        frames: list[int | None] = page.evaluate(TILE_FRAMES)[tiles]
        return [n for n in frames if n] if frames and all(frames) else None

    return wait_for(decoded, timeout_s, 0.2, what=lambda: f"pictures on tiles {tiles}: {page.evaluate(TILE_FRAMES)}")


def tile_cameras(page: Page) -> list[str]:
    cameras: list[str] = page.eval_on_selector_all("#wall .wall-tile", "ts => ts.map(t => t.dataset.camera)")
    return cameras


def test_four_live_tiles_and_an_alert_takes_one(page: Page, wall: Wall) -> None:
    """Tiles chosen in the page play live (each its own peer, sub streams where the camera has one) and stay chosen
    after a reload; an alert on a camera off the wall takes the last tile, marked with the hazard, closing the view
    that tile had; released, the tile shows its own camera again."""
    server = wall.server
    login(page, server, "operator")
    expect(page.locator("#nav a")).to_contain_text(["Alerts", "Wall"])
    choose(page, server, "operator", {})
    page.click("#nav >> text=Wall")
    expect(page.locator("h1")).to_have_text("Wall")
    expect(page.locator("#wall .wall-tile")).to_have_count(4)  # 2 × 2 unless chosen otherwise
    for tile, camera in enumerate(["CAM-01", "CAM-05", "W-1", "W-2"]):
        page.select_option("#wall-tile", str(tile))
        page.select_option("#wall-camera", camera)
    expect(page.locator("#wall-events")).to_have_text("live")
    assert tile_cameras(page) == ["CAM-01", "CAM-05", "W-1", "W-2"]
    assert len(tiles_decode(page, slice(0, 4))) == 4
    tiles = page.locator("#wall .wall-tile")
    expect(tiles.nth(2)).to_have_attribute("data-stream", "sub")  # W-1 has a sub stream
    expect(tiles.nth(0)).to_have_attribute("data-stream", "main")  # CAM-01 has only its main stream
    expect(tiles.nth(2).locator(".wall-status")).to_have_text("live · sub stream")
    assert wall.viewers() == {"CAM-01": 1, "CAM-05": 1, "W-1": 1, "W-2": 1}
    shot(page, "wall-4")

    page.reload()  # the choice is remembered
    expect(page.locator("#wall .wall-tile")).to_have_count(4)
    assert tile_cameras(page) == ["CAM-01", "CAM-05", "W-1", "W-2"]
    tiles_decode(page, slice(0, 4))
    wait_for(lambda: wall.viewers() == {"CAM-01": 1, "CAM-05": 1, "W-1": 1, "W-2": 1}, 15, 0.2, what=wall.viewers)

    alert_id = wall.alert("W-3")
    taken = page.locator("#wall .wall-tile[data-tile='3']")
    expect(taken).to_have_attribute("data-camera", "W-3", timeout=10_000)
    expect(taken).to_have_class("wall-tile alerting")
    expect(taken).to_have_attribute("data-alert", str(alert_id))
    expect(taken).to_have_attribute("data-hazard", "crowd")
    expect(taken.locator(".wall-alert .hazard")).to_have_text("crowd")
    expect(taken.locator(".wall-alert .sev-high")).to_have_text("high")
    assert tile_cameras(page)[:3] == ["CAM-01", "CAM-05", "W-1"]  # the others keep their cameras
    tiles_decode(page, slice(0, 4))
    wait_for(lambda: wall.viewers() == {"CAM-01": 1, "CAM-05": 1, "W-1": 1, "W-3": 1}, 15, 0.2, what=wall.viewers)
    shot(page, "wall-alert")
    # an alert on a camera already on the wall marks its tile where it is
    wall.alert("CAM-05", hazard="camera_covered")
    expect(tiles.nth(1)).to_have_attribute("data-hazard", "camera_covered", timeout=10_000)
    assert tile_cameras(page) == ["CAM-01", "CAM-05", "W-1", "W-3"]

    taken.locator(".wall-release").click()
    expect(taken).to_have_attribute("data-camera", "W-2")
    expect(taken).not_to_have_class("wall-tile alerting")
    tiles_decode(page, slice(0, 4))
    wait_for(lambda: wall.viewers() == {"CAM-01": 1, "CAM-05": 1, "W-1": 1, "W-2": 1}, 15, 0.2, what=wall.viewers)


def test_the_patrol_tour_rotates_and_passes_a_pinned_tile_by(page: Page, wall: Wall) -> None:
    """One tile touring three cameras every 2 s: each step shows the next camera and closes the view of the last
    (here and on the server); an alert's camera holds the tile through the following steps."""
    server = wall.server
    login(page, server, "operator")
    choose(page, server, "operator", {"layout": 1, "tour": True, "intervalS": 2, "set": ["W-1", "W-2", "W-3"]})
    page.goto(server.url + "/#/wall")
    expect(page.locator("#wall-set-summary")).to_have_text("Patrol set: 3 of 9 cameras")
    expect(page.locator("#wall-tour")).to_be_checked()
    expect(page.locator("#wall-interval")).to_have_value("2")
    expect(page.locator("#wall-camera")).to_be_disabled()  # the tour chooses
    tile = page.locator("#wall .wall-tile").first
    for camera in ["W-1", "W-2", "W-3", "W-1"]:
        expect(tile).to_have_attribute("data-camera", camera, timeout=10_000)
    tiles_decode(page, slice(0, 1))
    sessions = page.evaluate("() => window.gridwatch.wallSessions")
    assert sessions["opened"] - sessions["closed"] == 1, sessions  # one tile, one open view
    assert sessions["closed"] >= 3
    assert sum(wall.viewers().values()) <= 1

    wall.alert("W-4")
    expect(tile).to_have_attribute("data-camera", "W-4", timeout=10_000)
    expect(tile).to_have_attribute("data-hazard", "crowd")
    steps = page.evaluate("() => window.gridwatch.wallTourSteps")
    page.wait_for_function("n => window.gridwatch.wallTourSteps >= n + 3", arg=steps, timeout=15_000)
    assert tile.get_attribute("data-camera") == "W-4"  # three steps of the tour went by; the pin lasts a minute
    tiles_decode(page, slice(0, 1))
    assert wall.viewers() == {"W-4": 1}
    tile.locator(".wall-release").click()  # released, the tour takes the tile back
    expect(tile).to_have_attribute("data-camera", re.compile(r"^W-[123]$"), timeout=10_000)
    expect(tile).not_to_have_attribute("data-hazard", "crowd")
    shot(page, "wall-tour")


def test_refused_tiles_say_why(page: Page, wall: Wall) -> None:
    """A camera whose stream the server cannot open, and tiles past the server's limit of views, say so on the
    tile; the tiles within the limit play."""
    server = wall.server
    login(page, server, "operator")
    tiles = ["CAM-03", "CAM-01", "CAM-05", "W-1", "W-2", "W-3", "W-4", "CAM-01", "CAM-05"]
    choose(page, server, "operator", {"layout": 4, "tiles": tiles})
    page.goto(server.url + "/#/wall")
    wrong_password = page.locator("#wall .wall-tile[data-tile='0']")
    expect(wrong_password).to_have_attribute("data-state", "failed", timeout=20_000)
    expect(wrong_password.locator(".wall-status")).to_contain_text('live view unavailable: camera "CAM-03" stream')
    expect(wrong_password.locator(".wall-status")).to_contain_text("401 Unauthorized")
    assert server.rtsp_password not in page.content()
    tiles_decode(page, slice(1, 4))
    page.click("#nav >> text=Alerts")  # leaving the wall lets its views go
    wait_for(lambda: not wall.viewers(), 15, 0.2, what=wall.viewers)
    # The limit, on a wall without the failing camera: its tile retries, and a retry holds a view for a moment.
    # 9 tiles wanted: LIMIT served, the rest refused naming the limit.
    choose(page, server, "operator", {"layout": 9, "tiles": ["CAM-01", "CAM-05", "W-1", "W-2", "W-3", "W-4"] * 2})
    page.goto(server.url + "/#/wall")
    limit = f"the server already serves {LIMIT} live views, its limit at once; close some or try again later"
    refused = page.locator("#wall .wall-tile[data-state=failed] .wall-status", has_text=limit)
    expect(refused).to_have_count(9 - LIMIT, timeout=20_000)
    expect(refused.first).to_have_text(f"live view unavailable: {limit}")
    wait_for(lambda: sum(wall.viewers().values()) == LIMIT, 20, 0.2, what=wall.viewers)
    shot(page, "wall-refused")


def test_the_layout_and_choices_are_kept_per_user(page: Page, wall: Wall) -> None:
    """The choice is the user's: stored under their name, read back into the pickers."""
    server = wall.server
    login(page, server, "operator")
    choose(page, server, "operator", {})
    page.goto(server.url + "/#/wall")
    page.select_option("#wall-layout", "1")
    expect(page.locator("#wall .wall-tile")).to_have_count(1)
    page.select_option("#wall-camera", "W-2")
    expect(page.locator("#wall .wall-tile").first).to_have_attribute("data-camera", "W-2")
    page.click("#wall-set-summary")
    page.fill("#wall-set-filter", "Wall camera")
    expect(page.locator("#wall-set label.check:visible")).to_have_count(4)
    page.check("#wall-set label[data-camera=W-3] input")
    page.check("#wall-set label[data-camera=W-4] input")
    expect(page.locator("#wall-set-summary")).to_have_text("Patrol set: 2 of 9 cameras")
    page.select_option("#wall-interval", "60")
    stored = json.loads(page.evaluate("() => localStorage.getItem('gridwatch.wall.operator')"))
    assert stored["layout"] == 1
    assert stored["tiles"][0] == "W-2"
    assert (stored["set"], stored["intervalS"], stored["tour"]) == (["W-3", "W-4"], 60, False)

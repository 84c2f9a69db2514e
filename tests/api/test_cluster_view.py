"""Camera shards as the coordinator sees them: the site model's assignment against the shards' reports.

The reconciliation on its own (a fake clock), then through the API (`/api/cluster`, `/metrics`, scope), the
worker loop's report, and the console's site tree in a real browser.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from pydantic import ValidationError

from api.access import Role
from api.cluster_view import ClusterView, ShardState, ShardView, reconcile
from api.users import UserStore
from api.workers import LOST_S, STALE_S, WorkerHealth, WorkerReport
from camera_config.store import SiteStore
from camera_config.wire import Shard, shard_of
from core.clock import FakeClock
from gridwatch.remote import SpoolSender
from gridwatch.settings import Settings
from gridwatch.worker_loop import WorkerLoop, WorkerSpec
from tests.api.conftest import Api, Server, http_login, run_server, serve_app
from tests.support.browser import login, shot
from tests.support.rtsp import RtspCamera

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
# With two shards the demo site's cameras split 1: CAM-01..03, 2: CAM-04; CAM-09 would go to 2.
CAMERAS = ["CAM-01", "CAM-02", "CAM-03", "CAM-04"]


def test_the_cameras_used_here_split_as_the_tests_assume() -> None:
    assert {c: shard_of(c, 2) for c in [*CAMERAS, "CAM-09"]} == {
        "CAM-01": 1,
        "CAM-02": 1,
        "CAM-03": 1,
        "CAM-04": 2,
        "CAM-09": 2,
    }


def heard(shard: str | None, cameras: list[str], at: datetime, *, name: str = "", **fields: Any) -> WorkerHealth:
    report = WorkerReport(name=name or f"shard {shard}", cameras=cameras, shard=shard, **fields)
    return WorkerHealth("cluster", report, at)


def by_shard(view: ClusterView) -> dict[str, ShardView]:
    return {str(s.shard): s for s in view.shards}


# ---------------------------------------------------------------------------- the reconciliation


def test_shards_running_exactly_their_cameras_are_ok() -> None:
    view = reconcile(
        CAMERAS,
        [heard("1/2", ["CAM-01", "CAM-02", "CAM-03"], T0, spool_depth=4), heard("2/2", ["CAM-04"], T0)],
        T0 + timedelta(seconds=5),
    )
    assert (view.shard_count, view.shard_counts, view.changing, view.unserved) == (2, (2,), False, ())
    one, two = view.shards
    assert (one.shard, one.state, one.wanted, one.missing, one.extra) == (
        Shard(1, 2),
        ShardState.OK,
        ("CAM-01", "CAM-02", "CAM-03"),
        (),
        (),
    )
    assert (one.spool_depth, one.last_seen, [w.worker for w in one.workers]) == (4, T0, ["cluster/shard 1/2"])
    assert (two.state, two.wanted, two.running) == (ShardState.OK, ("CAM-04",), ("CAM-04",))


def test_a_camera_moved_to_another_shard_shows_both_behind_until_their_reports_catch_up() -> None:
    # CAM-01 replaced by CAM-09 (the id is what the hash reads): shard 1 still runs the old one, shard 2 lacks the new.
    after_edit = ["CAM-09", "CAM-02", "CAM-03", "CAM-04"]
    before = [heard("1/2", ["CAM-01", "CAM-02", "CAM-03"], T0), heard("2/2", ["CAM-04"], T0)]
    shards = by_shard(reconcile(after_edit, before, T0 + timedelta(seconds=1)))
    assert (shards["1/2"].state, shards["1/2"].missing, shards["1/2"].extra) == (ShardState.BEHIND, (), ("CAM-01",))
    assert (shards["2/2"].state, shards["2/2"].missing, shards["2/2"].extra) == (ShardState.BEHIND, ("CAM-09",), ())
    assert all(s.up for s in shards.values())  # behind is still up: both shards run

    later = T0 + timedelta(seconds=5)
    caught_up = [heard("1/2", ["CAM-02", "CAM-03"], later), heard("2/2", ["CAM-04", "CAM-09"], later)]
    view = reconcile(after_edit, caught_up, later)
    assert [s.state for s in view.shards] == [ShardState.OK, ShardState.OK]
    assert by_shard(view)["2/2"].wanted == ("CAM-04", "CAM-09")


def test_a_disabled_camera_still_running_is_extra() -> None:
    enabled = ["CAM-01", "CAM-02"]  # CAM-03 disabled: its shard should stop it
    view = reconcile(enabled, [heard("1/1", ["CAM-01", "CAM-02", "CAM-03"], T0)], T0)
    assert (view.shards[0].state, view.shards[0].extra) == (ShardState.BEHIND, ("CAM-03",))


def test_a_shard_silent_for_longer_than_stale_s_is_stale_and_its_cameras_unserved() -> None:
    clock = FakeClock(T0)
    workers = [heard("1/2", ["CAM-01", "CAM-02", "CAM-03"], clock.now(), spool_depth=9), heard("2/2", ["CAM-04"], T0)]
    clock.advance(STALE_S)
    assert [s.state for s in reconcile(CAMERAS, workers, clock.now()).shards] == [ShardState.OK, ShardState.OK]

    workers[1] = heard("2/2", ["CAM-04"], clock.now())  # shard 2 keeps reporting; shard 1's process died
    clock.advance(0.5)
    view = reconcile(CAMERAS, workers, clock.now())
    one = by_shard(view)["1/2"]
    assert (one.state, one.up, one.running, one.missing) == (ShardState.STALE, False, (), ())
    assert (one.last_seen, one.spool_depth) == (T0, 9)  # what its spool held when last heard
    assert view.unserved == ("CAM-01", "CAM-02", "CAM-03")
    assert by_shard(view)["2/2"].state is ShardState.OK


def test_a_shard_that_never_reported_is_listed_with_its_cameras_unserved() -> None:
    view = reconcile(CAMERAS, [heard("2/2", ["CAM-04"], T0)], T0)
    one = by_shard(view)["1/2"]
    assert (one.state, one.workers, one.last_seen, one.delivery_state) == (ShardState.NEVER, (), None, None)
    assert view.unserved == ("CAM-01", "CAM-02", "CAM-03")


def test_reports_of_two_shard_counts_say_the_cluster_is_being_changed() -> None:
    old = [heard("1/1", CAMERAS, T0)]
    new = [heard("1/2", ["CAM-01", "CAM-02", "CAM-03"], T0 + timedelta(seconds=2)), heard("2/2", ["CAM-04"], T0)]
    view = reconcile(CAMERAS, old + new, T0 + timedelta(seconds=3))
    assert (view.shard_count, view.shard_counts, view.changing) == (2, (1, 2), True)  # most shards report 2
    assert list(by_shard(view)) == ["1/1", "1/2", "2/2"]
    assert by_shard(view)["1/1"].state is ShardState.OK  # each judged against its own count

    # One shard of each count: the count heard last is the one in use.
    view = reconcile(CAMERAS, [*old, new[0]], T0 + timedelta(seconds=3))
    assert (view.shard_count, view.changing) == (2, True)
    assert by_shard(view)["2/2"].state is ShardState.NEVER
    assert view.unserved == ("CAM-04",)


def test_the_old_count_stops_counting_once_its_shards_are_stale() -> None:
    old = [heard("1/1", CAMERAS, T0)]
    later = T0 + timedelta(seconds=STALE_S + 10)
    new = [heard("1/2", ["CAM-01", "CAM-02", "CAM-03"], later), heard("2/2", ["CAM-04"], later)]
    view = reconcile(CAMERAS, old + new, later)
    assert (view.shard_count, view.shard_counts, view.changing) == (2, (2,), False)
    assert [str(s.shard) for s in view.shards] == ["1/2", "2/2"]


def test_a_stopped_cluster_shows_its_shards_stale_rather_than_vanishing() -> None:
    view = reconcile(CAMERAS, [heard("1/2", ["CAM-01"], T0), heard("2/2", ["CAM-04"], T0)], T0 + timedelta(hours=1))
    assert (view.shard_count, [s.state for s in view.shards]) == (2, [ShardState.STALE, ShardState.STALE])
    assert view.unserved == tuple(CAMERAS)


def test_two_workers_on_one_shard_count_together_and_only_live_ones_run() -> None:
    later = T0 + timedelta(seconds=STALE_S + 1)
    workers = [
        heard("1/1", ["CAM-01", "CAM-02"], T0, name="old node", spool_depth=5, delivery_state="API down"),
        heard("1/1", CAMERAS, later, name="new node", spool_depth=1, delivery_state="ok"),
    ]
    [shard] = reconcile(CAMERAS, workers, later).shards
    assert (shard.state, shard.running, shard.spool_depth, shard.delivery_state) == (
        ShardState.OK,
        tuple(CAMERAS),
        6,
        "ok",
    )
    assert [(w.worker, w.stale) for w in shard.workers] == [("cluster/new node", False), ("cluster/old node", True)]


def test_workers_without_a_shard_take_no_part() -> None:
    view = reconcile(CAMERAS, [heard(None, ["CAM-01"], T0)], T0)
    assert view == ClusterView(None, (), (), ())


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/5000", "2", "a/b", ""])
def test_a_report_refuses_a_shard_that_is_not_k_of_n(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        WorkerReport(name="w", shard=text)
    assert [e["loc"] for e in caught.value.errors()] == [("shard",)]


def test_a_report_keeps_the_shard_as_k_slash_n() -> None:
    assert WorkerReport(name="w", shard=" 2 / 8 ").shard == "2/8"


def test_a_lost_shards_cameras_go_each_to_its_next_shard_and_no_other_camera_moves() -> None:
    cameras = [f"CAM-{i:04d}" for i in range(1, 401)]
    before = {c: shard_of(c, 4) for c in cameras}
    after = {c: shard_of(c, 4, frozenset({3})) for c in cameras}
    assert all(after[c] == before[c] for c in cameras if before[c] != 3)  # only shard 3's cameras move
    moved = [after[c] for c in cameras if before[c] == 3]
    assert moved
    assert 3 not in moved
    assert len(set(moved)) == 3  # spread over the other three, not piled on one
    assert {shard_of(c, 4, frozenset({1, 2, 3, 4})) for c in cameras} == {1, 2, 3, 4}  # all lost: as if none


def test_a_shard_silent_for_lost_s_gives_its_cameras_to_the_others_until_it_reports_again() -> None:
    cams = [*CAMERAS, "CAM-09"]
    one, two = [c for c in cams if shard_of(c, 2) == 1], [c for c in cams if shard_of(c, 2) == 2]
    t0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    late = t0 + timedelta(seconds=LOST_S + 1)
    stale_only = reconcile(cams, [heard("1/2", one, late), heard("2/2", two, t0)], t0 + timedelta(seconds=STALE_S + 1))
    assert (stale_only.lost, by_shard(stale_only)["2/2"].wanted) == ((), tuple(two))  # stale, not yet lost
    view = reconcile(cams, [heard("1/2", one, late), heard("2/2", two, t0)], late)
    assert view.lost == (Shard(2, 2),)
    assert (by_shard(view)["1/2"].wanted, by_shard(view)["2/2"].wanted) == (tuple(sorted(cams)), ())
    assert (by_shard(view)["1/2"].state, by_shard(view)["1/2"].missing) == (ShardState.BEHIND, tuple(two))
    assert view.unserved == ()
    back = reconcile(cams, [heard("1/2", cams, late), heard("2/2", [], late)], late)
    assert back.lost == ()
    assert by_shard(back)["2/2"].wanted == tuple(two)


# ---------------------------------------------------------------------------- through the API


def beat(api: Api, headers: dict[str, str], shard: str, cameras: list[str], **fields: Any) -> None:
    doc = {"name": f"gridwatch-shard-{shard.replace('/', '-of-')} (ray)", "cameras": cameras, "shard": shard, **fields}
    res = api.anonymous().post("/api/worker/heartbeat", json=doc, headers=headers)
    assert res.status_code == 204, res.text


def metric_lines(api: Api, prefix: str) -> list[str]:
    text = api.as_("admin").get("/metrics").text
    return sorted(line for line in text.splitlines() if line.startswith(prefix))


def test_the_cluster_route_and_metrics_follow_the_shards(
    api: Api, worker: dict[str, str], site: SiteStore, clock: FakeClock
) -> None:
    empty = api.as_("admin").get("/api/cluster").json()
    assert (empty["shard_count"], empty["shards"], empty["unserved"]) == (None, [], [])
    assert metric_lines(api, "gridwatch_shard_up") == []

    beat(api, worker, "1/2", ["CAM-01", "CAM-02"], spool_depth=3, delivery_state="ok")
    body = api.as_("admin").get("/api/cluster").json()
    assert (body["shard_count"], body["shard_counts"], body["changing"]) == (2, [2], False)
    one, two = body["shards"]
    assert one["shard"] == "1/2"
    assert (one["state"], one["wanted_count"], one["wanted"]) == ("behind", 3, ["CAM-01", "CAM-02", "CAM-03"])
    assert (one["running_count"], one["missing"], one["extra"]) == (2, ["CAM-03"], [])
    assert (one["spool_depth"], one["delivery_state"]) == (3, "ok")
    [reporter] = one["workers"]
    assert reporter["worker"] == "detector-1/gridwatch-shard-1-of-2 (ray)"
    assert (reporter["stale"], reporter["cameras"]) == (False, 2)
    assert (two["shard"], two["state"], two["wanted"], two["workers"]) == ("2/2", "never reported", ["CAM-04"], [])
    assert (body["unserved_count"], body["unserved"]) == (1, ["CAM-04"])

    assert metric_lines(api, "gridwatch_shard_up") == [
        'gridwatch_shard_up{shard="1/2"} 1.0',
        'gridwatch_shard_up{shard="2/2"} 0.0',
    ]
    cameras = [line for line in metric_lines(api, "gridwatch_shard_cameras{") if 'shard="1/2"' in line]
    assert cameras == [
        'gridwatch_shard_cameras{kind="extra",shard="1/2"} 0.0',
        'gridwatch_shard_cameras{kind="missing",shard="1/2"} 1.0',
        'gridwatch_shard_cameras{kind="running",shard="1/2"} 2.0',
        'gridwatch_shard_cameras{kind="wanted",shard="1/2"} 3.0',
    ]
    assert metric_lines(api, "gridwatch_cluster_unserved_cameras") == ["gridwatch_cluster_unserved_cameras 1.0"]

    # The shards catch up; then a camera is disabled, and its shard runs it until its next poll.
    beat(api, worker, "1/2", ["CAM-01", "CAM-02", "CAM-03"])
    beat(api, worker, "2/2", ["CAM-04"])
    assert [s["state"] for s in api.as_("admin").get("/api/cluster").json()["shards"]] == ["ok", "ok"]
    site.set_enabled("CAM-03", False)
    one = api.as_("admin").get("/api/cluster").json()["shards"][0]
    assert (one["state"], one["wanted"], one["extra"]) == ("behind", ["CAM-01", "CAM-02"], ["CAM-03"])

    clock.advance(STALE_S + 1)  # shard 2's node is lost; shard 1 still reports
    beat(api, worker, "1/2", ["CAM-01", "CAM-02"])
    body = api.as_("admin").get("/api/cluster").json()
    assert [s["state"] for s in body["shards"]] == ["ok", "stale"]
    assert body["unserved"] == ["CAM-04"]
    assert 'gridwatch_shard_up{shard="2/2"} 0.0' in metric_lines(api, "gridwatch_shard_up")
    assert metric_lines(api, "gridwatch_shard_report_age_seconds") == [
        'gridwatch_shard_report_age_seconds{shard="1/2"} 0.0',
        f'gridwatch_shard_report_age_seconds{{shard="2/2"}} {STALE_S + 1}',
    ]


def test_shards_of_two_counts_are_shown_as_a_cluster_being_changed(api: Api, worker: dict[str, str]) -> None:
    beat(api, worker, "1/1", CAMERAS)
    beat(api, worker, "1/2", ["CAM-01", "CAM-02", "CAM-03"])
    beat(api, worker, "2/2", ["CAM-04"])
    body = api.as_("admin").get("/api/cluster").json()
    assert (body["shard_count"], body["shard_counts"], body["changing"]) == (2, [1, 2], True)
    assert [s["shard"] for s in body["shards"]] == ["1/1", "1/2", "2/2"]


def test_a_bad_shard_in_a_report_is_a_422_naming_the_field(api: Api, worker: dict[str, str]) -> None:
    res = api.anonymous().post("/api/worker/heartbeat", json={"name": "w", "shard": "3/2"}, headers=worker)
    assert res.status_code == 422, res.text
    [error] = res.json()["errors"]
    assert error["where"] == "shard"
    assert "1 ≤ K ≤ N ≤ 4096" in error["message"]
    assert api.as_("admin").get("/api/workers").json() == []


def test_the_cluster_is_for_logged_in_readers_and_scoped_to_their_cameras(
    api: Api, worker: dict[str, str], users: UserStore
) -> None:
    beat(api, worker, "1/2", ["CAM-01", "CAM-02", "CAM-03"])
    beat(api, worker, "2/2", [])
    assert api.anonymous().get("/api/cluster").status_code == 401
    assert api.anonymous().get("/api/cluster", headers={"Authorization": "Bearer gw_nope"}).status_code == 401

    # gw2 sees grid G-02 only (CAM-02): shard 1 with that camera alone; shard 2 (CAM-04, in G-01) not at all.
    theirs = api.as_("gw2").get("/api/cluster").json()
    assert (theirs["shard_count"], [s["shard"] for s in theirs["shards"]]) == (2, ["1/2"])
    [one] = theirs["shards"]
    assert (one["wanted"], one["wanted_count"], one["running"], one["state"]) == (["CAM-02"], 1, ["CAM-02"], "ok")
    # gw1 (G-01: CAM-01 and CAM-04) sees both shards, each with its camera of theirs.
    mine = api.as_("gw1").get("/api/cluster").json()
    assert [(s["shard"], s["wanted"], s["missing"]) for s in mine["shards"]] == [
        ("1/2", ["CAM-01"], []),
        ("2/2", ["CAM-04"], ["CAM-04"]),
    ]

    whole = api.as_("viewer").get("/api/cluster").json()  # site readers of every role see the whole site
    assert [s["wanted_count"] for s in whole["shards"]] == [3, 1]
    assert whole["unserved"] == []  # shard 2 reports (running nothing), so it is behind, not unserved
    users.create("scraper", Role.WORKER)
    assert api.anonymous().get("/api/cluster", headers=api.token("scraper")).status_code == 200


def test_the_cluster_route_is_documented(api: Api) -> None:
    schema = api.anonymous().get("/openapi.json").json()
    get = schema["paths"]["/api/cluster"]["get"]
    assert get["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ClusterPublic"
    }
    assert {"401", "403"} <= set(get["responses"])
    shard = schema["components"]["schemas"]["ShardPublic"]
    assert {"shard", "state", "wanted", "missing", "extra", "workers"} <= set(shard["properties"])
    assert "shard" in schema["components"]["schemas"]["WorkerReport"]["properties"]


def test_the_worker_loop_reports_its_shard(api: Api, worker: dict[str, str], tmp_path: Path) -> None:
    with serve_app(api.app) as url:
        spec = WorkerSpec(
            api=url,
            token=worker["Authorization"].removeprefix("Bearer "),
            name="box-9 2/2",
            shard=Shard(2, 2),
            spool_path=tmp_path / "spool.db",
        )
        loop = WorkerLoop(spec, Settings(data_dir=tmp_path))
        try:
            loop.sender = SpoolSender(loop.spool, loop.client)  # figures only; never started
            loop._report(["CAM-04"])  # the report a running loop sends, without pulling cameras for it
        finally:
            loop.client.close()
            loop.spool.close()
    [listed] = api.as_("admin").get("/api/workers").json()
    assert (listed["name"], listed["shard"]) == ("box-9 2/2", "2/2")
    two = api.as_("admin").get("/api/cluster").json()["shards"][1]
    assert (two["shard"], two["state"], two["workers"][0]["worker"]) == ("2/2", "ok", "detector-1/box-9 2/2")


# ---------------------------------------------------------------------------- the console


@pytest.fixture
def own_server(demo_clip: Path, rtsp_camera: RtspCamera, tmp_path: Path) -> Iterator[Server]:
    """A server of this test's own: shard reports stay in a server's memory, and would show in other tests' trees."""
    with run_server(demo_clip, rtsp_camera, tmp_path, detect=False) as server:
        yield server


@pytest.mark.slow
def test_the_site_tree_shows_each_cameras_shard_and_its_state(page: Page, own_server: Server) -> None:
    server = own_server
    with http_login(server, "admin") as admin:
        assert admin.post("/api/users", json={"username": "ray-shards", "role": "worker"}).status_code == 201
        token = admin.post("/api/users/ray-shards/tokens", json={"name": "shards"}).json()["secret"]

    def report(shard: str, cameras: list[str]) -> None:
        doc = {"name": f"gridwatch-shard-{shard.replace('/', '-of-')} (ray)", "cameras": cameras, "shard": shard}
        res = httpx.post(server.url + "/api/worker/heartbeat", json=doc, headers={"Authorization": f"Bearer {token}"})
        assert res.status_code == 204, res.text

    # The server's site adds CAM-05, which goes to shard 2 of 2 with CAM-04.
    assert shard_of("CAM-05", 2) == 2
    report("1/2", ["CAM-01", "CAM-02"])  # CAM-03 not running yet; shard 2 never reported
    login(page, server, "operator")
    page.goto(server.url + "/#/tree")
    tree = page.locator("#site-tree")
    expect(tree.locator("li.camera[data-camera=CAM-01] .shard")).to_have_text("shard 1/2 · behind")
    expect(tree.locator("li.camera[data-camera=CAM-03] .shard")).to_have_attribute("title", re.compile("not running"))
    expect(tree.locator("li.camera[data-camera=CAM-04] .shard")).to_have_text("shard 2/2 · never reported")
    expect(page.locator("#cluster-note")).to_have_text("Camera shards: 2 · 1 not reporting, 2 cameras unserved")
    shot(page, "site-tree-shards")

    report("1/2", ["CAM-01", "CAM-02", "CAM-03"])
    report("2/2", ["CAM-04", "CAM-05"])
    page.reload()
    for camera, shard in [("CAM-01", 1), ("CAM-02", 1), ("CAM-03", 1), ("CAM-04", 2), ("CAM-05", 2)]:
        expect(tree.locator(f"li.camera[data-camera={camera}] .shard")).to_have_text(f"shard {shard}/2 · ok")
    expect(page.locator("#cluster-note")).to_have_text("Camera shards: 2")


def test_the_worker_cameras_of_a_lost_shard_go_to_the_others(
    api: Api, worker: dict[str, str], clock: FakeClock
) -> None:
    def cameras(shard: str) -> list[str]:
        res = api.anonymous().get("/api/worker/cameras", params={"shard": shard}, headers=worker)
        assert res.status_code == 200, res.text
        return [c["id"] for c in res.json()["cameras"]]

    mine, theirs = cameras("1/2"), cameras("2/2")
    assert theirs == ["CAM-04"]
    beat(api, worker, "1/2", mine)
    beat(api, worker, "2/2", theirs)
    clock.advance(LOST_S + 1)  # shard 2 silent: Ray could not place it again
    beat(api, worker, "1/2", mine)
    assert cameras("1/2") == sorted([*mine, *theirs])
    assert cameras("2/2") == []  # back, it waits for its own report
    assert api.as_("admin").get("/api/cluster").json()["lost"] == ["2/2"]
    beat(api, worker, "2/2", [])
    assert (cameras("1/2"), cameras("2/2")) == (mine, theirs)
    assert api.as_("admin").get("/api/cluster").json()["lost"] == []

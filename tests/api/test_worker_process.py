"""`gridwatch worker` as a process of its own against `gridwatch run` as another: real streams (a file and an
RTSP camera behind a password the API hands over), the real model, the spool, and the API killed with
SIGKILL in the middle of the flow. Every observation the worker made is stored exactly once."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml

from gridwatch.spool import Spool
from ingest.demo_server import FootageServer, free_port
from tests.api.conftest import stop_process, wait_serving
from tests.support.paths import EXAMPLES, PG_URL, REPO
from tests.support.pg import own_schema
from tests.support.rtsp import RtspCamera
from tests.support.wait import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

CAMERAS = ("CAM-01", "CAM-03")
OUTAGE_S = 60
"""How long the API stays down while the worker runs (as a restart or a network cut would take)."""


@dataclass
class ApiProcess:
    """`gridwatch run --demo --no-detect` on a fixed port and data dir, so that it can be killed and started again."""

    root: Path
    port: int
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    passwords: dict[str, str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, site: Path | None) -> None:
        log = self.root / f"api-{time.monotonic_ns()}.log"
        args = [sys.executable, "-m", "gridwatch", "run", "--demo", "--no-detect"]
        if site is not None:
            args += ["--site", str(site)]
        with log.open("wb") as out:
            self.proc = subprocess.Popen(args, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=self.root)
        self.passwords = wait_serving(self.proc, self.url, log, 60)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)

    @contextlib.contextmanager
    def admin(self) -> Iterator[httpx.Client]:
        assert self.passwords is not None
        with httpx.Client(base_url=self.url, timeout=30) as client:
            res = client.post("/api/auth/login", json={"username": "admin", "password": self.passwords["admin"]})
            assert res.status_code == 200, res.text
            client.headers["X-CSRF-Token"] = res.json()["csrf_token"]
            yield client


def api_on(root: Path, pg_url: str, schema: str) -> ApiProcess:
    """`gridwatch run` on a free port, its data in ``root``/api, on PostgreSQL at ``pg_url`` in ``schema``."""
    port = free_port()
    joiner = "&" if "?" in pg_url else "?"
    env = {
        **os.environ,
        "GRIDWATCH_BIND": f"127.0.0.1:{port}",
        "GRIDWATCH_DATA_DIR": str(root / "api"),
        "GRIDWATCH_DATABASE_URL": f"{pg_url}{joiner}options={quote(f'-csearch_path={schema}')}",
        "PYTHONPATH": str(REPO),
        "COLUMNS": "200",
    }
    return ApiProcess(root, port, env)


@pytest.fixture
def api_process(
    rtsp_server: FootageServer, rtsp_camera: RtspCamera, tmp_path: Path
) -> Iterator[tuple[ApiProcess, Path]]:
    """The API on the demo site with two RTSP cameras: CAM-01 is the footage server's vtest stream, CAM-03 a
    camera behind a password (which only the worker's token gets); both watch their plaza for a crowd."""
    doc = yaml.safe_load((EXAMPLES / "demo-site.yaml").read_text(encoding="utf-8"))
    cams = {c["id"]: c for c in doc["cameras"]}
    # a crowd of two for two seconds: the demo clip has it all the time, so both cameras keep an episode going
    plaza = [{**cams["CAM-01"]["zones"][0], "settings": {"min_people": 2, "min_duration_s": 2}}]
    cams["CAM-01"]["zones"] = plaza
    cams["CAM-01"]["streams"] = {"main": rtsp_server.url("/vtest-360p")}
    cams["CAM-01"].pop("credentials", None)
    cams["CAM-03"]["streams"] = {"main": rtsp_camera.url}
    cams["CAM-03"]["credentials"] = {"username": rtsp_camera.username, "password": rtsp_camera.password}
    cams["CAM-03"]["zones"] = plaza
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    with own_schema("gwworker") as schema:  # the API on PostgreSQL, in a schema of its own
        api = api_on(tmp_path, PG_URL, schema)
        try:
            yield api, site
        finally:
            api.stop()


def worker_env(api: ApiProcess, live_models: Path, root: Path) -> dict[str, str]:
    with api.admin() as admin:
        res = admin.post("/api/users", json={"username": "box-1", "role": "worker"})
        assert res.status_code == 201, res.text
        res = admin.post("/api/users/box-1/tokens", json={"name": "worker process"})
        assert res.status_code == 201, res.text
        token = res.json()["secret"]
    data = root / "worker"
    data.mkdir()
    (data / "models").symlink_to(live_models, target_is_directory=True)  # exports shared with the live servers
    return {**api.env, "GRIDWATCH_DATA_DIR": str(data), "GRIDWATCH_WORKER_TOKEN": token}


def alerts(api: ApiProcess, camera: str) -> list[dict[str, Any]]:
    with api.admin() as admin:
        res = admin.get("/api/alerts", params={"camera_id": camera, "limit": 200})
        assert res.status_code == 200, res.text
        return list(res.json()["items"])


def cases_without_duplicates(api: ApiProcess, stored: list[dict[str, Any]]) -> None:
    """Each case holds exactly the alerts that point at it: a case made twice for one alert would hold none."""
    with api.admin() as admin:
        res = admin.get("/api/cases", params={"limit": 200})
        assert res.status_code == 200, res.text
        cases = {c["id"]: c for c in res.json()["items"]}
    linked: dict[int, int] = {}
    for a in stored:
        if a["case_id"] is not None:
            linked[a["case_id"]] = linked.get(a["case_id"], 0) + 1
    assert {i: c["alert_count"] for i, c in cases.items()} == linked


def status_lines(log: Path) -> list[dict[str, Any]]:
    pattern = (
        r"worker: (\d+) camera\(s\); spool (\d+) waiting, (\d+) dropped; (\d+) delivered \((\d+) duplicates, "
        r"p95 [^)]*\), (\d+) refused; delivery (.*)"
    )
    keys = ("cameras", "waiting", "dropped", "delivered", "duplicates", "refused")
    return [
        {**dict(zip(keys, map(int, m.groups()[:6]), strict=True)), "state": m.group(7)}
        for m in re.finditer(pattern, log.read_text())
    ]


def site_changes(log: Path, at_least: int) -> list[str] | None:
    """The worker's "site changed" lines, once there are ``at_least`` of them."""
    found = re.findall(r"site changed: (.*)", log.read_text())
    return found if len(found) >= at_least else None


def spooling(log: Path) -> bool:
    """The API is known to be away and observations wait in the spool."""
    last = status_lines(log)[-1]
    return bool(last["waiting"] > 0 and last["state"].startswith("API unreachable"))


def start_worker(
    api: ApiProcess, env: dict[str, str], log: Path, cwd: Path, cameras: tuple[str, ...] = CAMERAS
) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-X", "faulthandler", "-m", "gridwatch", "worker", "--api", api.url]
    args += ["--cameras", ",".join(cameras), "--demo", "--status-every-s", "1", "--drain-s", "30"]
    with log.open("ab") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)


def stop(worker: subprocess.Popen[bytes], log: Path) -> dict[str, Any]:
    """SIGTERM, a clean exit, and the last status line."""
    worker.send_signal(signal.SIGTERM)
    worker.wait(90)
    assert worker.returncode == 0, f"exit {worker.returncode}\n{log.read_text()}"
    return status_lines(log)[-1]


def test_a_worker_delivers_everything_exactly_once_through_an_api_killed_mid_flow(
    api_process: tuple[ApiProcess, Path], live_models: Path, tmp_path: Path
) -> None:
    api, site = api_process
    api.start(site)
    env = worker_env(api, live_models, tmp_path)
    log = tmp_path / "worker.log"
    worker = start_worker(api, env, log, tmp_path)
    try:
        # both cameras raise crowd alerts: the file, and the RTSP camera opened with the credentials from the API
        wait_for(lambda: all(alerts(api, c) for c in CAMERAS), timeout_s=240, interval_s=1.0, what=log.read_text)
        with api.admin() as admin:  # and it reports its health
            [listed] = wait_for(lambda: admin.get("/api/workers").json(), timeout_s=30)
        assert (listed["account"], sorted(listed["cameras"]), listed["stale"]) == ("box-1", list(CAMERAS), False)

        api.kill()  # mid-flow: the worker keeps detecting into its spool
        down_at = time.monotonic()
        wait_for(lambda: spooling(log), timeout_s=60, what=log.read_text)  # the spool grows
        wait_for(lambda: time.monotonic() - down_at >= OUTAGE_S, timeout_s=OUTAGE_S + 5, interval_s=1)
        assert worker.poll() is None, log.read_text()
        spooled = status_lines(log)[-1]["waiting"]
        api.start(site)  # as it was: the demo mode would otherwise load the demo site over it
        back_at = time.monotonic()
        wait_for(lambda: status_lines(log)[-1]["state"] in ("ok", "idle"), timeout_s=60, what=log.read_text)
        replay_s = time.monotonic() - back_at
        print(f"API down {OUTAGE_S} s: {spooled} observations spooled, all delivered {replay_s:.1f} s after its return")
    finally:
        final = stop(worker, log)
    text = log.read_text()
    assert (final["waiting"], final["dropped"], final["refused"]) == (0, 0, 0), text
    assert "delivery paused" in text  # the outage happened while the worker ran
    assert Spool(tmp_path / "worker" / "spool.db").figures().depth == 0
    assert (tmp_path / "worker" / "spool.db").stat().st_mode & 0o077 == 0  # residents' pictures: the owner's only

    stored = [a for c in CAMERAS for a in alerts(api, c)]
    episodes = [a["episode_id"] for a in stored]
    assert len(episodes) == len(set(episodes))  # one alert per episode: nothing re-sent made a second
    assert all(a["episode_state"] == "closed" for a in stored)  # closed on stop, delivered before exiting
    # every observation the worker delivered was applied once: one re-sent after a lost answer is counted once,
    # as the duplicate it then was
    assert sum(a["updates"] for a in stored) == final["delivered"], text
    cases_without_duplicates(api, stored)


def test_a_worker_killed_and_restarted_delivers_what_it_had_spooled_and_follows_camera_edits(
    api_process: tuple[ApiProcess, Path], rtsp_server: FootageServer, live_models: Path, tmp_path: Path
) -> None:
    api, site = api_process
    api.start(site)
    env = worker_env(api, live_models, tmp_path)
    log = tmp_path / "worker.log"
    cameras = (*CAMERAS, "CAM-09")  # CAM-09 does not exist yet
    first = start_worker(api, env, log, tmp_path, cameras)
    try:
        wait_for(lambda: alerts(api, "CAM-01"), timeout_s=240, interval_s=1.0, what=log.read_text)
        assert 'camera(s) "CAM-09" do not exist on the API' in log.read_text()
        # each edit in the API reaches the running worker, and touches only its camera
        edits = [
            ("patch", "/api/cameras/CAM-03", {"name": "Harbour View courtyard (moved)"}, "reconfigured CAM-03"),
            (
                "post",
                "/api/cameras",
                {"id": "CAM-09", "name": "Gate 9", "compound": "K-01", "streams": {"main": rtsp_server.url("/tree")}},
                "started CAM-09",
            ),
            ("patch", "/api/cameras/CAM-03", {"enabled": False}, "stopped CAM-03"),
        ]
        for n, (method, path, body, change) in enumerate(edits, 1):
            with api.admin() as admin:
                res = admin.request(method.upper(), path, json=body)
                assert res.status_code in (200, 201), res.text
            sent = time.monotonic()
            changed = wait_for(partial(site_changes, log, n), timeout_s=30, what=log.read_text)
            print(f"{change}: in the worker {time.monotonic() - sent:.1f} s after the API took it")
            assert changed[n - 1] == change, changed

        api.kill()
        wait_for(lambda: spooling(log), timeout_s=60, what=log.read_text)
        first.send_signal(signal.SIGKILL)  # with observations in its spool and none of them delivered
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
    before = status_lines(log)[-1]  # written while the API was down: nothing was delivered after it

    second_log = tmp_path / "worker-2.log"
    restarted_at = time.time()
    second = start_worker(api, env, second_log, tmp_path, cameras)
    try:
        left = wait_for(lambda: re.search(r"\((\d+) observation\(s\) waiting", second_log.read_text()), timeout_s=60)
        assert int(left.group(1)) >= before["waiting"] > 0
        wait_for(lambda: "waiting for the API" in second_log.read_text(), timeout_s=60, what=second_log.read_text)
        api.start(site)
        wait_for(lambda: Spool(tmp_path / "worker" / "spool.db").figures().depth == 0, timeout_s=60)
    finally:
        after = stop(second, second_log)
    assert (after["waiting"], after["dropped"]) == (0, 0), second_log.read_text()

    stored = [a for c in cameras for a in alerts(api, c)]
    episodes = [a["episode_id"] for a in stored]
    assert len(episodes) == len(set(episodes))
    delivered = before["delivered"] + after["delivered"]
    assert sum(a["updates"] for a in stored) == delivered, (log.read_text(), second_log.read_text())
    cases_without_duplicates(api, stored)
    # the killed worker's open episodes stay open (nobody continues them); the second closed its own on stop
    still_open = [a for a in stored if a["episode_state"] != "closed"]
    assert all(datetime.fromisoformat(a["last_seen_at"]).timestamp() < restarted_at for a in still_open)

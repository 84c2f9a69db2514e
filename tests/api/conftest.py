"""API fixtures: the demo site in a migrated database, an app on it, users of every role, logged-in clients.

Passwords are hashed with real argon2id at a low cost (the production cost is ~0.4 s per hash on
this kind of machine; one test checks that stored hashes move to the configured cost at login).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import Engine

from api.access import Role, Scope, ScopeKind
from api.app import create_app
from api.context import ApiContext, AuthSettings
from api.users import UserStore
from camera_config.store import SiteStore
from camera_config.validate import load_site_file
from core.clock import FakeClock
from core.db import session_factory
from events.policy import Policy
from events.service import EventsService
from ingest.demo_server import free_port
from tests.support.paths import EXAMPLES, REPO
from tests.support.rtsp import RtspCamera

# Argon2 at its smallest cost (64 KiB, one pass): the hash is checked for real, in 0.1 ms instead of
# the production 100 ms or so, and a test that logs in six users stays fast.
FAST_HASH = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=64, parallelism=1),))
PASSWORD = "correct-horse-42"

USERS: dict[str, tuple[Role, Scope | None]] = {
    "admin": (Role.ADMIN, None),
    "operator": (Role.OPERATOR, Scope(ScopeKind.COMMUNITY, ("CM-01",))),
    "gw1": (Role.GRID_WORKER, Scope(ScopeKind.GRIDS, ("G-01",))),
    "gw2": (Role.GRID_WORKER, Scope(ScopeKind.GRIDS, ("G-02",))),
    "integrator": (Role.INTEGRATOR, None),
    "viewer": (Role.VIEWER, None),
}


def fast_auth(**overrides: Any) -> AuthSettings:
    return AuthSettings(**{"password_hash": FAST_HASH, **overrides})


@pytest.fixture
def site(store: SiteStore) -> SiteStore:
    """The demo site (1 community, 3 compounds, grids G-01..G-03, cameras CAM-01..CAM-04)."""
    store.apply_site(load_site_file(EXAMPLES / "demo-site.yaml"))
    return store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def users(engine: Engine, site: SiteStore, clock: FakeClock) -> UserStore:
    store = UserStore(session_factory(engine), site, clock, fast_auth())
    for name, (role, scope) in USERS.items():
        store.create(name, role, scope=scope, password=PASSWORD)
    return store


@dataclass
class Api:
    """An app on the demo site with its users; `as_(name)` gives a client logged in as that user."""

    app: FastAPI
    clients: list[TestClient]

    def anonymous(self) -> TestClient:
        client = TestClient(self.app)
        client.__enter__()
        self.clients.append(client)
        return client

    def as_(self, username: str, password: str = PASSWORD) -> TestClient:
        client = self.anonymous()
        res = client.post("/api/auth/login", json={"username": username, "password": password})
        assert res.status_code == 200, res.text
        client.headers["X-CSRF-Token"] = res.json()["csrf_token"]
        return client

    def token(self, username: str) -> dict[str, str]:
        """Bearer headers for a fresh API token of ``username``."""
        runtime = self.app.state.runtime
        return {"Authorization": f"Bearer {runtime.users.create_token(username, 'test').secret}"}


@pytest.fixture
def events_policy() -> Policy | None:
    """The events service's policy: None, the default; a module overrides this fixture to test another."""
    return None


@pytest.fixture
def events(
    engine: Engine, site: SiteStore, clock: FakeClock, tmp_path: Path, events_policy: Policy | None
) -> Iterator[EventsService]:
    """The events service on the demo site (``events_policy``), reading the site afresh on every lookup."""
    service = EventsService(
        session_factory(engine), site, tmp_path / "data", clock=clock, site_ttl_s=0.0, policy=events_policy
    )
    yield service
    service.close()


@pytest.fixture
def api(engine: Engine, site: SiteStore, users: UserStore, clock: FakeClock, events: EventsService) -> Iterator[Api]:
    app = create_app(ApiContext(engine=engine, site=site, clock=clock, auth=fast_auth(), events=events))
    holder = Api(app, [])
    yield holder
    for client in holder.clients:
        client.__exit__(None, None, None)


@pytest.fixture
def worker(api: Api, users: UserStore) -> dict[str, str]:
    """Bearer headers of a detection worker account (token only)."""
    users.create("detector-1", Role.WORKER)
    return api.token("detector-1")


# ---------------------------------------------------------------------------- a real server process


@dataclass
class Server:
    url: str
    pid: int
    log: Path
    passwords: dict[str, str]
    rtsp_password: str
    """CAM-03's (wrong) password: it must never show up in an answer or the log."""
    clip: Path
    env: dict[str, str]
    """The server's environment (database, data dir): `gridwatch` commands run with it act on its data."""

    def open_files(self, path: Path) -> int:
        """How many file descriptors the server process holds on ``path`` (a pull holds one on its source)."""
        count = 0
        for fd in Path(f"/proc/{self.pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                count += os.readlink(fd) == str(path)
        return count


@contextlib.contextmanager
def run_server(
    demo_clip: Path, rtsp_camera: RtspCamera, root: Path, *, detect: bool, models: Path | None = None
) -> Iterator[Server]:
    """`gridwatch run --demo` on a free port. CAM-01 plays the clip as a demo file source; CAM-05 is the
    RTSP server with the right credentials, CAM-03 the same server with a wrong password. Without
    ``detect`` the live pipeline stays off (``--no-detect``): nothing but the tests changes the data.
    ``models`` is a model cache shared between servers, so that only the first one exports."""
    rtsp_password = "s3cret-" + uuid.uuid4().hex[:8]
    doc = yaml.safe_load((EXAMPLES / "demo-site.yaml").read_text(encoding="utf-8"))
    cams = {c["id"]: c for c in doc["cameras"]}
    cams["CAM-01"]["streams"] = {"main": str(demo_clip)}
    cams["CAM-01"].pop("credentials", None)
    cams["CAM-03"]["streams"] = {
        "main": rtsp_camera.url.replace("rtsp://", f"rtsp://{rtsp_camera.username}:{rtsp_password}@")
    }
    doc["cameras"].append(
        {
            "id": "CAM-05",
            "name": "Harbour View car park",
            "compound": "K-03",
            "streams": {"main": rtsp_camera.url},
            "credentials": {"username": rtsp_camera.username, "password": rtsp_camera.password},
        }
    )
    if models is not None:
        (root / "data").mkdir(parents=True, exist_ok=True)
        (root / "data" / "models").symlink_to(models, target_is_directory=True)
    site_file = root / "site.yaml"
    site_file.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    port = free_port()
    env = {
        **os.environ,
        "GRIDWATCH_BIND": f"127.0.0.1:{port}",
        "GRIDWATCH_DATA_DIR": str(root / "data"),
        "GRIDWATCH_DATABASE_URL": f"sqlite:///{root / 'data' / 'gridwatch.db'}",
        "PYTHONPATH": str(REPO),
        "COLUMNS": "200",
        "GRIDWATCH_NOTIFY_ALLOW_HOSTS": "127.0.0.1",  # local receivers of the notification tests, over http
    }
    log = root / "server.log"
    args = [sys.executable, "-m", "gridwatch", "run", "--demo", "--site", str(site_file)]
    if not detect:
        args.append("--no-detect")
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        # With the pipeline, the first start exports the model: give it longer.
        passwords = wait_serving(proc, url, log, 180 if detect else 60)
        assert set(passwords) == {
            "admin",
            "operator",
            "gridworker",
            "integrator",
            "viewer",
            "property",
            "partner",
        }, log.read_text()
        yield Server(url, proc.pid, log, passwords, rtsp_password, demo_clip, env)
    finally:
        stop_process(proc)


def wait_serving(proc: subprocess.Popen[bytes], url: str, log: Path, timeout_s: float) -> dict[str, str]:
    """Wait until the server process answers /api/health (failing the test if it exits or takes longer than
    ``timeout_s``); the demo logins it printed (username → password)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                return dict(re.findall(r"^\s+(\w+)\s+(\S+)\s+\w+ \(", log.read_text(), re.M))
        if time.monotonic() > deadline:
            pytest.fail(f"server did not answer in time:\n{log.read_text()}")
        time.sleep(0.2)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 30 s."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture(scope="session")
def server(demo_clip: Path, rtsp_camera: RtspCamera, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The API and console without the live pipeline (see `run_server`)."""
    with run_server(demo_clip, rtsp_camera, tmp_path_factory.mktemp("server"), detect=False) as server:
        yield server


@pytest.fixture(scope="session")
def live_models(tmp_path_factory: pytest.TempPathFactory, footage: Path) -> Path:
    """The model exports of the live servers, workers and shards, made here once, up front: the detection and the
    fall model in every format, INT8 calibrated on the demo clip as ``--demo`` does. Exporting costs a minute or
    more, longer when two shards do it at once: no test's own waits include it."""
    from detectors.model.config import ModelConfig, fall_config  # the model's packages only where it runs
    from detectors.model.detector import Detector

    models = tmp_path_factory.mktemp("live-models")
    base = ModelConfig(cache_dir=models, calibration=footage / "vtest.avi")
    for config in (base, fall_config(base)):
        Detector(config)
    return models


@pytest.fixture
def live_server(
    demo_clip: Path, rtsp_camera: RtspCamera, live_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """`gridwatch run --demo` as `make run` starts it: cameras pulled, the model running, alerts stored.
    A test's own (alerts start from none), one at a time (it costs a core while it runs)."""
    root = tmp_path_factory.mktemp("live-server")
    with run_server(demo_clip, rtsp_camera, root, detect=True, models=live_models) as server:
        yield server


@contextlib.contextmanager
def http_login(server: Server, username: str) -> Iterator[httpx.Client]:
    """An HTTP client logged in to the server process (cookie + CSRF header)."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        res = client.post("/api/auth/login", json={"username": username, "password": server.passwords[username]})
        assert res.status_code == 200, res.text
        client.headers["X-CSRF-Token"] = res.json()["csrf_token"]
        yield client


def collect_events(lines: Iterable[str], want: int, out: list[dict[str, Any]], kind: str = "") -> None:
    """Parse a server-sent event stream into ``{"event", "data"}`` dicts (kinds starting with ``kind``)
    until ``want`` are in ``out``."""
    event: dict[str, Any] = {}
    for line in lines:
        if line.startswith("event: "):
            event["event"] = line.removeprefix("event: ")
        elif line.startswith("data: "):
            event["data"] = json.loads(line.removeprefix("data: "))
        elif line == "" and event:
            if event.get("event", "").startswith(kind):
                out.append(event)
            event = {}
            if len(out) >= want:
                return


def live_metrics(http: httpx.Client, name: str) -> dict[str, float]:
    res = http.get("/metrics")
    assert res.status_code == 200
    out = {}
    for line in res.text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line.rsplit(" ", 1)
            out[labels[len(name) :]] = float(value)
    return out


@contextlib.contextmanager
def serve_app(app: FastAPI, port: int | None = None) -> Iterator[str]:
    """``app`` served by uvicorn on a loopback port (a free one by default) from a thread: a real HTTP server
    in this process; stopped on exit."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port or free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def served(api: Api) -> Iterator[str]:
    """The test app served by uvicorn on a free loopback port (a real HTTP stream for SSE)."""
    with serve_app(api.app) as url:
        yield url

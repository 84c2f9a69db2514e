"""`gridwatch cluster` on a real Ray cluster on this machine (on 127.0.0.1, started and stopped by pid),
against `gridwatch run` on PostgreSQL with real RTSP cameras: the shards share the cameras, alerts reach the
API once, a shard killed with SIGKILL is restarted by Ray and streams again; bad input is refused by name."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import pytest
import yaml

from ingest.demo_server import FootageServer, free_port
from tests.api.test_worker_process import ApiProcess, alerts, api_process, cases_without_duplicates, worker_env
from tests.support.wait import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
__all__ = ["api_process"]  # the fixture, shared with the worker process tests

RAY = Path(sys.executable).with_name("ray")
RESTART_S = 10.0
"""A killed shard streams again within this (the issue's bound)."""


@dataclass
class RayNodes:
    address: str
    env: dict[str, str]
    root: Path
    """Where the nodes' own output goes (the test's folder)."""
    markers: list[str]
    """One per node: every process a node starts (raylet, GCS, workers) inherits its marker in its environment."""
    procs: list[subprocess.Popen[bytes]]
    logs: list[Path]
    watch: StatusWatch | None = None
    """`gridwatch cluster status --watch`, started on the first look at the shards."""

    def ours(self, marker: str | None = None) -> list[psutil.Process]:
        """Every process of one node (``marker``) or of all of them."""
        wanted = {marker} if marker else set(self.markers)
        found = []
        for p in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if p.environ().get("GRIDWATCH_TEST_RAY") in wanted:
                    found.append(p)
        return found

    def start(self, args: list[str], name: str, env: dict[str, str]) -> str:
        """Start one node in the foreground (``--block``), so that it is ours to stop; its marker."""
        marker = uuid.uuid4().hex
        log = self.root / f"ray-{name}.log"
        self.markers.append(marker)
        self.logs.append(log)
        with log.open("wb") as out:
            self.procs.append(
                subprocess.Popen(
                    [str(RAY), "start", *args, "--object-store-memory=100000000", "--block"],
                    env={**env, "GRIDWATCH_TEST_RAY": marker},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        wait_for(partial(started, log), timeout_s=60, what=log.read_text)
        return marker

    def join(self, name: str, cpus: int, resources: dict[str, float]) -> str:
        """Another node on this machine (same loopback address, its own CPUs and resources); its marker."""
        args = [f"--address={self.address}", "--node-ip-address=127.0.0.1", f"--num-cpus={cpus}"]
        return self.start([*args, f"--resources={json.dumps(resources)}"], name, self.env)

    def kill_node(self, marker: str) -> None:
        """Lose one node as a machine would: every process of it killed at once (SIGKILL)."""
        for p in self.ours(marker):
            with contextlib.suppress(psutil.Error):
                p.kill()

    def stop(self) -> None:
        if self.watch is not None:
            self.watch.stop()
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(20)
        for p in self.ours():
            with contextlib.suppress(psutil.Error):
                p.kill()
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(10)


@contextlib.contextmanager
def ray_node(
    env: dict[str, str], root: Path, *, cpus: int = 2, single_machine: bool = True, extra: dict[str, str] | None = None
) -> Iterator[RayNodes]:
    """A Ray head on 127.0.0.1 with ``cpus`` CPUs, stopped by pid with every node that joined it.

    ``single_machine``: Ray turns a loopback address into the machine's outward address (and a second node
    needs one), except with ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, its single-machine mode, which keeps every
    socket on 127.0.0.1 and refuses further nodes. Without it, run the nodes in a private network
    (`tests.support.netns`), where loopback is the only address there is."""
    port = free_port()
    temp = Path(tempfile.mkdtemp(prefix="gwray-", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    # token auth, with a token of the test's own: Ray turns it on by itself when ~/.ray/auth_token exists
    # (any earlier `ray.init` writes one), and a node joining then needs the same token
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    node_env = {**env, "RAY_USAGE_STATS_ENABLED": "0", **auth, **(extra or {})}
    if single_machine:
        node_env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    nodes = RayNodes(f"127.0.0.1:{port}", node_env, root, [], [], [])
    try:
        args = ["--head", "--node-ip-address=127.0.0.1", f"--port={port}", f"--temp-dir={temp}"]
        nodes.start([*args, f"--num-cpus={cpus}", "--include-dashboard=false"], "head", node_env)
        yield nodes
    finally:
        nodes.stop()
        with contextlib.suppress(OSError):  # the shards' logs, kept with the test's files
            shutil.copytree(temp / "session_latest" / "logs", root / "ray-logs", dirs_exist_ok=True, symlinks=True)
        subprocess.run(["rm", "-rf", str(temp)], check=False, timeout=30)


def started(log: Path) -> bool:
    return b"Ray runtime started" in log.read_bytes()


def cluster(nodes: RayNodes, *args: str, timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gridwatch", "cluster", *args, "--address", nodes.address],
        env=nodes.env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


class StatusWatch:
    """`gridwatch cluster status --json --watch` as one process: a look at the shards is then a query of a
    connected driver, not a Python start and a Ray connection each (seconds of CPU the shards need)."""

    PAUSE_S = "0.3"

    def __init__(self, nodes: RayNodes) -> None:
        self._nodes = nodes
        self._log = nodes.root / "status-watch.log"
        self._proc: subprocess.Popen[str] | None = None
        self._cond = threading.Condition()
        self._latest: tuple[float, dict[str, Any]] | None = None
        self._readers: list[threading.Thread] = []

    def _start(self) -> None:
        args = [sys.executable, "-m", "gridwatch", "cluster", "status", "--json", "--watch", self.PAUSE_S]
        with self._log.open("ab") as log:
            self._proc = subprocess.Popen(
                [*args, "--address", self._nodes.address],
                env=self._nodes.env,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        reader = threading.Thread(target=self._read, args=(self._proc,), daemon=True)
        reader.start()
        self._readers.append(reader)

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        with proc.stdout:  # closed here, at the end of its output
            for line in proc.stdout:
                if not line.startswith("{"):  # Ray's driver may print a node's death
                    continue
                with contextlib.suppress(ValueError), self._cond:
                    self._latest = (time.monotonic(), dict(json.loads(line)))
                    self._cond.notify_all()

    def get(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """The first figures taken after this call: as fresh as a status command run now."""
        asked = time.monotonic()
        with self._cond:
            while self._latest is None or self._latest[0] <= asked:
                if self._proc is None or self._proc.poll() is not None:  # (again) after its driver was lost
                    self._start()
                left = asked + timeout_s - time.monotonic()
                assert left > 0, f"no cluster status in {timeout_s:g} s:\n{self._log.read_text()}"
                self._cond.wait(min(left, 1.0))
            return self._latest[1]

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        for reader in self._readers:  # each ends (and closes its pipe) at its process's end of output
            reader.join(10)


def status(nodes: RayNodes) -> dict[str, Any]:
    """`gridwatch cluster status --json`: the spec, the nodes and the shards."""
    if nodes.watch is None:
        nodes.watch = StatusWatch(nodes)
    return nodes.watch.get()


def shards(nodes: RayNodes) -> list[dict[str, Any]]:
    return list(status(nodes)["shards"])


def streaming_shards(nodes: RayNodes) -> list[dict[str, Any]] | None:
    """Every shard, once each is alive with all its cameras delivering frames."""
    found = shards(nodes)
    ok = all(s["state"] == "alive" and s["cameras"] > 0 and s["online"] == s["cameras"] for s in found)
    return found if ok else None


def test_shards_share_the_cameras_and_a_killed_one_streams_again(
    api_process: tuple[ApiProcess, Path], rtsp_server: FootageServer, live_models: Path, tmp_path: Path
) -> None:
    api, site = api_process
    doc = yaml.safe_load(site.read_text(encoding="utf-8"))
    for cam in doc["cameras"]:  # every camera a live stream of the test server (the demo's own is not running)
        if cam["id"] in ("CAM-02", "CAM-04"):
            cam["streams"] = {"main": rtsp_server.url("/tree" if cam["id"] == "CAM-02" else "/vtest-360p")}
    site.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    api.start(site)
    env = worker_env(api, live_models, tmp_path)
    data_root = tmp_path / "shards"
    for k in (1, 2):  # the model exports the other live tests made, for each shard
        (data_root / f"gridwatch-shard-{k}-of-2").mkdir(parents=True)
        (data_root / f"gridwatch-shard-{k}-of-2" / "models").symlink_to(live_models, target_is_directory=True)
    with ray_node(env, tmp_path) as nodes:
        up = ["up", "--api", api.url, "--shards", "2", "--memory-mb", "1024", "--demo", "--data-root", str(data_root)]
        too_many = cluster(nodes, *up[:4], "3", *up[5:])  # two CPUs hold two shards of one CPU
        assert too_many.returncode != 0
        assert "3 shard(s) of 1 CPU and 1024 MiB do not fit the cluster's 1 node(s) (CPU 2;" in too_many.stderr
        assert "it holds 2" in too_many.stderr
        res = cluster(nodes, *up)
        assert res.returncode == 0, res.stdout + res.stderr
        other = cluster(nodes, *up[:4], "1", *up[5:])  # a running cluster is not changed by another spec
        assert other.returncode != 0
        assert "a gridwatch cluster with other settings runs there (2 shard(s)" in other.stderr
        running = wait_for(lambda: streaming_shards(nodes), timeout_s=180, interval_s=1, what=lambda: shards(nodes))
        told = cluster(nodes, "status", timeout_s=60)  # the one-shot, for people: every shard on a line
        assert told.returncode == 0, told.stderr
        assert "cluster: 2 shard(s), API " in told.stdout
        assert all(f"{s['name']}: node " in told.stdout for s in running), told.stdout
        ids = [c for s in running for c in s["camera_ids"]]
        assert len(ids) == len(set(ids))  # each camera in one shard
        assert {"CAM-01", "CAM-03"} <= set(ids)
        # a crowd on the vtest camera (the shards load the models `live_models` exported)
        wait_for(lambda: alerts(api, "CAM-01"), timeout_s=240, interval_s=1, what=lambda: shards(nodes))

        [victim] = [s for s in running if "CAM-01" in s["camera_ids"]]
        killed_at = time.time()
        os.kill(victim["pid"], signal.SIGKILL)
        [back] = wait_for(
            lambda: [
                s for s in streaming_shards(nodes) or [] if s["name"] == victim["name"] and s["pid"] != victim["pid"]
            ],
            timeout_s=120,
            interval_s=0.5,
            what=lambda: shards(nodes),
        )
        assert back["restarted"] is True
        streams_again_s = back["started"] + back["first_online_s"] - killed_at
        print(f"shard killed: restarted {back['started'] - killed_at:.1f} s later, streaming {streams_again_s:.1f} s")
        assert streams_again_s <= RESTART_S

        # exactly once through the spool across a restart: the API away, the shard killed with observations in
        # its spool and none of them delivered; with both back, the spool drains and nothing is stored twice
        api.kill()
        [held] = wait_for(
            lambda: [s for s in shards(nodes) if s["name"] == victim["name"] and s.get("spool_depth", 0) > 0],
            timeout_s=90,
            interval_s=1,
            what=lambda: shards(nodes),
        )
        os.kill(held["pid"], signal.SIGKILL)
        api.start(site)

        def drained() -> list[dict[str, Any]]:
            return [
                s
                for s in shards(nodes)
                if s["name"] == victim["name"] and s["pid"] != held["pid"] and s.get("spool_depth") == 0
            ]

        [after] = wait_for(drained, timeout_s=120, interval_s=1, what=lambda: shards(nodes))
        assert after["delivered"] >= held["spool_depth"]  # what the killed shard held, sent by its successor
        print(f"shard killed with {held['spool_depth']} observation(s) spooled: {after['delivered']} delivered after")

        res = cluster(nodes, "down")
        assert res.returncode == 0, res.stdout + res.stderr
        assert "2 shard(s) stopped" in res.stdout
        shared_detector(nodes, [*up[:4], "1", *up[5:]], data_root, live_models)
    stored = [a for c in ids for a in alerts(api, c)]
    episodes = [a["episode_id"] for a in stored]
    assert len(episodes) == len(set(episodes))  # one alert per episode, across the restart
    cases_without_duplicates(api, stored)


SERVED_BATCHES = """
import sys, time, ray
from ray import serve
ray.init(address=sys.argv[1], log_to_driver=False)
handle = serve.get_app_handle("gridwatch-detector")
deadline = time.monotonic() + float(sys.argv[2])
while not (n := len(handle.batch_sizes.remote().result(timeout_s=30))) and time.monotonic() < deadline:
    time.sleep(1)
print(n)
"""


def served_batches(nodes: RayNodes, within_s: float) -> int:
    """How many batches the detector has run, once there is one or ``within_s`` has passed (one driver asks)."""
    res = subprocess.run(
        [sys.executable, "-c", SERVED_BATCHES, nodes.address, str(within_s)],
        env=nodes.env,
        capture_output=True,
        text=True,
        timeout=within_s + 60,
    )
    assert res.returncode == 0, res.stderr
    return int(res.stdout.split()[-1])


def shared_detector(nodes: RayNodes, up: list[str], data_root: Path, live_models: Path) -> None:
    """The Ray Serve detector (on CPU here) runs the model for a shard started with --detector-service; a shard
    asking for one that does not run is refused by name."""
    (data_root / "gridwatch-shard-1-of-1").mkdir(parents=True)
    (data_root / "gridwatch-shard-1-of-1" / "models").symlink_to(live_models, target_is_directory=True)
    missing = cluster(nodes, *up, "--detector-service", "nobody")
    assert missing.returncode != 0
    assert "--detector-service nobody: detector service 'nobody': not running" in missing.stderr
    assert "gridwatch cluster detector --app nobody" in missing.stderr
    res = cluster(nodes, "detector", "--replicas", "1", "--num-cpus", "0.5")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "detector: gridwatch-detector runs" in res.stdout
    res = cluster(nodes, *up, "--detector-service", "gridwatch-detector")
    assert res.returncode == 0, res.stdout + res.stderr
    assert served_batches(nodes, within_s=120) > 0, shards(nodes)
    res = cluster(nodes, "down")
    assert res.returncode == 0, res.stdout + res.stderr

"""Workers delivering over HTTP, on PostgreSQL: `POST /api/worker/observations` under open-loop load.

A real `gridwatch run --no-detect` serves the full-size site (1,751 cameras) from a PostgreSQL schema of
its own; this process is the workers. Requests leave on schedule whatever the replies (open loop: a
slow server builds a backlog, and the backlog counts in the latency), over 8 keep-alive connections.
Meanwhile an operator reloads the case board (`GET /api/cases`) five times a second on a connection of
its own. Each camera's episodes follow one another: opened (with a real evidence snapshot), updated,
closed after 20 observations (see `Episodes`).

    opening wave:    every camera opens an episode at once, --rate posts per second (reported, not judged)
    phase "single":  --rate single-observation posts per second (target ≥ 300, p95 ≤ 100 ms)
    phase "batch":   --batch-rate posts of --batch observations (target ≥ 2,000 observations/s, p95 ≤ 100 ms)
    both:            GET /api/cases p95 ≤ 50 ms

    .venv/bin/python bench/api_load.py [--pg-url URL] [--seconds 30] [--rate 300] [--batch-rate 20]
                                       [--only single|batch]
"""

# ruff: noqa: E402 - the path fix below must run before the project's imports

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and `events.py` in it would hide the
# events package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import base64
import contextlib
import json
import os
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import yaml
from cryptography.fernet import Fernet

from api.access import Role, Scope, ScopeKind
from api.users import UserStore
from bench.events import evidence_jpeg, pct, pg_schema
from camera_config.generate import generate_site
from camera_config.secrets import CredentialCipher
from camera_config.store import SiteStore
from core.clock import SystemClock
from core.db import session_factory
from gridwatch.settings import REPO_ROOT
from ingest.demo_server import free_port

CONNECTIONS = 8
BOARD_RATE = 5.0
TARGET = {"single_rate": 300.0, "batch_obs_rate": 2000.0, "p95_ms": 100.0, "board_p95_ms": 50.0}


@dataclass
class Phase:
    name: str
    latency_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    observations: int = 0
    seconds: float = 0.0
    drain_s: float = 0.0
    elapsed_s: float = 0.0
    board_ms: list[float] = field(default_factory=list)
    board_statuses: Counter[str] = field(default_factory=Counter)
    server_cpu_s: float = 0.0
    transactions: float = 0.0
    applied: float = 0.0


EPISODE_LENGTH = 20
"""Observations per episode in the measured phases: opened (with a snapshot), updated, closed."""


class Episodes:
    """Each camera's episodes in turn, round robin over the cameras: an episode opens with a real
    evidence snapshot, is updated with a higher seq, and closes after `EPISODE_LENGTH` observations;
    the camera's next episode then opens.

    The first round opens every camera's episode at once (the opening wave, measured on its own);
    their lengths are staggered so that afterwards opens and closes are spread evenly: about one
    observation in `EPISODE_LENGTH` opens an episode, one closes one, the rest are updates.
    """

    def __init__(self, cameras: list[str], jpeg: bytes, length: int = EPISODE_LENGTH) -> None:
        self._cameras = cameras
        self._length = length
        self._evidence = base64.b64encode(jpeg).decode()
        self._next = 0
        self._episodes = dict.fromkeys(cameras, 0)
        self._open: dict[str, tuple[datetime, int, int]] = {}
        """Per camera with an open episode: when it started, its last seq, observations before its close."""

    def next(self) -> dict[str, Any]:
        index = self._next % len(self._cameras)
        camera = self._cameras[index]
        self._next += 1
        now = datetime.now(UTC)
        if camera not in self._open:
            first_round = self._next <= len(self._cameras)
            left = 1 + index % (self._length - 1) if first_round else self._length - 1
            started, seq, state = now, 0, "opened"
        else:
            started, seq, left = self._open[camera]
            seq, left = seq + 1, left - 1
            state = "closed" if left == 0 else "updated"
        if state == "closed":
            del self._open[camera]
        else:
            self._open[camera] = (started, seq, left)
        doc: dict[str, Any] = {
            "episode_id": f"{camera}:crowd:bench-{self._episodes[camera]}",
            "camera_id": camera,
            "hazard": "crowd",
            "state": state,
            "severity": "medium",
            "started_at": started.isoformat(),
            "observed_at": now.isoformat(),
            "seq": seq,
            "summary": f"{6 + seq % 5} people for {10 + seq} s",
            "measurements": {"people": float(6 + seq % 5)},
        }
        if state == "opened":
            doc["evidence_jpeg_b64"] = self._evidence
        if state == "closed":
            self._episodes[camera] += 1
        return doc


class Connection:
    """One HTTP/1.1 keep-alive connection, requests one at a time, as `wrk` sends them.

    httpx costs this process ~2.4 ms of CPU per request; on a machine of two cores the load generator
    would then take the CPU the server is being measured for. This reads only what the bench needs:
    the status line, Content-Length (or chunks) and the body."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self._host, self._port = host, port
        self._head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{host}:{port}", **headers}.items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, target: str, body: bytes = b"", timeout_s: float = 120.0) -> tuple[int, bytes]:
        return await asyncio.wait_for(self._request(method, target, body), timeout_s)

    async def _request(self, method: str, target: str, body: bytes) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        length = f"Content-Length: {len(body)}\r\n" if body or method == "POST" else ""
        self._writer.write(f"{method} {target} HTTP/1.1\r\n{self._head}{length}\r\n".encode() + body)
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if fields.get("transfer-encoding", "").lower() == "chunked":
            content = b""
            while size := int((await self._reader.readuntil(b"\r\n")).strip(), 16):
                content += (await self._reader.readexactly(size + 2))[:-2]
            await self._reader.readuntil(b"\r\n")
        else:
            content = await self._reader.readexactly(int(fields.get("content-length", "0")))
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return status, content

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


async def commits(conn: Connection) -> tuple[float, float]:
    """The server's group commit so far: (transactions, observations applied in them)."""
    status, body = await conn.request("GET", "/metrics")
    if status != 200:
        raise SystemExit(f"GET /metrics answered {status}: {body[:200]!r}")
    values = dict.fromkeys(("gridwatch_worker_transactions", "gridwatch_worker_observations_applied"), 0.0)
    for line in body.decode().splitlines():
        name, _, value = line.partition(" ")
        if name in values:
            values[name] = float(value)
    return values["gridwatch_worker_transactions"], values["gridwatch_worker_observations_applied"]


def server_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(
    phase: Phase, url: str, worker: str, operator: str, bodies: list[bytes], per_post: int, rate: float, pid: int
) -> None:
    """Sends ``bodies`` at ``rate`` per second; the board is read alongside until the last answer.

    Each of the 8 connections has a sender taking the next due body from one queue: a body waits there
    while every connection is busy, and that wait is part of its latency (measured from when it was due).
    """
    address = urlsplit(url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    headers = {"Authorization": f"Bearer {worker}", "Content-Type": "application/json"}
    due_bodies: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    clients = [Connection(host, port, headers) for _ in range(CONNECTIONS)]
    board = Connection(host, port, {"Authorization": f"Bearer {operator}"})
    # Open every connection before the clock starts, as long-running workers have them.
    await asyncio.gather(*(c.request("GET", "/api/health") for c in [*clients, board]))
    t0 = loop.time() + 0.1
    cpu0 = server_cpu_s(pid)

    async def schedule() -> None:
        for i, body in enumerate(bodies):
            due = t0 + i / rate
            await asyncio.sleep(max(0.0, due - loop.time()))
            due_bodies.put_nowait((due, body))
        for _ in clients:
            due_bodies.put_nowait(None)

    async def send(client: Connection) -> None:
        while (item := await due_bodies.get()) is not None:
            due, body = item
            try:
                status, _ = await client.request("POST", "/api/worker/observations", body)
                phase.statuses[str(status)] += 1
                if status == 200:
                    phase.observations += per_post
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                phase.statuses[type(exc).__name__] += 1
                await client.close()
            phase.latency_ms.append((loop.time() - due) * 1000)

    async def read_board() -> None:
        i = 0
        while not done.is_set():
            due = t0 + i / BOARD_RATE
            i += 1
            await asyncio.sleep(max(0.0, due - loop.time()))
            start = loop.time()
            status, _ = await board.request("GET", "/api/cases?limit=50")
            phase.board_statuses[str(status)] += 1
            phase.board_ms.append((loop.time() - start) * 1000)

    scrape = Connection(host, port, {"Authorization": f"Bearer {worker}", "Connection": "close"})
    commits0 = await commits(scrape)
    reader = asyncio.create_task(read_board())
    await asyncio.gather(schedule(), *(send(c) for c in clients))
    # Rates over the schedule's length: a server that lags shows in the latency and the drain time.
    phase.seconds = len(bodies) / rate
    phase.drain_s = loop.time() - (t0 + (len(bodies) - 1) / rate)
    phase.elapsed_s = loop.time() - t0
    phase.server_cpu_s = server_cpu_s(pid) - cpu0
    phase.transactions, phase.applied = (b - a for a, b in zip(commits0, await commits(scrape), strict=True))
    done.set()
    await reader
    await asyncio.gather(*(c.close() for c in [*clients, board]))


def report(phase: Phase, rate_target: float, per_post: int, *, judged: bool = True) -> bool:
    posts = len(phase.latency_ms)
    obs_rate = phase.observations / phase.seconds
    p50, p95, p99 = (pct(phase.latency_ms, q) for q in (0.50, 0.95, 0.99))
    board95 = pct(phase.board_ms, 0.95) if phase.board_ms else float("nan")
    ok = obs_rate >= rate_target and p95 <= TARGET["p95_ms"] and board95 <= TARGET["board_p95_ms"]
    unit = "observations" if per_post > 1 else "posts"
    print(f"\nphase {phase.name}: {posts} posts of {per_post} in {phase.seconds:.1f} s; answers {dict(phase.statuses)}")
    print(f"  {'':28} {'measured':>12} {'target':>12}")
    print(f"  {unit + ' stored/s':28} {obs_rate:12.0f} {'≥ ' + format(rate_target, '.0f'):>12}")
    print(f"  {'last answer after last send':28} {f'{phase.drain_s:.2f} s':>12}")
    print(f"  {'post latency p50 / p99 ms':28} {f'{p50:.0f} / {p99:.0f}':>12}")
    print(f"  {'post latency p95 ms':28} {p95:12.0f} {'≤ ' + format(TARGET['p95_ms'], '.0f'):>12}")
    print(f"  {'GET /api/cases p95 ms':28} {board95:12.1f} {'≤ ' + format(TARGET['board_p95_ms'], '.0f'):>12}")
    print(f"  {'server CPU, % of one core':28} {100 * phase.server_cpu_s / phase.elapsed_s:12.0f}")
    per_commit = phase.applied / phase.transactions if phase.transactions else float("nan")
    print(f"  {'observations per transaction':28} {per_commit:12.1f}")
    verdict = ("within" if ok else "OUTSIDE") + " the targets" if judged else "not judged (a burst, not a steady rate)"
    print(f"  board answers {dict(phase.board_statuses)}; {verdict}")
    return ok


def batch_bodies(episodes: Episodes, size: int, count: int) -> list[bytes]:
    return [json.dumps({"observations": [episodes.next() for _ in range(size)]}).encode() for _ in range(count)]


def prepare(engine: Any, doc: dict[str, Any], tmp: Path) -> tuple[str, str]:
    """The site in the database, a worker's token and an operator's (community CM-01)."""
    site_file = tmp / "site.yaml"
    site_file.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    sessions = session_factory(engine)
    site = SiteStore(sessions, CredentialCipher(Fernet.generate_key()))
    site.load_site(site_file)
    users = UserStore(sessions, site, SystemClock())
    users.create("bench-worker", Role.WORKER)
    users.create("bench-operator", Role.OPERATOR, scope=Scope(ScopeKind.COMMUNITY, ("CM-01",)))
    return users.create_token("bench-worker", "bench").secret, users.create_token("bench-operator", "bench").secret


def start_server(
    pg_url: str, schema: str, tmp: Path, port: int | None = None
) -> tuple[subprocess.Popen[bytes], str, Path]:
    """`gridwatch run --no-detect` on the schema (on ``port``: a restart where clients expect it)."""
    port = port or free_port()
    db_url = f"{pg_url}{'&' if '?' in pg_url else '?'}options={quote(f'-csearch_path={schema}')}"
    env = {
        "GRIDWATCH_BIND": f"127.0.0.1:{port}",
        "GRIDWATCH_DATA_DIR": str(tmp / "data"),
        "GRIDWATCH_DATABASE_URL": db_url,
        "GRIDWATCH_LOG_LEVEL": "warning",
    }
    return serve(["-m", "gridwatch", "run", "--no-detect"], port, env, tmp / "server.log")


def start_floor(tmp: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    """bench/api_floor.py on the same uvicorn (uvloop and httptools, as `gridwatch run` has them)."""
    port = free_port()
    args = ["-m", "uvicorn", "bench.api_floor:app", "--host", "127.0.0.1", "--port", str(port)]
    return serve([*args, "--log-level", "warning"], port, {}, tmp / "floor.log")


def serve(args: list[str], port: int, env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Start ``python args`` and wait until it answers /api/health."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, *args],
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                return proc, url, log
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"the server did not answer within 60 s:\n{log.read_text()}")
        time.sleep(0.2)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each phase")
    ap.add_argument("--rate", type=float, default=300.0, help="single-observation posts per second")
    ap.add_argument("--batch", type=int, default=100, help="observations per post in the batch phase")
    ap.add_argument("--batch-rate", type=float, default=20.0, help="batch posts per second")
    ap.add_argument("--only", choices=["single", "batch"], help="run one phase only (to profile it)")
    ap.add_argument(
        "--peer",
        action="store_true",
        help="first drive the floor (bench/api_floor.py: the same FastAPI and uvicorn, no database) the same way",
    )
    args = ap.parse_args()

    doc = generate_site()
    cameras = [c["id"] for c in doc["cameras"]]
    episodes = Episodes(cameras, evidence_jpeg())
    data_root = REPO_ROOT / "var"
    data_root.mkdir(exist_ok=True)
    results: dict[str, bool] = {}
    with tempfile.TemporaryDirectory(dir=data_root) as tmp_dir, pg_schema(args.pg_url) as (engine, schema):
        tmp = Path(tmp_dir)
        worker, operator = prepare(engine, doc, tmp)
        print(f"site: {len(cameras)} cameras; PostgreSQL schema {schema}; {CONNECTIONS} keep-alive connections")
        if args.peer:
            floor, floor_url, _ = start_floor(tmp)
            try:
                if args.only != "batch":
                    singles = [json.dumps(episodes.next()).encode() for _ in range(int(args.rate * args.seconds))]
                    phase = Phase("floor: bare FastAPI + uvicorn, single posts, no database")
                    asyncio.run(drive(phase, floor_url, worker, operator, singles, 1, args.rate, floor.pid))
                    report(phase, TARGET["single_rate"], 1)
                if args.only != "single":
                    batches = batch_bodies(episodes, args.batch, int(args.batch_rate * args.seconds))
                    phase = Phase(f"floor: bare FastAPI + uvicorn, posts of {args.batch}, no database")
                    rate = args.batch_rate
                    floor_run = drive(phase, floor_url, worker, operator, batches, args.batch, rate, floor.pid)
                    asyncio.run(floor_run)
                    report(phase, TARGET["batch_obs_rate"], args.batch)
            finally:
                stop(floor)
            episodes = Episodes(cameras, evidence_jpeg())
        proc, url, log = start_server(args.pg_url, schema, tmp)
        try:
            # Every camera opens an episode at once (a snapshot each, an auto-case each): the burst
            # that precedes the steady phases, reported on its own.
            opening = [json.dumps(episodes.next()).encode() for _ in cameras]
            phase = Phase(f"opening wave: every camera opens an episode, {args.rate:.0f} posts/s offered")
            asyncio.run(drive(phase, url, worker, operator, opening, 1, args.rate, proc.pid))
            report(phase, TARGET["single_rate"], 1, judged=False)
            if args.only != "batch":
                singles = [json.dumps(episodes.next()).encode() for _ in range(int(args.rate * args.seconds))]
                phase = Phase("single")
                asyncio.run(drive(phase, url, worker, operator, singles, 1, args.rate, proc.pid))
                results["single"] = report(phase, TARGET["single_rate"], 1)
            if args.only != "single":
                batches = batch_bodies(episodes, args.batch, int(args.batch_rate * args.seconds))
                phase = Phase("batch")
                asyncio.run(drive(phase, url, worker, operator, batches, args.batch, args.batch_rate, proc.pid))
                results["batch"] = report(phase, TARGET["batch_obs_rate"], args.batch)
        finally:
            stop(proc)
        errors = [line for line in log.read_text().splitlines() if "ERROR" in line or "Traceback" in line]
        if errors:
            print(f"\nserver log: {len(errors)} error line(s), first: {errors[0]}")
    print("\n" + json.dumps({f"{k}_within_target": v for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A remote worker's delivery path, measured: spool → `POST /api/worker/observations` → stored, on PostgreSQL.

A real `gridwatch run --no-detect` serves the full-size site (1,751 cameras). This process is one worker box:
observations of --cameras cameras (each camera's episodes opened with a snapshot, updated, closed after 20
steps, as `bench/api_load.py` makes them) are written to an on-disk spool at --rate per second, and the
worker's `SpoolSender` delivers them. Three phases:

    steady:   --seconds of delivery; latency from the spool write to the API's stored answer (p50 / p95)
    outage:   the API killed (SIGKILL) for --outage-s (default 600 s: ten minutes); the spool grows
    replay:   the API started again on the same port; how fast the backlog drains (observations/s) while
              new observations keep coming, and the latency once it has

Side by side, the floor: the same observations posted one request each straight from memory (no spool),
the latency a worker without a spool would see. Also printed: bytes per observation and the spool size that
holds 10 minutes at this rate (against the 1 GiB default).

    .venv/bin/python bench/worker.py [--pg-url URL] [--cameras 150] [--rate 50] [--seconds 30] [--outage-s 600]
"""

# ruff: noqa: E402 - the path fix below must run before the project's imports

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import signal
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from bench.api_load import Episodes, prepare, start_server, stop
from bench.events import evidence_jpeg, pct, pg_schema
from camera_config.generate import generate_site
from events.schema import parse_observation
from gridwatch.remote import ApiClient, SpoolSender
from gridwatch.settings import REPO_ROOT
from gridwatch.spool import DEFAULT_MAX_BYTES, Spool

TARGET_P95_S = 1.0
"""Delivery well inside the events' own latency target, with room for a replay."""


class Producer:
    """Writes the cameras' observations to the spool at a fixed rate from its own thread."""

    def __init__(self, spool: Spool, episodes: Episodes, rate: float, wake: Callable[[], None]) -> None:
        self._spool, self._episodes, self._rate, self._wake = spool, episodes, rate, wake
        self._stop = threading.Event()
        self.written = 0
        self.bytes_before = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Producer:
        self._thread.start()
        return self

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.is_set():
            due = start + self.written / self._rate
            wait = due - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                return
            self._spool.put(parse_observation(self._episodes.next()))
            self.written += 1
            self._wake()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def latencies_since(sender: SpoolSender, mark: int) -> list[float]:
    """The sender's latencies recorded after the first ``mark`` deliveries (of its last 1,000)."""
    done = sender.figures().delivered
    return sender.latencies()[-(done - mark) :] if done > mark else []


def floor(url: str, token: str, episodes: Episodes, rate: float, seconds: float) -> list[float]:
    """One observation per request, straight from memory, at the same rate: no spool."""
    out: list[float] = []
    with ApiClient(url, token) as client:
        start = time.monotonic()
        for i in range(int(rate * seconds)):
            due = start + i / rate
            if (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
            t0 = time.monotonic()
            [result] = client.deliver([json.dumps(episodes.next()).encode()])
            if result["status"] == 200:
                out.append(time.monotonic() - t0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--cameras", type=int, default=150, help="cameras on this worker box")
    ap.add_argument("--rate", type=float, default=50.0, help="observations per second the box makes")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of the steady phase")
    ap.add_argument("--outage-s", type=float, default=600.0, help="how long the API is down")
    args = ap.parse_args()

    doc = generate_site()
    ids = [c["id"] for c in doc["cameras"]]
    cameras = ids[: args.cameras]
    floor_cameras = ids[args.cameras : 2 * args.cameras] or cameras  # episodes of their own: no duplicates
    data_root = REPO_ROOT / "var"
    data_root.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data_root) as tmp_dir, pg_schema(args.pg_url) as (engine, schema):
        tmp = Path(tmp_dir)
        token, _ = prepare(engine, doc, tmp)
        server, url, _log = start_server(args.pg_url, schema, tmp)
        port = urlsplit(url).port
        print(
            f"site: {len(doc['cameras'])} cameras on PostgreSQL (schema {schema}); this worker: {len(cameras)} "
            f"cameras, {args.rate:g} observations/s (1 in 20 opens an episode with a snapshot)"
        )
        try:
            floor_lat = floor(url, token, Episodes(floor_cameras, evidence_jpeg()), args.rate, min(args.seconds, 20.0))
            spool = Spool(tmp / "spool.db")
            client = ApiClient(url, token)
            sender = SpoolSender(spool, client, retry_first_s=0.5).start()
            producer = Producer(spool, Episodes(cameras, evidence_jpeg()), args.rate, sender.notify).start()

            time.sleep(args.seconds)
            steady = latencies_since(sender, 0)

            server.send_signal(signal.SIGKILL)
            server.wait(10)
            down_at = time.monotonic()
            print(f"outage: the API killed for {args.outage_s:g} s", flush=True)
            next_line = time.monotonic() + 60
            while time.monotonic() - down_at < args.outage_s:
                time.sleep(1)
                if time.monotonic() >= next_line:
                    next_line += 60
                    f = spool.figures()
                    print(f"  {time.monotonic() - down_at:4.0f} s: spool {f.depth} waiting, {f.bytes / 2**20:.1f} MiB")
            backlog = spool.figures()
            size_per_obs = backlog.bytes / max(1, backlog.depth)
            server, url, _log = start_server(args.pg_url, schema, tmp, port)
            up_at = time.monotonic()
            delivered_at_up = sender.figures().delivered
            while sender.figures().delivered == delivered_at_up:  # the sender's next try (backoff ≤ 10 s)
                time.sleep(0.05)
                if time.monotonic() - up_at > 120:
                    raise SystemExit(f"nothing delivered 120 s after the API came back: {sender.figures()}")
            first_s = time.monotonic() - up_at
            started_at, delivered_at_start = time.monotonic(), sender.figures().delivered
            while spool.figures().depth > args.rate:  # caught up: less than a second's worth waiting
                time.sleep(0.2)
                if time.monotonic() - up_at > 600:
                    print("replay did not catch up within 600 s")
                    break
            replay_s = time.monotonic() - started_at
            replayed = sender.figures().delivered - delivered_at_start
            mark = sender.figures().delivered
            time.sleep(min(args.seconds, 20.0))
            after = latencies_since(sender, mark)
            producer.stop()
            left = sender.stop(drain_s=30)
            written = producer.written
            total = sender.figures()
            client.close()
            spool.close()
        finally:
            stop(server)

    ten_min_mib = args.rate * 600 * size_per_obs / 2**20
    print("                                    measured          floor (no spool)   target")
    print(
        f"  steady latency p50 / p95 s        {statistics.median(steady):7.3f} / {pct(steady, 0.95):.3f}"
        f"     {statistics.median(floor_lat):.3f} / {pct(floor_lat, 0.95):.3f}       p95 ≤ {TARGET_P95_S:g}"
    )
    print(
        f"  outage {args.outage_s:g} s: spooled   {backlog.depth} observations, {backlog.bytes / 2**20:.1f} MiB "
        f"({size_per_obs / 1024:.1f} KiB each on average), {backlog.dropped} dropped"
    )
    print(
        f"  replay                            first delivery {first_s:.1f} s after the API was back, then {replayed} "
        f"in {replay_s:.1f} s = {replayed / replay_s:.0f}/s (new ones kept coming at {args.rate:g}/s)"
    )
    if after:
        print(f"  latency after catching up p95 s   {pct(after, 0.95):.3f}")
    print(
        f"  written {written}, delivered {total.delivered} ({total.duplicates} duplicates), refused {total.refused}, "
        f"left {left}; nothing lost: {written == total.delivered + total.refused + left}"
    )
    print(
        f"  spool for 10 minutes at {args.rate:g}/s: {ten_min_mib:.0f} MiB (default {DEFAULT_MAX_BYTES // 2**20} MiB: "
        f"{DEFAULT_MAX_BYTES / 2**20 / ten_min_mib * 10:.0f} minutes)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

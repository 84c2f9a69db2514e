"""The remote worker's loop — cameras from the API, the live pipeline, observations through the on-disk spool —
as one object, so that `gridwatch worker` (a process with stop signals) and a cluster shard (a Ray actor with a
stop method) run the same code."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from camera_config.wire import Shard
from core.errors import GridwatchError
from core.retry import Backoff
from detectors.types import Observation
from gridwatch.monitor import MonitorOptions, SiteMonitor
from gridwatch.remote import ApiClient, RemoteGateways, RemoteSite, SpoolSender
from gridwatch.settings import Settings
from gridwatch.spool import Spool

log = logging.getLogger(__name__)

REPORT_EVERY_S = 5.0
"""How often the worker tells the API how it is (`GET /api/workers`)."""


class Stopping(Protocol):
    """When to stop: `threading.Event` or the worker command's stop signals."""

    def wait(self, timeout: float, /) -> bool: ...

    def is_set(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    api: str
    token: str
    name: str
    """How the API lists this worker."""
    ids: Sequence[str] | None = None
    """The cameras to run; None: the shard's, or every camera of the worker account's grids."""
    shard: Shard | None = None
    spool_path: Path | None = None
    """Default: spool.db in the data dir."""
    spool_mb: int = 1024
    drain_s: float = 5.0
    status_every_s: float = 60.0

    def describe(self) -> str:
        if self.ids:
            return ", ".join(self.ids)
        return f"shard {self.shard}" if self.shard else "all of its grids"


@dataclass(frozen=True, slots=True)
class WorkerHealth:
    """What the loop is doing, readable from another thread (a cluster shard's health call)."""

    cameras: int
    camera_ids: tuple[str, ...]
    online: int
    """Cameras whose stream delivers frames."""
    spool_depth: int
    delivered: int
    delivery_state: str
    first_online_s: float | None
    """Seconds from the loop's start until every camera was online (None: not yet, or no cameras)."""


class WorkerLoop:
    """Runs until ``stopping`` is set; everything it started is stopped before `run` returns."""

    def __init__(
        self,
        spec: WorkerSpec,
        settings: Settings,
        *,
        say: Callable[[str], None] = log.info,
        warn: Callable[[str], None] = log.warning,
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.say = say
        self.warn = warn
        self.client = ApiClient(spec.api, spec.token)
        self.spool = Spool(spec.spool_path or settings.data_dir / "spool.db", max_bytes=spec.spool_mb * 2**20)
        self.sender: SpoolSender | None = None
        self.monitor: SiteMonitor | None = None
        self._started = time.monotonic()
        self._all_online_s: float | None = None
        self._lock = threading.Lock()
        self._closed = False

    def health(self) -> WorkerHealth:
        with self._lock:
            monitor, sender = self.monitor, self.sender
        states = monitor.worker.health() if monitor is not None and monitor.worker is not None else []
        online = sum(h.state.value == "online" for h in states)
        if states and online == len(states) and self._all_online_s is None:
            self._all_online_s = round(time.monotonic() - self._started, 3)
        ids = tuple(sorted(monitor.camera_ids)) if monitor is not None else ()
        depth = 0 if self._closed else self.spool.figures().depth
        f = sender.figures() if sender is not None else None
        return WorkerHealth(
            cameras=len(states),
            camera_ids=ids,
            online=online,
            spool_depth=depth,
            delivered=f.delivered if f else 0,
            delivery_state=f.state if f else "not started",
            first_online_s=self._all_online_s,
        )

    def _report(self, cameras: list[str]) -> None:
        assert self.sender is not None
        s, f = self.spool.figures(), self.sender.figures()
        doc = {
            "name": self.spec.name[:100],
            "cameras": cameras,
            "spool_depth": s.depth,
            "spool_bytes": s.bytes,
            "spool_dropped": s.dropped,
            "delivered": f.delivered,
            "refused": f.refused,
            "delivery_state": f.state[:500],
            "latency_p95_s": f.latency_p95_s,
            "shard": str(self.spec.shard) if self.spec.shard is not None else None,
        }
        with contextlib.suppress(GridwatchError):  # the API is away: the sender says so already
            self.client.heartbeat(doc)

    def _status(self, cameras: int) -> None:
        assert self.sender is not None
        s, f = self.spool.figures(), self.sender.figures()
        p95 = f"{f.latency_p95_s:.2f} s" if f.latency_p95_s is not None else "-"
        self.say(
            f"worker: {cameras} camera(s); spool {s.depth} waiting, {s.dropped} dropped; {f.delivered} delivered "
            f"({f.duplicates} duplicates, p95 {p95}), {f.refused} refused; delivery {f.state}"
        )

    def run(self, stopping: Stopping) -> int:
        spec, spool = self.spec, self.spool
        left = spool.figures()
        self.say(
            f"worker: spool {spool.path} ({left.depth} observation(s) waiting, size {spec.spool_mb} MiB); "
            f"API {self.client.url}; cameras: {spec.describe()}"
        )
        with self._lock:  # what a previous run left goes first, whatever the cameras do
            self.sender = SpoolSender(spool, self.client).start()
        sender = self.sender
        site = RemoteSite(self.client, ids=spec.ids, shard=spec.shard)
        backoff = Backoff(base_s=1.0, cap_s=30.0)
        while not site.loaded and not stopping.is_set():
            try:
                site.refresh()
            except GridwatchError as exc:
                self.warn(f"worker: waiting for the API: {exc}")
                stopping.wait(backoff.next_delay_s())
        try:
            if stopping.is_set():
                return 0
            self.say(
                f"worker: {len(site.cameras())} camera(s) from the API ({len(site.cameras(enabled_only=True))} enabled)"
            )

            def keep(obs: Observation) -> None:
                spool.put(obs)
                sender.notify()

            monitor = SiteMonitor(
                site,
                self.settings,
                store=keep,
                options=MonitorOptions(demo_server=False),
                progress=self.say,
                gateways=RemoteGateways(self.client, site),  # cameras behind GB/T 28181 gateways, through the API
            )
            with self._lock:
                self.monitor = monitor
            monitor.start()
            next_status = time.monotonic() + spec.status_every_s
            next_report = time.monotonic()
            while not stopping.wait(min(0.2 if self._all_online_s is None else 1.0, spec.status_every_s)):
                if self._all_online_s is None:
                    self.health()  # notes when every camera first delivers frames
                now = time.monotonic()
                if now >= next_status:
                    next_status += spec.status_every_s
                    self._status(len(monitor.camera_ids))
                if now >= next_report:
                    next_report = now + REPORT_EVERY_S
                    self._report(monitor.camera_ids)
            return 0
        finally:
            with self._lock:
                monitor_, self.monitor = self.monitor, None
            if monitor_ is not None:
                self.say("worker: stopping detection and camera streams")
                monitor_.stop()
            waiting = sender.stop(drain_s=spec.drain_s)
            if waiting:
                self.say(f"worker: {waiting} observation(s) stay in the spool {spool.path}; sent at the next start")
            self._status(0)
            with self._lock:
                self._closed = True
                spool.close()
            self.client.close()

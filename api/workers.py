"""Remote workers' health as they report it: what each runs, how full its spool is, how late its deliveries.

Kept in memory: a worker reports every few seconds, so after an API restart the list is whole again within
one report. A worker not heard from for `STALE_S` is shown as stale (down, or cut off from the API).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import Field, field_validator

from camera_config.wire import MAX_SHARDS, Shard
from core.clock import Clock
from core.errors import InvalidInput
from core.text import CheckedModel

STALE_S = 30.0
LOST_S = 60.0
"""A cluster shard silent this long is lost: its cameras go to the other shards (each camera to its next shard by
rendezvous hash) until it reports again. Well above Ray's restart of a shard and its re-placement after a
node's loss (seconds), so that only a shard Ray cannot place again gives its cameras away."""
MAX_WORKERS = 10_000


class WorkerReport(CheckedModel):
    """What a worker says about itself (``POST /api/worker/heartbeat``)."""

    name: str = Field(min_length=1, max_length=100, description="The worker's name: host and shard, e.g. box-3 2/8.")
    cameras: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=5000, description="Cameras it pulls now."
    )
    spool_depth: int = Field(0, ge=0, le=2**53, description="Observations waiting in its spool.")
    spool_bytes: int = Field(0, ge=0, le=2**53)
    spool_dropped: int = Field(0, ge=0, le=2**53, description="Updates dropped because the spool was full.")
    delivered: int = Field(0, ge=0, le=2**53)
    refused: int = Field(0, ge=0, le=2**53)
    delivery_state: str = Field("idle", max_length=500, description="ok, idle, or what is wrong right now.")
    latency_p95_s: float | None = Field(None, ge=0, le=1e9, description="Spool to stored, last 1,000.")
    shard: str | None = Field(
        None,
        max_length=11,
        description=f"The shard it runs, K/N (1 ≤ K ≤ N ≤ {MAX_SHARDS}); none for a worker given its cameras.",
        examples=["2/8"],
    )

    @field_validator("shard")
    @classmethod
    def _shard(cls, value: str | None) -> str | None:
        """Kept as ``K/N`` without spaces, so that reports of one shard compare equal."""
        if value is None:
            return None
        try:
            return str(Shard.parse(value))
        except InvalidInput as exc:
            raise ValueError("; ".join(issue.message for issue in exc.issues)) from None

    @property
    def part(self) -> Shard | None:
        """The shard as a value (validated on the way in)."""
        return None if self.shard is None else Shard.parse(self.shard)


@dataclass(frozen=True, slots=True)
class WorkerHealth:
    username: str
    report: WorkerReport
    last_seen: datetime


class WorkerRegistry:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._workers: dict[tuple[str, str], WorkerHealth] = {}

    def report(self, username: str, report: WorkerReport) -> WorkerHealth:
        health = WorkerHealth(username, report, self._clock.now())
        with self._lock:
            if len(self._workers) >= MAX_WORKERS and (username, report.name) not in self._workers:
                oldest = min(self._workers, key=lambda k: self._workers[k].last_seen)
                del self._workers[oldest]  # bounded: names that changed long ago make room
            self._workers[(username, report.name)] = health
        return health

    def all(self) -> list[WorkerHealth]:
        with self._lock:
            return sorted(self._workers.values(), key=lambda w: (w.username, w.report.name))

    def stale(self, health: WorkerHealth) -> bool:
        return (self._clock.now() - health.last_seen).total_seconds() > STALE_S

    def gauges(self, read: str) -> Mapping[str, float]:
        """One figure per worker (``user/name``), for Prometheus."""
        now = self._clock.now()
        out: dict[str, float] = {}
        for w in self.all():
            key = f"{w.username}/{w.report.name}"
            if read == "age":
                out[key] = (now - w.last_seen).total_seconds()
            elif read == "cameras":
                out[key] = float(len(w.report.cameras))
            else:
                out[key] = float(getattr(w.report, read))
        return out

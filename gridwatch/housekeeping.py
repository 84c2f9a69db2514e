"""Periodic work beside the service: retention of evidence and case files (every ``retention.run_every_min``),
the disk watchdog (every ``disk.check_every_s``) and any other `Job` the shell adds (the GB/T 28181 gateway sync,
every ``gateway_sync_s``), on one thread of its own. Each runs once at start, then at its own interval.

Other stores with a keeping period join as pruners (`events.retention.Pruner`), e.g. the access audit:
``Housekeeping(service, pruners=[Pruner("access audit", policy.retention.audit_days, audit_log.prune)])``.
Nothing that fails in one pass stops the thread; it is logged and the next pass runs as planned.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from events.retention import Pruner, Retention
from gridwatch.wiring import Service

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Job:
    """Work done every ``every_s`` seconds (named in the log when it fails)."""

    name: str
    every_s: float
    work: Callable[[], object]


class Housekeeping:
    def __init__(self, service: Service, *, pruners: Iterable[Pruner] = (), jobs: Iterable[Job] = ()) -> None:
        self.retention = Retention(service.events, pruners=pruners)
        policy = service.events.policy
        self.retention_every_s = policy.retention.run_every_min * 60.0
        self.disk_every_s = float(policy.disk.check_every_s)
        self.jobs = [
            Job("disk watchdog", self.disk_every_s, self.retention.check_disk),
            Job("retention", self.retention_every_s, self.retention.run),
            *jobs,
        ]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Housekeeping:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="housekeeping", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Stop after the pass under way (a pass is bounded by the batch size); True when it ended in time."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        thread.join(timeout_s)
        return not thread.is_alive()

    def _run(self) -> None:
        due = [time.monotonic()] * len(self.jobs)  # every job once at start
        while not self._stop.is_set():
            for i, job in enumerate(self.jobs):
                if time.monotonic() >= due[i] and not self._stop.is_set():
                    self._guarded(job.name, job.work)
                    due[i] = time.monotonic() + job.every_s
            self._stop.wait(max(0.0, min(due) - time.monotonic()))

    @staticmethod
    def _guarded(name: str, work: Callable[[], object]) -> None:
        try:
            work()
        except Exception:
            log.exception("%s failed; it runs again at its next time", name)

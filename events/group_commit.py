"""Group commit for alert ingestion: many callers, one writer, one transaction per batch.

Under load, one transaction (and one disk flush) per observation is what limits the rate. The
batcher's writer thread takes everything queued while the previous batch was being written and
applies it with `EventsService.apply_observations`, so batches grow with the load and a lone observation
waits for nobody (unless ``linger_s`` asks it to). Each caller still gets its own result or error.

A caller's observations submitted together (`submit_group`) go into one transaction, in their order,
so that steps of one episode are never split across writers.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future, InvalidStateError

from core.errors import GridwatchError, Unavailable
from detectors.types import Observation
from events.service import EventsService
from events.types import ObservationResult

log = logging.getLogger(__name__)

Outcome = ObservationResult | GridwatchError
"""One observation's answer: its result, or the error that refused it alone."""

_Group = tuple[list[Observation], "Future[list[Outcome]]"]


class GroupCommit:
    def __init__(
        self, service: EventsService, *, max_batch: int = 256, writers: int = 1, linger_s: float = 0.0
    ) -> None:
        """``writers`` > 1 runs that many transactions at once. One is the default on either database:
        measured under load on PostgreSQL, one writer taking everything queued beat three (fewer,
        larger transactions; the process's Python work is the limit, not the database's waits).
        ``linger_s`` waits that long after the first observation for more to join its batch: a few
        milliseconds of latency for far fewer transactions under a steady stream."""
        self._service = service
        self._max_batch = max_batch
        self._writers = writers
        self._linger_s = linger_s
        self._queue: queue.SimpleQueue[_Group | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._count_lock = threading.Lock()
        self.batches = 0
        self.observations = 0

    def start(self) -> None:
        if not self._threads:
            self._threads = [
                threading.Thread(target=self._run, name=f"ingest-writer-{i}", daemon=True) for i in range(self._writers)
            ]
            for t in self._threads:
                t.start()

    def close(self, timeout_s: float = 30.0) -> None:
        """Apply what is queued, then stop."""
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(timeout_s)
        self._threads = []

    def submit(self, obs: Observation, *, timeout_s: float = 30.0) -> ObservationResult:
        """Ingest ``obs`` with whatever else is queued; raises its error like `EventsService.apply_observation`."""
        return self.submit_async(obs).result(timeout_s)

    def submit_async(self, obs: Observation) -> Future[ObservationResult]:
        """A future of ``obs``'s result that raises its error."""
        single: Future[ObservationResult] = Future()

        def unpack(group: Future[list[Outcome]]) -> None:
            if group.cancelled():
                single.cancel()
                return
            exc = group.exception()
            outcome = exc if exc is not None else group.result()[0]
            if isinstance(outcome, BaseException):
                single.set_exception(outcome)
            else:
                single.set_result(outcome)

        self.submit_group([obs]).add_done_callback(unpack)
        return single

    def submit_group(self, observations: list[Observation]) -> Future[list[Outcome]]:
        """All of ``observations`` in one transaction, in this order; one future for the group (one per
        observation cost more than the observation's own work in a batch): each outcome in its place,
        or an exception when the whole transaction failed and nothing was stored."""
        if not self._threads:
            raise Unavailable("the ingest batcher is not running")
        group: _Group = (list(observations), Future())
        if observations:
            self._queue.put(group)
        else:
            group[1].set_result([])
        return group[1]

    @property
    def running(self) -> bool:
        return bool(self._threads)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            size = len(first[0])
            until = time.monotonic() + self._linger_s
            while size < self._max_batch:
                try:
                    wait_s = until - time.monotonic()
                    group = self._queue.get(timeout=wait_s) if wait_s > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if group is None:  # one stop signal per writer: this one is ours
                    stopping = True
                    break
                batch.append(group)
                size += len(group[0])
            self._apply(batch, size)

    def _apply(self, batch: list[_Group], size: int) -> None:
        try:
            results = self._service.apply_observations([obs for observations, _ in batch for obs in observations])
        except Exception as exc:  # the whole transaction failed: every caller hears of it
            log.exception("ingest batch of %d failed", size)
            for _, fut in batch:
                _settle(fut, exc)
            return
        with self._count_lock:
            self.batches += 1
            self.observations += size
        at = 0
        for observations, fut in batch:
            _settle(fut, results[at : at + len(observations)])
            at += len(observations)


def _settle(fut: Future[list[Outcome]], outcome: list[Outcome] | BaseException) -> None:
    """Answer a caller, unless it gave up waiting (its request was cancelled, which cancels its future): what
    was applied stays applied, and the writer thread must not die of a future nobody reads."""
    try:
        if isinstance(outcome, BaseException):
            fut.set_exception(outcome)
        else:
            fut.set_result(outcome)
    except InvalidStateError:
        log.debug("an ingest caller gave up before its batch was written")

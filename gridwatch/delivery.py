"""Observations from the live pipeline to the events service, retried while the database is briefly away.

A refused observation (unknown or disabled camera, stale update, ...) is logged and dropped; a transient
failure (database locked or gone, evidence directory not writable) is retried with `core.retry.Backoff`
until it is stored, the time allowed runs out, or the pipeline stops. Nothing here raises.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError

from core.errors import GridwatchError, Unavailable
from core.retry import Backoff
from detectors.types import Observation

log = logging.getLogger(__name__)

StoreObservation = Callable[[Observation], object]
"""Stores one observation (the events service's ``apply_observation``); raises GridwatchError when it refuses it."""

TRANSIENT: tuple[type[BaseException], ...] = (DBAPIError, Unavailable, OSError)
"""Failures worth retrying: the database or the evidence directory is briefly not there."""


@dataclass(frozen=True, slots=True)
class Deliveries:
    """Observations handed to events since start, by outcome."""

    stored: int = 0
    refused: int = 0
    """Events refused them (unknown or disabled camera, stale update, ...): logged and dropped."""
    dropped: int = 0
    """Not stored after retrying for ``retry_for_s`` (or when stopping)."""
    retries: int = 0


class ObservationDelivery:
    """Stores observations one at a time with ``store``, retrying transient failures; counts the outcomes.

    ``retry_first_s``: first wait, doubled each time up to ``retry_max_s`` (each jittered down by up to half);
    an observation still not stored after ``retry_for_s`` is dropped. Once ``stopping`` is set, an observation
    that fails is dropped instead of retried, and a wait in progress ends.
    """

    def __init__(
        self,
        store: StoreObservation,
        *,
        retry_first_s: float,
        retry_max_s: float,
        retry_for_s: float,
        stopping: threading.Event | None = None,
    ) -> None:
        self._store = store
        self._retry_first_s = retry_first_s
        self._retry_max_s = retry_max_s
        self._retry_for_s = retry_for_s
        self._stopping = stopping or threading.Event()
        self._lock = threading.Lock()
        self._deliveries = Deliveries()

    def deliver(self, obs: Observation) -> bool:
        """Store one observation: refused ones are logged and dropped, transient failures retried with
        backoff (until ``retry_for_s``, or until stopping). True when stored. Never raises."""
        backoff = Backoff(base_s=self._retry_first_s, cap_s=self._retry_max_s)
        give_up_at = time.monotonic() + self._retry_for_s
        what = f"{obs.hazard.value} {obs.state.value} on {obs.camera_id} (episode {obs.episode_id}, seq {obs.seq})"
        while True:
            try:
                self._store(obs)
            except Unavailable as exc:
                error: BaseException = exc
            except GridwatchError as exc:
                log.warning("observation %s refused: %s", what, exc)
                self._count(refused=1)
                return False
            except TRANSIENT as exc:
                error = exc
            except Exception:
                log.exception("observation %s dropped", what)
                return self._drop()
            else:
                self._count(stored=1)
                return True
            delay = backoff.next_delay_s()
            if self._stopping.is_set() or time.monotonic() + delay > give_up_at:
                log.error("observation %s dropped after retrying: %s", what, error)
                return self._drop()
            log.warning("observation %s not stored yet (%s); retrying in %.1f s", what, error, delay)
            self._count(retries=1)
            if self._stopping.wait(delay):
                log.error("observation %s dropped: stopping", what)
                return self._drop()

    def deliver_all(self, observations: Sequence[Observation]) -> None:
        for obs in observations:
            self.deliver(obs)

    @property
    def deliveries(self) -> Deliveries:
        with self._lock:
            return self._deliveries

    def _drop(self) -> bool:
        self._count(dropped=1)
        return False

    def _count(self, *, stored: int = 0, refused: int = 0, dropped: int = 0, retries: int = 0) -> None:
        with self._lock:
            d = self._deliveries
            self._deliveries = Deliveries(
                d.stored + stored, d.refused + refused, d.dropped + dropped, d.retries + retries
            )

"""Sending the queued deliveries: one thread per active channel, never in a request's path.

Each thread takes its channel's due deliveries in order, hands them to the channel's `Sender` and
records what came of each (`Notifications.record`): sent, retried later on the channel's schedule,
or dead. Everything it needs is in the database, so a restart resumes where the last run stopped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from events.notify.config import Channel, ChannelKind
from events.notify.store import Job, Notifications, Outcome

log = logging.getLogger(__name__)


class Sender(Protocol):
    """Delivers one channel's jobs; one outcome per job, in order. Never raises for a receiver's
    failure: that is an `Outcome` (an exception counts as a failed attempt of every job given)."""

    def send(self, jobs: Sequence[Job]) -> list[Outcome]: ...

    def close(self) -> None: ...


SenderFactory = Callable[[Channel], Sender]


class _ChannelWorker:
    def __init__(self, channel: Channel, sender: Sender, store: Notifications, batch: int, idle_s: float) -> None:
        self.channel = channel
        self._sender = sender
        self._store = store
        self._batch = batch
        self._idle_s = idle_s
        self.wake = threading.Event()
        self._stop = threading.Event()
        self.sent = 0
        self.failed = 0
        self._thread = threading.Thread(target=self._loop, name=f"notify-{channel.id}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        try:
            self._run()
        finally:
            try:
                self._sender.close()
            except Exception:
                log.exception("notification channel %s: closing its sender failed", self.channel.id)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                jobs = self._store.due(self.channel.id, self._batch)
                if jobs:
                    self._deliver(jobs)
                    continue
                wait = self._idle_s
                due: datetime | None = self._store.next_due_at(self.channel.id)
                if due is not None:
                    wait = max(0.0, min(wait, (due - self._store.now()).total_seconds()))
            except Exception:
                log.exception("notification channel %s: dispatch failed; retrying", self.channel.id)
                wait = self._idle_s
            self.wake.wait(wait)
            self.wake.clear()

    def _deliver(self, jobs: Sequence[Job]) -> None:
        try:
            outcomes = self._sender.send(jobs)
            if len(outcomes) != len(jobs):
                raise RuntimeError(f"the sender gave {len(outcomes)} outcomes for {len(jobs)} jobs")
        except Exception as exc:
            log.exception("notification channel %s: the sender failed", self.channel.id)
            outcomes = [Outcome(False, error=f"{type(exc).__name__}: {exc}")] * len(jobs)
        self.sent += sum(o.ok for o in outcomes)
        self.failed += sum(not o.ok for o in outcomes)
        self._store.record(self.channel, list(zip(jobs, outcomes, strict=True)))

    def stop(self, timeout_s: float) -> None:
        """Stop after the batch in hand (the worker itself may ask, when its channel was disabled)."""
        self._stop.set()
        self.wake.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)


class Dispatcher:
    """Keeps one worker per active channel, in step with the channels as they change."""

    def __init__(
        self,
        store: Notifications,
        senders: Mapping[ChannelKind, SenderFactory],
        *,
        batch: int = 100,
        idle_s: float = 1.0,
        kinds: Collection[ChannelKind] | None = None,
    ) -> None:
        """``kinds``: the channel kinds this dispatcher sends (None: every kind it has a sender for); another
        process may send the rest."""
        self._store = store
        self._senders = {k: f for k, f in senders.items() if kinds is None or k in kinds}
        self._batch = batch
        self._idle_s = idle_s
        self._workers: dict[str, _ChannelWorker] = {}
        self._lock = threading.Lock()
        self.errors: dict[str, str] = {}
        """Channels whose sender could not be made, and why (shown with the channel)."""
        self._ticker: threading.Thread | None = None
        self._stopped = threading.Event()
        """Set until `start` and again from `close`: the one flag of whether the dispatcher runs."""
        self._stopped.set()

    def start(self) -> None:
        """Start the channels' workers, and a ticker that follows channel changes made by other processes."""
        self._stopped.clear()
        self._store.on_change(self.wake)
        self.sync()

        def tick() -> None:
            # an Event, not a sleep: close() ends the ticker at once and joins it, so that no look at the
            # channels runs after the caller has closed the database under it
            while not self._stopped.wait(self._idle_s):
                try:
                    self.sync()
                except Exception:
                    log.exception("notification dispatcher: following the channels failed")

        self._ticker = threading.Thread(target=tick, name="notify-channels", daemon=True)
        self._ticker.start()

    def wake(self) -> None:
        if self._stopped.is_set():
            return
        self.sync()
        with self._lock:
            for w in self._workers.values():
                w.wake.set()

    def sync(self) -> None:
        """Start workers for new or changed channels and stop those of removed or inactive ones."""
        if self._stopped.is_set():  # not started, or closed: the database may be gone
            return
        wanted = {c.id: c for c in self._store.channels() if c.active and c.kind in self._senders}
        stale: list[_ChannelWorker] = []
        with self._lock:
            if self._stopped.is_set():  # closed while the channels were read
                return
            for cid, worker in list(self._workers.items()):
                if wanted.get(cid) != worker.channel:
                    stale.append(self._workers.pop(cid))
            for cid, channel in wanted.items():
                if cid in self._workers:
                    continue
                try:
                    sender = self._senders[channel.kind](channel)
                except Exception as exc:
                    self.errors[cid] = f"{type(exc).__name__}: {exc}"
                    log.exception("notification channel %s: cannot make its sender", cid)
                    continue
                self.errors.pop(cid, None)
                self._workers[cid] = _ChannelWorker(channel, sender, self._store, self._batch, self._idle_s)
        for worker in stale:
            worker.stop(5.0)

    def stats(self) -> dict[str, tuple[int, int]]:
        """Per running channel: (sent, failed attempts) since start."""
        with self._lock:
            return {cid: (w.sent, w.failed) for cid, w in self._workers.items()}

    def close(self, timeout_s: float = 5.0) -> None:
        with self._lock:
            self._stopped.set()
            workers = list(self._workers.values())
            self._workers.clear()
        if self._ticker is not None and self._ticker is not threading.current_thread():
            self._ticker.join(timeout_s)
            self._ticker = None
        for w in workers:
            w.stop(timeout_s)

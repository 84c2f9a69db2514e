"""The in-process bus and the outbox table that feeds it.

Every change writes its message into ``outbox`` in the same transaction as the change itself; after
the commit the relay publishes pending rows in id order and marks them. A crash between commit and
publish leaves the rows pending, and `Outbox.relay` on the next start publishes them: nothing is
lost. A crash after publishing but before marking re-publishes on restart, so delivery is
at-least-once and subscribers dedupe on `Delivery.id`.

Messages are typed values (`events.messages`) up to the outbox row, which holds their JSON; the
relay decodes each row back into its typed message for subscribers.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection, bindparam, delete, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock
from core.db import UtcDateTime, transaction
from events.messages import BusMessage, Delivery, decode, encode
from events.orm import OUTBOX, OutboxRow, bulk_insert

log = logging.getLogger(__name__)

Handler = Callable[[Delivery], None]


class Sink(Protocol):
    """Durable consumers of published messages (the notification deliveries): `write` runs in the relay's
    marking transaction, so what it writes exists exactly when the messages count as published."""

    def write(self, conn: Connection, published: Sequence[Delivery]) -> int: ...

    def committed(self) -> None: ...


_MARK_PG = text("UPDATE outbox SET published_at = :at WHERE id = ANY(:ids)").bindparams(
    bindparam("at", type_=UtcDateTime())
)


class Bus:
    """Topic fan-out inside one process. Patterns are shell-style: ``case.*``, ``*``.

    A failing subscriber is logged and counted, never allowed to stop the others or the relay.
    """

    def __init__(self) -> None:
        self._subs: list[tuple[str, Handler]] = []
        self._lock = threading.Lock()
        self.failures = 0

    def subscribe(self, pattern: str, handler: Handler) -> Callable[[], None]:
        """Returns the function that unsubscribes."""
        entry = (pattern, handler)
        with self._lock:
            self._subs.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._subs:
                    self._subs.remove(entry)

        return unsubscribe

    def publish(self, delivery: Delivery) -> None:
        with self._lock:
            subs = list(self._subs)
        for pattern, handler in subs:
            if fnmatch.fnmatchcase(delivery.topic, pattern):
                try:
                    handler(delivery)
                except Exception:
                    self.failures += 1
                    log.exception("bus subscriber for %s failed on message %d", pattern, delivery.id)


class Outbox:
    def __init__(self, sessions: sessionmaker[Session], bus: Bus, clock: Clock, *, batch: int = 500) -> None:
        self._sessions = sessions
        self.bus = bus
        self._clock = clock
        self._batch = batch
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.undecodable = 0
        self.sinks: list[Sink] = []

    def start(self, *, poll_s: float = 1.0, gather_s: float = 0.05) -> None:
        """Relay from a background thread: woken by `notify` after each commit, and every ``poll_s``
        (which also picks up what another process or a crashed run left). After a wake it waits
        ``gather_s`` for more commits, so that under load one pass publishes many of them (each pass
        is two statements and two commits)."""
        if self._thread is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                self._wake.wait(poll_s)
                self._stop.wait(gather_s)
                self._wake.clear()
                try:
                    self.relay()
                except Exception:
                    log.exception("outbox relay failed; retrying")
                    self._stop.wait(poll_s)

        self._thread = threading.Thread(target=loop, name="outbox-relay", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        self._wake.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the relay thread after a last pass."""
        if self._thread is None:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout_s)
        self._thread = None
        self.relay()

    def add(self, session: Session, messages: Sequence[BusMessage]) -> None:
        """Queue messages inside the caller's transaction: they exist exactly when the change does.
        The only place a message becomes JSON."""
        if messages:
            now = self._clock.now()
            rows = [
                {"topic": m.topic.value, "payload": encode(m), "created_at": now, "published_at": None}
                for m in messages
            ]
            bulk_insert(session, OUTBOX, rows)

    def relay(self) -> int:
        """Publish every pending message in order and mark it; returns how many were published.

        One relaying process per database: the API is the only writer of cases.
        """
        done = 0
        engine = self._sessions.kw["bind"]
        with self._lock, engine.connect() as conn:
            while True:
                rows = conn.execute(
                    select(OutboxRow.id, OutboxRow.topic, OutboxRow.payload, OutboxRow.created_at)
                    .where(OutboxRow.published_at.is_(None))
                    .order_by(OutboxRow.id)
                    .limit(self._batch)
                ).all()
                conn.commit()  # no snapshot is held while subscribers run
                if not rows:
                    return done
                published: list[Delivery] = []
                for id_, topic, payload, created_at in rows:
                    try:
                        message = decode(topic, payload)
                    except ValueError:
                        # Another version's message (or a bug): it cannot be typed, so it is skipped
                        # rather than holding back every message after it.
                        self.undecodable += 1
                        log.exception("outbox message %d (%s) does not decode; not published", id_, topic)
                        continue
                    delivery = Delivery(id_, message, payload, created_at)
                    self.bus.publish(delivery)
                    published.append(delivery)
                    done += 1
                ids = [r[0] for r in rows]
                if conn.dialect.name == "postgresql":
                    # Losing this mark in a crash only means publishing again (at-least-once), so it
                    # need not wait for the disk; one array parameter keeps the statement text fixed.
                    conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
                    conn.execute(_MARK_PG, {"ids": ids, "at": self._clock.now()})
                else:
                    conn.execute(update(OutboxRow).where(OutboxRow.id.in_(ids)).values(published_at=self._clock.now()))
                queued = sum(sink.write(conn, published) for sink in self.sinks)
                conn.commit()
                if queued:
                    for sink in self.sinks:
                        sink.committed()
                if len(rows) < self._batch:
                    return done

    def pending(self) -> int:
        with self._sessions() as s:
            return s.scalar(select(func.count()).where(OutboxRow.published_at.is_(None))) or 0

    def prune(self, before: datetime) -> int:
        """Forget published messages older than ``before`` (the table would otherwise only grow)."""
        with transaction(self._sessions) as s:
            result = s.execute(
                delete(OutboxRow).where(OutboxRow.published_at.is_not(None), OutboxRow.published_at < before)
            )
            return int(getattr(result, "rowcount", 0) or 0)

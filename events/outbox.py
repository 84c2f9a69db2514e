"""The in-process bus and the outbox table that feeds it.

Every change writes its message into ``outbox`` in the same transaction as the change itself; after
the commit the relay publishes pending rows in id order and marks them. A crash between commit and
publish leaves the rows pending, and `Outbox.relay` on the next start publishes them: nothing is
lost. A crash after publishing but before marking re-publishes on restart, so delivery is
at-least-once and subscribers dedupe on `BusMessage.id`.
"""

from __future__ import annotations

import dataclasses
import enum
import fnmatch
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from camera_config.clock import Clock
from camera_config.db import transaction
from events.orm import OutboxRow
from events.types import BusMessage

log = logging.getLogger(__name__)

Handler = Callable[[BusMessage], None]


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

    def publish(self, message: BusMessage) -> None:
        with self._lock:
            subs = list(self._subs)
        for pattern, handler in subs:
            if fnmatch.fnmatchcase(message.topic, pattern):
                try:
                    handler(message)
                except Exception:
                    self.failures += 1
                    log.exception("bus subscriber for %s failed on message %d", pattern, message.id)


def to_json(value: Any) -> Any:
    """Dataclass values as JSON-ready data: enums by value, datetimes as ISO 8601 with offset."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


class Outbox:
    def __init__(self, sessions: sessionmaker[Session], bus: Bus, clock: Clock, *, batch: int = 500) -> None:
        self._sessions = sessions
        self.bus = bus
        self._clock = clock
        self._batch = batch
        self._lock = threading.Lock()

    def add(self, session: Session, topic: str, payload: Mapping[str, Any]) -> None:
        """Queue a message inside the caller's transaction: it exists exactly when the change does."""
        session.add(OutboxRow(topic=topic, payload=dict(payload), created_at=self._clock.now()))

    def relay(self) -> int:
        """Publish every pending message in order and mark it; returns how many were published.

        One relaying process per database: the API is the only writer of cases.
        """
        done = 0
        with self._lock:
            while True:
                with self._sessions() as s:
                    rows = s.execute(
                        select(OutboxRow.id, OutboxRow.topic, OutboxRow.payload, OutboxRow.created_at)
                        .where(OutboxRow.published_at.is_(None))
                        .order_by(OutboxRow.id)
                        .limit(self._batch)
                    ).all()
                if not rows:
                    return done
                for id_, topic, payload, created_at in rows:
                    self.bus.publish(BusMessage(id_, topic, payload, created_at))
                with transaction(self._sessions) as s:
                    s.execute(
                        update(OutboxRow)
                        .where(OutboxRow.id.in_([r[0] for r in rows]))
                        .values(published_at=self._clock.now())
                    )
                done += len(rows)

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

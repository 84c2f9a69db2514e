"""Server-sent events: one hub, each subscriber seeing only events of grids in its scope.

Routes publish from worker threads; the hub hands events to the event loop, where each
subscriber has a bounded queue. A subscriber that falls too far behind is dropped (its browser
reconnects with Last-Event-ID and gets what it missed from the replay buffer), so one slow client
never holds memory or slows the others.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from api.access import GridScope
from core.clock import Clock


@dataclass(frozen=True, slots=True)
class ApiEvent:
    id: int
    kind: str
    """What happened, e.g. ``camera.updated``; browsers listen by this name."""
    grid_id: str | None
    """The grid the event belongs to (decides who sees it); None for site-wide events, seen by site-wide scopes."""
    at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    holder: str | None = None
    """A case event's holder (with its compound): a company's or partner unit's people see cases by it."""
    compound_id: str | None = None

    def visible_to(self, scope: GridScope) -> bool:
        if self.holder is not None and self.grid_id is not None:
            return scope.allows_case(self.grid_id, self.holder, self.compound_id)
        return scope.whole_site if self.grid_id is None else scope.allows(self.grid_id)


class Subscription:
    def __init__(self, scope: GridScope, size: int) -> None:
        self.scope = scope
        self.queue: asyncio.Queue[ApiEvent | None] = asyncio.Queue(size)
        self.dropped = False

    async def next(self) -> ApiEvent | None:
        """The next visible event; None when the hub closed or dropped this subscriber."""
        return await self.queue.get()


class SseHub:
    def __init__(self, clock: Clock, *, queue_size: int = 256, replay: int = 1000) -> None:
        self._clock = clock
        self._queue_size = queue_size
        self._ids = itertools.count(1)
        self._id_lock = threading.Lock()
        self._recent: deque[ApiEvent] = deque(maxlen=replay)
        self._subs: set[Subscription] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def publish(
        self,
        kind: str,
        grid_id: str | None,
        data: Mapping[str, Any],
        *,
        holder: str | None = None,
        compound_id: str | None = None,
    ) -> ApiEvent:
        """Send an event to every subscriber that may see it; safe from any thread."""
        with self._id_lock:
            event = ApiEvent(next(self._ids), kind, grid_id, self._clock.now(), dict(data), holder, compound_id)
        loop = self._loop
        if loop is None or loop.is_closed():
            self._recent.append(event)
            return event
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._deliver(event)
        else:
            loop.call_soon_threadsafe(self._deliver, event)
        return event

    def _deliver(self, event: ApiEvent) -> None:
        self._recent.append(event)
        for sub in list(self._subs):
            if not event.visible_to(sub.scope):
                continue
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                self._drop(sub)

    def _drop(self, sub: Subscription) -> None:
        sub.dropped = True
        self._subs.discard(sub)
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait(None)

    @asynccontextmanager
    async def subscribe(self, scope: GridScope, *, after_id: int | None = None) -> AsyncIterator[Subscription]:
        """Events from now on (and, with ``after_id``, the recent ones after it that are still kept)."""
        sub = Subscription(scope, self._queue_size)
        if self._closed:  # the server is stopping: the stream ends at once
            sub.queue.put_nowait(None)
        elif after_id is not None:
            for event in self._recent:
                if event.id > after_id and event.visible_to(scope) and not sub.queue.full():
                    sub.queue.put_nowait(event)
        if not self._closed:
            self._subs.add(sub)
        try:
            yield sub
        finally:
            self._subs.discard(sub)

    def close(self) -> None:
        """End every subscription (server shutdown), so open streams finish instead of hanging; later ones end
        at once."""
        self._closed = True
        for sub in list(self._subs):
            self._drop(sub)

"""The cameras' own ONVIF events in the live pipeline: one PullPoint subscription per camera that wants them.

`OnvifEventWatch` runs one asyncio loop on a thread of its own. For every enabled camera with ONVIF settings
and ``events`` on, it keeps a `ingest.onvif.PullPointSubscription` (short: 120 s, renewed at half its life; a
failed renew retried, a lost subscription released and made anew) and turns what it pulls into observations
(`detectors.onvif_events.OnvifEventMapper`), delivered like the model's. A camera removed, disabled, or whose
ONVIF settings or credentials changed has its subscription released (Unsubscribe) and its open episodes
closed; `stop` does that for every camera, so no subscription outlives gridwatch on the device.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from camera_config.types import Camera, StreamCredentials
from core.clock import Clock, SystemClock
from detectors.onvif_events import OnvifEventMapper
from detectors.types import Observation
from ingest.onvif import OnvifEvent, PullPointSubscription, SubscriptionTimings

log = logging.getLogger(__name__)

Deliver = Callable[[Observation], object]


@dataclass(frozen=True, slots=True)
class SubscriptionStatus:
    """One camera's subscription, as the watch sees it now."""

    camera_id: str
    active: bool
    subscribed: int
    renewed: int
    renew_failures: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class _Key:
    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)


@dataclass
class _Watch:
    key: _Key
    subscription: PullPointSubscription
    mapper: OnvifEventMapper
    stopping: asyncio.Event
    task: asyncio.Task[None]


class OnvifEventWatch:
    """PullPoint subscriptions of the cameras that want their device's events; `start`, `apply`, `stop`."""

    def __init__(
        self,
        credentials: Callable[[str], StreamCredentials],
        deliver: Deliver,
        *,
        clock: Clock | None = None,
        timings: SubscriptionTimings | None = None,
        stop_timeout_s: float = 10.0,
    ) -> None:
        self._credentials = credentials
        self._deliver = deliver
        self.clock = clock or SystemClock()
        self.timings = timings or SubscriptionTimings()
        self.stop_timeout_s = stop_timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._watches: dict[str, _Watch] = {}
        self._applying: asyncio.Lock | None = None
        """Made on the loop: `_apply` runs there only."""
        self._revisions: dict[str, int] = {}
        """camera id → the revision its subscription was made for (read only by the thread calling `apply`)."""

    # ------------------------------------------------------------------ lifetime (any thread)

    def start(self) -> None:
        if self._loop is not None:
            return
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())  # its delivery threads end with it
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="onvif-events", daemon=True)
        self._thread.start()
        ready.wait(5)

    def apply(self, cameras: Iterable[Camera], timeout_s: float | None = None, *, wait: bool = True) -> None:
        """Subscribe for the cameras that want ONVIF events now; release the others. With ``wait``, blocks until
        applied; without, returns at once (a camera edit must not wait on a slow device's Unsubscribe), and the
        changes are applied on the loop in the order asked."""
        if self._loop is None:
            return
        wanted: dict[str, _Key] = {}
        revisions: dict[str, int] = {}
        for cam in cameras:
            if not cam.enabled or cam.onvif is None or not cam.onvif.events:
                continue
            revisions[cam.id] = cam.revision
            current = self._watches.get(cam.id)
            same_device = current is not None and (current.key.host, current.key.port) == (
                cam.onvif.host,
                cam.onvif.port,
            )
            if current is not None and same_device and self._revisions.get(cam.id) == cam.revision:
                wanted[cam.id] = current.key  # unchanged (a new password bumps the revision): no store read
                continue
            try:
                creds = self._credentials(cam.id)
            except Exception as exc:  # the store may be away for a moment: leave that camera as it is
                log.warning("ONVIF events of camera %s: credentials not read (%s)", cam.id, exc)
                if cam.id in self._watches:
                    wanted[cam.id] = self._watches[cam.id].key
                continue
            wanted[cam.id] = _Key(cam.onvif.host, cam.onvif.port, creds.username, creds.password)
        if wait:
            self._call(self._apply(wanted), timeout_s)
        else:
            future = asyncio.run_coroutine_threadsafe(self._apply(wanted), self._loop)
            future.add_done_callback(_log_failure)
        self._revisions = revisions

    def stop(self, timeout_s: float | None = None) -> bool:
        """Release every subscription (Unsubscribe), close the open episodes, end the thread. True if in time."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return True
        ok = True
        try:
            self._call(self._apply({}), timeout_s)
        except FutureTimeout:
            ok = False
            log.warning("ONVIF events: subscriptions not all released within %s s", timeout_s or self.stop_timeout_s)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        self._loop = self._thread = None
        return ok and not thread.is_alive()

    def status(self) -> list[SubscriptionStatus]:
        return [
            SubscriptionStatus(
                cid,
                w.subscription.active,
                w.subscription.subscribed,
                w.subscription.renewed,
                w.subscription.renew_failures,
                w.subscription.last_error,
            )
            for cid, w in sorted(self._watches.items())
        ]

    def _call(self, coro: Coroutine[Any, Any, None], timeout_s: float | None) -> None:
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        future.result(timeout_s if timeout_s is not None else self.stop_timeout_s + 5)

    # ------------------------------------------------------------------ on the loop

    async def _apply(self, wanted: dict[str, _Key]) -> None:
        if self._applying is None:
            self._applying = asyncio.Lock()
        async with self._applying:  # one change at a time, in the order asked
            ending = [cid for cid, w in self._watches.items() if wanted.get(cid) != w.key]
            await asyncio.gather(*(self._end(cid, "ONVIF events no longer watched") for cid in ending))
            for cid, key in wanted.items():
                if cid not in self._watches:
                    self._begin(cid, key)

    def _begin(self, camera_id: str, key: _Key) -> None:
        subscription = PullPointSubscription(
            key.host, key.port, key.username, key.password, clock=self.clock, timings=self.timings, name=camera_id
        )
        mapper = OnvifEventMapper(camera_id)
        stopping = asyncio.Event()

        async def handle(events: list[OnvifEvent]) -> None:
            found = [o for o in (mapper.observe(e) for e in events) if o is not None]
            if found:
                await asyncio.get_running_loop().run_in_executor(None, self._deliver_all, found)

        task = asyncio.get_running_loop().create_task(subscription.run(handle, stopping), name=f"onvif-{camera_id}")
        self._watches[camera_id] = _Watch(key, subscription, mapper, stopping, task)
        log.info("ONVIF events of camera %s: watching %s:%d", camera_id, key.host, key.port)

    async def _end(self, camera_id: str, reason: str) -> None:
        watch = self._watches.pop(camera_id)
        watch.stopping.set()
        watch.task.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(watch.task), self.stop_timeout_s)
        except asyncio.CancelledError:
            pass
        except TimeoutError:
            log.warning("ONVIF events of camera %s: not released within %g s", camera_id, self.stop_timeout_s)
        except Exception:
            log.exception("ONVIF events of camera %s: failed while stopping", camera_id)
        closing = watch.mapper.close_all(self.clock.now(), reason)
        if closing:
            await asyncio.get_running_loop().run_in_executor(None, self._deliver_all, closing)

    def _deliver_all(self, observations: list[Observation]) -> None:
        for obs in observations:
            self._deliver(obs)


def _log_failure(future: Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("ONVIF events: a camera change was not applied", exc_info=future.exception())

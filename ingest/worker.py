"""The ingest worker: many cameras in one process, each on its own bounded reader thread.

The detector side takes the newest gated frame of each camera (`take_ready` for one loop over many
cameras); a slow detector never backs up decoding, it only makes frames count as dropped.
`apply` brings the running set in line with the site model, touching only cameras that changed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import TypeVar

import cv2

from camera_config.types import Camera, StreamCredentials
from core.clock import Clock, SystemClock
from core.errors import GridwatchError, InvalidInput, NotFound
from ingest.reader import CameraRunner, IngestOptions
from ingest.sources import Source, StreamError, resolve_source
from ingest.types import CameraHealth, CameraStats, Frame, Offer, OfflineReason

CredentialsLookup = Callable[[str], StreamCredentials]
"""camera id → its stream credentials (the site store's ``credentials``)."""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What `IngestWorker.apply` did, by camera id."""

    started: tuple[str, ...] = ()
    restarted: tuple[str, ...] = ()
    """The stream changed (URL or credentials): reconnected."""
    reconfigured: tuple[str, ...] = ()
    """Only settings or zones changed: applied to the running reader, no reconnect."""
    stopped: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()

    def summary(self) -> str:
        """What changed, for a log line: ``started CAM-01; stopped CAM-07`` (``no camera`` when nothing did)."""
        changed = (
            ("started", self.started),
            ("restarted", self.restarted),
            ("reconfigured", self.reconfigured),
            ("stopped", self.stopped),
        )
        return "; ".join(f"{k} {', '.join(ids)}" for k, ids in changed if ids) or "no camera"


class IngestWorker:
    """Runs the detect stream of every camera it is given; thread-safe."""

    def __init__(
        self,
        credentials: CredentialsLookup | None = None,
        *,
        allow_files: bool = False,
        clock: Clock | None = None,
        options: IngestOptions | None = None,
        gateways: Callable[[Source], Source] | None = None,
    ) -> None:
        """``gateways``: opens cameras behind GB/T 28181 gateways (`ingest.gateways.GatewayClients.resolve`); without
        it such a camera is offline, unsupported source."""
        # One thread per camera already; OpenCV's own pool on 160 px gate pictures only burns CPU spinning
        # (ultralytics sets the same when it is imported).
        cv2.setNumThreads(0)
        self._credentials = credentials
        self.allow_files = allow_files
        self.clock = clock or SystemClock()
        self.options = options or IngestOptions()
        self._gateways = gateways
        self._runners: dict[str, CameraRunner] = {}
        self._retired: list[CameraRunner] = []
        self._lock = threading.RLock()
        self._ready = threading.Condition()
        self._closed = False

    # ------------------------------------------------------------------ configuration

    def apply(self, cameras: Iterable[Camera]) -> ApplyResult:
        """Run exactly these cameras (disabled ones are dropped); untouched cameras keep streaming."""
        wanted = {c.id: c for c in cameras if c.enabled}
        started: list[str] = []
        restarted: list[str] = []
        reconfigured: list[str] = []
        stopped: list[str] = []
        unchanged: list[str] = []
        with self._lock:
            if self._closed:
                raise GridwatchError("the ingest worker is closed")
            for cid in [c for c in self._runners if c not in wanted]:
                self._retire(self._runners.pop(cid))
                stopped.append(cid)
            for cid, camera in wanted.items():
                runner = self._runners.get(cid)
                if runner is not None and runner.camera == camera:
                    unchanged.append(cid)
                    continue
                source, error = self._source(camera)
                if runner is None:
                    started.append(cid)
                elif source is not None and runner.source is not None and runner.source.identity == source.identity:
                    runner.reconfigure(camera)
                    reconfigured.append(cid)
                    continue
                else:
                    self._retire(runner)
                    restarted.append(cid)
                new = CameraRunner(
                    camera,
                    source,
                    options=self.options,
                    clock=self.clock,
                    on_offer=self._notify,
                    error=error,
                    resolve=self._gateways,
                )
                self._runners[cid] = new
                new.start()
        return ApplyResult(tuple(started), tuple(restarted), tuple(reconfigured), tuple(stopped), tuple(unchanged))

    def add(self, camera: Camera) -> ApplyResult:
        with self._lock:
            current = [r.camera for r in self._runners.values() if r.camera.id != camera.id]
            return self.apply([*current, camera])

    def remove(self, camera_id: str) -> ApplyResult:
        with self._lock:
            return self.apply([r.camera for r in self._runners.values() if r.camera.id != camera_id])

    def _source(self, camera: Camera) -> tuple[Source | None, StreamError | None]:
        """Resolve the detect URL with its credentials; a refusal becomes the camera's offline reason."""
        url = camera.detect_url
        credentials: StreamCredentials | None = None
        if self._credentials is not None and (camera.username or camera.has_password):
            try:
                credentials = self._credentials(camera.id)
            except Exception as exc:  # a store that is down must not stop the other cameras
                detail = str(exc) if isinstance(exc, GridwatchError) else type(exc).__name__
                return None, StreamError(
                    OfflineReason.ERROR, f'camera "{camera.id}": credentials unavailable: {detail}'
                )
        try:
            return resolve_source(url, allow_files=self.allow_files, credentials=credentials), None
        except InvalidInput as exc:
            return None, StreamError(OfflineReason.UNSUPPORTED_SOURCE, f'camera "{camera.id}": {exc}')

    def _retire(self, runner: CameraRunner) -> None:
        runner.stop()
        self._retired = [r for r in self._retired if r.alive]
        self._retired.append(runner)

    @property
    def camera_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._runners)

    def camera(self, camera_id: str) -> Camera:
        return self._runner(camera_id).camera

    # ------------------------------------------------------------------ frames for the detector

    def latest(self, camera_id: str) -> Frame | None:
        """The newest frame offered to the detector (motion or keep-alive), taken or not."""
        pending = self._runner(camera_id).peek()
        return pending.frame() if pending is not None else None

    def take(self, camera_id: str) -> Frame | None:
        """The newest offered frame if the detector has not had it yet."""
        pending = self._runner(camera_id).take()
        return pending.frame() if pending is not None else None

    def take_ready(self, timeout_s: float = 1.0, camera_ids: Iterable[str] | None = None) -> list[Frame]:
        """The newest untaken frame of every camera that has one; waits up to ``timeout_s`` for the first.

        One detector loop serves many cameras with this: whatever arrived while it was busy is in the
        next batch, one frame per camera, older ones counted as dropped.
        """
        wanted = set(camera_ids) if camera_ids is not None else None
        pending = self._wait_for(timeout_s, lambda runners: [p for r in runners if (p := r.take()) is not None], wanted)
        return [p.frame() for p in pending]

    def offers(self, timeout_s: float = 1.0) -> list[Offer]:
        """What `take_ready` would hand over, without taking it (nor converting it): the scheduler's view.
        Waits up to ``timeout_s`` for the first."""
        return self._wait_for(timeout_s, lambda runners: [o for r in runners if (o := r.offer()) is not None])

    def _wait_for(
        self, timeout_s: float, collect: Callable[[list[CameraRunner]], list[T]], wanted: set[str] | None = None
    ) -> list[T]:
        deadline = time.monotonic() + timeout_s
        with self._ready:
            while True:
                with self._lock:
                    runners = [r for cid, r in self._runners.items() if wanted is None or cid in wanted]
                found = collect(runners)
                remaining = deadline - time.monotonic()
                if found or self._closed or remaining <= 0:
                    return found
                self._ready.wait(remaining)

    def _notify(self) -> None:
        with self._ready:
            self._ready.notify_all()

    # ------------------------------------------------------------------ health and stats

    def health(self, camera_id: str | None = None) -> list[CameraHealth]:
        if camera_id is not None:
            return [self._runner(camera_id).health()]
        with self._lock:
            runners = sorted(self._runners.items())
        return [r.health() for _, r in runners]

    def stats(self, camera_id: str | None = None) -> list[CameraStats]:
        if camera_id is not None:
            return [self._runner(camera_id).stats()]
        with self._lock:
            runners = sorted(self._runners.items())
        return [r.stats() for _, r in runners]

    def _runner(self, camera_id: str) -> CameraRunner:
        with self._lock:
            runner = self._runners.get(camera_id)
        if runner is None:
            raise NotFound(f'camera "{camera_id}" is not run by this ingest worker')
        return runner

    # ------------------------------------------------------------------ lifetime

    def close(self, timeout_s: float | None = None) -> bool:
        """Stop every camera and wait for the threads (bounded by the read timeout); True if all ended."""
        with self._lock:
            self._closed = True
            runners = [*self._runners.values(), *self._retired]
            self._runners.clear()
            self._retired.clear()
        for r in runners:
            r.stop()
        self._notify()
        limit = timeout_s if timeout_s is not None else self.options.read_timeout_s + self.options.open_timeout_s + 1
        deadline = time.monotonic() + limit
        return all(r.join(max(0.0, deadline - time.monotonic())) for r in runners)

    def __enter__(self) -> IngestWorker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

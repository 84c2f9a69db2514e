"""The live pipeline of the embedded service: the site's cameras → ingest → detectors → events, in this process.

`SiteMonitor` is what `gridwatch run` starts next to the API. Ingest pulls the detect stream of every enabled
camera (one reader thread each, newest frame kept); one inference thread takes those frames in batches and
runs the hazard rules; a control thread turns camera health into CAMERA_OFFLINE episodes every few seconds
and applies edits of the site (a camera added, changed, disabled) to all three without a restart.
Observations go to the events service; a refused one is logged and dropped, a database hiccup is retried
with backoff, and nothing that goes wrong with one observation or camera stops the threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import DBAPIError

from camera_config.types import Camera
from core.clock import Clock, SystemClock
from core.errors import GridwatchError, NotFound, Unavailable
from core.retry import Backoff
from detectors.model.config import ModelConfig
from detectors.model.detector import Detector
from detectors.offline import OfflineRule
from detectors.pipeline import DetectorPipeline, InferenceLoop, PipelineConfig
from detectors.types import CameraFigures, Observation
from detectors.zones import check_zones
from gridwatch.settings import Settings
from gridwatch.wiring import Service
from ingest.demo_server import DEMO_PORT, DemoSources, start_demo_sources
from ingest.reader import IngestOptions
from ingest.types import CameraHealth, CameraStats, Frame, HealthState
from ingest.worker import IngestWorker

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
"""Receives one line per start-up step (the model's first export can take a while)."""

StoreObservation = Callable[[Observation], object]
"""Stores one observation (the events service's ``apply_observation``); raises GridwatchError when it refuses it."""

TRANSIENT: tuple[type[BaseException], ...] = (DBAPIError, Unavailable, OSError)
"""Failures worth retrying: the database or the evidence directory is briefly not there."""


@dataclass(frozen=True, slots=True)
class MonitorOptions:
    """Timings and components of the live pipeline; the defaults suit `gridwatch run`."""

    health_every_s: float = 2.0
    """Camera health is fed to the offline rule this often."""
    reload_every_s: float = 2.0
    """The site's camera revisions are polled this often; changed cameras are applied live."""
    idle_timeout_s: float = 0.5
    """The inference thread waits at most this long for frames (bounds how quickly it stops)."""
    retry_first_s: float = 0.5
    """First wait before storing an observation again after a database hiccup; doubles each time (jittered
    down by up to half) ..."""
    retry_max_s: float = 10.0
    """... up to this."""
    retry_for_s: float = 120.0
    """An observation still not stored after this long is dropped (and logged)."""
    stop_timeout_s: float = 20.0
    """`stop` waits at most about this long for all threads and processes."""
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    model: ModelConfig | None = None
    """None: the default person model, exports cached in the data dir's ``models``."""
    ingest: IngestOptions = field(default_factory=IngestOptions)
    demo_port: int = DEMO_PORT
    """Demo mode: where the demo cameras' RTSP server listens (or is started)."""


@dataclass(frozen=True, slots=True)
class Deliveries:
    """Observations handed to events since start, by outcome."""

    stored: int = 0
    refused: int = 0
    """Events refused them (unknown or disabled camera, stale update, ...): logged and dropped."""
    dropped: int = 0
    """Not stored after retrying for ``retry_for_s`` (or when stopping)."""
    retries: int = 0


class SiteMonitor:
    """Ingest, detection and offline watch for the site's enabled cameras; `start` once, `stop` once."""

    def __init__(
        self,
        service: Service,
        settings: Settings | None = None,
        clock: Clock | None = None,
        *,
        options: MonitorOptions | None = None,
        detector: Detector | None = None,
        progress: Progress | None = None,
        store: StoreObservation | None = None,
    ) -> None:
        """``detector``: an already loaded model to use instead of loading one (it must not be used by another
        thread meanwhile); ``store``: where observations go, default the service's events."""
        self.service = service
        self.settings = settings or service.settings
        self.clock = clock or SystemClock()
        self.options = options or MonitorOptions()
        self._detector = detector
        self._progress = progress or (lambda line: log.info("%s", line))
        self._store: StoreObservation = store or service.events.apply_observation
        self.demo: DemoSources | None = None
        self.worker: IngestWorker | None = None
        self.pipeline: DetectorPipeline | None = None
        self.loop: InferenceLoop | None = None
        self.offline = OfflineRule()
        self._revisions: dict[str, int] = {}
        self._detecting: set[str] = set()
        self._stopping = threading.Event()
        self._control: threading.Thread | None = None
        self._state_lock = threading.Lock()
        self._deliveries = Deliveries()
        self._started = False

    # ------------------------------------------------------------------ lifetime

    def start(self) -> None:
        """Start demo sources (demo mode), ingest, the model, the inference and control threads.

        Raises GridwatchError (and leaves nothing running) when a part cannot start, e.g. no model.
        """
        if self._started:
            raise GridwatchError("the live pipeline was already started")
        self._started = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        say = self._progress
        if self.settings.demo:
            say("demo cameras: starting the RTSP server (the first start encodes the footage, about a minute)")
            self.demo = start_demo_sources(port=self.options.demo_port, footage_dir=self.settings.footage_dir)
            say(self.demo.message)
        self.worker = IngestWorker(
            self.service.site.credentials, allow_files=self.settings.demo, clock=self.clock, options=self.options.ingest
        )
        self._revisions = self.service.site.revisions()
        cameras = self._wanted()
        self.worker.apply(cameras)
        say(f"ingest: pulling {len(cameras)} camera(s)")
        detector = self._detector or self._load_model()
        say(f"model: ready on {detector.backend.value}")
        self.pipeline = DetectorPipeline(
            detector, self._detectable(cameras), config=self.options.pipeline, clock=self.clock
        )
        self.loop = InferenceLoop(
            self.pipeline, self.worker.take_ready, self.deliver, idle_timeout_s=self.options.idle_timeout_s
        ).start()
        self._deliver_all(self.offline.apply_cameras(cameras, self.clock.now()))
        self._control = threading.Thread(target=self._run_control, name="live-control", daemon=True)
        self._control.start()
        say(
            f"detection: running on {len(self._detecting)} camera(s); camera health checked every "
            f"{self.options.health_every_s:g} s"
        )

    def _load_model(self) -> Detector:
        config = self.options.model or ModelConfig(
            cache_dir=self.settings.data_dir / "models", calibration=self.settings.model_calibration
        )
        self._progress("model: loading (the first start exports it to a faster format; that takes a little while)")
        try:
            return Detector(config, progress=lambda step: self._progress(f"model: {step}"))
        except GridwatchError:
            raise
        except Exception as exc:  # a broken weights file or runtime: say which, do not crash the service
            raise Unavailable(
                f"the detection model {config.resolved_weights()} cannot be loaded: {type(exc).__name__}: {exc}"
            ) from exc

    def stop(self) -> bool:
        """Stop everything in order, each bounded in time: control and inference threads; then the episodes
        still open are closed ("gridwatch stopped"); then ingest and the demo server.

        True when every thread and process ended within the time allowed. Idempotent.
        """
        deadline = time.monotonic() + self.options.stop_timeout_s
        self._stopping.set()
        ended = True
        if self._control is not None:
            self._control.join(max(0.0, deadline - time.monotonic()))
            ended &= not self._control.is_alive()
        if self.loop is not None:
            ended &= self.loop.stop(max(0.0, deadline - time.monotonic()))
        if ended and self._started:
            self._close_episodes()
        if self.worker is not None:
            ended &= self.worker.close(max(0.5, deadline - time.monotonic()))
        if self.demo is not None:
            self.demo.close()
            self.demo = None
        if not ended:
            log.warning("live pipeline: some threads did not end within %.0f s", self.options.stop_timeout_s)
        return ended

    def _close_episodes(self) -> None:
        """Close what the rules have open, so no alert stays open under an episode nobody will continue
        (a restart starts new episodes). One attempt each: stopping does not wait for a database."""
        closing = self.pipeline.close_episodes("gridwatch stopped") if self.pipeline is not None else []
        closing += self.offline.apply_cameras([], self.clock.now())
        if closing:
            log.info("closing %d open episode(s) before stopping", len(closing))
        self._deliver_all(closing)

    @property
    def running(self) -> bool:
        return self._started and not self._stopping.is_set()

    # ------------------------------------------------------------------ cameras

    def _wanted(self) -> list[Camera]:
        """The enabled cameras as ingest should read them (demo mounts may be mapped to files)."""
        cameras = self.service.site.cameras(enabled_only=True)
        return self.demo.cameras(cameras) if self.demo is not None else cameras

    def _detectable(self, cameras: Iterable[Camera]) -> list[Camera]:
        """The cameras whose zones the detector can use; the others are still ingested and watched."""
        ok: list[Camera] = []
        for cam in cameras:
            try:
                check_zones(cam.id, cam.zones)
            except GridwatchError as exc:
                log.error("camera %s is not analysed until its zones are fixed: %s", cam.id, exc)
                continue
            ok.append(cam)
        self._detecting = {c.id for c in ok}
        return ok

    def reload(self) -> bool:
        """Apply the site's changed cameras to ingest, the detector and the offline rule; True if any changed."""
        latest = self.service.site.revisions()
        if latest == self._revisions or self.worker is None or self.loop is None:
            return False
        cameras = self._wanted()
        result = self.worker.apply(cameras)
        self.loop.apply_cameras(self._detectable(cameras))
        self._deliver_all(self.offline.apply_cameras(cameras, self.clock.now()))
        self._revisions = latest  # only now: a change that failed half-way is applied again at the next poll
        log.info("site changed: %s", result.summary())
        return True

    def check_health(self) -> list[Observation]:
        """Feed every camera's health to the offline rule and deliver what it says."""
        if self.worker is None:
            return []
        found = self.offline.step(self.worker.health(), self.clock.monotonic(), self.clock.now())
        self._deliver_all(found)
        return found

    def _run_control(self) -> None:
        opts = self.options
        now = time.monotonic()
        next_health, next_reload = now + opts.health_every_s, now + opts.reload_every_s
        while not self._stopping.wait(max(0.0, min(next_health, next_reload) - time.monotonic())):
            now = time.monotonic()
            if now >= next_reload:
                next_reload = now + opts.reload_every_s
                try:
                    self.reload()
                except Exception:  # the database may be away for a moment: try again next time
                    log.exception("site changes not applied")
            if now >= next_health:
                next_health = now + opts.health_every_s
                try:
                    self.check_health()
                except Exception:
                    log.exception("camera health not checked")

    # ------------------------------------------------------------------ observations → events

    def deliver(self, obs: Observation) -> bool:
        """Store one observation: refused ones are logged and dropped, transient failures retried with
        backoff (until ``retry_for_s``, or until stopping). True when stored. Never raises."""
        backoff = Backoff(base_s=self.options.retry_first_s, cap_s=self.options.retry_max_s)
        give_up_at = time.monotonic() + self.options.retry_for_s
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
                self._count(dropped=1)
                return False
            else:
                self._count(stored=1)
                return True
            delay = backoff.next_delay_s()
            if self._stopping.is_set() or time.monotonic() + delay > give_up_at:
                log.error("observation %s dropped after retrying: %s", what, error)
                self._count(dropped=1)
                return False
            log.warning("observation %s not stored yet (%s); retrying in %.1f s", what, error, delay)
            self._count(retries=1)
            if self._stopping.wait(delay):
                log.error("observation %s dropped: stopping", what)
                self._count(dropped=1)
                return False

    def _deliver_all(self, observations: Sequence[Observation]) -> None:
        for obs in observations:
            self.deliver(obs)

    def _count(self, *, stored: int = 0, refused: int = 0, dropped: int = 0, retries: int = 0) -> None:
        with self._state_lock:
            d = self._deliveries
            self._deliveries = Deliveries(
                d.stored + stored, d.refused + refused, d.dropped + dropped, d.retries + retries
            )

    @property
    def deliveries(self) -> Deliveries:
        with self._state_lock:
            return self._deliveries

    # ------------------------------------------------------------------ health and stats

    @property
    def camera_ids(self) -> list[str]:
        """Cameras being pulled now."""
        return self.worker.camera_ids if self.worker is not None and self.running else []

    def health(self, camera_id: str) -> CameraHealth | None:
        """The camera's latest health from ingest; None when it is not being pulled (the API's HealthSource)."""
        if self.worker is None or not self.running:
            return None
        try:
            return self.worker.health(camera_id)[0]
        except NotFound:
            return None

    def stats(self) -> list[CameraFigures]:
        """Every pulled camera's health, ingest rates and detector counters, by camera id."""
        if self.worker is None or not self.running:
            return []
        health = {h.camera_id: h for h in self.worker.health()}
        return [self._figures(s, health[s.camera_id]) for s in self.worker.stats() if s.camera_id in health]

    def camera_stats(self, camera_id: str) -> CameraFigures | None:
        """One camera's figures; None when it is not being pulled (the API's StatsSource, via the runner)."""
        if self.worker is None or not self.running:
            return None
        try:
            return self._figures(self.worker.stats(camera_id)[0], self.worker.health(camera_id)[0])
        except NotFound:
            return None

    def latest(self, camera_id: str) -> Frame | None:
        """The camera's newest frame offered to the detector; None when it is not pulled or has none yet
        (the API's FrameSource: snapshots)."""
        if self.worker is None or not self.running:
            return None
        try:
            return self.worker.latest(camera_id)
        except NotFound:
            return None

    def _figures(self, s: CameraStats, h: CameraHealth) -> CameraFigures:
        analysed, people, detecting, inference_ms = 0, 0, False, None
        if self.pipeline is not None:
            try:
                c = self.pipeline.counters(s.camera_id)
                analysed, people, detecting = c.analysed, c.last_people, True
                inference_ms = round(self.pipeline.last_inference_ms, 1) or None  # 0 before the first batch
            except KeyError:
                pass
        return CameraFigures(s.camera_id, h, s, detecting, analysed, people, inference_ms)

    def collector(self) -> Collector:
        """Prometheus figures of the live pipeline, read at scrape time (register on the API's registry)."""
        return _LiveCollector(self)


class _LiveCollector(Collector):
    def __init__(self, live: SiteMonitor) -> None:
        self._live = live

    def collect(self) -> Iterable[Metric]:
        stats = self._live.stats()
        online = GaugeMetricFamily(
            "gridwatch_camera_online",
            "1 while ingest receives the camera's stream (online or degraded).",
            labels=["camera"],
        )
        input_fps = GaugeMetricFamily(
            "gridwatch_camera_input_fps", "Frames arriving from the camera.", labels=["camera"]
        )
        analysed_fps = GaugeMetricFamily(
            "gridwatch_camera_decoded_fps", "Frames decoded and checked for motion.", labels=["camera"]
        )
        dropped = CounterMetricFamily(
            "gridwatch_camera_dropped_frames",
            "Frames replaced by newer ones before the detector took them.",
            labels=["camera"],
        )
        detected = CounterMetricFamily(
            "gridwatch_camera_detected_frames", "Frames the detector analysed.", labels=["camera"]
        )
        people = GaugeMetricFamily("gridwatch_camera_people", "People in the last analysed frame.", labels=["camera"])
        for s in stats:
            up = s.health.state in (HealthState.ONLINE, HealthState.DEGRADED)
            online.add_metric([s.camera_id], 1.0 if up else 0.0)
            input_fps.add_metric([s.camera_id], s.ingest.input_fps)
            analysed_fps.add_metric([s.camera_id], s.ingest.analysed_fps)
            dropped.add_metric([s.camera_id], float(s.ingest.dropped))
            detected.add_metric([s.camera_id], float(s.detected_frames))
            people.add_metric([s.camera_id], float(s.people))
        yield from (online, input_fps, analysed_fps, dropped, detected, people)
        d = self._live.deliveries
        observations = CounterMetricFamily(
            "gridwatch_observations", "Hazard observations handed to events, by outcome.", labels=["outcome"]
        )
        for outcome, value in (("stored", d.stored), ("refused", d.refused), ("dropped", d.dropped)):
            observations.add_metric([outcome], float(value))
        yield observations
        loop = self._live.loop
        batches = CounterMetricFamily("gridwatch_detector_batches", "Batches the inference thread analysed.")
        batches.add_metric([], float(loop.batches if loop is not None else 0))
        yield batches
        if self._live.pipeline is not None:
            latency = GaugeMetricFamily("gridwatch_detector_inference_ms", "Model time of the last batch.")
            latency.add_metric([], self._live.pipeline.last_inference_ms)
            yield latency

    def describe(self) -> Iterable[Metric]:
        return []

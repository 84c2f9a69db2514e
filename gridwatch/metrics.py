"""Prometheus figures of the live pipeline, read at scrape time: per camera, observations by outcome, and the
detector's batches and latency."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeAlias

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from detectors.pipeline import DetectorPipeline, InferenceLoop
from detectors.schedule import Scheduler
from detectors.types import CameraFigures
from gridwatch.delivery import Deliveries
from ingest.types import HealthState

CameraMetric: TypeAlias = tuple[
    type[GaugeMetricFamily | CounterMetricFamily], str, str, Callable[[CameraFigures], float]
]
"""A figure per camera (label ``camera``): family, name, description, how to read it from the camera's figures."""

PER_CAMERA: tuple[CameraMetric, ...] = (
    (
        GaugeMetricFamily,
        "gridwatch_camera_online",
        "1 while ingest receives the camera's stream (online or degraded).",
        lambda s: 1.0 if s.health.state in (HealthState.ONLINE, HealthState.DEGRADED) else 0.0,
    ),
    (GaugeMetricFamily, "gridwatch_camera_input_fps", "Frames arriving from the camera.", lambda s: s.ingest.input_fps),
    (
        GaugeMetricFamily,
        "gridwatch_camera_decoded_fps",
        "Frames decoded and checked for motion.",
        lambda s: s.ingest.analysed_fps,
    ),
    (
        CounterMetricFamily,
        "gridwatch_camera_dropped_frames",
        "Frames replaced by newer ones before the detector took them.",
        lambda s: float(s.ingest.dropped),
    ),
    (
        CounterMetricFamily,
        "gridwatch_camera_detected_frames",
        "Frames the detector analysed.",
        lambda s: float(s.detected_frames),
    ),
    (GaugeMetricFamily, "gridwatch_camera_people", "People in the last analysed frame.", lambda s: float(s.people)),
    (
        CounterMetricFamily,
        "gridwatch_camera_deferred_frames",
        "Frames the analysis scheduler passed over for more urgent cameras.",
        lambda s: float(s.deferred),
    ),
    (
        CounterMetricFamily,
        "gridwatch_camera_starved",
        "Analyses that came later than the guaranteed minimum cadence.",
        lambda s: float(s.starved),
    ),
    (
        CounterMetricFamily,
        "gridwatch_camera_skipped_quiet_keyframes",
        "Keyframes of a still camera left undecoded (its packets showed no change).",
        lambda s: float(s.ingest.skipped_quiet),
    ),
)
"""In the order they are exported."""


class LiveFigures(Protocol):
    """What the collector reads from the live pipeline (`gridwatch.monitor.SiteMonitor`)."""

    def stats(self) -> list[CameraFigures]: ...

    @property
    def deliveries(self) -> Deliveries: ...

    @property
    def loop(self) -> InferenceLoop | None: ...

    @property
    def pipeline(self) -> DetectorPipeline | None: ...

    @property
    def scheduler(self) -> Scheduler: ...


class LiveCollector(Collector):
    """Register on the API's registry; every scrape reads the pipeline's current figures."""

    def __init__(self, live: LiveFigures) -> None:
        self._live = live

    def collect(self) -> Iterable[Metric]:
        stats = self._live.stats()
        families = [(kind(name, doc, labels=["camera"]), read) for kind, name, doc, read in PER_CAMERA]
        for s in stats:
            for family, read in families:
                family.add_metric([s.camera_id], read(s))
        yield from (family for family, _ in families)
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
            stages = CounterMetricFamily(
                "gridwatch_detector_cpu_seconds", "CPU of the inference thread by stage.", labels=["stage"]
            )
            for stage, seconds in self._live.pipeline.stage_cpu_s.items():
                stages.add_metric([stage], seconds)
            yield stages
        budget = self._live.scheduler.budget()
        share = GaugeMetricFamily(
            "gridwatch_detector_budget", "Model seconds per second the scheduler may spend (share of a core)."
        )
        share.add_metric([], budget.budget)
        yield share
        spent = CounterMetricFamily("gridwatch_detector_busy_seconds", "Model seconds the scheduler has spent.")
        spent.add_metric([], budget.spent_s)
        yield spent

    def describe(self) -> Iterable[Metric]:
        return []

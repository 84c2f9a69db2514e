"""The detector stage: the latest frames of many cameras → one batched inference → tracks → hazard rules.

`DetectorPipeline` is single-threaded and synchronous (easy to test and to evaluate clips with);
`InferenceLoop` runs it on its own thread, fed by a frame source such as ingest's `IngestWorker.take_ready`,
which keeps only the newest frame of each camera so a slow detector never backs decoding up. One model
instance per loop: ultralytics models are not thread-safe.
"""

from __future__ import annotations

import enum
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from camera_config.types import Camera, ZonePurpose
from core.clock import Clock, SystemClock
from core.errors import GridwatchError
from detectors.context import FrameContext, Rule
from detectors.crowd import CrowdRule
from detectors.episodes import EpisodeWriter, Report
from detectors.fall import FallRule
from detectors.fall_stage import FallCheck, FallStage, FallWatch
from detectors.intrusion import IntrusionRule, LoiterRule
from detectors.labels import FALLEN_PERSON, PERSON_LABELS, family_of
from detectors.model.detector import Detector
from detectors.regions import MotionFinder, Region, plan_regions, regions_area
from detectors.schedule import Scheduler
from detectors.static_people import StillSpots
from detectors.structure import StructureRule
from detectors.tamper import TamperRule, ViewWatch
from detectors.tracking import Tracker
from detectors.types import Box, Detection, EpisodeState, Observation
from detectors.vehicles import EbikeRule, FireLaneRule
from detectors.zones import CameraZones, check_zones
from ingest.meter import WindowRate
from ingest.types import Frame, Image, Offer

log = logging.getLogger(__name__)

MIN_SIDE = 16


class Mode(enum.StrEnum):
    FULL = "full"
    """The whole frame, scaled to the model size."""
    REGIONS = "regions"
    """Model-size crops around motion and tracked objects; the whole frame when they would cover most of it."""
    AUTO = "auto"
    """Regions for frames more than twice the region size (a main stream: crops keep distant people sharp), the
    whole frame otherwise (a sub stream: one pass sees it at half its resolution or better, for less than the
    two or three crops its motion usually needs; as accurate on the labelled frames: `bench/detect.py`)."""


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    mode: Mode = Mode.AUTO
    region_size: int = 320
    frame_size: int | None = None
    """Model input (longest side) for whole frames; None = the model's ``imgsz``."""
    """Side of the model input for region crops (crops are taken at full resolution, this big or bigger)."""
    max_regions: int = 3
    """More regions than this in one frame: analyse the whole frame instead (three 320 crops cost about what a
    640×480 whole frame does, so regions are never the dearer choice)."""
    max_region_share: float = 0.7
    """Regions covering more than this share of the frame: analyse the whole frame instead."""
    track_fps: float = 5.0
    """Analysed frames per second the tracker is tuned for (how long a lost track is kept)."""
    hold_lost_s: float = 0.0
    """A tracked person missed for up to this long still counts, at the tracker's predicted place (0 = off:
    on vtest the tracker's id switches made it count people twice more often than it bridged a miss)."""
    look_whole_every_s: float = 10.0
    """Cameras with a fire-lane zone analyse the whole frame at least this often, moving or not: a parked car
    does not move, so motion alone would never bring it to the model (once found, it is tracked)."""
    still_spots: bool = True
    """Leave out what the model calls a person but stands unmoved where it stood when the camera started (a
    signpost, a statue: `StillSpots`); a person seen walking first always counts."""


@dataclass(slots=True)
class CameraCounters:
    frames: int = 0
    analysed: int = 0
    corrupt: int = 0
    rule_errors: int = 0
    regions: int = 0
    full_frames: int = 0
    last_people: int = 0


def frame_problem(frame: Frame) -> str | None:
    """Why a frame cannot be analysed (None when it can): a decoder may hand over anything."""
    image: object = frame.image
    if not isinstance(image, np.ndarray):
        return f"image is {type(image).__name__}, not an array"
    if image.dtype != np.uint8:
        return f"image dtype {image.dtype}, expected uint8"
    if image.ndim != 3 or image.shape[2] != 3:
        return f"image shape {image.shape}, expected height × width × 3"
    if image.shape[0] < MIN_SIDE or image.shape[1] < MIN_SIDE:
        return f"image {image.shape[1]}×{image.shape[0]} is too small"
    return None


def camera_rules(cam: Camera, model_has_fall_class: bool) -> list[Rule]:
    """The hazard rules of one camera, as its settings and zones ask for them."""
    hz = cam.hazards
    rules: list[Rule] = []
    # One whole-view watch per camera: the tamper rule (first, so the view is judged before the rules
    # that compare with a reference) raises its faults, and those rules hold their fire meanwhile.
    view = ViewWatch(hz.tamper)
    if hz.tamper.enabled:
        rules.append(TamperRule(cam.id, hz.tamper, view))
    for z in cam.zones:
        purpose = z.purpose.value
        if purpose == "crowd" and hz.crowd.enabled:
            rules.append(CrowdRule(cam.id, z, hz.crowd))
        elif purpose == "restricted" and hz.intrusion.enabled:
            rules += [IntrusionRule(cam.id, z, hz.intrusion), LoiterRule(cam.id, z, hz.intrusion)]
        elif purpose == "structure" and hz.structure.enabled:
            rules.append(StructureRule(cam.id, z, hz.structure, view))
        elif purpose == "fire_lane" and hz.fire_lane.enabled:
            rules.append(FireLaneRule(cam.id, z, hz.fire_lane))
        elif purpose == "entrance" and hz.ebike.enabled:
            rules.append(EbikeRule(cam.id, z, hz.ebike))
    if hz.fall.enabled:
        rules.append(FallRule(cam.id, hz.fall, model_has_fall_class=model_has_fall_class))
    return rules


class _Camera:
    def __init__(self, camera: Camera, config: PipelineConfig, model_has_fall_class: bool) -> None:
        check_zones(camera.id, camera.zones)
        self.camera = camera
        self.config = config
        self.zones: CameraZones | None = None
        self.tracker = Tracker(fps=config.track_fps, hold_lost_s=config.hold_lost_s)
        self.still = StillSpots() if config.still_spots else None
        self.fall_watch = FallWatch()
        self.needs_whole_frames = any(z.purpose is ZonePurpose.FIRE_LANE for z in camera.zones)
        self.whole_at_s: float | None = None
        self.motion = MotionFinder()
        self.counters = CameraCounters()
        self.detections: tuple[Detection, ...] = ()
        self.rules = camera_rules(camera, model_has_fall_class)

    def zones_for(self, image: Image) -> CameraZones:
        h, w = image.shape[:2]
        if self.zones is None or (self.zones.width, self.zones.height) != (w, h):
            self.zones = CameraZones(self.camera, w, h)
        return self.zones

    def open_episodes(self) -> Iterator[EpisodeWriter]:
        for rule in self.rules:
            yield from (w for w in rule.episodes() if w.open)


def _suppress(dets: list[Detection], iou: float = 0.5, inside: float = 0.7) -> list[Detection]:
    """Merge what overlapping crops found twice: drop a box that overlaps, or mostly lies inside, a surer one
    of its family."""
    kept: list[Detection] = []
    for d in sorted(dets, key=lambda d: d.confidence, reverse=True):
        a = d.box
        area = max((a.x2 - a.x1) * (a.y2 - a.y1), 1e-6)
        dup = False
        for k in kept:
            if family_of(k.label) != family_of(d.label):
                continue  # a rider and their bicycle are two things
            b = k.box
            ix = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
            iy = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
            inter = ix * iy
            union = area + (b.x2 - b.x1) * (b.y2 - b.y1) - inter
            if inter / union > iou or inter / area > inside:
                dup = True
                break
        if not dup:
            kept.append(d)
    return kept


def _shift(det: Detection, region: Region, scale: float) -> Detection:
    b = det.box
    return Detection(
        label=det.label,
        confidence=det.confidence,
        box=Box(region.x + b.x1 * scale, region.y + b.y1 * scale, region.x + b.x2 * scale, region.y + b.y2 * scale),
    )


_Ready = tuple[_Camera, Frame, CameraZones, list[Detection]]
"""A camera's frame between detection and its rules: its zones and its tracked detections."""


class DetectorPipeline:
    """Frames in, Observations out; one model, any number of cameras."""

    def __init__(
        self,
        detector: Detector,
        cameras: Iterable[Camera] = (),
        *,
        config: PipelineConfig | None = None,
        clock: Clock | None = None,
        fall_stage: FallStage | None = None,
    ) -> None:
        """``fall_stage``: the fall model behind a counting model without a fall class (see `FallStage`);
        without either, the fall rule takes a lying-shaped person box for a fall."""
        self.detector = detector
        self.config = config or PipelineConfig()
        self.clock = clock or SystemClock()
        self.fall_stage = fall_stage if FALLEN_PERSON not in detector.labels.values() else None
        self.model_has_fall_class = FALLEN_PERSON in detector.labels.values() or self.fall_stage is not None
        self._cameras: dict[str, _Camera] = {}
        self.unknown_frames = 0
        self.last_inference_ms = 0.0
        self.stage_cpu_s = {"inference": 0.0, "fall": 0.0, "rules": 0.0}
        """CPU seconds of the calling thread per stage since start (the model runtimes' own threads are not
        in it: the inference figure is a floor)."""
        self._latencies: deque[float] = deque(maxlen=4096)
        self._analysed = WindowRate(10.0, self.clock.monotonic())
        self._figures_lock = threading.Lock()  # figures counted here, read by the API's threads
        self.apply_cameras(cameras)

    # ------------------------------------------------------------------ configuration

    def apply_cameras(self, cameras: Iterable[Camera]) -> list[Observation]:
        """Make the running set match ``cameras``: add new ones, rebuild changed ones (by revision), drop the rest.

        Episodes still open on a dropped or rebuilt camera are closed (their rules no longer exist), and those
        closing Observations are returned so that no alert is left open forever.
        """
        wanted = {c.id: c for c in cameras if c.enabled}
        closing: list[Observation] = []
        for cid in list(self._cameras):
            current = self._cameras[cid]
            new = wanted.get(cid)
            if new is None or new.revision != current.camera.revision or new != current.camera:
                closing += self._close_all(current, "camera removed" if new is None else "camera settings changed")
                del self._cameras[cid]
        for cid, cam in wanted.items():
            if cid not in self._cameras:
                self._cameras[cid] = _Camera(cam, self.config, self.model_has_fall_class)
        return closing

    def close_episodes(self, why: str) -> list[Observation]:
        """Close every open episode (the pipeline is being shut down): no alert is left open with an episode id
        nobody will continue. The rules are not reset, so call this only before discarding the pipeline."""
        closing: list[Observation] = []
        for state in self._cameras.values():
            closing += self._close_all(state, why)
        return closing

    def _close_all(self, state: _Camera, why: str) -> list[Observation]:
        now = self.clock.now()
        return [w.finish(now, Report(why)) for w in state.open_episodes()]

    @property
    def camera_ids(self) -> list[str]:
        return list(self._cameras)

    def counters(self, camera_id: str) -> CameraCounters:
        return self._cameras[camera_id].counters

    def analysed_rate(self) -> float:
        """Frames analysed per second, all cameras, over the last 10 s."""
        with self._figures_lock:
            return self._analysed.rate(self.clock.monotonic())

    def latencies(self, clear: bool = False) -> list[float]:
        """Recent seconds from a frame's capture (its last packet read) to its detections, oldest first (the last
        4,096); ``clear`` starts afresh."""
        with self._figures_lock:
            found = list(self._latencies)
            if clear:
                self._latencies.clear()
            return found

    def open_cameras(self) -> set[str]:
        """Cameras with an episode open now (the scheduler keeps their cadence)."""
        return {cid for cid, state in self._cameras.items() if next(state.open_episodes(), None) is not None}

    def detections(self, camera_id: str) -> tuple[Detection, ...]:
        """The last analysed frame's detections (tracked, outside masks)."""
        return self._cameras[camera_id].detections

    # ------------------------------------------------------------------ frames

    def process(self, frames: Sequence[Frame]) -> list[Observation]:
        """Analyse one batch (normally the newest frame of each camera) and run every camera's rules."""
        todo: list[tuple[_Camera, Frame]] = []
        for f in frames:
            state = self._cameras.get(f.camera_id)
            if state is None:
                self.unknown_frames += 1
                continue
            state.counters.frames += 1
            problem = frame_problem(f)
            if problem is not None:
                state.counters.corrupt += 1
                log.warning("camera %s frame %s skipped: %s", f.camera_id, f.seq, problem)
                continue
            todo.append((state, f))
        c0 = time.thread_time()
        found = self._detect(todo)
        c1 = time.thread_time()
        self.stage_cpu_s["inference"] += c1 - c0
        done = self.clock.monotonic()
        with self._figures_lock:
            self._latencies.extend(done - f.captured_s for _, f in todo if f.captured_s is not None)
        ready: list[_Ready] = []
        for (state, f), dets in zip(todo, found, strict=True):
            try:
                zones = state.zones_for(f.image)
            except GridwatchError as exc:  # pragma: no cover - zones were checked when the camera was added
                log.error("camera %s: %s", f.camera_id, exc)
                continue
            dets = state.tracker.update(zones.unmasked(dets), (f.height, f.width))
            if state.still is not None:
                dets = state.still.filter(dets, f.monotonic_s)
            ready.append((state, f, zones, dets))
        c1 = time.thread_time()
        falls = self._check_falls(ready)
        c2 = time.thread_time()
        self.stage_cpu_s["fall"] += c2 - c1
        out: list[Observation] = []
        for i, (state, f, zones, dets) in enumerate(ready):
            state.detections = tuple(dets)
            state.counters.analysed += 1
            with self._figures_lock:
                self._analysed.add(done)
            state.counters.last_people = sum(d.label in PERSON_LABELS for d in dets)
            ctx = FrameContext(state.camera, f, zones, state.detections, falls=tuple(falls.get(i, ())))
            for rule in state.rules:
                try:
                    out += rule.observe(ctx)
                except Exception:  # one broken rule must not stop the camera, nor the others
                    state.counters.rule_errors += 1
                    log.exception("camera %s: rule %s failed", f.camera_id, type(rule).__name__)
        self.stage_cpu_s["rules"] += time.thread_time() - c2
        return out

    def _check_falls(
        self, ready: list[tuple[_Camera, Frame, CameraZones, list[Detection]]]
    ) -> dict[int, list[Detection]]:
        """The fall stage over every camera whose fall rule is on (one batched inference): relabels the
        people it sees down in place, and returns per camera the fallen people found where nobody is counted."""
        if self.fall_stage is None:
            return {}
        t0 = time.perf_counter()
        todo: list[tuple[int, FallCheck]] = []
        falls: dict[int, list[Detection]] = {}
        for i, (state, f, zones, dets) in enumerate(ready):
            settings = state.camera.hazards.fall
            if not settings.enabled:
                continue
            watch = state.fall_watch
            places = watch.places(dets, f.monotonic_s, f.width, f.height)
            if watch.due(f.monotonic_s):
                todo.append((i, FallCheck(f.image, dets, settings, places)))
            else:
                held = watch.carry(dets)
                ready[i] = (state, f, zones, held.detections)
                falls[i] = held.falls
        for (i, check), result in zip(todo, self.fall_stage.check([c for _, c in todo]), strict=True):
            state, f, zones, _ = ready[i]
            ready[i] = (state, f, zones, result.detections)
            state.fall_watch.found(result, check.places)
            falls[i] = result.falls
        self.last_inference_ms += (time.perf_counter() - t0) * 1000
        return falls

    def _detect(self, todo: Sequence[tuple[_Camera, Frame]]) -> list[list[Detection]]:
        t0 = time.perf_counter()
        results: list[list[Detection]] = [[] for _ in todo]
        whole: list[int] = []
        crops: list[tuple[int, Region, Image]] = []
        side = self.config.region_size
        for i, (state, f) in enumerate(todo):
            if state.needs_whole_frames and (
                state.whole_at_s is None or f.monotonic_s - state.whole_at_s >= self.config.look_whole_every_s
            ):
                whole.append(i)
                continue
            if f.motion is not None and f.motion <= 0 and not state.detections:
                continue  # ingest saw nothing move and nobody is tracked: nobody to find
            mode = self.config.mode
            if mode is Mode.AUTO:
                mode = Mode.REGIONS if max(f.width, f.height) > 2 * side else Mode.FULL
            motion = state.motion.boxes(f.image) if mode is Mode.REGIONS else None
            if mode is Mode.FULL or motion is None:
                whole.append(i)
                continue
            looked = motion + [d.box for d in state.detections]
            if not looked:
                continue  # nothing moves and nothing is tracked: nobody to find
            regions = plan_regions(looked, f.width, f.height, side)
            if (
                len(regions) > self.config.max_regions
                or regions_area(regions) > self.config.max_region_share * f.width * f.height
            ):
                whole.append(i)
                continue
            state.counters.regions += len(regions)
            crops += [(i, r, r.crop(f.image)) for r in regions]
        if whole:
            pictures = [todo[i][1].image for i in whole]
            for i, dets in zip(whole, self.detector.detect(pictures, imgsz=self.config.frame_size), strict=True):
                results[i] = dets
                todo[i][0].counters.full_frames += 1
                todo[i][0].whole_at_s = todo[i][1].monotonic_s
        if crops:
            images: list[Image] = [
                c if c.shape[0] == side else np.asarray(cv2.resize(c, (side, side), interpolation=cv2.INTER_AREA))
                for *_, c in crops
            ]
            found = self.detector.detect(images, imgsz=side)
            for (i, region, _), dets in zip(crops, found, strict=True):
                scale = region.size / side
                results[i] += [_shift(d, region, scale) for d in dets]
            for i in {i for i, *_ in crops}:
                results[i] = _suppress(results[i])
        self.last_inference_ms = (time.perf_counter() - t0) * 1000
        return results

    def run(self, batches: Iterable[Sequence[Frame]]) -> Iterator[Observation]:
        for batch in batches:
            yield from self.process(batch)


# ---------------------------------------------------------------------------- the inference thread


FrameSource = Callable[[float], Sequence[Frame]]
"""Waits up to the given seconds for frames and returns the newest untaken frame of each camera that has one
(ingest's ``IngestWorker.take_ready``); it keeps only the latest frame per camera and counts the drops."""


class OfferSource(Protocol):
    """Ingest as the scheduler sees it (`ingest.worker.IngestWorker`): what waits, then take a chosen part."""

    def offers(self, timeout_s: float = 1.0) -> list[Offer]: ...

    def take_ready(self, timeout_s: float = 1.0, camera_ids: Iterable[str] | None = None) -> list[Frame]: ...


class InferenceLoop:
    """Runs a pipeline on its own thread: take the newest frames of all cameras from ``source``, process them
    as one batch, hand every Observation to ``sink``. Camera changes are applied between batches.

    Latest-frame keeping is the source's job (ingest already does it per camera), so frames are never queued
    twice; the loop waits at most ``idle_timeout_s`` in the source, which bounds how long `stop` takes."""

    def __init__(
        self,
        pipeline: DetectorPipeline,
        source: FrameSource,
        sink: Callable[[Observation], object],
        *,
        idle_timeout_s: float = 0.5,
        scheduled: tuple[OfferSource, Scheduler] | None = None,
    ) -> None:
        """``scheduled``: ingest and the scheduler that decides which offers to take (the live pipeline);
        without it every frame ``source`` gives is analysed."""
        self.pipeline = pipeline
        self.source = source
        self.sink = sink
        self.idle_timeout_s = idle_timeout_s
        self.scheduled = scheduled
        if scheduled is not None:
            scheduled[1].set_cameras(pipeline.camera_ids)
        self.batches = 0
        self._changes: queue.SimpleQueue[list[Camera]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gridwatch-detector", daemon=True)

    def start(self) -> InferenceLoop:
        self._thread.start()
        return self

    def apply_cameras(self, cameras: Iterable[Camera]) -> None:
        self._changes.put(list(cameras))

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Ask the thread to end after its current batch and wait up to ``timeout_s``; True if it ended."""
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _deliver(self, observations: Iterable[Observation]) -> None:
        for obs in observations:
            try:
                self.sink(obs)
            except Exception:
                log.exception("observation %s/%s not delivered", obs.episode_id, obs.seq)

    def _run(self) -> None:
        while not self._stop.is_set():
            while not self._changes.empty():
                try:
                    self._deliver(self.pipeline.apply_cameras(self._changes.get()))
                except Exception:  # a camera the pipeline refuses must not end detection for the others
                    log.exception("camera change not applied to the detector")
                if self.scheduled is not None:
                    self.scheduled[1].set_cameras(self.pipeline.camera_ids)
            try:
                frames = self._next_frames()
            except Exception:
                log.exception("frame source failed")
                self._stop.wait(self.idle_timeout_s)
                continue
            if not frames:
                continue
            t0 = time.perf_counter()
            try:
                found = self.pipeline.process(frames)
            except Exception:  # the loop outlives any one bad batch
                log.exception("detector batch of %d frames failed", len(frames))
                found = []
            if self.scheduled is not None:
                scheduler = self.scheduled[1]
                offers = [Offer(f.camera_id, f.monotonic_s, f.motion) for f in frames]
                scheduler.charge(offers, time.perf_counter() - t0)
                opened = {o.camera_id for o in found if o.state is EpisodeState.OPENED}
                scheduler.note(self.pipeline.open_cameras(), opened)
            self._deliver(found)
            self.batches += 1

    def _next_frames(self) -> list[Frame]:
        """The next batch: every frame the source has, or the part of the offers the scheduler chose (waiting
        for the budget when it chose none)."""
        if self.scheduled is None:
            return list(self.source(self.idle_timeout_s))
        ingest, scheduler = self.scheduled
        offers = ingest.offers(self.idle_timeout_s)
        if not offers:
            return []
        choice = scheduler.choose(offers)
        if not choice.take:
            self._stop.wait(choice.wait_s)
            return []
        return ingest.take_ready(0.0, choice.take)

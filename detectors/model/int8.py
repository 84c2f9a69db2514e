"""INT8 versions of the fp32 exports: calibrated on real frames, and checked against fp32 before use.

Quantization that broke the model must never be picked for its speed, so every INT8 export is compared with
the fp32 model it came from on frames it was not calibrated on.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from core.errors import InvalidInput
from detectors.model.config import Backend
from detectors.model.runners import runner_for
from detectors.model.tensors import Tensor, model_input, nms
from detectors.types import Box
from ingest.types import Image

MIN_CALIBRATION_FRAMES = 8
CALIBRATION_FRAMES = 40
MIN_INT8_AGREEMENT = 0.85
"""An INT8 export whose detections match the fp32 model's less often than this (F1 at IoU 0.5 on held-out
calibration frames) is refused: quantization that broke the model must never be picked for its speed."""
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


def split_frames(frames: Sequence[Image], imgsz: int) -> tuple[list[Tensor], list[Image]]:
    """(model inputs to calibrate on, pictures to check against fp32 afterwards): every fourth frame and
    ultralytics' sample images are held out, never calibrated on."""
    held_out = list(frames[1::4]) + bundled_images()
    inputs = [model_input(f, imgsz) for i, f in enumerate(frames) if i % 4 != 1]
    return inputs, held_out


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


def quantize(fmt: Backend, fp32: Path, out: Path, inputs: Sequence[Tensor], work: Path) -> Path:
    """Write the INT8 version of the fp32 export ``fp32`` into the folder ``out``, calibrated on ``inputs``
    (``work`` takes intermediate files); returns the model file written. The quantizers' warnings are about
    their own internals, nothing an operator can act on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fmt is Backend.ONNX_INT8:
            _quantize_onnx(fp32, out / "model.onnx", inputs, work)
            return out / "model.onnx"
        _quantize_openvino(fp32, out / "model.xml", inputs)
        return out / "model.xml"


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
        str(out),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        nodes_to_exclude=kept_in_float((n.name for n in graph.node), producer.get(graph.output[0].name, "")),
    )


def _quantize_openvino(fp32: Path, out: Path, inputs: Sequence[Tensor]) -> None:
    # NNCF's import wakes torch's CUDA probe, and it logs every node it leaves alone and draws progress bars
    # on stdout: none of that is an operator's business (our own progress lines say what is going on).
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    import nncf
    import openvino as ov

    # The logger's level only: nncf.set_log_level would also set the level of every handler the "nncf"
    # logger holds, which under a test runner includes the runner's own capture handlers.
    logging.getLogger("nncf").setLevel(logging.ERROR)

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
    ov.save_model(quantized, str(out), compress_to_fp16=False)


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
    a, b = runner_for(runtime, fp32, None, 0), runner_for(runtime, int8, None, 0)
    matched = total = 0
    for image in frames:
        x = model_input(image, imgsz)
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

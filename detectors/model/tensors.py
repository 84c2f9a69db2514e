"""Pictures to model input and raw predictions to boxes, the same way for every backend.

Done here rather than through ``YOLO.predict`` so that batching of many images (frames of many cameras, or
crops of one) is under our control; ultralytics still does the box decoding (its NMS).
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from ingest.types import Image

Tensor = npt.NDArray[np.float32]


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


def model_input(image: Image, imgsz: int) -> Tensor:
    """One image as a batch of one, letterboxed as `Detector.detect` would."""
    h, w = input_shape(image.shape[0], image.shape[1], imgsz)
    return chw(letterbox(image, h, w)[0])[None]


def nms(raw: Tensor, conf: float, iou: float, families: npt.NDArray[np.int64] | None = None) -> list[list[float]]:
    """Raw predictions of one image (a batch of one) → [x1, y1, x2, y2, confidence, class] rows (ultralytics' NMS).

    ``families`` gives each model class a family index (-1: ignored): boxes suppress each other only within a
    family, so a person the model calls both upright and fallen is one person, while a rider and the bicycle
    under them are two things. None = every class in one family (class-agnostic).
    """
    import torch
    from ultralytics.utils.nms import non_max_suppression

    if families is None:
        (kept,) = non_max_suppression(torch.from_numpy(raw), conf_thres=conf, iou_thres=iou, agnostic=True, max_det=300)
        rows: list[list[float]] = kept.numpy().tolist()
        return rows
    count = int(families.max()) + 1 if families.size else 0
    if count == 0:
        return []
    # Anchors no kept class is sure enough about go first (most of them): the rest is then cheap.
    classes = np.flatnonzero(families >= 0)
    sure = np.flatnonzero(raw[0, 4 + classes, :].max(axis=0) >= conf)
    if sure.size == 0:
        return []
    raw = np.ascontiguousarray(raw[:, :, sure])
    if raw.shape[2] == 6:
        # ultralytics' NMS takes an input whose last axis is 6 for an end-to-end model's (already suppressed)
        # output and returns it untouched: one more anchor, sure of nothing, keeps it from guessing so.
        raw = np.concatenate([raw, np.zeros((*raw.shape[:2], 1), dtype=raw.dtype)], axis=2)
    scores = raw[:, 4:, :]
    # Per family: the best score among its classes, and which class that was.
    best = np.empty((raw.shape[0], count, raw.shape[2]), dtype=np.float32)
    member = np.empty((count, raw.shape[2]), dtype=np.int64)
    for f in range(count):
        classes = np.flatnonzero(families == f)
        sub = scores[0, classes, :]
        pick = sub.argmax(axis=0)
        member[f] = classes[pick]
        best[:, f, :] = scores[:, classes, :].max(axis=1)
    merged = np.concatenate([raw[:, :4, :], best], axis=1)
    (kept,), (idxs,) = non_max_suppression(
        torch.from_numpy(merged), conf_thres=conf, iou_thres=iou, agnostic=False, max_det=300, return_idxs=True
    )
    rows = kept.numpy().tolist()
    for row, anchor in zip(rows, idxs.numpy().tolist(), strict=True):  # anchors among the sure ones
        row[5] = float(member[int(row[5]), int(anchor)])
    return rows

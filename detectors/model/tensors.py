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
    """Raw predictions of one image (a batch of one) → [x1, y1, x2, y2, confidence, class] rows.

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
    # Anchors no kept class is sure enough about go first (most of them); the few left are suppressed here in
    # numpy: ultralytics' NMS costs about a millisecond of torch calls whatever the count.
    classes = np.flatnonzero(families >= 0)
    scores = raw[0, 4 + classes, :]
    best = scores.max(axis=0)
    sure = np.flatnonzero(best > conf)
    if sure.size == 0:
        return []
    cls = classes[scores[:, sure].argmax(axis=0)]
    fam = families[cls]
    cx, cy, w, h = raw[0, 0, sure], raw[0, 1, sure], raw[0, 2, sure], raw[0, 3, sure]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    keep = _greedy_nms(boxes, best[sure], fam, iou)
    return [[*boxes[k].tolist(), float(best[sure][k]), float(cls[k])] for k in keep]


MAX_DET = 300


def _greedy_nms(boxes: Tensor, scores: Tensor, groups: npt.NDArray[np.int64], iou: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression within each group, surest first (as ultralytics does)."""
    shifted = boxes + (groups * (float(boxes.max()) + 1.0))[:, None]  # groups never overlap one another
    area = (shifted[:, 2] - shifted[:, 0]) * (shifted[:, 3] - shifted[:, 1])
    order = scores.argsort()[::-1]
    keep: list[int] = []
    while order.size and len(keep) < MAX_DET:
        i, rest = int(order[0]), order[1:]
        keep.append(i)
        ix = np.clip(np.minimum(shifted[i, 2], shifted[rest, 2]) - np.maximum(shifted[i, 0], shifted[rest, 0]), 0, None)
        iy = np.clip(np.minimum(shifted[i, 3], shifted[rest, 3]) - np.maximum(shifted[i, 1], shifted[rest, 1]), 0, None)
        inter = ix * iy
        order = rest[inter / (area[i] + area[rest] - inter + 1e-9) <= iou]
    return keep

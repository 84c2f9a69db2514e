"""Detector fixtures: the real default model (COCO YOLOv8n, exported to OpenVINO once per session), real footage.


ultralytics reads YOLO_CONFIG_DIR when first imported and writes its settings there, so it is pointed at a
temporary directory before anything imports it.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(tempfile.gettempdir()) / "gridwatch-tests-ultralytics"))
os.environ.setdefault("YOLO_OFFLINE", "1")

from detectors.labels import PERSON_LABELS
from detectors.model.config import Backend, ModelConfig, default_weights
from detectors.model.detector import Detector
from detectors.model.exports import export_dir, export_model, fresh_export, load_yolo
from detectors.types import Detection
from ingest.types import Image

DATA = Path(__file__).parent / "data"
LABELS = DATA / "vtest_counts.csv"


def labelled_counts() -> dict[int, int]:
    with LABELS.open(encoding="utf-8") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        return {int(r["frame"]): int(r["people"]) for r in rows}


def people(dets: Sequence[Detection]) -> int:
    return sum(d.label in PERSON_LABELS for d in dets)


@pytest.fixture(scope="session")
def torch_detector(model_cache: Path) -> Detector:
    return Detector(ModelConfig(backend=Backend.TORCH, cache_dir=model_cache))


@pytest.fixture(scope="session")
def weights() -> Path:
    return default_weights()


@pytest.fixture(scope="session")
def int8_cache(tmp_path_factory: pytest.TempPathFactory, model_cache: Path, weights: Path) -> Path:
    """A model cache of its own for INT8 exports, seeded with the fp32 ones: auto races every fresh INT8
    export it finds, so INT8 exports in the shared cache would change what the default detector picks."""
    cache = tmp_path_factory.mktemp("int8-models")
    _, info = load_yolo(weights)
    for fmt in (Backend.OPENVINO, Backend.ONNX):
        fp32 = fresh_export(model_cache, info, fmt) or export_model(weights, fmt, model_cache)
        shutil.copytree(fp32.parent, export_dir(cache, info, fmt))
    return cache


def read_frames(path: Path, wanted: set[int] | None = None, limit: int | None = None) -> dict[int, Image]:
    cap = cv2.VideoCapture(str(path))
    out: dict[int, Image] = {}
    i = 0
    try:
        while limit is None or i < limit:
            ok, image = cap.read()
            if not ok:
                break
            if wanted is None or i in wanted:
                out[i] = np.asarray(image, dtype=np.uint8)
            i += 1
    finally:
        cap.release()
    return out


@pytest.fixture(scope="session")
def vtest(footage: Path) -> Path:
    return footage / "vtest.avi"


@pytest.fixture(scope="session")
def tree(footage: Path) -> Path:
    return footage / "tree.avi"


@pytest.fixture(scope="session")
def labelled_frames(vtest: Path) -> dict[int, tuple[Image, int]]:
    counts = labelled_counts()
    frames = read_frames(vtest, set(counts))
    return {i: (frames[i], counts[i]) for i in counts}


@pytest.fixture(scope="session")
def vtest_head(vtest: Path) -> dict[int, Image]:
    """The first 6 s of vtest (60 frames): real pictures for the picture-based rules."""
    return read_frames(vtest, limit=60)


@pytest.fixture(scope="session")
def vtest_2fps(vtest: Path) -> list[Image]:
    """The first 40 s of vtest at 2 frames a second, half size: real scenes for the picture rules."""
    frames = read_frames(vtest, set(range(0, 400, 5)))
    return [np.asarray(cv2.resize(frames[i], (384, 288), interpolation=cv2.INTER_AREA)) for i in sorted(frames)]


@pytest.fixture(scope="session")
def tree_2fps(tree: Path) -> list[Image]:
    frames = read_frames(tree)
    step = 7  # tree.avi runs at 15 fps
    return [frames[i] for i in sorted(frames) if i % step == 0]

"""The Detector on the default COCO model: what it finds, on which backend, and the input it makes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.model.config import Backend, ModelConfig
from detectors.model.detector import Detector
from detectors.model.tensors import input_shape, letterbox
from ingest.types import Image
from tests.detectors.conftest import people


def bus() -> Image:
    import ultralytics

    path = Path(ultralytics.__file__).parent / "assets" / "bus.jpg"
    return np.asarray(cv2.imread(str(path)), dtype=np.uint8)


def test_default_model_finds_the_people_on_bus_jpg(detector: Detector) -> None:
    (found,) = detector.detect([bus()])
    assert people(found) >= 3  # four people, one cut by the picture's edge
    assert all(d.box.x2 > d.box.x1 and d.box.y2 > d.box.y1 for d in found)
    # auto exported both runtimes on first use, timed them here and kept the faster
    assert set(detector.timings_ms) == {Backend.OPENVINO, Backend.ONNX}
    assert detector.backend is min(detector.timings_ms, key=lambda b: detector.timings_ms[b])


def test_people_found_on_real_vtest_frames(detector: Detector, labelled_frames: dict[int, tuple[Image, int]]) -> None:
    frames = [labelled_frames[i] for i in (10, 250, 490, 750)]
    found = detector.detect([image for image, _ in frames])  # one batch of four
    for (image, truth), dets in zip(frames, found, strict=True):
        assert abs(people(dets) - truth) <= 2
        h, w = image.shape[:2]
        assert all(0 <= d.box.x1 < d.box.x2 <= w and 0 <= d.box.y1 < d.box.y2 <= h for d in dets)


def test_backends_agree(
    detector: Detector, torch_detector: Detector, labelled_frames: dict[int, tuple[Image, int]]
) -> None:
    image, _ = labelled_frames[490]
    (a,) = detector.detect([image])
    (b,) = torch_detector.detect([image])
    assert abs(people(a) - people(b)) <= 1
    assert torch_detector.backend is Backend.TORCH


def test_onnx_export_and_backend(model_cache: Path, labelled_frames: dict[int, tuple[Image, int]]) -> None:
    d = Detector(ModelConfig(backend=Backend.ONNX, cache_dir=model_cache))
    assert d.backend is Backend.ONNX
    assert d.model_path.suffix == ".onnx"
    assert d.model_path.parent.name.endswith("-onnx")
    (found,) = d.detect([labelled_frames[490][0]])
    assert people(found) >= 2


def test_letterbox_and_input_shape() -> None:
    assert input_shape(576, 768, 640) == (480, 640)
    assert input_shape(1080, 810, 640) == (640, 480)
    image = np.full((576, 768, 3), 200, np.uint8)
    boxed, scale = letterbox(image, 512, 640)
    assert boxed.shape == (512, 640, 3)
    assert scale == pytest.approx(640 / 768)
    assert boxed[500, 10].tolist() == [114, 114, 114]
    assert boxed[10, 10].tolist() == [200, 200, 200]


def test_a_shape_seen_again_and_again_runs_compiled_for_it_with_the_same_boxes(
    model_cache: Path, labelled_frames: dict[int, tuple[Image, int]]
) -> None:
    """OpenVINO compiles a shape it keeps seeing for that shape alone: the boxes are those of the dynamic model."""
    d = Detector(ModelConfig(backend=Backend.OPENVINO, cache_dir=model_cache))
    image = labelled_frames[490][0]
    runs = [d.detect([image])[0] for _ in range(5)]  # dynamic first, then the shape's own compiled model
    first = [(x.label, x.box) for x in runs[0]]
    for later in runs[1:]:
        assert len(later) == len(first)
        for (label, box), x in zip(first, later, strict=True):
            assert x.label == label
            assert x.box.iou(box) > 0.9  # kernels differ by shape: a pixel or two, never another object

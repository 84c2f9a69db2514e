"""The shared detector as a Ray Serve deployment, on a local Ray (127.0.0.1, no HTTP proxy) on CPU: the service
gives the local runner's output on real frames, batches images from concurrent callers, refuses bad input by
name and keeps serving; a pipeline's detector uses it through `Settings.detector_service`."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import psutil  # type: ignore[import-untyped]
import pytest

from core.errors import InvalidInput
from detectors.model.config import Backend, ModelConfig
from detectors.model.detector import Detector, use_runner_factory
from detectors.model.tensors import model_input
from detectors.types import Detection
from gridwatch.detector_service import (
    STRIDE,
    ServiceRunner,
    deploy,
    full_rows,
    keep_rows,
    pack,
    service_factory,
    unpack,
)
from gridwatch.settings import Settings
from ingest.types import Image
from tests.detectors.conftest import read_frames

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
APP = "gridwatch-detector-test"
ANSWER_S = 60.0
"""Every wait on the service is bounded by this (a first batch on a busy 2-core box takes a second or two)."""


@pytest.fixture(scope="module")
def frames(footage: Path) -> list[Image]:
    """Real frames of both clips: vtest (768×576, a 320×256 input) and tree (another shape, another input)."""
    vtest = read_frames(footage / "vtest.avi", {10, 250, 490, 750})
    tree = read_frames(footage / "tree.avi", {30})
    return [vtest[i] for i in sorted(vtest)] + list(tree.values())


@pytest.fixture(scope="module")
def config(model_cache: Path) -> ModelConfig:
    return ModelConfig(backend=Backend.ONNX, cache_dir=model_cache, threads=1)


@pytest.fixture(scope="module")
def local(config: ModelConfig) -> Detector:
    """The model run here; built first, so that the ONNX export exists before the replica looks for it."""
    return Detector(config)


@pytest.fixture(scope="module")
def service(local: Detector, config: ModelConfig) -> Iterator[Any]:
    """Ray on 127.0.0.1 with Serve and no HTTP proxy, the detector service on one CPU replica; then everything
    this started is stopped, and any process of it left over is ended by pid."""
    import ray
    from ray import serve

    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), saved) if p)  # Ray's workers import the project
    ray.init(num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False)
    try:
        serve.start(proxy_location="Disabled")
        yield deploy(APP, config=config, max_batch_size=8, batch_wait_timeout_s=0.02)
    finally:
        try:
            serve.shutdown()  # type: ignore[no-untyped-call]
        finally:
            ray.shutdown()
            if saved is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = saved
            left = [p for p in me.children(recursive=True) if p.pid not in before]
            for p in left:
                p.terminate()
            _, alive = psutil.wait_procs(left, timeout=10)
            for p in alive:
                p.kill()
            psutil.wait_procs(alive, timeout=5)


def batch_of(images: list[Image]) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.concatenate([model_input(image, 320) for image in images])


def served(handle: Any) -> list[int]:
    sizes: list[int] = handle.batch_sizes.remote().result(timeout_s=ANSWER_S)
    return sizes


def same_detections(a: list[Detection], b: list[Detection]) -> None:
    assert [d.label for d in a] == [d.label for d in b]
    for x, y in zip(a, b, strict=True):
        assert x.confidence == pytest.approx(y.confidence, abs=1e-4)
        assert x.box.iou(y.box) > 0.999


def test_an_image_travels_as_uint8_and_comes_back_the_same_input(frames: list[Image]) -> None:
    batch = batch_of(frames[:2])
    images = pack(batch)
    assert images[0].dtype == np.uint8
    assert images[0].shape == (3, 256, 320)
    assert images[0].nbytes == 245_760  # 240 KiB, a quarter of the float32 input
    assert all(np.array_equal(unpack(image), batch[i]) for i, image in enumerate(images))
    with pytest.raises(InvalidInput, match=r"whole steps of 1/255"):
        pack(batch + np.float32(0.001))
    with pytest.raises(InvalidInput, match=r"\(B, 3, H, W\), got shape \(3, 256, 320\)"):
        pack(batch[0])


def test_only_anchors_below_the_floor_are_left_out(local: Detector, frames: list[Image]) -> None:
    raw = local.infer(batch_of(frames[2:3]))[0]
    rows = keep_rows(raw, 0.25)
    assert 0 < rows[1].size < raw.shape[1] // 10  # the answer shrinks tenfold and more
    back = full_rows(rows, raw.shape[0])
    assert np.array_equal(back[:, rows[1]], raw[:, rows[1]])
    assert float(back[4:].max(axis=0)[np.setdiff1d(np.arange(raw.shape[1]), rows[1])].max()) == 0.0
    assert np.array_equal(full_rows(keep_rows(raw, 0.0), raw.shape[0]), raw)


def test_deploy_refuses_bad_arguments_by_name() -> None:
    with pytest.raises(InvalidInput, match=r"replicas: must be 1 or more, got 0.*max_batch_size: must be 1"):
        deploy(APP, replicas=0, max_batch_size=0)


def test_the_service_gives_the_local_runners_output_on_real_frames(
    service: Any, local: Detector, config: ModelConfig, frames: list[Image]
) -> None:
    info = service.info.remote().result(timeout_s=ANSWER_S)
    assert info["backend"] == "onnx"
    assert info["device"] == "cpu"
    assert info["sha256"] == local.info.sha256
    runner = ServiceRunner(service, app_name=APP, timeout_s=ANSWER_S)
    for images in (frames[:4], frames[4:]):  # vtest's input shape, then tree's
        batch = batch_of(images)
        np.testing.assert_allclose(runner(batch), local.infer(batch), rtol=1e-4, atol=1e-3)
    # A whole detector on the service (answers cut at its confidence floor) finds what the local one finds.
    remote = Detector(config, runner_factory=service_factory(APP, timeout_s=ANSWER_S))
    assert remote.backend is Backend.ONNX
    for mine, theirs in zip(remote.detect(frames), local.detect(frames), strict=True):
        same_detections(mine, theirs)
    # Other weights (the fall model) are not served there: the factory leaves them to run here.
    other = replace(local.info, sha256="0" * 64)
    assert service_factory(APP, timeout_s=ANSWER_S)(other, config) is None


def test_requests_from_concurrent_callers_are_batched(service: Any, local: Detector, frames: list[Image]) -> None:
    runner = ServiceRunner(service, app_name=APP, min_score=0.0, timeout_s=ANSWER_S)
    singles = [batch_of([frames[i % 4]]) for i in range(4)]
    expected = [local.infer(single) for single in singles]
    seen = len(served(service))
    callers = 6
    start = threading.Barrier(callers, timeout=ANSWER_S)

    def caller(k: int) -> float:
        start.wait()
        worst = 0.0
        for i in range(5):
            got = runner(singles[(k + i) % 4])
            worst = max(worst, float(np.abs(got - expected[(k + i) % 4]).max()))
        return worst

    with ThreadPoolExecutor(callers) as pool:
        worst = max(pool.map(caller, range(callers)))
    sizes = served(service)[seen:]
    assert sum(sizes) == callers * 5
    assert max(sizes) > 1, f"no batch of more than one image: {sizes}"
    assert worst < 1e-3  # batched with others' images, each image's output is its own


def test_a_bad_image_is_refused_by_name_and_the_service_keeps_serving(
    service: Any, local: Detector, frames: list[Image]
) -> None:
    good = pack(batch_of(frames[:1]))[0]
    with pytest.raises(InvalidInput, match=r"dtype must be uint8 \(3, H, W\), got float32"):
        service.detect.remote(good.astype(np.float32)).result(timeout_s=ANSWER_S)
    with pytest.raises(InvalidInput, match=r"shape must be \(3, H, W\) RGB planes, got \(256, 320, 3\)"):
        service.detect.remote(np.ascontiguousarray(good.transpose(1, 2, 0))).result(timeout_s=ANSWER_S)
    with pytest.raises(InvalidInput, match=rf"\(3, 1088, 1920\): H and W must be multiples of {STRIDE} in"):
        service.detect.remote(np.zeros((3, 1088, 1920), np.uint8)).result(timeout_s=ANSWER_S)  # a full frame
    with pytest.raises(InvalidInput, match=rf"\(3, 250, 320\): H and W must be multiples of {STRIDE} in"):
        service.detect.remote(np.zeros((3, 250, 320), np.uint8)).result(timeout_s=ANSWER_S)
    with pytest.raises(InvalidInput, match=r"min_score must be in 0..1, got 2"):
        service.detect.remote(good, 2.0).result(timeout_s=ANSWER_S)
    batch = batch_of(frames[:2])
    runner = ServiceRunner(service, app_name=APP, timeout_s=ANSWER_S)
    np.testing.assert_allclose(runner(batch), local.infer(batch), rtol=1e-4, atol=1e-3)


def test_settings_detector_service_makes_new_detectors_use_it(
    service: Any, local: Detector, config: ModelConfig, frames: list[Image], tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, detector_service=APP)
    seen = sum(served(service))
    try:
        settings.prepare()
        detector = Detector(config)  # as the live pipeline builds it: no factory passed
        found = detector.detect(frames[:2])
    finally:
        use_runner_factory(None)
    assert sum(served(service)) - seen == 2 + 2  # its two warm-up inferences, then the two frames
    for mine, theirs in zip(found, local.detect(frames[:2]), strict=True):
        same_detections(mine, theirs)

"""Loading weights (refusing unusable ones) and the export cache keyed by the weights' hash."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from core.errors import InvalidInput
from detectors.model.config import Backend, ModelConfig
from detectors.model.detector import Detector
from detectors.model.exports import export_dir, export_model, fresh_export, load_yolo
from ingest.types import Image


def test_missing_and_corrupt_weights_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pt"
    with pytest.raises(InvalidInput, match=r"nope\.pt: no such weights file"):
        Detector(ModelConfig(weights=missing, backend=Backend.TORCH))
    corrupt = tmp_path / "broken.pt"
    corrupt.write_bytes(os.urandom(2048))
    with pytest.raises(InvalidInput, match=r"broken\.pt: not a loadable ultralytics weights file"):
        Detector(ModelConfig(weights=corrupt, backend=Backend.TORCH))


@pytest.fixture(scope="module")
def animal_weights(tmp_path_factory: pytest.TempPathFactory, weights: Path) -> Path:
    """Real weights whose classes are not people (the default model, renamed)."""
    import torch

    ckpt = torch.load(weights, map_location="cpu", weights_only=False)
    ckpt["model"].names = {0: "cat", 1: "dog"}
    path = tmp_path_factory.mktemp("weights") / "animals.pt"
    torch.save(ckpt, path)
    return path


def test_weights_without_a_person_class_are_refused(animal_weights: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        Detector(ModelConfig(weights=animal_weights, backend=Backend.TORCH))
    message = str(err.value)
    assert "animals.pt: no class maps to a person" in message
    assert "cat, dog" in message


def test_class_map_plugs_other_weights_in(animal_weights: Path, labelled_frames: dict[int, tuple[Image, int]]) -> None:
    d = Detector(ModelConfig(weights=animal_weights, backend=Backend.TORCH, class_map={"cat": "person"}))
    assert d.labels == {0: "person"}
    (found,) = d.detect([labelled_frames[490][0]])
    assert found
    assert {x.label for x in found} == {"person"}


def test_export_is_reused_while_fresh_and_redone_for_other_weights(
    detector: Detector, model_cache: Path, weights: Path, animal_weights: Path
) -> None:
    _, info = load_yolo(weights)
    existing = fresh_export(model_cache, info, Backend.OPENVINO)
    assert existing is not None
    assert existing.parent.name.endswith("-openvino")
    steps: list[str] = []
    assert export_model(weights, Backend.OPENVINO, model_cache, progress=steps.append) == existing
    assert steps == ["loading weights", "up to date"]
    _, other = load_yolo(animal_weights)
    assert fresh_export(model_cache, other, Backend.OPENVINO) is None  # keyed by the weights' hash
    stamp = export_dir(model_cache, info, Backend.OPENVINO) / "gridwatch-export.json"
    saved = stamp.read_text()
    try:
        stamp.write_text(json.dumps({"weights_sha256": "0" * 64, "format": "openvino"}))
        assert fresh_export(model_cache, info, Backend.OPENVINO) is None  # stale stamp: not used
    finally:
        stamp.write_text(saved)


def test_openvino_batches_of_any_size_compile_few_models(detector: Detector, model_cache: Path, weights: Path) -> None:
    """Batches come in every size; compiling one model per size stalled a crowded box for 0.5 s each time."""
    import numpy as np

    from detectors.model.runners import runner_for

    _, info = load_yolo(weights)
    path = fresh_export(model_cache, info, Backend.OPENVINO)  # made by the session's detector
    assert path is not None
    run = runner_for(Backend.OPENVINO, path, None, 1)
    pictures = np.random.default_rng(7).random((11, 3, 96, 128), dtype=np.float32)
    singles = np.concatenate([run(pictures[i : i + 1]) for i in range(len(pictures))])
    for _ in range(4):
        for size in range(1, len(pictures) + 1):
            out = run(pictures[:size])
            assert out.shape[0] == size
            # the same predictions (box pixels, class scores) up to the CPU's reduced-precision kernels
            np.testing.assert_allclose(out, singles[:size], rtol=0.05, atol=1.0)
    assert run.compiled == 4  # type: ignore[attr-defined]  # batches of 8, 4, 2 and 1 of this shape


def test_two_processes_sharing_a_cache_export_once(tmp_path: Path, weights: Path) -> None:
    """Two workers on one machine may share a model cache: the second waits for the first's export and takes
    it (exporting again doubled the work, and its install replaced the folder the first was loading from)."""
    import threading

    from tests.support.wait import wait_for

    steps: dict[str, list[str]] = {"first": [], "second": []}
    made: dict[str, Path] = {}

    def export(who: str) -> None:
        made[who] = export_model(weights, Backend.ONNX, tmp_path, progress=steps[who].append)

    first = threading.Thread(target=export, args=("first",))
    first.start()
    wait_for(lambda: "exporting to onnx" in steps["first"], timeout_s=60)  # the first one is at work
    second = threading.Thread(target=export, args=("second",))
    second.start()
    first.join(120)
    second.join(120)
    assert steps["second"] == ["loading weights", "up to date (exported by another process)"]
    assert made["first"] == made["second"]
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == [made["first"].parent.name]

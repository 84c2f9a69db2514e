"""INT8 exports: calibrated on real frames, checked against fp32, raced by auto, refused when broken."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import detectors.model.int8
from core.errors import InvalidInput, Unavailable
from detectors.model.config import INT8_FROM, Backend, ModelConfig
from detectors.model.detector import Detector
from detectors.model.exports import export_dir, export_model, fresh_export, load_yolo, read_stamp
from detectors.model.int8 import MIN_INT8_AGREEMENT, int8_agreement, kept_in_float
from ingest.types import Image
from tests.detectors.conftest import people

INT8 = [Backend.OPENVINO_INT8, Backend.ONNX_INT8]


@pytest.mark.parametrize("fmt", INT8, ids=[f.value for f in INT8])
def test_int8_export_is_calibrated_and_checked(
    fmt: Backend, int8_cache: Path, weights: Path, vtest: Path, labelled_frames: dict[int, tuple[Image, int]]
) -> None:
    model_cache = int8_cache
    _, info = load_yolo(weights)
    shutil.rmtree(export_dir(model_cache, info, fmt), ignore_errors=True)  # auto may have made it already
    steps: list[str] = []
    path = export_model(weights, fmt, model_cache, calibration=vtest, progress=steps.append)
    assert path.parent.name.endswith(f"-{fmt.value}")
    assert f"calibrating {fmt.value} on 30 frames of vtest.avi" in steps
    stamp = read_stamp(model_cache, info, fmt)
    assert stamp is not None
    assert stamp["calibration_frames"] == 30
    assert stamp["agreement"] >= MIN_INT8_AGREEMENT
    base = INT8_FROM[fmt]
    fp32 = fresh_export(model_cache, info, base)
    assert fp32 is not None
    assert int8_agreement(base, fp32, fp32, [labelled_frames[490][0]], 640) == 1.0

    int8 = Detector(ModelConfig(backend=fmt, cache_dir=model_cache))
    assert int8.model_path == path
    for f in (10, 250, 490):
        image, truth = labelled_frames[f]
        (found,) = int8.detect([image])
        assert abs(people(found) - truth) <= 2


def test_auto_with_unusable_calibration_runs_on_fp32_and_says_why(
    tmp_path: Path, model_cache: Path, weights: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, info = load_yolo(weights)
    cache = tmp_path / "models"
    for fmt in (Backend.OPENVINO, Backend.ONNX):
        fp32 = fresh_export(model_cache, info, fmt) or export_model(weights, fmt, model_cache)
        shutil.copytree(fp32.parent, export_dir(cache, info, fmt))
    d = Detector(ModelConfig(cache_dir=cache, calibration=tmp_path / "no-such-clip.mp4"))
    assert set(d.timings_ms) == {Backend.OPENVINO, Backend.ONNX}
    assert "no-such-clip.mp4: no such file or folder" in caplog.text


def test_auto_races_the_int8_exports_too(int8_cache: Path, vtest: Path) -> None:
    auto = Detector(ModelConfig(cache_dir=int8_cache, calibration=vtest))
    assert set(auto.timings_ms) == {Backend.OPENVINO, Backend.ONNX, *INT8}
    assert auto.backend is min(auto.timings_ms, key=lambda b: auto.timings_ms[b])


def test_int8_export_refuses_a_quantization_that_broke_the_model(
    tmp_path: Path, model_cache: Path, weights: Path, vtest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ONNX Runtime's quantizer, told to quantize the head's decoding too (one INT8 scale for pixel
    coordinates and 0..1 scores), loses the people; the check against fp32 must catch that and keep the
    export out of the cache. (NNCF copes with that head, so it is the ONNX path that is broken here.)"""
    fmt = Backend.ONNX_INT8
    _, info = load_yolo(weights)
    base = INT8_FROM[fmt]
    fp32 = fresh_export(model_cache, info, base) or export_model(weights, base, model_cache)
    cache = tmp_path / "models"
    shutil.copytree(fp32.parent, export_dir(cache, info, base))
    monkeypatch.setattr(detectors.model.int8, "kept_in_float", lambda _names, _output: [])
    with pytest.raises(Unavailable, match=rf"yolov8n\.pt: the {fmt.value} export finds what fp32 finds only \d+%"):
        export_model(weights, fmt, cache, calibration=vtest)
    assert fresh_export(cache, info, fmt) is None
    assert not export_dir(cache, info, fmt).exists()
    # the refusal is remembered: the next start (a worker's, a shard's) does not calibrate again for nothing
    steps: list[str] = []
    with pytest.raises(Unavailable, match=r"only \d+% of the time .*\(refused before; export with force"):
        export_model(weights, fmt, cache, calibration=vtest, progress=steps.append)
    assert not [s for s in steps if s.startswith("calibrating")]
    other = tmp_path / "other.avi"  # other frames, another try
    shutil.copyfile(vtest, other)
    with pytest.raises(Unavailable, match=r"only \d+% of the time .*needed\); not used$"):
        export_model(weights, fmt, cache, calibration=other, progress=steps.append)
    assert "calibrating onnx-int8 on 30 frames of other.avi" in steps


def test_head_nodes_kept_in_float_on_both_namings() -> None:
    onnx_names = [
        "/model.0/conv/Conv",
        "/model.22/cv2.0/cv2.0.0/conv/Conv",
        "/model.22/cv2.0/cv2.0.1/act/Mul",
        "/model.22/cv2.0/cv2.0.2/Conv",
        "/model.22/dfl/conv/Conv",
        "/model.22/Concat_26",
    ]
    assert kept_in_float(onnx_names, "/model.22/Concat_26") == [
        "/model.22/cv2.0/cv2.0.2/Conv",
        "/model.22/dfl/conv/Conv",
        "/model.22/Concat_26",
    ]
    ov_names = [
        "__module.model.21.cv1.conv/aten::_convolution/Convolution",
        "__module.model.22.cv3.1.0.conv/aten::_convolution/Convolution",
        "__module.model.22.cv3.1.2/aten::_convolution/Convolution",
        "__module.model.22.dfl/aten::softmax/Softmax",
        "__module.model.22/aten::sigmoid/Sigmoid",
    ]
    assert kept_in_float(ov_names, "__module.model.22/aten::cat/Concat_5") == ov_names[2:]
    assert kept_in_float(onnx_names, "output0") == []  # not an ultralytics graph: nothing is singled out


def test_int8_calibration_errors_name_the_source(tmp_path: Path, weights: Path) -> None:
    cache = tmp_path / "models"
    with pytest.raises(InvalidInput, match="calibration: an INT8 export needs frames"):
        export_model(weights, Backend.ONNX_INT8, cache)
    with pytest.raises(InvalidInput, match=r"calibration: .*nope: no such file or folder"):
        export_model(weights, Backend.ONNX_INT8, cache, calibration=tmp_path / "nope")
    empty = tmp_path / "snapshots"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a picture")
    with pytest.raises(InvalidInput, match=r"snapshots: 0 readable frame\(s\); an INT8 export needs at least 8"):
        export_model(weights, Backend.ONNX_INT8, cache, calibration=empty)
    garbage = tmp_path / "clip.mp4"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(InvalidInput, match=r"clip\.mp4: 0 readable frame"):
        export_model(weights, Backend.ONNX_INT8, cache, calibration=garbage)
    assert not cache.exists() or not any(cache.iterdir())  # nothing half-made is left behind

"""`gridwatch model export` and `gridwatch eval`, run as real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.types import Image
from tests.detectors import scenarios
from tests.support.paths import REPO


def run(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GRIDWATCH_DATA_DIR": str(data),
        "COLUMNS": "200",
        "PYTHONPATH": str(REPO),
        "YOLO_OFFLINE": "1",
    }
    env.pop("YOLO_CONFIG_DIR", None)  # the command points it into the data dir itself
    return subprocess.run(
        [sys.executable, "-m", "gridwatch", *args], capture_output=True, text=True, env=env, timeout=110, check=False
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def exported(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return run(data_dir, "model", "export", "--format", "openvino")


def test_model_export_shows_progress_and_fills_the_cache(
    exported: subprocess.CompletedProcess[str], data_dir: Path
) -> None:
    assert exported.returncode == 0, exported.stderr
    assert "exporting to openvino" in exported.stderr
    assert "openvino model:" in exported.stdout
    (model,) = (data_dir / "models").glob("yolov8n-*-openvino/model.xml")
    assert model.with_suffix(".bin").stat().st_size > 1_000_000
    assert (data_dir / "ultralytics").is_dir()  # ultralytics' settings live in the data dir
    again = run(data_dir, "model", "export", "--format", "openvino")
    assert again.returncode == 0
    assert "up to date" in again.stderr


def test_eval_reports_alerts_and_precision_recall_on_a_scenario_clip(
    exported: subprocess.CompletedProcess[str], data_dir: Path, vtest_2fps: list[Image], tmp_path: Path
) -> None:
    pictures = [f if i < 30 else scenarios.covered(f, i) for i, f in enumerate(vtest_2fps[:50])]
    clip = scenarios.write_clip(pictures, tmp_path / "covered.avi", fps=2)
    labels = tmp_path / "episodes.csv"
    labels.write_text("hazard,start_s,end_s\ncamera_covered,15,25\n", encoding="utf-8")
    res = run(data_dir, "eval", str(clip), "--labels", str(labels), "--every", "1")
    assert res.returncode == 0, res.stderr
    assert "alerts: camera_covered 1" in res.stdout
    assert "episodes: precision 1.00, recall 1.00" in res.stdout


@pytest.mark.model  # eval loads the model before it reads its inputs
def test_eval_names_bad_inputs(data_dir: Path, tmp_path: Path) -> None:
    res = run(data_dir, "eval", str(tmp_path / "missing.avi"))
    assert res.returncode == 1
    assert "missing.avi: no such video file" in res.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("frame,people\n10,many\n", encoding="utf-8")
    clip = tmp_path / "x.avi"
    clip.write_bytes(b"not a video")
    res = run(data_dir, "eval", str(clip), "--labels", str(bad))
    assert res.returncode == 1
    assert "bad.csv row 1" in res.stderr
    res = run(data_dir, "model", "export", "--weights", str(tmp_path / "none.pt"))
    assert res.returncode == 1
    assert "none.pt: no such weights file" in res.stderr
    res = run(data_dir, "model", "export", "--format", "openvino-int8")
    assert res.returncode == 1
    assert "calibration: an INT8 export needs frames to calibrate on" in res.stderr
    res = run(data_dir, "model", "export", "--format", "openvino-int8", "--calibration", str(bad))
    assert res.returncode == 1
    assert "bad.csv: 0 readable frame(s)" in res.stderr

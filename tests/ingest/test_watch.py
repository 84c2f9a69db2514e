"""`gridwatch watch`: cameras come up in the operator's view, and site changes reach the running workers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from ingest.demo_server import RtspTestServer
from tests.conftest import EXAMPLES, REPO


def gridwatch(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "gridwatch", *args, "--data-dir", str(data_dir)]


def demo_site_on(server: RtspTestServer, path: Path, *, cam04_enabled: bool = True) -> Path:
    text = (EXAMPLES / "demo-site.yaml").read_text(encoding="utf-8").replace(":8554/", f":{server.port}/")
    if not cam04_enabled:
        text = text.replace("    level: property\n", "    level: property\n    enabled: false\n")
    path.write_text(text, encoding="utf-8")
    return path


def test_watch_shows_cameras_come_up_and_applies_site_changes(tmp_path: Path, rtsp_server: RtspTestServer) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "250"}
    data = tmp_path / "data"
    site = demo_site_on(rtsp_server, tmp_path / "site.yaml")
    load = subprocess.run(gridwatch(data, "site", "load", str(site)), env=env, capture_output=True, timeout=60)
    assert load.returncode == 0, load.stderr

    cmd = gridwatch(data, "watch", "--duration", "9", "--interval", "2", "--reload", "0.5")
    with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as watch:
        try:
            time.sleep(4.5)
            changed = demo_site_on(rtsp_server, tmp_path / "site2.yaml", cam04_enabled=False)
            reload = subprocess.run(
                gridwatch(data, "site", "load", str(changed)), env=env, capture_output=True, timeout=60
            )
            assert reload.returncode == 0, reload.stderr
            output, _ = watch.communicate(timeout=30)
        finally:
            if watch.poll() is None:
                watch.kill()
    assert watch.returncode == 0, output
    assert "watching 4 camera(s)" in output
    reports = output.split(" cameras\n")
    assert len(reports) >= 4
    first_online = [line for line in reports[2].splitlines() if "online" in line]
    assert {line.split()[0] for line in first_online} >= {"CAM-01", "CAM-02", "CAM-03", "CAM-04"}, reports[2]
    assert "site changed: stopped CAM-04" in output
    assert "CAM-04" not in reports[-1], "the disabled camera is no longer run"


def test_watch_names_an_unknown_camera(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run(
        gridwatch(tmp_path / "data", "watch", "--site", str(EXAMPLES / "demo-site.yaml"), "--camera", "CAM-99"),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 1
    assert "no enabled camera 'CAM-99' in the site" in res.stderr

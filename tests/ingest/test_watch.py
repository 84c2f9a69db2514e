"""`gridwatch watch`: cameras come up in the operator's view, and site changes reach the running workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from ingest.demo_server import FootageServer
from tests.ingest.helpers import demo_site_on
from tests.support.paths import EXAMPLES, REPO


def gridwatch(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "gridwatch", *args, "--data-dir", str(data_dir)]


def test_watch_shows_cameras_come_up_and_applies_site_changes(tmp_path: Path, rtsp_server: FootageServer) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "250", "PYTHONUNBUFFERED": "1"}
    data = tmp_path / "data"
    site = demo_site_on(rtsp_server, tmp_path / "site.yaml")
    load = subprocess.run(gridwatch(data, "site", "load", str(site)), env=env, capture_output=True, timeout=60)
    assert load.returncode == 0, load.stderr

    cmd = gridwatch(data, "watch", "--duration", "14", "--interval", "1", "--reload", "0.5")
    lines: list[str] = []
    online: set[str] = set()
    reloaded_at: int | None = None
    applied_at: int | None = None
    with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as watch:
        try:
            assert watch.stdout is not None
            for line in watch.stdout:  # ends when watch does (--duration)
                lines.append(line)
                words = line.split()
                if len(words) > 1 and words[1] == "online":
                    online.add(words[0])
                if reloaded_at is None and online >= {"CAM-01", "CAM-02", "CAM-03", "CAM-04"}:
                    changed = demo_site_on(rtsp_server, tmp_path / "site2.yaml", cam04_enabled=False)
                    res = subprocess.run(
                        gridwatch(data, "site", "load", str(changed)), env=env, capture_output=True, timeout=60
                    )
                    assert res.returncode == 0, res.stderr
                    reloaded_at = len(lines)
                if line.startswith("site changed"):
                    applied_at = len(lines)
                if applied_at is not None and sum(x.endswith(" cameras\n") for x in lines[applied_at:]) >= 2:
                    watch.send_signal(signal.SIGINT)  # a full report after the change: enough (Ctrl-C ends watch)
                    break
            watch.wait(timeout=30)
        finally:
            if watch.poll() is None:
                watch.kill()
    output = "".join(lines)
    assert watch.returncode == 0, output
    assert "watching 4 camera(s)" in output, output
    assert reloaded_at is not None, f"not every camera came up: {output}"
    assert "site changed: stopped CAM-04" in output, output
    assert applied_at is not None, output
    last_report = "".join(lines[applied_at:]).split(" cameras\n")[1]
    assert "CAM-01  online" in last_report, output
    assert "CAM-04" not in last_report, f"the disabled camera is no longer run: {output}"


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

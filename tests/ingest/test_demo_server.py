"""The RTSP footage server's lifecycle (by pid) and the demo's fallback to footage files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from core.errors import Unavailable
from ingest.demo_server import (
    SCRIPT,
    DemoSources,
    FootageServer,
    answers,
    free_port,
    start_demo_sources,
    system_python,
)
from tests.ingest.helpers import camera


def test_start_and_stop_by_pid(footage: Path, rtsp_clips: Path) -> None:
    server = FootageServer.start(footage_dir=footage, cache_dir=rtsp_clips, cameras=2)
    pid = server.pid
    assert pid is not None
    assert answers(server.port)
    assert server.url("/tree") == f"rtsp://127.0.0.1:{server.port}/tree"
    server.close()
    assert not server.alive
    assert not answers(server.port)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's exit may wait for a reaper that never comes)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_server_whose_starter_is_killed_stops_by_itself(footage: Path, rtsp_clips: Path, tmp_path: Path) -> None:
    """A starter killed outright cannot stop its server: the server notices and frees its port."""
    port = free_port()
    starter = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([{system_python()!r}, {str(SCRIPT)!r}, '--port', '{port}', '--cameras', '1',"
        f" '--footage', {str(footage)!r}, '--cache', {str(rtsp_clips)!r}], stdout=subprocess.PIPE, text=True)\n"
        "print(p.stdout.readline().strip(), p.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", starter], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready, url, pid = proc.stdout.readline().split()
        assert (ready, url) == ("ready", f"rtsp://127.0.0.1:{port}")
        assert answers(port)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
        deadline = time.monotonic() + 10
        while answers(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not answers(port)
        deadline = time.monotonic() + 5
        while running(int(pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not running(int(pid))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()


def test_a_taken_port_is_reported(footage: Path, rtsp_clips: Path, rtsp_server: FootageServer) -> None:
    with pytest.raises(Unavailable, match=r"cannot listen|exited at start"):
        FootageServer.start(rtsp_server.port, footage_dir=footage, cache_dir=rtsp_clips, ready_timeout_s=10)
    assert answers(rtsp_server.port), "the running server is untouched"


def test_file_fallback_maps_the_demo_mounts(footage: Path) -> None:
    sources = DemoSources(None, False, "no RTSP", footage_dir=footage, port=8554)
    cams = [
        camera("CAM-01", "rtsp://127.0.0.1:8554/vtest-1080p"),
        camera("CAM-02", "rtsp://127.0.0.1:8554/tree"),
        camera("CAM-04", "rtsp://127.0.0.1:8554/pattern"),
        camera("ELSEWHERE", "rtsp://10.0.0.5:554/tree"),
    ]
    cams[0] = replace(cams[0], sub_url="rtsp://127.0.0.1:8554/vtest-360p")
    mapped = {c.id: c for c in sources.cameras(cams)}
    assert mapped["CAM-01"].main_url == str(footage / "vtest.avi")
    assert mapped["CAM-01"].sub_url == str(footage / "vtest.avi")
    assert mapped["CAM-02"].main_url == str(footage / "tree.avi")
    assert mapped["CAM-04"].main_url == "rtsp://127.0.0.1:8554/pattern", "no file stands in for the live pattern"
    assert mapped["ELSEWHERE"].main_url == "rtsp://10.0.0.5:554/tree"


def test_streaming_sources_leave_cameras_alone(footage: Path) -> None:
    cams = [camera("CAM-02", "rtsp://127.0.0.1:8554/tree")]
    assert DemoSources(None, True, "RTSP", footage_dir=footage).cameras(cams) == cams


def test_nothing_answers_on_a_free_port() -> None:
    assert not answers(free_port())


def test_demo_sources_serve_rtsp_when_they_can(footage: Path, rtsp_clips: Path) -> None:
    port = free_port()
    sources = start_demo_sources(port=port, footage_dir=footage, cache_dir=rtsp_clips)
    try:
        assert sources.streaming
        assert sources.server is not None
        assert f"127.0.0.1:{port}" in sources.message
        again = start_demo_sources(port=port, footage_dir=footage, cache_dir=rtsp_clips)
        assert again.streaming
        assert again.server is None, "a server already answering is used, not started twice"
        assert "already" in again.message
    finally:
        sources.close()
    assert not answers(port)


def test_demo_sources_fall_back_to_files_and_say_so(
    footage: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDWATCH_SYSTEM_PYTHON", str(tmp_path / "no-such-python"))  # a machine without GStreamer
    sources = start_demo_sources(port=free_port(), footage_dir=footage, cache_dir=tmp_path / "cache")
    assert not sources.streaming
    assert "reading the footage files directly" in sources.message
    assert "no-such-python is missing" in sources.message
    cams = sources.cameras([camera("CAM-02", f"rtsp://127.0.0.1:{sources.port}/tree")])
    assert cams[0].main_url == str(footage / "tree.avi")


def test_a_missing_system_python_is_unavailable_not_a_crash(
    footage: Path, rtsp_clips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDWATCH_SYSTEM_PYTHON", str(tmp_path / "no-such-python"))
    with pytest.raises(Unavailable, match="cannot run the footage server"):
        FootageServer.start(free_port(), footage_dir=footage, cache_dir=rtsp_clips)
    sources = start_demo_sources(port=free_port(), footage_dir=footage, cache_dir=rtsp_clips)
    assert not sources.streaming

"""Connection tests against the real RTSP footage server, a silent socket and a local file."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from camera_config.types import StreamCredentials
from ingest.demo_server import FootageServer, free_port
from ingest.probe import probe_stream
from ingest.sources import resolve_source
from ingest.types import OfflineReason
from tests.support.rtsp import SECURE_CREDENTIALS, SECURE_PATH


def test_a_good_stream_reports_codec_size_rate_and_keyframes(rtsp_server: FootageServer) -> None:
    started = time.monotonic()
    result = probe_stream(resolve_source(rtsp_server.url("/cam/CAM-0001/sub"), allow_files=False), 10)
    took = time.monotonic() - started
    assert result.ok, result
    assert result.reason is None
    assert (result.codec, result.width, result.height) == ("h264", 640, 360)
    assert result.fps == pytest.approx(25, rel=0.05)
    assert result.keyframe_interval_s == pytest.approx(1.0, abs=0.1)  # the server's clips: one keyframe a second
    assert result.first_frame_ms is not None
    assert 0 < result.first_frame_ms < took * 1000
    assert took < 6, "stops once the keyframe interval is known"
    assert result.detail is not None
    assert "h264 640×360 at 25 fps" in result.detail


def test_credentials_are_used_and_never_shown(rtsp_server: FootageServer) -> None:
    url = rtsp_server.url(SECURE_PATH)
    user, password = SECURE_CREDENTIALS
    good = probe_stream(resolve_source(url, allow_files=False, credentials=StreamCredentials(user, password)), 10)
    assert good.ok, good
    wrong = probe_stream(
        resolve_source(url, allow_files=False, credentials=StreamCredentials(user, "not-the-password")), 10
    )
    assert not wrong.ok
    assert wrong.reason is OfflineReason.UNAUTHORIZED
    in_url = url.replace("rtsp://", f"rtsp://{user}:wrong-in-url@")
    also_wrong = probe_stream(resolve_source(in_url, allow_files=False), 10)
    assert also_wrong.reason is OfflineReason.UNAUTHORIZED
    for r in (good, wrong, also_wrong):
        text = r.detail or ""
        assert "not-the-password" not in text
        assert password not in text
        assert "wrong-in-url" not in text
        assert "refused the credentials" in text or r.ok


def test_no_such_path_is_not_found(rtsp_server: FootageServer) -> None:
    result = probe_stream(resolve_source(rtsp_server.url("/no-such-stream"), allow_files=False), 10)
    assert (result.ok, result.reason) == (False, OfflineReason.NOT_FOUND)
    assert result.codec is None


def test_a_closed_port_is_refused_at_once() -> None:
    started = time.monotonic()
    result = probe_stream(resolve_source(f"rtsp://127.0.0.1:{free_port()}/stream", allow_files=False), 10)
    assert (result.ok, result.reason) == (False, OfflineReason.REFUSED)
    assert time.monotonic() - started < 2
    assert result.detail is not None
    assert "connection refused" in result.detail


def test_a_silent_server_times_out_within_the_bound() -> None:
    """A port that accepts the connection and never answers: the probe gives up after its timeout."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        started = time.monotonic()
        result = probe_stream(resolve_source(f"rtsp://127.0.0.1:{port}/stream", allow_files=False), 1.5)
        took = time.monotonic() - started
    assert not result.ok
    assert result.reason is OfflineReason.TIMEOUT, result
    assert 1.0 < took < 4.0


def test_a_local_file(footage: Path) -> None:
    result = probe_stream(resolve_source(str(footage / "vtest.avi"), allow_files=True), 5)
    assert result.ok, result
    assert (result.width, result.height, result.fps) == (768, 576, 10)

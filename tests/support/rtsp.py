"""RTSP fixtures (a pytest plugin, loaded by tests/conftest.py): the project's footage server, started and
stopped by pid.

``rtsp_server`` is one server for the whole session (do not break it); ``fresh_rtsp_server`` is a test's
own, for killing, freezing and restarting; ``rtsp_camera`` is a camera that wants a password, serving the
short demo clip at its own size and rate.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.errors import Unavailable
from ingest.demo_server import DEFAULT_CACHE, FootageServer, prepare_clips

SECURE_PATH = "/cam/CAM-0064/sub"
"""A mount of the session server that wants basic auth with SECURE_CREDENTIALS."""
SECURE_CREDENTIALS = ("demo", "demo-pass")
CAMERA_PATH = "/live"
"""The mount of ``rtsp_camera``."""


@dataclass(frozen=True)
class RtspCamera:
    url: str
    username: str
    password: str


@pytest.fixture(scope="session")
def rtsp_clips(footage: Path) -> Path:
    """The footage encoded for the server (once; cached across sessions)."""
    try:
        prepare_clips(footage, DEFAULT_CACHE)
    except Unavailable as exc:
        pytest.fail(f"RTSP footage server unavailable: {exc} (scripts/setup.sh installs its Debian packages)")
    return DEFAULT_CACHE


def _start(footage: Path, cache: Path, **kwargs: object) -> FootageServer:
    try:
        return FootageServer.start(footage_dir=footage, cache_dir=cache, **kwargs)  # type: ignore[arg-type]
    except Unavailable as exc:
        pytest.fail(f"RTSP footage server unavailable: {exc}")


@pytest.fixture(scope="session")
def rtsp_server(footage: Path, rtsp_clips: Path) -> Iterator[FootageServer]:
    server = _start(footage, rtsp_clips, auth={SECURE_PATH: SECURE_CREDENTIALS})
    yield server
    server.close()


@pytest.fixture
def fresh_rtsp_server(footage: Path, rtsp_clips: Path) -> Iterator[FootageServer]:
    server = _start(footage, rtsp_clips, cameras=4)
    yield server
    server.close()


@pytest.fixture(scope="session")
def demo_clip(footage: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s of vtest.avi (768×576, 10 fps) as H.264 in MPEG-TS with a keyframe every second.

    Short on purpose: live viewers cross the end of the file within seconds, so the reopen-and-loop
    path runs in every live test that plays it as a file.
    """
    out = tmp_path_factory.mktemp("clip") / "vtest.ts"
    encode = ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-bf", "0"]
    keyframes = ["-g", "10", "-keyint_min", "10", "-sc_threshold", "0"]
    source = ["-t", "2", "-i", str(footage / "vtest.avi"), "-an"]
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *source, *encode, *keyframes, "-f", "mpegts", str(out)],
        check=True,
        timeout=60,
    )
    return out


@pytest.fixture(scope="session")
def rtsp_camera(footage: Path, rtsp_clips: Path, demo_clip: Path) -> Iterator[RtspCamera]:
    """A camera behind basic auth with a password of its own: the footage server plays the demo clip."""
    username, password = "cam5", "cam5-" + uuid.uuid4().hex[:10]
    server = _start(
        footage, rtsp_clips, cameras=0, clips={CAMERA_PATH: demo_clip}, auth={CAMERA_PATH: (username, password)}
    )
    yield RtspCamera(server.url(CAMERA_PATH), username, password)
    server.close()

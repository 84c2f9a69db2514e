"""RTSP test-server fixtures, importable by any test package's conftest:

    from tests.rtsp import rtsp_clips, rtsp_server, fresh_rtsp_server  # noqa: F401

``rtsp_server`` is one server for the whole session (do not break it); ``fresh_rtsp_server`` starts a
server of the test's own, for killing, freezing and restarting. Both are stopped by pid.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import Unavailable
from ingest.demo_server import DEFAULT_CACHE, RtspTestServer, prepare_clips

SECURE_PATH = "/cam/CAM-0064/sub"
"""A mount of the session server that wants basic auth with SECURE_CREDENTIALS."""
SECURE_CREDENTIALS = ("demo", "demo-pass")


@pytest.fixture(scope="session")
def rtsp_clips(footage: Path) -> Path:
    """The footage encoded for the server (once; cached across sessions)."""
    try:
        prepare_clips(footage, DEFAULT_CACHE)
    except Unavailable as exc:
        pytest.fail(f"RTSP test server unavailable: {exc} (scripts/setup.sh installs its Debian packages)")
    return DEFAULT_CACHE


def _start(footage: Path, cache: Path, **kwargs: object) -> RtspTestServer:
    try:
        return RtspTestServer.start(footage_dir=footage, cache_dir=cache, **kwargs)  # type: ignore[arg-type]
    except Unavailable as exc:
        pytest.fail(f"RTSP test server unavailable: {exc}")


@pytest.fixture(scope="session")
def rtsp_server(footage: Path, rtsp_clips: Path) -> Iterator[RtspTestServer]:
    server = _start(footage, rtsp_clips, auth={SECURE_PATH: SECURE_CREDENTIALS})
    yield server
    server.close()


@pytest.fixture
def fresh_rtsp_server(footage: Path, rtsp_clips: Path) -> Iterator[RtspTestServer]:
    server = _start(footage, rtsp_clips, cameras=4)
    yield server
    server.close()

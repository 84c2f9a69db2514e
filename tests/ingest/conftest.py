"""Fixtures for the ingest tests: the real RTSP test server (see tests/rtsp.py) and camera values."""

from __future__ import annotations

from tests.rtsp import fresh_rtsp_server, rtsp_clips, rtsp_server

__all__ = ["fresh_rtsp_server", "rtsp_clips", "rtsp_server"]

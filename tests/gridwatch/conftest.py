"""Fixtures for the shell's tests: the RTSP test server (shared definitions; the model is in tests/conftest.py)."""

from __future__ import annotations

from tests.rtsp import fresh_rtsp_server, rtsp_clips, rtsp_server

__all__ = ["fresh_rtsp_server", "rtsp_clips", "rtsp_server"]

"""Fixtures for the shell's tests: the real person model and the RTSP test server (shared definitions)."""

from __future__ import annotations

from tests.detectors.conftest import detector, model_cache
from tests.rtsp import fresh_rtsp_server, rtsp_clips, rtsp_server

__all__ = ["detector", "fresh_rtsp_server", "model_cache", "rtsp_clips", "rtsp_server"]

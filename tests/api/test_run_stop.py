"""`gridwatch run` stops promptly on SIGTERM, also while a console holds its event stream open."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import httpx

from tests.api.conftest import Server, http_login, run_server
from tests.support.rtsp import RtspCamera
from tests.support.wait import wait_for


def _subscribers(admin: httpx.Client) -> float:
    for line in admin.get("/metrics").text.splitlines():
        if line.startswith("gridwatch_event_subscribers"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("no gridwatch_event_subscribers in /metrics")


def _exited(server: Server) -> bool:
    """Gone, or a zombie waiting for the test's fixture to reap it."""
    try:
        return Path(f"/proc/{server.pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


def test_a_stop_ends_open_event_streams_and_the_server_exits(
    demo_clip: Path, rtsp_camera: RtspCamera, tmp_path: Path
) -> None:
    with (
        run_server(demo_clip, rtsp_camera, tmp_path, detect=False) as server,
        http_login(server, "operator") as http,
        http_login(server, "admin") as admin,
    ):
        outcome: list[str] = []

        def listen() -> None:
            with httpx.Client(base_url=server.url, cookies=http.cookies, timeout=60) as client:
                try:
                    with client.stream("GET", "/api/events") as res:
                        outcome.append(f"status {res.status_code}")
                        for _ in res.iter_lines():
                            pass
                    outcome.append("ended")
                except httpx.HTTPError as exc:
                    outcome.append(f"{type(exc).__name__}: {exc}")

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        wait_for(lambda: _subscribers(admin) == 1, 20, what="the console's event stream is open")
        os.kill(server.pid, signal.SIGTERM)
        # Without ending the stream, uvicorn waited for it until the process was killed.
        wait_for(lambda: _exited(server), 20, what=lambda: f"the server exits; its log:\n{server.log.read_text()}")
        listener.join(10)
        assert outcome == ["status 200", "ended"]
        log = server.log.read_text()
        assert "Application shutdown complete" in log
        assert "timeout graceful shutdown exceeded" not in log

"""`gridwatch run` sends webhooks from its dispatch process: a real server, a real child, a local receiver; the
child is killed with SIGKILL and the service starts it again, and what was queued meanwhile is delivered."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest

from events.notify.signing import verify, webhook_secret
from tests.api.conftest import Server, http_login, run_server
from tests.api.test_console import Delivery, worker_delivery
from tests.support.receiver import receiver
from tests.support.rtsp import RtspCamera
from tests.support.wait import wait_for

pytestmark = pytest.mark.slow


def dispatch_child(server: Server) -> psutil.Process | None:
    for child in psutil.Process(server.pid).children():
        if "dispatch" in child.cmdline():
            return child
    return None


@pytest.fixture
def delivery(server: Server, footage: Path) -> Delivery:
    return worker_delivery(server, footage)


def test_the_dispatch_process_sends_and_is_started_again_after_a_kill(server: Server, delivery: Delivery) -> None:
    channel = f"proc-{uuid.uuid4().hex[:6]}"
    with receiver([200]) as got, http_login(server, "admin") as admin:
        spec = {"kind": "webhook", "url": got.url, "rules": [{"topics": ["alert.opened"], "places": ["G-01"]}]}
        res = admin.put(f"/api/notifications/channels/{channel}", json=spec)
        assert res.status_code == 200, res.text
        key = webhook_secret(res.json()["secret"])
        child = wait_for(lambda: dispatch_child(server), timeout_s=20, what="the dispatch process")
        parent_nice = psutil.Process(server.pid).nice()
        wait_for(lambda: child.nice() > parent_nice, timeout_s=20, what="the dispatch process yielding to the API")

        first = delivery.observe(camera="CAM-01", hazard="intrusion", summary="someone in the plant room")
        [req] = got.wait_for(1, timeout_s=20)
        verify(key, req.headers, req.body, int(time.time()))
        assert req.json()["data"]["id"] == first

        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        second = delivery.observe(camera="CAM-01", hazard="loitering", summary="queued while nobody sends")
        # The service starts a new dispatch process, which finds it queued. (The first may come again, with its
        # webhook-id: the kill may have landed between its answer and its record; receivers dedupe on the id.)
        wait_for(lambda: second in {r.json()["data"]["id"] for r in got.requests}, timeout_s=30, what="the second")
        by_id: dict[str, set[bytes]] = {}
        for r in got.requests:
            by_id.setdefault(r.headers["webhook-id"], set()).add(r.body)
        assert len(by_id) == 2
        assert all(len(bodies) == 1 for bodies in by_id.values())
        again = wait_for(lambda: dispatch_child(server), timeout_s=20, what="a new dispatch process")
        assert again.pid != child.pid
        log = admin.get(f"/api/notifications/channels/{channel}/deliveries").json()
        assert [d["state"] for d in log] == ["sent", "sent"]
        admin.delete(f"/api/notifications/channels/{channel}")


def test_the_dispatch_process_exits_when_the_service_is_killed(
    demo_clip: Path, rtsp_camera: RtspCamera, tmp_path: Path
) -> None:
    """kill -9 of the service leaves no dispatch process behind: it notices its parent is gone."""
    with run_server(demo_clip, rtsp_camera, tmp_path, detect=False) as own:
        child = wait_for(lambda: dispatch_child(own), timeout_s=20, what="the dispatch process")
        os.kill(own.pid, signal.SIGKILL)
        try:
            child.wait(10)  # psutil.TimeoutExpired if it outlived the service
        finally:
            if child.is_running():
                child.kill()

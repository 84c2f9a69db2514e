"""The ingest worker against the real RTSP footage server: faults, health, many cameras, live reconfiguration."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from camera_config.schema import CameraSpec, CredentialsSpec
from camera_config.store import SiteStore
from camera_config.stream_settings import DecodeMode, DetectSettings
from camera_config.types import StreamCredentials
from core.errors import NotFound
from ingest.demo_server import FootageServer, free_port
from ingest.types import HealthState, OfflineReason
from ingest.worker import IngestWorker
from tests.ingest.helpers import camera, demo_site_on, health_of, in_state
from tests.support.rtsp import SECURE_CREDENTIALS, SECURE_PATH
from tests.support.wait import wait_for

UP = (HealthState.ONLINE, HealthState.DEGRADED)


def test_server_killed_then_back(fresh_rtsp_server: FootageServer) -> None:
    """Killed mid-stream: offline within 10 s; streaming again within 5 s of the server returning."""
    server = fresh_rtsp_server
    with IngestWorker() as worker:
        worker.apply([camera("CAM-K", server.url("/vtest-360p"), mode=DecodeMode.KEYFRAME)])
        wait_for(in_state(worker, "CAM-K", HealthState.ONLINE), 10)
        seq_before = worker.stats("CAM-K")[0].offered

        server.kill()
        started = time.monotonic()
        down = wait_for(in_state(worker, "CAM-K", HealthState.OFFLINE), 10)
        waited = time.monotonic() - started
        assert down is not None, health_of(worker, "CAM-K")
        assert waited < 10
        assert down.reason in (OfflineReason.ENDED, OfflineReason.REFUSED)
        went_down_at = down.since
        refused = wait_for(lambda: health_of(worker, "CAM-K").reason is OfflineReason.REFUSED, 5)
        assert refused, "while the server is gone, reconnects are refused"
        time.sleep(3)  # let the backoff grow to its cap

        server.launch()
        started = time.monotonic()
        back = wait_for(in_state(worker, "CAM-K", HealthState.ONLINE), 5)
        waited = time.monotonic() - started
        assert back is not None, health_of(worker, "CAM-K")
        assert waited < 5
        assert back.reconnects_last_hour == 1
        assert back.since > went_down_at
        frames = wait_for(lambda: worker.stats("CAM-K")[0].offered > seq_before, 3)
        assert frames, "frames flow again"


def test_server_frozen_is_detected_and_blocks_nothing(fresh_rtsp_server: FootageServer) -> None:
    """SIGSTOP: detected within 10 s; the worker recovers on SIGCONT and closes promptly even while frozen."""
    server = fresh_rtsp_server
    worker = IngestWorker()
    try:
        worker.apply([camera("CAM-F", server.url("/vtest-360p"), mode=DecodeMode.KEYFRAME)])
        wait_for(in_state(worker, "CAM-F", HealthState.ONLINE), 10)

        server.pause()
        started = time.monotonic()
        noticed = wait_for(in_state(worker, "CAM-F", HealthState.DEGRADED, HealthState.OFFLINE), 10)
        waited = time.monotonic() - started
        assert noticed is not None
        assert waited < 10
        started = time.monotonic()
        offline = wait_for(in_state(worker, "CAM-F", HealthState.OFFLINE), 10)
        waited = time.monotonic() - started
        assert offline is not None, health_of(worker, "CAM-F")
        assert offline.reason in (OfflineReason.STALLED, OfflineReason.TIMEOUT)

        server.resume()
        wait_for(in_state(worker, "CAM-F", HealthState.ONLINE), 15, what=lambda: health_of(worker, "CAM-F"))

        server.pause()
        wait_for(in_state(worker, "CAM-F", HealthState.DEGRADED, HealthState.OFFLINE), 10)
    finally:
        start = time.monotonic()
        ended = worker.close()
        closing_s = time.monotonic() - start
        server.resume()
    assert ended, "every reader thread ended"
    assert closing_s <= worker.options.read_timeout_s + worker.options.open_timeout_s + 1
    assert not [t for t in threading.enumerate() if t.name == "ingest-CAM-F"]


def test_each_fault_has_its_reason(rtsp_server: FootageServer) -> None:
    """Wrong path, wrong password, nothing listening, no video, refused scheme: the right reason, no crash."""
    nobody = free_port()
    cams = [
        camera("NO-PATH", rtsp_server.url("/no-such-stream")),
        replace(camera("BAD-PASSWORD", rtsp_server.url(SECURE_PATH)), username="demo", has_password=True),
        replace(camera("NO-PASSWORD", rtsp_server.url(SECURE_PATH))),
        camera("NOTHING-LISTENING", f"rtsp://127.0.0.1:{nobody}/stream"),
        camera("AUDIO-ONLY", rtsp_server.url("/audio-only")),
        camera("HTTP", "http://169.254.169.254/latest"),
        camera("FILE-OUTSIDE-DEMO", "/etc/passwd"),
        replace(camera("GOOD-PASSWORD", rtsp_server.url(SECURE_PATH)), username="demo", has_password=True),
        replace(camera("PASSWORD-IN-URL", rtsp_server.url(SECURE_PATH).replace("rtsp://", "rtsp://demo:demo-pass@"))),
    ]
    passwords = {"BAD-PASSWORD": "not-the-password", "GOOD-PASSWORD": SECURE_CREDENTIALS[1]}
    expected = {
        "NO-PATH": OfflineReason.NOT_FOUND,
        "BAD-PASSWORD": OfflineReason.UNAUTHORIZED,
        "NO-PASSWORD": OfflineReason.UNAUTHORIZED,
        "NOTHING-LISTENING": OfflineReason.REFUSED,
        "AUDIO-ONLY": OfflineReason.CODEC,
        "HTTP": OfflineReason.UNSUPPORTED_SOURCE,
        "FILE-OUTSIDE-DEMO": OfflineReason.UNSUPPORTED_SOURCE,
    }
    with IngestWorker(lambda cid: StreamCredentials("demo", passwords[cid])) as worker:
        worker.apply(cams)

        def settled() -> bool:
            h = {x.camera_id: x for x in worker.health()}
            return all(h[c].reason is r for c, r in expected.items()) and all(
                h[c].state is HealthState.ONLINE for c in ("GOOD-PASSWORD", "PASSWORD-IN-URL")
            )

        ok = wait_for(settled, 10)
        health = {x.camera_id: x for x in worker.health()}
        assert ok, health
        for cid in expected:
            assert health[cid].state is HealthState.OFFLINE
            detail = health[cid].detail or ""
            assert detail
            assert "not-the-password" not in detail
            assert "demo-pass" not in detail
        assert "169.254.169.254" in (health["HTTP"].detail or "")
        assert "only rtsp:// or rtsps://" in (health["HTTP"].detail or "")
        assert "no video stream (audio pcm_alaw)" in (health["AUDIO-ONLY"].detail or "")
        with pytest.raises(NotFound, match="NOT-RUN"):
            worker.latest("NOT-RUN")


def test_eight_cameras_one_broken_keep_their_rate(rtsp_server: FootageServer, fresh_rtsp_server: FootageServer) -> None:
    """A camera whose server hangs (frozen, the nastiest fault) costs the other seven nothing."""
    target_fps = 5.0
    healthy = [
        camera(f"CAM-{i}", rtsp_server.url(f"/cam/CAM-000{i}/sub"), mode=DecodeMode.SAMPLED, fps=target_fps)
        for i in range(1, 8)
    ]
    fresh_rtsp_server.pause()
    broken = camera("CAM-FROZEN", fresh_rtsp_server.url("/vtest-360p"))
    with IngestWorker() as worker:
        worker.apply([*healthy, broken])
        for c in healthy:
            wait_for(in_state(worker, c.id, HealthState.ONLINE), 10, what=f"{c.id} online")
        time.sleep(6)  # a full rate window, with the broken camera hanging in its open meanwhile
        stats = {s.camera_id: s for s in worker.stats()}
        broken_health = health_of(worker, "CAM-FROZEN")
    fresh_rtsp_server.resume()
    for c in healthy:
        assert stats[c.id].analysed_fps >= 0.9 * target_fps, stats[c.id]
        assert stats[c.id].input_fps >= 0.9 * 25, stats[c.id]
    assert broken_health.state in (HealthState.STARTING, HealthState.OFFLINE)
    assert stats["CAM-FROZEN"].analysed_fps == 0


def test_live_reconfiguration(rtsp_server: FootageServer) -> None:
    """Add, change and remove cameras while another streams on, untouched."""
    steady = camera("STEADY", rtsp_server.url("/cam/CAM-0010/sub"), mode=DecodeMode.FULL, motion_gating=False)
    changing = camera("CHANGING", rtsp_server.url("/cam/CAM-0011/sub"), mode=DecodeMode.SAMPLED, fps=5)
    with IngestWorker() as worker:
        first = worker.apply([steady, changing])
        assert first.started == ("STEADY", "CHANGING")
        wait_for(in_state(worker, "STEADY", HealthState.ONLINE), 10)
        wait_for(in_state(worker, "CHANGING", HealthState.ONLINE), 10)
        steady_since = health_of(worker, "STEADY").since
        gaps: list[float] = []
        stop = threading.Event()

        def watch_steady() -> None:
            last = time.monotonic()
            while not stop.is_set():
                if worker.take_ready(0.5, camera_ids=["STEADY"]):
                    now = time.monotonic()
                    gaps.append(now - last)
                    last = now

        watcher = threading.Thread(target=watch_steady)
        watcher.start()
        try:
            # add
            added = camera("ADDED", rtsp_server.url("/tree"), mode=DecodeMode.KEYFRAME)
            res = worker.apply([steady, changing, added])
            assert (res.started, res.unchanged) == (("ADDED",), ("STEADY", "CHANGING"))
            wait_for(in_state(worker, "ADDED", HealthState.ONLINE), 10)

            # change settings only: applied in place, no reconnect
            slower = replace(changing, detect=DetectSettings(mode=DecodeMode.SAMPLED, fps=1), revision=2)
            res = worker.apply([steady, slower, added])
            assert res.reconfigured == ("CHANGING",)
            rate = wait_for(lambda: worker.stats("CHANGING")[0].analysed_fps <= 1.3, 8)
            assert rate, worker.stats("CHANGING")
            assert health_of(worker, "CHANGING").state is HealthState.ONLINE

            # change the stream: reconnects that camera only
            moved = replace(slower, main_url=rtsp_server.url("/vtest-1080p"), revision=3)
            res = worker.apply([steady, moved, added])
            assert res.restarted == ("CHANGING",)
            wait_for(in_state(worker, "CHANGING", HealthState.ONLINE), 10)
            latest = wait_for(lambda: worker.latest("CHANGING"), 5)
            assert latest is not None
            assert latest.width == 1920

            # remove (and a disabled camera counts as removed)
            res = worker.apply([steady, replace(moved, enabled=False, revision=4)])
            assert set(res.stopped) == {"ADDED", "CHANGING"}
            assert worker.camera_ids == ["STEADY"]
            time.sleep(1.0)
        finally:
            stop.set()
            watcher.join(5)
        steady_health = health_of(worker, "STEADY")
    assert steady_health.state is HealthState.ONLINE
    assert steady_health.since == steady_since, "the untouched camera never went down"
    assert steady_health.reconnects_last_hour == 0
    assert len(gaps) > 50
    assert max(gaps[1:]) < 1.0, "its frames kept flowing throughout"


def test_a_password_change_reconnects(rtsp_server: FootageServer) -> None:
    password = {"value": "wrong"}
    cam = replace(camera("SECURE", rtsp_server.url(SECURE_PATH)), username="demo", has_password=True)
    with IngestWorker(lambda cid: StreamCredentials("demo", password["value"])) as worker:
        worker.apply([cam])
        wait_for(lambda: health_of(worker, "SECURE").reason is OfflineReason.UNAUTHORIZED, 10)
        password["value"] = SECURE_CREDENTIALS[1]
        res = worker.apply([replace(cam, revision=2)])
        assert res.restarted == ("SECURE",)
        wait_for(in_state(worker, "SECURE", HealthState.ONLINE), 10)


def test_cameras_and_credentials_from_the_site_store(
    store: SiteStore, rtsp_server: FootageServer, tmp_path: Path
) -> None:
    """The demo site through the real store: the worker reads what the store says, passwords included."""
    store.load_site(demo_site_on(rtsp_server, tmp_path / "site.yaml"))
    secure = CameraSpec.model_validate(
        {
            "id": "CAM-SECURE",
            "name": "Gate with a password",
            "compound": "K-01",
            "streams": {"main": rtsp_server.url(SECURE_PATH)},
            "credentials": {"username": SECURE_CREDENTIALS[0], "password": SECURE_CREDENTIALS[1]},
            "detect": {"mode": "keyframe"},
        }
    )
    store.put_camera(secure)
    ghost = replace(camera("GHOST", rtsp_server.url("/tree")), username="nobody", has_password=True)
    with IngestWorker(store.credentials) as worker:
        worker.apply([*store.cameras(enabled_only=True), ghost])
        ids = ["CAM-01", "CAM-02", "CAM-03", "CAM-04", "CAM-SECURE"]
        for cid in ids:
            wait_for(in_state(worker, cid, HealthState.ONLINE), 10, what=f"{cid} online")
        ghost_health = health_of(worker, "GHOST")
        assert ghost_health.reason is OfflineReason.ERROR
        assert 'credentials unavailable: camera "GHOST" does not exist' in (ghost_health.detail or "")

        changed = CredentialsSpec.model_validate({"username": "demo", "password": "changed"})
        store.put_camera(secure.model_copy(update={"credentials": changed}))
        res = worker.apply(store.cameras(enabled_only=True))
        assert res.restarted == ("CAM-SECURE",)
        assert set(res.unchanged) == {"CAM-01", "CAM-02", "CAM-03", "CAM-04"}
        assert res.stopped == ("GHOST",)
        unauthorized = wait_for(lambda: health_of(worker, "CAM-SECURE").reason is OfflineReason.UNAUTHORIZED, 10)
        assert unauthorized, health_of(worker, "CAM-SECURE")

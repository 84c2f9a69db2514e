"""The live pipeline end to end: the demo site's cameras over real RTSP, the real model, a real SQLite site.

One running system is shared by the module's first tests (starting streams costs CPU on a small machine);
the stop test runs its own on its own server so the connections it counts are its own.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import psutil  # type: ignore[import-untyped]
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy.exc import OperationalError

from core.errors import GridwatchError
from detectors.model.config import ModelConfig
from detectors.model.detector import Detector
from detectors.types import EpisodeState, HazardType, Observation, Severity
from events.types import Alert
from gridwatch.monitor import MonitorOptions, SiteMonitor
from gridwatch.runner import build_app
from gridwatch.settings import Settings
from gridwatch.wiring import Service, open_service
from ingest.demo_server import FootageServer, free_port
from ingest.types import HealthState
from tests.support.factories import observation
from tests.support.paths import EXAMPLES
from tests.support.wait import wait_for

T = TypeVar("T")

FAST = MonitorOptions(health_every_s=0.5, reload_every_s=0.5, stop_timeout_s=15.0)
CROWD_WAIT_S = 120.0
"""vtest's pedestrians gather in the plaza zone again and again; 3 people for 3 s happens within a minute."""


def site_yaml(server_port: int, path: Path, *, dead_port: int, cameras: tuple[str, ...] | None = None) -> Path:
    """The demo site on the test server, with a crowd threshold vtest really reaches (3 people for 3 s) and
    CAM-04 pointed at a port where nothing listens, declared offline after 2 s."""
    text = (EXAMPLES / "demo-site.yaml").read_text(encoding="utf-8")
    text = text.replace("settings: {min_people: 4, min_duration_s: 5}", "settings: {min_people: 3, min_duration_s: 3}")
    text = text.replace("rtsp://127.0.0.1:8554/pattern", f"rtsp://127.0.0.1:{dead_port}/pattern")
    text = text.replace(":8554/", f":{server_port}/")
    text = text.replace(
        "    level: property\n",
        "    level: property\n    hazards: {tamper: {offline_after_s: 2, online_clear_s: 2}}\n",
    )
    # CAM-02's restricted zone crosses itself: the detector cannot use it, the camera is still pulled
    text = text.replace(
        "[[0.1, 0.6], [0.9, 0.6], [0.9, 1.0], [0.1, 1.0]]", "[[0.1, 0.6], [0.9, 1.0], [0.9, 0.6], [0.1, 0.9]]"
    )
    assert text.count(f":{server_port}/") == 5
    assert f":{dead_port}/pattern" in text
    if cameras is not None:
        for cid in ("CAM-01", "CAM-02", "CAM-03", "CAM-04"):
            if cid not in cameras:
                text = text.replace(f"  - id: {cid}\n", f"  - id: {cid}\n    enabled: false\n")
    path.write_text(text, encoding="utf-8")
    return path


def open_site(data_dir: Path, site_file: Path) -> tuple[Settings, Service]:
    settings = Settings(data_dir=data_dir, demo=False)
    service = open_service(settings)
    service.site.load_site(site_file)
    return settings, service


def alerts(service: Service, camera_id: str, hazard: HazardType) -> list[Alert]:
    return [a for a in service.events.alerts(limit=200).items if a.camera_id == camera_id and a.hazard is hazard]


def pulls(port: int) -> int:
    """TCP connections this process holds to the RTSP server on ``port``."""
    return sum(
        1
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory, rtsp_server: FootageServer, detector: Detector
) -> Iterator[tuple[SiteMonitor, Service]]:
    tmp = tmp_path_factory.mktemp("live")
    settings, service = open_site(tmp / "data", site_yaml(rtsp_server.port, tmp / "site.yaml", dead_port=free_port()))
    live = SiteMonitor(service, settings, detector=detector, options=FAST)
    live.start()
    yield live, service
    assert live.stop()
    service.events.close()


def test_the_demo_site_raises_a_crowd_alert(running: tuple[SiteMonitor, Service]) -> None:
    live, service = running
    found = wait_for(
        lambda: alerts(service, "CAM-01", HazardType.CROWD),
        CROWD_WAIT_S,
        what=lambda: f"no crowd alert within {CROWD_WAIT_S:g} s; stats: {live.stats()}",
    )
    alert = found[0]
    assert alert.zone_id == "plaza"
    assert alert.grid_id == "G-01"
    assert alert.measurements.get("people", 0) >= 3
    assert alert.evidence is not None, "the snapshot with boxes is stored with the alert"
    health = live.health("CAM-01")
    assert health is not None
    assert health.state in (HealthState.ONLINE, HealthState.DEGRADED)
    assert live.deliveries.stored >= 1


def test_an_unreachable_camera_becomes_a_camera_offline_alert(running: tuple[SiteMonitor, Service]) -> None:
    live, service = running
    found = wait_for(
        lambda: alerts(service, "CAM-04", HazardType.CAMERA_OFFLINE),
        30.0,
        what=lambda: f"no offline alert for CAM-04; health: {live.health('CAM-04')}",
    )
    assert found[0].episode_state is not EpisodeState.CLOSED
    assert "refused" in found[0].summary
    health = live.health("CAM-04")
    assert health is not None
    assert health.state is HealthState.OFFLINE


def test_stats_and_metrics_cover_every_pulled_camera(running: tuple[SiteMonitor, Service]) -> None:
    live, _ = running

    def settled() -> bool:
        """Run alone, the pipeline may still be connecting: wait for what the figures describe."""
        detected, cam2, cam4 = live.camera_stats("CAM-01"), live.health("CAM-02"), live.health("CAM-04")
        return (
            detected is not None
            and detected.detected_frames > 0
            and bool(detected.inference_ms)
            and live.latest("CAM-01") is not None
            and cam2 is not None
            and cam2.state in (HealthState.ONLINE, HealthState.DEGRADED)
            and cam4 is not None
            and cam4.state is HealthState.OFFLINE
        )

    wait_for(settled, CROWD_WAIT_S, what=lambda: f"the pipeline did not settle; stats: {live.stats()}")
    stats = {s.camera_id: s for s in live.stats()}
    assert set(stats) == {"CAM-01", "CAM-02", "CAM-03", "CAM-04"}
    assert stats["CAM-01"].detected_frames > 0
    assert stats["CAM-01"].detecting
    assert stats["CAM-01"].ingest.input_fps > 0
    assert not stats["CAM-02"].detecting, "a zone crossing itself keeps the camera out of detection ..."
    assert stats["CAM-02"].health.state in (HealthState.ONLINE, HealthState.DEGRADED), "... but not out of ingest"
    detected, ingested_only = live.camera_stats("CAM-01"), live.camera_stats("CAM-02")
    assert detected is not None
    assert detected.inference_ms
    assert ingested_only is not None
    assert ingested_only.inference_ms is None
    frame = live.latest("CAM-01")
    assert frame is not None
    assert frame.image.ndim == 3
    assert live.latest("CAM-99") is None, "not pulled: nothing, no error"
    assert live.camera_stats("CAM-99") is None
    registry = CollectorRegistry()
    registry.register(live.collector())
    text = generate_latest(registry).decode()
    assert 'gridwatch_camera_online{camera="CAM-01"} 1.0' in text
    assert 'gridwatch_camera_online{camera="CAM-04"} 0.0' in text
    assert "gridwatch_observations_total" in text
    assert "gridwatch_detector_batches_total" in text


def test_a_camera_disabled_in_the_site_stops_being_pulled(
    running: tuple[SiteMonitor, Service], rtsp_server: FootageServer
) -> None:
    live, service = running
    before = pulls(rtsp_server.port)
    assert before >= 3  # CAM-01, CAM-02, CAM-03 (CAM-04 has no server)
    service.site.set_enabled("CAM-03", False)
    wait_for(lambda: "CAM-03" not in live.camera_ids, 10.0)
    assert live.health("CAM-03") is None
    wait_for(lambda: pulls(rtsp_server.port) == before - 1, 10.0, what="the RTSP session was closed")
    pipeline = live.pipeline
    assert pipeline is not None
    wait_for(lambda: "CAM-03" not in pipeline.camera_ids, 5.0, what="the detector forgot it too")
    service.site.set_enabled("CAM-03", True)  # and back, without a restart
    wait_for(lambda: "CAM-03" in live.camera_ids, 10.0)
    wait_for(lambda: pulls(rtsp_server.port) == before, 15.0)


def test_stop_closes_open_episodes_and_releases_threads_and_streams(
    tmp_path: Path, fresh_rtsp_server: FootageServer, detector: Detector
) -> None:
    port = fresh_rtsp_server.port
    site = site_yaml(port, tmp_path / "site.yaml", dead_port=free_port(), cameras=("CAM-01", "CAM-02"))
    settings, service = open_site(tmp_path / "data", site)
    threads_before = set(threading.enumerate())
    live = SiteMonitor(service, settings, detector=detector, options=FAST)
    live.start()
    try:
        wait_for(lambda: pulls(port) == 2, 15.0)
        wait_for(lambda: alerts(service, "CAM-01", HazardType.CROWD), CROWD_WAIT_S)
    finally:
        started = time.monotonic()
        assert live.stop()
        took = time.monotonic() - started
        service.events.close()
    assert took < FAST.stop_timeout_s
    assert pulls(port) == 0
    (crowd,) = alerts(service, "CAM-01", HazardType.CROWD)
    assert crowd.episode_state is EpisodeState.CLOSED, "no alert is left open under an episode nobody continues"
    assert crowd.summary == "gridwatch stopped"
    assert live.camera_ids == []
    assert live.health("CAM-01") is None
    wait_for(
        lambda: not (set(threading.enumerate()) - threads_before),
        5.0,
        what=lambda: f"threads left behind: {[t.name for t in set(threading.enumerate()) - threads_before]}",
    )


def test_the_runner_wires_the_pipeline_unless_detection_is_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = site_yaml(free_port(), tmp_path / "site.yaml", dead_port=free_port())
    app, _, live = build_app(Settings(data_dir=tmp_path / "on"), site_file=site)
    assert isinstance(live, SiteMonitor)
    assert live.health("CAM-01") is None, "nothing is known before it starts"
    context = app.state.runtime.context
    assert context.latest_frame("CAM-01") is None
    assert context.stats("CAM-01") is None
    assert not live.running
    monkeypatch.setenv("GRIDWATCH_DETECT", "0")
    _, _, off = build_app(Settings(data_dir=tmp_path / "off"), site_file=site)
    assert off is None


# ---------------------------------------------------------------------------- delivering observations


def crowd(camera_id: str = "CAM-01") -> Observation:
    """A crowd opening now on one of the demo site's cameras (in the plaza zone on CAM-01)."""
    return observation(
        camera_id=camera_id,
        hazard=HazardType.CROWD,
        severity=Severity.MEDIUM,
        at=datetime.now(UTC),
        zone_id="plaza" if camera_id == "CAM-01" else None,
        summary="5 people gathering",
        people=5.0,
        detections=(),
    )


@pytest.fixture
def idle_site(tmp_path: Path) -> tuple[Settings, Service]:
    return open_site(tmp_path / "data", site_yaml(free_port(), tmp_path / "site.yaml", dead_port=free_port()))


def test_a_model_that_cannot_load_is_a_clear_error_and_leaves_nothing_running(
    idle_site: tuple[Settings, Service], tmp_path: Path
) -> None:
    settings, service = idle_site
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    threads_before = set(threading.enumerate())
    live = SiteMonitor(service, settings, options=MonitorOptions(model=ModelConfig(weights=broken, cache_dir=tmp_path)))
    with pytest.raises(GridwatchError, match=r"broken\.pt: not a loadable ultralytics weights file"):
        live.start()
    assert not live.running
    wait_for(lambda: not (set(threading.enumerate()) - threads_before), 10.0)


def test_a_refused_observation_is_logged_and_dropped(
    idle_site: tuple[Settings, Service], caplog: pytest.LogCaptureFixture
) -> None:
    settings, service = idle_site
    live = SiteMonitor(service, settings)
    with caplog.at_level(logging.WARNING, logger="gridwatch.delivery"):
        assert live.deliver(crowd("CAM-99")) is False
    assert 'refused: camera "CAM-99" does not exist' in caplog.text
    assert live.deliveries.refused == 1
    assert live.deliver(crowd()) is True, "the next one is stored as usual"
    assert live.deliveries.stored == 1


def database_hiccup(ingest: Callable[[Observation], object], failures: int) -> Callable[[Observation], object]:
    """The events ingest behind a database that is locked for the first ``failures`` attempts."""
    left = {"n": failures}

    def flaky(obs: Observation) -> object:
        if left["n"] > 0:
            left["n"] -= 1
            raise OperationalError("INSERT INTO alerts ...", {}, sqlite3.OperationalError("database is locked"))
        return ingest(obs)

    return flaky


def test_a_database_hiccup_is_retried_with_backoff(idle_site: tuple[Settings, Service]) -> None:
    settings, service = idle_site
    options = MonitorOptions(retry_first_s=0.05, retry_max_s=0.1, retry_for_s=10.0)
    live = SiteMonitor(service, settings, options=options, store=database_hiccup(service.events.apply_observation, 3))
    started = time.monotonic()
    assert live.deliver(crowd()) is True
    assert time.monotonic() - started >= (0.05 + 0.1 + 0.1) / 2  # each wait jittered down by at most half
    assert live.deliveries.retries == 3
    assert live.deliveries.stored == 1
    assert [a.episode_id for a in alerts(service, "CAM-01", HazardType.CROWD)] == ["ep-1"]


def test_a_lasting_outage_drops_the_observation_without_raising(idle_site: tuple[Settings, Service]) -> None:
    settings, service = idle_site
    options = MonitorOptions(retry_first_s=0.05, retry_max_s=0.05, retry_for_s=0.3)
    live = SiteMonitor(
        service, settings, options=options, store=database_hiccup(service.events.apply_observation, 1000)
    )
    assert live.deliver(crowd()) is False
    assert live.deliveries.dropped == 1
    assert live.deliveries.retries >= 3
    assert alerts(service, "CAM-01", HazardType.CROWD) == []


def test_int8_calibration_defaults_to_the_demo_footage_in_demo_mode(tmp_path: Path) -> None:
    footage = tmp_path / "footage"
    footage.mkdir()
    assert Settings(data_dir=tmp_path, demo=True, footage_dir=footage).model_calibration is None  # no footage yet
    (footage / "vtest.avi").write_bytes(b"\0")
    assert Settings(data_dir=tmp_path, demo=True, footage_dir=footage).model_calibration == footage / "vtest.avi"
    assert Settings(data_dir=tmp_path, demo=False, footage_dir=footage).model_calibration is None
    own = tmp_path / "snapshots"
    assert Settings(data_dir=tmp_path, demo=True, footage_dir=footage, calibration=own).model_calibration == own

"""The live pipeline end to end: the demo site's cameras over real RTSP, the real model, a real SQLite site.

One running system is shared by this module's tests (starting streams costs CPU on a small machine);
the tests that count threads and connections run their own, in tests/gridwatch/test_monitor.py, so no
system of another test is running beside them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from detectors.model.detector import Detector
from detectors.types import EpisodeState, HazardType
from gridwatch.monitor import SiteMonitor
from gridwatch.wiring import Service
from ingest.demo_server import FootageServer, free_port
from ingest.types import HealthState
from tests.gridwatch.monitor_site import CROWD_WAIT_S, FAST, alerts, open_site, pulls, site_yaml
from tests.support.wait import wait_for


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory, rtsp_server: FootageServer, detector: Detector
) -> Iterator[tuple[SiteMonitor, Service]]:
    tmp = tmp_path_factory.mktemp("live")
    settings, service = open_site(tmp / "data", site_yaml(rtsp_server.port, tmp / "site.yaml", dead_port=free_port()))
    live = SiteMonitor(service.site, settings, store=service.events.apply_observation, detector=detector, options=FAST)
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

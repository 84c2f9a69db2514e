"""ONVIF end to end: a camera discovered by a unicast WS-Discovery probe, added by ONVIF through the API (its
stream URI from the device, tested over real RTSP), pulled by the live pipeline with the real model until a
crowd alert comes from its picture; its own PullPoint motion event becomes an alert too; removing the camera
releases its subscription (the simulated device counts none left)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.access import Role
from api.app import create_app
from api.context import ApiContext
from api.users import UserStore
from core.db import session_factory
from detectors.model.detector import Detector
from detectors.onvif_events import ONVIF_MARK
from detectors.types import HazardType
from gridwatch.monitor import MonitorOptions, SiteMonitor
from gridwatch.wiring import Service
from ingest.onvif import SubscriptionTimings
from ingest.onvif_discovery import discover
from ingest.types import HealthState
from tests.api.conftest import PASSWORD, fast_auth
from tests.gridwatch.monitor_site import alerts, open_site
from tests.support.onvif_sim import OnvifSimulator, running_device
from tests.support.paths import EXAMPLES
from tests.support.rtsp import RtspCamera
from tests.support.wait import wait_for

OPTIONS = MonitorOptions(
    health_every_s=0.5,
    reload_every_s=0.5,
    stop_timeout_s=15.0,
    onvif=SubscriptionTimings(termination_s=60, pull_timeout_s=0.5, retry_s=0.5),
)


@pytest.fixture
def device(rtsp_camera: RtspCamera) -> Iterator[OnvifSimulator]:
    with running_device(rtsp_camera.url, username=rtsp_camera.username, password=rtsp_camera.password) as sim:
        yield sim


@pytest.fixture
def live(tmp_path: Path, detector: Detector) -> Iterator[tuple[SiteMonitor, Service, TestClient]]:
    text = (EXAMPLES / "demo-site.yaml").read_text(encoding="utf-8")
    for cid in ("CAM-01", "CAM-02", "CAM-03", "CAM-04"):  # only the camera added here is watched
        text = text.replace(f"  - id: {cid}\n", f"  - id: {cid}\n    enabled: false\n")
    site_file = tmp_path / "site.yaml"
    site_file.write_text(text, encoding="utf-8")
    settings, service = open_site(tmp_path / "data", site_file)
    users = UserStore(session_factory(service.engine), service.site, service.events.clock, fast_auth())
    users.create("integrator", Role.INTEGRATOR, password=PASSWORD)
    app = create_app(ApiContext(engine=service.engine, site=service.site, auth=fast_auth(), events=service.events))
    monitor = SiteMonitor(
        service.site, settings, store=service.events.apply_observation, detector=detector, options=OPTIONS
    )
    monitor.start()
    with TestClient(app) as client:
        res = client.post("/api/auth/login", json={"username": "integrator", "password": PASSWORD})
        assert res.status_code == 200, res.text
        client.headers["X-CSRF-Token"] = res.json()["csrf_token"]
        yield monitor, service, client
    assert monitor.stop()
    service.events.close()


def test_discover_add_by_onvif_pull_alert_and_release(
    live: tuple[SiteMonitor, Service, TestClient], device: OnvifSimulator, rtsp_camera: RtspCamera
) -> None:
    monitor, service, client = live
    [found] = discover("127.0.0.1/32", port=device.discovery_port, timeout_s=2.0, multicast=False)
    body = {
        "address": found.address,
        "port": found.port,
        "username": rtsp_camera.username,
        "password": rtsp_camera.password,
        "id": "CAM-20",
        "name": "Willow Court gate (ONVIF)",
        "compound": "K-01",
    }
    res = client.post("/api/cameras/onvif", json=body)
    assert res.status_code == 201, res.text
    assert res.json()["test"]["ok"] is True
    zone: dict[str, object] = {"id": "gate", "purpose": "crowd", "points": [[0, 0], [1, 0], [1, 1], [0, 1]]}
    zone["settings"] = {"min_people": 1, "min_duration_s": 1}
    res = client.put("/api/cameras/CAM-20/zones", json=[zone])
    assert res.status_code == 200, res.text

    # pulled over real RTSP, and the model finds vtest's pedestrians in it
    wait_for(lambda: (h := monitor.health("CAM-20")) is not None and h.state is HealthState.ONLINE, 60.0)
    crowd = wait_for(lambda: alerts(service, "CAM-20", HazardType.CROWD), 120.0, what=lambda: monitor.stats())
    assert ONVIF_MARK not in crowd[0].measurements

    # the camera's own motion event, pulled from its PullPoint subscription
    wait_for(lambda: device.live_subscriptions == 1, 30.0, what="the camera's event subscription")
    device.emit(
        "tns1:RuleEngine/CellMotionDetector/Motion", {"IsMotion": "true"}, {"VideoSourceConfigurationToken": "vs0"}
    )
    [motion] = wait_for(lambda: alerts(service, "CAM-20", HazardType.INTRUSION), 30.0)
    assert motion.measurements[ONVIF_MARK] == 1.0
    assert "ONVIF" in motion.summary

    # removing the camera releases its subscription on the device
    assert client.delete("/api/cameras/CAM-20").status_code == 204
    wait_for(lambda: device.unsubscribed == 1, 30.0, what="the subscription released")
    assert device.live_subscriptions == 0
    assert device.expired == 0

"""The shell's ONVIF event watch against the protocol simulator and a real events service: a device's event
becomes an alert marked as the camera's own, a redelivered one makes no second, and a camera removed or
disabled has its subscription released (the simulator counts none left)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine

from camera_config.onvif_settings import OnvifSettings
from camera_config.schema import CameraSpec
from camera_config.store import SiteStore
from camera_config.validate import load_site_file
from core.clock import FakeClock
from core.db import session_factory
from detectors.onvif_events import ONVIF_MARK
from detectors.types import EpisodeState, HazardType
from events.service import EventsService
from events.types import Alert
from gridwatch.onvif_events import OnvifEventWatch
from ingest.onvif import SubscriptionTimings
from tests.support.onvif_sim import OnvifSimulator, running_device
from tests.support.paths import EXAMPLES
from tests.support.wait import wait_for

TIMINGS = SubscriptionTimings(termination_s=120, pull_timeout_s=0.2, retry_s=0.05, call_timeout_s=5)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[OnvifSimulator]:
    with running_device("rtsp://127.0.0.1:8554/cam/main", now=clock.now) as device:
        yield device


@pytest.fixture
def site(store: SiteStore, sim: OnvifSimulator) -> SiteStore:
    store.apply_site(load_site_file(EXAMPLES / "demo-site.yaml"))
    store.put_camera(
        CameraSpec.model_validate(
            {
                "id": "CAM-09",
                "name": "Willow Court bike shed",
                "compound": "K-01",
                "streams": {"main": "rtsp://127.0.0.1:8554/cam/main"},
                "credentials": {"username": sim.username, "password": sim.password},
                "onvif": {"host": "127.0.0.1", "port": sim.port},
            }
        )
    )
    return store


@pytest.fixture
def events(engine: Engine, site: SiteStore, clock: FakeClock, tmp_path: Path) -> Iterator[EventsService]:
    service = EventsService(session_factory(engine), site, tmp_path / "data", clock=clock, site_ttl_s=0.0)
    yield service
    service.close()


@pytest.fixture
def watch(site: SiteStore, events: EventsService, clock: FakeClock) -> Iterator[OnvifEventWatch]:
    w = OnvifEventWatch(site.credentials, events.apply_observation, clock=clock, timings=TIMINGS, stop_timeout_s=5)
    w.start()
    yield w
    assert w.stop()


def onvif_alerts(events: EventsService) -> list[Alert]:
    return [a for a in events.alerts(limit=50).items if a.camera_id == "CAM-09"]


def test_a_device_event_becomes_an_alert_marked_as_the_cameras_own(
    site: SiteStore, sim: OnvifSimulator, events: EventsService, watch: OnvifEventWatch, clock: FakeClock
) -> None:
    watch.apply(site.cameras())
    wait_for(lambda: sim.live_subscriptions == 1, what="a subscription")
    assert [s.camera_id for s in watch.status()] == ["CAM-09"]
    sim.emit("tns1:VideoSource/MotionAlarm", {"State": "true"}, {"Source": "VideoSource_1"})
    [alert] = wait_for(lambda: onvif_alerts(events), what="an alert from the device's motion event")
    assert alert.hazard is HazardType.INTRUSION
    assert alert.measurements.get(ONVIF_MARK) == 1.0
    assert alert.summary.startswith("ONVIF 设备事件 / ONVIF device event")
    # the same event again (as a device resends it): the same episode, no second alert
    sim.emit("tns1:VideoSource/MotionAlarm", {"State": "true"}, {"Source": "VideoSource_1"}, utc=alert.started_at)
    sim.emit("tns1:VideoSource/GlobalSceneChange/ImagingService", {"State": "true"}, {"Source": "VideoSource_1"})
    wait_for(lambda: len(onvif_alerts(events)) == 2, what="the tamper alert")
    by_hazard = {a.hazard: a for a in onvif_alerts(events)}
    assert set(by_hazard) == {HazardType.INTRUSION, HazardType.CAMERA_COVERED}
    sim.emit("tns1:VideoSource/MotionAlarm", {"State": "false"}, {"Source": "VideoSource_1"})
    wait_for(
        lambda: {a.hazard: a for a in onvif_alerts(events)}[HazardType.INTRUSION].episode_state is EpisodeState.CLOSED,
        what="the motion episode closed by the device",
    )


def test_removing_or_disabling_the_camera_releases_its_subscription(
    site: SiteStore, sim: OnvifSimulator, events: EventsService, watch: OnvifEventWatch
) -> None:
    watch.apply(site.cameras())
    wait_for(lambda: sim.live_subscriptions == 1, what="a subscription")
    sim.emit("tns1:VideoSource/GlobalSceneChange/ImagingService", {"State": "true"})
    wait_for(lambda: onvif_alerts(events), what="the tamper alert")
    site.set_enabled("CAM-09", False)
    watch.apply(site.cameras())
    assert sim.live_subscriptions == 0
    assert sim.unsubscribed == 1
    assert watch.status() == []
    [alert] = onvif_alerts(events)
    assert alert.episode_state is EpisodeState.CLOSED, "its open episode was closed"
    site.set_enabled("CAM-09", True)
    watch.apply(site.cameras())
    wait_for(lambda: sim.live_subscriptions == 1, what="subscribed again")
    site.delete_camera("CAM-09")
    watch.apply(site.cameras())
    assert sim.live_subscriptions == 0
    assert sim.unsubscribed == 2
    assert sim.expired == 0


def test_changed_settings_move_the_subscription_and_events_off_stops_it(
    site: SiteStore, sim: OnvifSimulator, watch: OnvifEventWatch
) -> None:
    cam = site.camera("CAM-09")
    watch.apply([cam])
    wait_for(lambda: sim.live_subscriptions == 1, what="a subscription")
    assert cam.onvif is not None
    watch.apply([replace(cam, onvif=OnvifSettings(host="127.0.0.1", port=sim.port, events=False))])
    assert sim.live_subscriptions == 0
    watch.apply([cam])
    wait_for(lambda: sim.live_subscriptions == 1, what="subscribed again")


def test_stopping_the_watch_releases_every_subscription(site: SiteStore, sim: OnvifSimulator, clock: FakeClock) -> None:
    w = OnvifEventWatch(site.credentials, lambda obs: None, clock=clock, timings=TIMINGS)
    w.start()
    w.apply(site.cameras())
    wait_for(lambda: sim.live_subscriptions == 1, what="a subscription")
    clock.advance(61)
    wait_for(lambda: sim.renewed == 1, what="a renewal at half the subscription's life")
    assert w.stop()
    assert sim.live_subscriptions == 0
    assert sim.unsubscribed == 1


def test_a_camera_with_wrong_credentials_is_retried_without_stopping_the_others(
    site: SiteStore, sim: OnvifSimulator, clock: FakeClock
) -> None:
    with running_device("rtsp://127.0.0.1:8554/other", now=clock.now) as other:
        site.put_camera(
            CameraSpec.model_validate(
                {
                    "id": "CAM-10",
                    "name": "Willow Court back gate",
                    "compound": "K-01",
                    "streams": {"main": "rtsp://127.0.0.1:8554/other"},
                    "credentials": {"username": other.username, "password": "not-its-password"},
                    "onvif": {"host": "127.0.0.1", "port": other.port},
                }
            )
        )
        w = OnvifEventWatch(site.credentials, lambda obs: None, clock=clock, timings=TIMINGS)
        w.start()
        try:
            w.apply(site.cameras())
            wait_for(lambda: sim.live_subscriptions == 1, what="the good camera's subscription")
            status = wait_for(
                lambda: next((s for s in w.status() if s.camera_id == "CAM-10" and s.last_error), None),
                what="the refused camera's error",
            )
            assert "ONVIF 用户名或密码错误" in (status.last_error or "")
            assert other.calls.get("CreatePullPointSubscription", 0) == 0
        finally:
            assert w.stop()
        assert other.live_subscriptions == 0

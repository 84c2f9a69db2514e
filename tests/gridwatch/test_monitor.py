"""The live pipeline's lifecycle and delivery: stopping, a model that cannot load, refused observations,
database hiccups. Each test runs its own system (none shares the process with another test's), so the
threads and connections it counts are its own.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from core.errors import GridwatchError
from detectors.model.config import ModelConfig
from detectors.model.detector import Detector
from detectors.types import EpisodeState, HazardType, Observation, Severity
from gridwatch.monitor import MonitorOptions, SiteMonitor
from gridwatch.runner import build_app
from gridwatch.settings import Settings
from gridwatch.wiring import Service
from ingest.demo_server import FootageServer, free_port
from tests.gridwatch.monitor_site import CROWD_WAIT_S, FAST, alerts, open_site, pulls, site_yaml
from tests.support.factories import observation
from tests.support.wait import wait_for


def test_stop_closes_open_episodes_and_releases_threads_and_streams(
    tmp_path: Path, fresh_rtsp_server: FootageServer, detector: Detector
) -> None:
    port = fresh_rtsp_server.port
    site = site_yaml(port, tmp_path / "site.yaml", dead_port=free_port(), cameras=("CAM-01", "CAM-02"))
    settings, service = open_site(tmp_path / "data", site)
    threads_before = set(threading.enumerate())
    live = SiteMonitor(service.site, settings, store=service.events.apply_observation, detector=detector, options=FAST)
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
    assert app.state.runtime.live_view.settings.max_viewers == 32
    monkeypatch.setenv("GRIDWATCH_DETECT", "0")
    monkeypatch.setenv("GRIDWATCH_LIVE_MAX_VIEWERS", "48")  # three 16-tile walls
    served, _, off = build_app(Settings(data_dir=tmp_path / "off"), site_file=site)
    assert off is None
    assert served.state.runtime.live_view.settings.max_viewers == 48


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
    live = SiteMonitor(
        service.site,
        settings,
        store=service.events.apply_observation,
        options=MonitorOptions(model=ModelConfig(weights=broken, cache_dir=tmp_path)),
    )
    with pytest.raises(GridwatchError, match=r"broken\.pt: not a loadable ultralytics weights file"):
        live.start()
    assert not live.running
    wait_for(lambda: not (set(threading.enumerate()) - threads_before), 10.0)


def test_a_refused_observation_is_logged_and_dropped(
    idle_site: tuple[Settings, Service], caplog: pytest.LogCaptureFixture
) -> None:
    settings, service = idle_site
    live = SiteMonitor(service.site, settings, store=service.events.apply_observation)
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
    live = SiteMonitor(
        service.site, settings, options=options, store=database_hiccup(service.events.apply_observation, 3)
    )
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
        service.site, settings, options=options, store=database_hiccup(service.events.apply_observation, 1000)
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

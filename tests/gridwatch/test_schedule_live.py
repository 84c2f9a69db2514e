"""The analysis scheduler in the live pipeline, over real RTSP: a camera with an open episode keeps its cadence
while many cameras are added and the model budget cannot serve them all."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from camera_config.generate import generate_site
from detectors.model.detector import Detector
from detectors.schedule import ScheduleConfig
from gridwatch.monitor import MonitorOptions, SiteMonitor
from ingest.demo_server import FootageServer
from tests.gridwatch.monitor_site import open_site
from tests.support.wait import wait_for

EPISODE_CAMERA = "CAM-0001"
ADDED_STILL = 30
ADDED_MOVING = 6


def site_file(path: Path, base_url: str, still: int, moving: int) -> Path:
    """CAM-0001 shows people in a crowd zone that one person fills (its episode opens and stays open); then
    ``still`` cameras of a still scene and ``moving`` cameras of walking people with no zone (motion to
    analyse, nothing to alert on). Every camera asks for one frame a second."""
    doc: dict[str, Any] = generate_site(rtsp_base=base_url)
    cameras = doc["cameras"][: 1 + still + moving]
    for i, cam in enumerate(cameras):
        mount = "vtest-360p" if i == 0 or i > still else "still"
        cam["streams"] = {"main": f"{base_url}/{mount}"}
        cam.pop("credentials", None)
        cam["zones"] = []
        cam["detect"] = {"fps": 1}
    cameras[0]["zones"] = [
        {
            "id": "crowd",
            "purpose": "crowd",
            "points": [[0, 0], [1, 0], [1, 1], [0, 1]],
            "settings": {"min_people": 1, "min_duration_s": 1},  # open while anyone is in view: vtest always
        }
    ]
    doc["cameras"] = cameras
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def analysed(live: SiteMonitor, camera_id: str) -> int:
    assert live.pipeline is not None
    return live.pipeline.counters(camera_id).analysed


def rate_over(live: SiteMonitor, camera_id: str, seconds: float) -> float:
    start, t0 = analysed(live, camera_id), time.monotonic()
    time.sleep(seconds)
    return (analysed(live, camera_id) - start) / (time.monotonic() - t0)


def test_an_open_episode_keeps_its_cadence_while_many_cameras_are_added(
    tmp_path: Path, rtsp_server: FootageServer, detector: Detector
) -> None:
    base = rtsp_server.base_url
    settings, service = open_site(tmp_path / "data", site_file(tmp_path / "one.yaml", base, 0, 0))
    # A budget far below what the added moving cameras want: only the guarantees can be kept for them.
    options = MonitorOptions(
        health_every_s=0.5, reload_every_s=0.5, stop_timeout_s=15.0, schedule=ScheduleConfig(budget=0.01)
    )
    live = SiteMonitor(
        service.site, settings, store=service.events.apply_observation, detector=detector, options=options
    )
    live.start()
    try:
        assert live.pipeline is not None
        pipeline = live.pipeline
        wait_for(
            lambda: EPISODE_CAMERA in pipeline.open_cameras(),
            60.0,
            what=lambda: f"no crowd episode opened on {EPISODE_CAMERA}: {live.camera_stats(EPISODE_CAMERA)}",
        )
        alone = rate_over(live, EPISODE_CAMERA, 8.0)

        service.site.load_site(site_file(tmp_path / "many.yaml", base, ADDED_STILL, ADDED_MOVING))
        added = [f"CAM-{i:04d}" for i in range(2, 2 + ADDED_STILL + ADDED_MOVING)]

        def seen(camera_id: str) -> bool:
            figures = live.camera_stats(camera_id)
            return figures is not None and figures.detected_frames > 0

        wait_for(
            lambda: all(seen(c) for c in added),
            45.0,
            what=lambda: f"added cameras not analysed yet: {[c for c in added if not seen(c)]}",
        )
        crowded = rate_over(live, EPISODE_CAMERA, 20.0)

        assert EPISODE_CAMERA in pipeline.open_cameras(), "the episode stayed open throughout"
        assert alone >= 0.8, f"alone the camera was analysed at {alone:.2f} fps"
        assert crowded >= 0.8, f"with {len(added)} more cameras: {crowded:.2f} fps (alone {alone:.2f})"
        figures = {c: live.camera_stats(c) for c in [EPISODE_CAMERA, *added]}
        episode = figures[EPISODE_CAMERA]
        assert episode is not None
        assert episode.need == "episode"
        assert episode.starved == 0
        moving = [figures[c] for c in added[ADDED_STILL:]]
        assert sum(f.deferred for f in moving if f is not None) > 0, "the moving cameras wanted more than the budget"
        # Everyone still gets the guaranteed minimum: no camera was starved past it.
        assert all(f is not None and f.starved == 0 for f in figures.values()), {
            c: f.starved for c, f in figures.items() if f is not None
        }
    finally:
        assert live.stop()
        service.events.close()

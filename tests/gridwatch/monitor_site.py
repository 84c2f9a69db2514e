"""The demo site on the footage server, as the monitor tests run it (shared by their modules)."""

from __future__ import annotations

from pathlib import Path

import psutil  # type: ignore[import-untyped]

from detectors.types import HazardType
from events.types import Alert
from gridwatch.monitor import MonitorOptions
from gridwatch.settings import Settings
from gridwatch.wiring import Service, open_service
from tests.support.paths import EXAMPLES

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

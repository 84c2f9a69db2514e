"""Small helpers shared by the ingest tests: camera values and health probes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from camera_config.stream_settings import DetectSettings
from camera_config.types import Camera, CameraLevel
from ingest.demo_server import FootageServer
from ingest.types import CameraHealth, HealthState
from ingest.worker import IngestWorker
from tests.support.paths import EXAMPLES


def camera(camera_id: str, url: str, *, revision: int = 1, **detect: Any) -> Camera:
    return Camera(
        id=camera_id,
        name=f"test camera {camera_id}",
        level=CameraLevel.COMPOUND,
        grid_id="G-01",
        main_url=url,
        sub_url=None,
        detect=DetectSettings(**detect),
        revision=revision,
    )


def health_of(worker: IngestWorker, camera_id: str) -> CameraHealth:
    return worker.health(camera_id)[0]


def in_state(worker: IngestWorker, camera_id: str, *states: HealthState) -> Callable[[], CameraHealth | None]:
    def probe() -> CameraHealth | None:
        h = health_of(worker, camera_id)
        return h if h.state in states else None

    return probe


def demo_site_on(server: FootageServer, path: Path, *, cam04_enabled: bool = True) -> Path:
    """The demo site with its cameras on ``server`` instead of 127.0.0.1:8554."""
    text = (EXAMPLES / "demo-site.yaml").read_text(encoding="utf-8").replace(":8554/", f":{server.port}/")
    if not cam04_enabled:
        text = text.replace("    level: property\n", "    level: property\n    enabled: false\n")
    path.write_text(text, encoding="utf-8")
    return path

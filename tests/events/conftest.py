"""Fixtures for the events tests: a small real site in the database, a fake clock, the service, evidence.

The site (from tests/camera_config/sites.py) has grid G1 with worker W1, building leader B1 and party
group PG1 (member M1); camera C1 on G1 with a crowd zone "z1", C2 on grid G2b (no worker), and C3
on G1, disabled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import pytest
from sqlalchemy.orm import Session, sessionmaker

from camera_config.store import SiteStore
from camera_config.validate import validate_site
from core.clock import FakeClock
from events.messages import Delivery
from events.outbox import Bus
from events.policy import Policy
from events.service import EventsService, Publish
from tests.camera_config.sites import camera, site
from tests.support.factories import START


def events_site() -> dict[str, object]:
    zone = {"id": "z1", "name": "Gate", "purpose": "crowd", "points": [[0, 0], [1, 0], [1, 1], [0, 1]]}
    return site(
        cameras=[camera("C1", zones=[zone]), camera("C2", compound="K2", grid="G2b"), camera("C3", enabled=False)]
    )


@pytest.fixture(scope="session")
def evidence_jpeg(footage: Path) -> bytes:
    """A real frame of vtest.avi (pedestrians), as a JPEG."""
    cap = cv2.VideoCapture(str(footage / "vtest.avi"))
    try:
        for _ in range(30):
            ok, frame = cap.read()
            assert ok
    finally:
        cap.release()
    ok, buf = cv2.imencode(".jpg", frame)
    assert ok
    return bytes(buf)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def site_store(store: SiteStore) -> SiteStore:
    store.apply_site(validate_site(events_site()))
    return store


class Recorder:
    """Collects what the bus delivers."""

    def __init__(self) -> None:
        self.messages: list[Delivery] = []

    def __call__(self, message: Delivery) -> None:
        self.messages.append(message)

    @property
    def topics(self) -> list[str]:
        return [m.topic for m in self.messages]


MakeService = Callable[..., EventsService]


@pytest.fixture
def make_service(
    sessions: sessionmaker[Session], site_store: SiteStore, tmp_path: Path, clock: FakeClock
) -> MakeService:
    def make(*, policy: Policy | None = None, publish: Publish = "inline", bus: Bus | None = None) -> EventsService:
        return EventsService(
            sessions,
            site_store,
            tmp_path / "data",
            policy=policy,
            clock=clock,
            bus=bus,
            site_ttl_s=0.0,
            publish=publish,
        )

    return make


@pytest.fixture
def service(make_service: MakeService) -> EventsService:
    return make_service()


@pytest.fixture
def bus_log(service: EventsService) -> Iterator[Recorder]:
    rec = Recorder()
    unsubscribe = service.bus.subscribe("*", rec)
    yield rec
    unsubscribe()

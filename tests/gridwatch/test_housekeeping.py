"""The service's housekeeping thread: retention and the disk watchdog once at start and then on their
schedules, the shell's pruners with them, and a stop that ends the thread."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

from events.retention import Pruner
from gridwatch.housekeeping import Housekeeping
from gridwatch.settings import Settings
from gridwatch.wiring import open_service
from tests.support.wait import wait_for


def test_runs_at_start_with_the_shells_pruners_and_stops(tmp_path: Path) -> None:
    service = open_service(Settings(data_dir=tmp_path / "data"))
    calls: list[datetime] = []

    def broken(_before: datetime) -> int:
        raise RuntimeError("not there yet")

    def audit(before: datetime) -> int:
        calls.append(before)
        return 0

    housekeeping = Housekeeping(service, pruners=[Pruner("broken", 30, broken), Pruner("access audit", 365, audit)])
    before = set(threading.enumerate())
    try:
        housekeeping.start()
        wait_for(lambda: calls, what="the pruners ran, the failing one did not stop the rest")
        report = wait_for(lambda: housekeeping.retention.last_disk, what="the disk watchdog checked")
        assert report.min_free_bytes == service.events.policy.disk.min_free_mb * 2**20
        assert "housekeeping" in [t.name for t in set(threading.enumerate()) - before]
    finally:
        assert housekeeping.stop()
        service.events.close()
        service.engine.dispose()
    assert not [t for t in set(threading.enumerate()) - before if t.name == "housekeeping"]

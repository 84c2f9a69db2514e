"""`gridwatch events ...` on a real SQLite file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.clock import FakeClock
from core.db import session_factory
from events.service import EventsService
from gridwatch.settings import Settings
from gridwatch.wiring import open_service
from tests.support.cli import Gridwatch
from tests.support.factories import jpeg, remote_observation
from tests.support.paths import EXAMPLES


def test_policy_check_names_each_error(tmp_path: Path, gridwatch: Gridwatch) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("deadline_h: {high: -1}\nsurprise: 1\n", encoding="utf-8")
    res = gridwatch("events", "check-policy", str(bad))
    assert res.returncode == 1
    assert "bad.yaml.deadline_h.high: Input should be greater than 0" in res.stderr
    assert "bad.yaml.surprise: unknown key" in res.stderr
    assert "2 error(s); nothing was changed" in res.stderr


def test_policy_check_shows_retention(tmp_path: Path, gridwatch: Gridwatch) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("retention: {dismissed_evidence_days: 3}\ndisk: {data_quota_mb: 2048}\n", encoding="utf-8")
    res = gridwatch("events", "check-policy", str(good))
    assert res.returncode == 0, res.stderr
    assert (
        "retention: evidence 30 days (3 when dismissed), case files 365 days after close, audit 365 days; "
        "disk floor 1024 MiB free, quota 2048 MiB"
    ) in res.stdout


def test_hotline_import_escalation_and_figures(tmp_path: Path, gridwatch: Gridwatch) -> None:
    assert gridwatch("site", "load", str(EXAMPLES / "demo-site.yaml")).returncode == 0
    tickets = tmp_path / "tickets.json"
    tickets.write_text(
        json.dumps(
            [
                {"external_id": "T-1", "grid": "G-01", "title": "Noise", "received_at": "2020-01-01T08:00:00+08:00"},
                {"external_id": "T-2", "grid": "G-02", "title": "Lamp out", "severity": "low"},
            ]
        ),
        encoding="utf-8",
    )
    res = gridwatch("events", "import-hotline", str(tickets))
    assert res.returncode == 0, res.stderr
    assert "2 case(s) created, 0 ticket(s) already imported" in res.stdout

    res = gridwatch("events", "escalate")  # T-1 was due in 2020
    assert res.returncode == 0, res.stderr
    assert "(G-01) escalated to the community" in res.stdout
    assert "1 overdue case(s) escalated" in res.stdout

    res = gridwatch("events", "figures", "--level", "community", "--since", "2019-12-01", "--until", "2099-01-01")
    assert res.returncode == 0, res.stderr
    assert "CM-01" in res.stdout
    assert "│        2 │" in res.stdout  # received

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"external_id": "T-3", "grid": "G-01"}]), encoding="utf-8")
    res = gridwatch("events", "import-hotline", str(bad))
    assert res.returncode == 1
    assert "bad.json[0].title: required" in res.stderr


def test_retention_dry_run_lists_and_the_real_run_removes(tmp_path: Path, gridwatch: Gridwatch) -> None:
    assert gridwatch("site", "load", str(EXAMPLES / "demo-site.yaml")).returncode == 0
    service = open_service(Settings())
    forty_days_ago = FakeClock(datetime.now(UTC) - timedelta(days=40))
    events = EventsService(
        session_factory(service.engine), service.site, service.settings.data_dir, clock=forty_days_ago
    )
    alert = events.apply_remote_observation(remote_observation("old", camera_id="CAM-01", evidence=jpeg(32, 24))).alert
    events.close()
    service.engine.dispose()
    assert alert.evidence is not None
    snapshot = tmp_path / "data" / alert.evidence
    size = snapshot.stat().st_size
    day = f"{alert.last_seen_at:%Y-%m-%d}"

    dry = gridwatch("events", "retention", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert size < 1024
    assert f"would remove alert {alert.id}: 1 file(s), {size} bytes (in no case, last seen {day})" in dry.stdout
    assert f"dry run, nothing removed: 1 alert(s) and 0 attachment(s), 1 file(s), {size} bytes to free" in dry.stdout
    assert snapshot.exists()

    done = gridwatch("events", "retention")
    assert f"removed alert {alert.id}: 1 file(s)" in done.stdout
    assert "1 alert(s) and 0 attachment(s), 1 file(s)" in done.stdout
    assert not snapshot.exists()
    again = gridwatch("events", "retention", "--dry-run")
    assert "0 alert(s) and 0 attachment(s), 0 file(s), 0 bytes to free" in again.stdout

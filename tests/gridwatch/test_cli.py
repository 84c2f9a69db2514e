"""The `gridwatch` command line against a real SQLite file (in this process; `--help` as a real process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.audit import AuditAction, AuditLog
from core.clock import SystemClock
from core.db import make_engine, session_factory
from tests.support.cli import Gridwatch, run_process
from tests.support.paths import EXAMPLES


def test_help_lists_the_commands(tmp_path: Path) -> None:
    res = run_process(tmp_path / "data", "--help")
    assert res.returncode == 0
    for command in ("run", "check-config", "import-cameras", "site", "db"):
        assert command in res.stdout
    run_help = run_process(tmp_path / "data", "run", "--help")
    assert run_help.returncode == 0
    assert "--no-detect" in run_help.stdout


def test_check_config_accepts_the_demo_site(tmp_path: Path, gridwatch: Gridwatch) -> None:
    res = gridwatch("check-config", str(EXAMPLES / "demo-site.yaml"))
    assert res.returncode == 0, res.stderr
    assert "valid — 1 communities, 3 compounds, 3 grids, 9 people, 4 cameras, 0 notification channels" in res.stdout


def test_check_config_lists_every_error(tmp_path: Path, gridwatch: Gridwatch) -> None:
    bad = tmp_path / "bad.yaml"
    text = (EXAMPLES / "demo-site.yaml").read_text(encoding="utf-8")
    text = text.replace("compound: K-02", "compound: K-99").replace(
        "[[0.0, 0.0], [0.45, 0.0], [0.45, 0.3], [0.0, 0.3]]", "[[0, 0], [2, 0]]"
    )
    bad.write_text(text, encoding="utf-8")
    res = gridwatch("check-config", str(bad))
    assert res.returncode == 1
    assert 'cameras[1].compound: compound "K-99" does not exist' in res.stderr
    assert "cameras[2].zones[0].points: polygon needs ≥3 points" in res.stderr
    assert "2 error(s); nothing was changed" in res.stderr


@pytest.mark.slow
def test_generate_load_import_show(tmp_path: Path, gridwatch: Gridwatch) -> None:
    gen = gridwatch("site", "generate", str(tmp_path / "full"))
    assert gen.returncode == 0, gen.stderr
    load = gridwatch("site", "load", str(tmp_path / "full" / "site-skeleton.yaml"))
    assert load.returncode == 0, load.stderr
    imp = gridwatch("import-cameras", str(tmp_path / "full" / "cameras.csv"))
    assert imp.returncode == 0, imp.stderr
    assert "1751 created, 0 updated, 0 unchanged" in imp.stdout
    assert "1751/1751" in imp.stderr  # the progress bar
    show = gridwatch("site", "show")
    assert show.returncode == 0, show.stderr
    assert "1751 cameras, 118 grid workers, 661 building leaders, 43 party groups" in show.stdout
    assert "Riverside Sub-district" in show.stdout
    assert "pw-" not in show.stdout  # generated passwords start with pw-
    export = gridwatch("site", "export-cameras")
    assert export.returncode == 0
    assert export.stdout.count("\n") == 1752
    assert "pw-" not in export.stdout


def test_import_refusal_changes_nothing(tmp_path: Path, gridwatch: Gridwatch) -> None:
    assert gridwatch("site", "load", str(EXAMPLES / "demo-site.yaml")).returncode == 0
    csv = tmp_path / "cams.csv"
    csv.write_text(
        "id,name,compound,grid,rtsp_url\nX1,New,K-01,,rtsp://127.0.0.1:8554/a\nX2,Bad,K-01,G-119,rtsp://127.0.0.1:8554/b\n",
        encoding="utf-8",
    )
    res = gridwatch("import-cameras", str(csv))
    assert res.returncode == 1
    assert 'cams.csv line 3: grid "G-119" does not exist' in res.stderr
    show = gridwatch("site", "show", "--cameras")
    assert "X1" not in show.stdout
    assert "4 cameras" in show.stdout
    skipped = gridwatch("import-cameras", str(csv), "--skip-invalid")
    assert skipped.returncode == 0
    assert "1 created, 0 updated, 0 unchanged, 1 skipped" in skipped.stdout
    assert 'skipped cams.csv line 3: grid "G-119" does not exist' in skipped.stdout


def test_camera_import_and_export_are_in_the_access_audit(tmp_path: Path, gridwatch: Gridwatch) -> None:
    assert gridwatch("site", "load", str(EXAMPLES / "demo-site.yaml")).returncode == 0
    csv = tmp_path / "cams.csv"
    csv.write_text("id,name,compound,grid,rtsp_url\nX1,New,K-01,,rtsp://127.0.0.1:8554/a\n", encoding="utf-8")
    assert gridwatch("import-cameras", str(csv)).returncode == 0
    assert gridwatch("site", "export-cameras", "--output", str(tmp_path / "out.csv")).returncode == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'gridwatch.db'}")
    try:
        entries = list(AuditLog(session_factory(engine), SystemClock()).entries())
    finally:
        engine.dispose()
    by_action = {e.action: e for e in entries}
    imported, exported = by_action[AuditAction.CAMERAS_IMPORTED], by_action[AuditAction.CAMERAS_EXPORTED]
    assert imported.actor.startswith("cli:")
    assert (imported.target, imported.detail) == ("cams.csv", "1 rows: 1 created, 0 updated, 0 unchanged, 0 skipped")
    assert (exported.target, exported.detail) == (str(tmp_path / "out.csv"), "5 cameras")


NOTIFICATIONS = """
notifications:
  - id: city
    kind: webhook
    url: https://city.example/hooks/gridwatch
    rules: [{places: [G-01], topics: ["case.*"]}]
  - id: grid-g01-group
    kind: wecom
    url: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc
    cap: {count: 20, per_minutes: 60}
"""


def test_a_site_file_brings_its_notification_channels(tmp_path: Path, gridwatch: Gridwatch) -> None:
    site = tmp_path / "site.yaml"
    site.write_text((EXAMPLES / "demo-site.yaml").read_text(encoding="utf-8") + NOTIFICATIONS, encoding="utf-8")
    check = gridwatch("check-config", str(site))
    assert check.returncode == 0, check.stderr
    assert "2 notification channels" in check.stdout
    load = gridwatch("site", "load", str(site))
    assert load.returncode == 0, load.stderr
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'gridwatch.db'}")
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, kind, secret_enc IS NOT NULL FROM notification_channels ORDER BY id")
        assert [tuple(r) for r in rows] == [("city", "webhook", 1), ("grid-g01-group", "wecom", 0)]
    engine.dispose()

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        site.read_text(encoding="utf-8").replace("https://qyapi.weixin.qq.com", "http://qyapi.weixin.qq.com"),
        encoding="utf-8",
    )
    res = gridwatch("check-config", str(bad))
    assert res.returncode == 1
    assert "notifications[1].url: a wecom robot URL must be https://qyapi.weixin.qq.com/…" in res.stderr


def test_the_first_start_prints_no_ultralytics_banner(tmp_path: Path) -> None:
    """A fresh data dir: ultralytics writes its settings file there, quietly."""
    code = (
        "import sys; from pathlib import Path; from gridwatch.settings import Settings; "
        "Settings(data_dir=Path(sys.argv[1])).prepare(); import ultralytics.utils"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("YOLO_CONFIG_DIR", "YOLO_VERBOSE")}
    res = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "data")], capture_output=True, text=True, env=env, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "data" / "ultralytics" / "Ultralytics" / "settings.json").is_file()
    assert "Ultralytics" not in res.stdout + res.stderr

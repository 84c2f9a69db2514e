"""`gridwatch events ...` on a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import Gridwatch
from tests.support.paths import EXAMPLES


def test_policy_check_names_each_error(tmp_path: Path, gridwatch: Gridwatch) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("deadline_h: {high: -1}\nsurprise: 1\n", encoding="utf-8")
    res = gridwatch("events", "check-policy", str(bad))
    assert res.returncode == 1
    assert "bad.yaml.deadline_h.high: Input should be greater than 0" in res.stderr
    assert "bad.yaml.surprise: unknown key" in res.stderr
    assert "2 error(s); nothing was changed" in res.stderr


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

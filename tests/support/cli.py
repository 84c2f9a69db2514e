"""The `gridwatch` command line for tests: in this process (fast, the usual way) or as a real process
(for what only a process shows: the ``python -m gridwatch`` entry point)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from gridwatch.cli import main
from gridwatch.commands import common
from tests.support.paths import REPO


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


Gridwatch = Callable[..., Ran]


@pytest.fixture
def gridwatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Gridwatch:
    """``gridwatch(*args, stdin=None)`` runs the real command line on a data directory of this test."""
    monkeypatch.setenv("GRIDWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")
    for console in (common.out, common.err):  # they read COLUMNS once, when first imported
        monkeypatch.setattr(console, "_width", 200)

    def run(*args: str, stdin: str | None = None) -> Ran:
        capsys.readouterr()
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(args))
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run


def run_process(data_dir: Path, *args: str) -> Ran:
    """``python -m gridwatch *args`` as a child process, bounded in time."""
    env = {**os.environ, "GRIDWATCH_DATA_DIR": str(data_dir), "COLUMNS": "200", "PYTHONPATH": str(REPO)}
    res = subprocess.run(
        [sys.executable, "-m", "gridwatch", *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    return Ran(res.returncode, res.stdout, res.stderr)

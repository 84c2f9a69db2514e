"""`gridwatch cluster up`'s options are checked before any connection: each bad one is named with its value."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ingest.demo_server import free_port
from tests.support.cli import Gridwatch

GOOD = ["cluster", "up", "--address", "127.0.0.1:1", "--api", "http://127.0.0.1:8000", "--token", "gw_x"]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--shards", "0"], "--shards must be 1 to 4096, got 0"),
        (["--shards", "5000"], "--shards must be 1 to 4096, got 5000"),
        (["--shards", "2", "--num-cpus", "0"], "--num-cpus must be above 0, got 0"),
        (["--shards", "2", "--memory-mb", "100"], "--memory-mb must be at least 256, got 100"),
        (["--shards", "2", "--resources", "{gpu"], "--resources is not JSON"),
        (["--shards", "2", "--resources", '{"gpu": -1}'], "--resources must map resource names to positive numbers"),
        (["--shards", "2", "--resources", '["gpu"]'], "--resources must map resource names to positive numbers"),
    ],
)
def test_bad_options_are_named_before_connecting(gridwatch: Gridwatch, args: list[str], said: str) -> None:
    ran = gridwatch(*GOOD, *args)
    assert ran.returncode != 0
    assert said in ran.stderr
    assert "Ray cluster" not in ran.stderr  # refused before trying the address


def test_a_bad_api_url_and_a_missing_token_are_both_named(
    gridwatch: Gridwatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRIDWATCH_WORKER_TOKEN", raising=False)
    ran = gridwatch("cluster", "up", "--address", "127.0.0.1:1", "--api", "ftp://box", "--shards", "2")
    assert ran.returncode != 0
    assert '--api "ftp://box" is not an http:// or https:// URL' in ran.stderr
    assert "the worker token is empty" in ran.stderr


@pytest.mark.parametrize("pause", ["0", "-1", "inf", "nan"])
def test_status_watch_needs_a_pause_above_zero(gridwatch: Gridwatch, pause: str) -> None:
    ran = gridwatch("cluster", "status", "--address", "127.0.0.1:1", "--watch", pause)
    assert ran.returncode != 0
    assert f"--watch {pause}: the pause between rounds must be a number of seconds above 0" in ran.stderr
    assert "Ray cluster" not in ran.stderr  # refused before trying the address


@pytest.mark.slow
def test_an_address_where_nothing_answers_is_named_in_bounded_time() -> None:
    """As a process of its own: a Ray connection attempt is not undone in the test's process."""
    nobody = f"127.0.0.1:{free_port()}"
    res = subprocess.run(
        [sys.executable, "-m", "gridwatch", "cluster", "status", "--address", nobody],
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode != 0
    assert f'the Ray cluster at "{nobody}" did not answer' in res.stderr

"""`gridwatch worker` given bad input: it says what is wrong and where, exits or waits as it should, and
leaves the API alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.demo_server import free_port
from tests.support.paths import REPO
from tests.support.wait import wait_for


def worker(tmp_path: Path, *args: str, token: str | None = "t") -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "GRIDWATCH_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    env.pop("GRIDWATCH_WORKER_TOKEN", None)
    if token is not None:
        env["GRIDWATCH_WORKER_TOKEN"] = token
    return subprocess.Popen(
        [sys.executable, "-m", "gridwatch", "worker", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )


@pytest.mark.parametrize(
    ("args", "token", "said"),
    [
        (["--api", "http://127.0.0.1:1"], None, "no worker token: give --token or set GRIDWATCH_WORKER_TOKEN"),
        (["--api", "127.0.0.1:8000"], "t", '--api "127.0.0.1:8000" is not an http:// or https:// URL'),
        (["--api", "http://127.0.0.1:1", "--shard", "5/4"], "t", '--shard: "5/4": K/N needs 1 ≤ K ≤ N'),
        (["--api", "http://127.0.0.1:1", "--cameras", " , "], "t", "--cameras lists no camera id"),
        (["--api", "http://127.0.0.1:1", "--spool-mb", "0"], "t", "--spool-mb must be positive, got 0"),
    ],
)
def test_bad_options_are_named_and_nothing_starts(
    tmp_path: Path, args: list[str], token: str | None, said: str
) -> None:
    proc = worker(tmp_path, *args, token=token)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1, output
    assert said in " ".join(output.split()), output


def test_a_spool_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    proc = worker(tmp_path, "--api", "http://127.0.0.1:1", "--spool", str(tmp_path / "file" / "spool.db"))
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1, output
    assert f"the spool {tmp_path / 'file' / 'spool.db'} cannot be opened for writing" in " ".join(output.split())


@pytest.mark.parametrize("case", ["no API there", "a token the API refuses"])
def test_the_worker_waits_for_an_api_that_does_not_answer_or_refuses_it_and_stops_cleanly(
    tmp_path: Path, served: str, case: str
) -> None:
    url = f"http://127.0.0.1:{free_port()}" if case == "no API there" else served
    expected = "did not answer GET /api/worker/cameras" if case == "no API there" else "refused the worker token (401)"
    proc = worker(tmp_path, "--api", url, token="gw_not-a-token")
    lines: list[str] = []
    stdout = proc.stdout
    assert stdout is not None

    def said_it() -> bool:
        lines.append(stdout.readline())
        return expected in lines[-1]

    try:
        wait_for(said_it, timeout_s=60)
        assert proc.poll() is None  # still waiting: an admin may start the API or fix the token
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(lines) + output
    assert lines[-1].startswith("worker: waiting for the API: the API at http://127.0.0.1:"), lines

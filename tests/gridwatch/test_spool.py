"""The remote worker's spool: what is written stays until acknowledged, in order, across a kill -9; when full,
old updates go first and opened or closed steps never."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from detectors.types import EpisodeState
from events.schema import parse_observation
from gridwatch.spool import Spool, SpoolError
from tests.support.factories import jpeg, observation


def test_what_is_written_comes_back_in_order_as_the_api_takes_it(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    sent = [
        observation("ep-1", evidence=jpeg()),
        observation("ep-2"),
        observation("ep-1", state="updated", seq=1),
        observation("ep-1", state="closed", seq=2),
    ]
    for obs in sent:
        spool.put(obs)
    waiting = spool.peek(limit=10)
    assert [parse_observation(json.loads(s.body)) for s in waiting] == sent  # snapshot included
    assert [s.state for s in waiting] == [EpisodeState.OPENED, EpisodeState.OPENED, "updated", "closed"]
    figures = spool.figures()
    assert figures.depth == 4
    assert figures.bytes == sum(len(s.body) for s in waiting)
    assert figures.oldest_at == waiting[0].queued_at

    spool.ack([waiting[0].id, waiting[2].id])
    assert [s.episode_id for s in spool.peek()] == ["ep-2", "ep-1"]
    assert spool.figures().depth == 2
    assert spool.peek(limit=1)[0].episode_id == "ep-2"


def test_peek_keeps_to_its_byte_budget_but_always_gives_one(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    for i in range(3):
        spool.put(observation(f"ep-{i}", evidence=jpeg()))
    one = len(spool.peek(limit=1)[0].body)
    assert len(spool.peek(max_bytes=one * 2)) == 2
    assert len(spool.peek(max_bytes=1)) == 1


def test_a_worker_killed_after_writing_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    script = (
        "import os, signal\n"
        "from gridwatch.spool import Spool\n"
        "from tests.support.factories import observation\n"
        f"spool = Spool(__import__('pathlib').Path({str(path)!r}))\n"
        "for i in range(50):\n"
        "    spool.put(observation(f'ep-{i}'))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parents[2], timeout=60, check=False)
    assert proc.returncode == -signal.SIGKILL
    spool = Spool(path)
    assert [s.episode_id for s in spool.peek(limit=100)] == [f"ep-{i}" for i in range(50)]
    assert spool.figures().depth == 50


def test_when_full_the_oldest_updates_go_first_never_an_opened_or_closed_step(tmp_path: Path) -> None:
    probe = Spool(tmp_path / "probe.db")
    probe.put(observation("ep-1", state="updated", seq=1))
    size = probe.figures().bytes
    spool = Spool(tmp_path / "spool.db", max_bytes=size * 4)
    spool.put(observation("ep-1"))
    for seq in (1, 2, 3):
        spool.put(observation("ep-1", state="updated", seq=seq))
    assert spool.figures().dropped == 0
    spool.put(observation("ep-1", state="closed", seq=4))  # one more than fits: the oldest update goes
    spool.put(observation("ep-2"))
    kept = [(s.episode_id, s.state.value) for s in spool.peek()]
    assert kept == [("ep-1", "opened"), ("ep-1", "updated"), ("ep-1", "closed"), ("ep-2", "opened")]
    assert [json.loads(s.body).get("seq", 0) for s in spool.peek()] == [0, 3, 4, 0]
    assert spool.figures().dropped == 2

    spool.put(observation("ep-3"))  # only the last update is left to drop, then nothing
    spool.put(observation("ep-4"))
    assert [s.state.value for s in spool.peek()].count("updated") == 0
    assert spool.figures().depth == 5  # past its size rather than losing an opened step
    assert spool.figures().bytes > spool.max_bytes
    spool.close()
    assert Spool(tmp_path / "spool.db", max_bytes=size * 4).figures().dropped == 3  # kept across restarts


def test_a_spool_that_cannot_be_written_says_where(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(SpoolError, match="not-a-directory"):
        Spool(blocker / "spool.db")

    spool = Spool(tmp_path / "spool.db")
    spool.put(observation("ep-1"))
    # a full disk, as SQLite reports it: the database may not grow by another page
    pages = spool._db.execute("PRAGMA page_count").fetchone()[0]
    spool._db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(SpoolError, match=r"ep-big seq 0 not written to the spool .*spool\.db"):
        spool.put(observation("ep-big", summary="x" * 4000, evidence=os.urandom(64_000)))
    assert [s.episode_id for s in spool.peek()] == ["ep-1"]  # what was there is still there
    assert spool.figures().depth == 1


def test_a_spool_needs_a_size() -> None:
    with pytest.raises(ValueError, match="positive"):
        Spool(Path("unused.db"), max_bytes=0)

"""The file store's background writer: used while open, never restarted after close."""

from __future__ import annotations

import threading
from pathlib import Path

from events.files import FileStore


def writers() -> set[threading.Thread]:
    """The file writer threads alive now, by identity: another test's store may have one of the same name."""
    return {t for t in threading.enumerate() if t.name.startswith("files")}


def test_a_write_after_close_runs_in_the_callers_thread_and_leaves_no_thread(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    before = writers()
    with store.staged() as staged:
        staged.start_new([("evidence/a.jpg", b"a")])
        staged.finish()
    assert (tmp_path / "evidence" / "a.jpg").read_bytes() == b"a"
    assert writers() - before, "open: the write went through the background writer"
    store.close()
    assert writers() == before
    with store.staged() as staged:
        staged.start_new([("evidence/b.jpg", b"b")])  # a batch still in flight at shutdown
        staged.finish()
    assert (tmp_path / "evidence" / "b.jpg").read_bytes() == b"b", "nothing is lost"
    assert writers() == before, "and no thread is started that nothing would stop"

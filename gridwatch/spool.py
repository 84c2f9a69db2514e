"""A remote worker's observations on their way to the API, kept on disk until the API has them.

Every observation is written here before it is sent and removed only when the API has answered for it, so
an API that is down, a network that drops, or a worker killed mid-send loses nothing: the spool is replayed
in the order it was written (the steps of an episode stay in order) and the API's idempotency on the episode
id and seq turns a re-sent observation into a ``duplicate``, never a second alert.

SQLite in WAL mode with ``synchronous=NORMAL``: a write survives the worker process dying at any point (the
operating system has it); a power cut may lose the last moment's writes. The spool is bounded in bytes:
when it is full, the oldest *updates* are dropped first (a later update of the same episode carries its
state), never an ``opened`` or ``closed`` step; each drop is counted, logged and kept in the spool's
figures across restarts.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import Unavailable
from detectors.types import EpisodeState, Observation
from events.schema import ObservationIn

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 1024 * 2**20
"""1 GiB: at the rate `bench/worker.py` measures for a full box of cameras this holds hours, not minutes."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    episode_id TEXT NOT NULL,
    state TEXT NOT NULL,
    body BLOB NOT NULL,
    queued_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS spool_updates ON spool (id) WHERE state = 'updated';
CREATE TABLE IF NOT EXISTS figures (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class SpoolError(Unavailable):
    """The spool cannot be opened or written (directory missing or read-only, disk full); names the path."""


@dataclass(frozen=True, slots=True)
class Spooled:
    """One observation waiting for the API: its JSON document as the worker endpoint takes it."""

    id: int
    episode_id: str
    state: EpisodeState
    body: bytes
    queued_at: float
    """Wall-clock seconds when it was written (delivery latency and the age of the oldest)."""


@dataclass(frozen=True, slots=True)
class SpoolFigures:
    depth: int
    """Observations waiting."""
    bytes: int
    """Their size on disk (JSON, snapshots as base64)."""
    max_bytes: int
    dropped: int
    """Updates dropped because the spool was full, since the spool was created."""
    oldest_at: float | None
    """When the oldest waiting observation was written (wall-clock seconds); None when empty."""


class Spool:
    """Thread-safe: the pipeline writes while the sender reads and acknowledges."""

    def __init__(self, path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes <= 0:
            raise ValueError(f"the spool's size must be positive, got {max_bytes} bytes")
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            size, depth = self._db.execute("SELECT COALESCE(SUM(LENGTH(body)), 0), COUNT(*) FROM spool").fetchone()
        except (OSError, sqlite3.Error) as exc:
            raise SpoolError(f"the spool {path} cannot be opened for writing: {exc}") from exc
        self._bytes = int(size)
        self._depth = int(depth)
        if depth:
            log.info("spool %s: %d observation(s) (%d bytes) left from before, sent first", path, depth, size)

    def put(self, obs: Observation) -> None:
        """Keep ``obs`` until the API has it. Raises SpoolError (naming the path) when it cannot be written;
        then nothing was stored and the caller still holds the observation."""
        body = ObservationIn.from_observation(obs).model_dump_json(exclude_defaults=True).encode()
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                dropped = self._make_room(len(body))
                self._db.execute(
                    "INSERT INTO spool (episode_id, state, body, queued_at) VALUES (?, ?, ?, ?)",
                    (obs.episode_id, obs.state.value, body, time.time()),
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise SpoolError(
                    f"observation {obs.episode_id} seq {obs.seq} not written to the spool {self.path}: {exc}"
                ) from exc
            self._bytes += len(body) - sum(n for _, n in dropped)
            self._depth += 1 - len(dropped)
        if dropped:
            log.warning(
                "spool %s full (%d bytes): dropped the %d oldest update(s) (%d bytes) to keep a new observation",
                self.path,
                self.max_bytes,
                len(dropped),
                sum(n for _, n in dropped),
            )

    def _make_room(self, size: int) -> list[tuple[int, int]]:
        """Within the caller's transaction: drop the oldest updates until ``size`` more bytes fit; (id, bytes)
        of each dropped one. Opened and closed steps are never dropped: the spool then grows past its size."""
        over = self._bytes + size - self.max_bytes
        if over <= 0:
            return []
        dropped: list[tuple[int, int]] = []
        freed = 0
        rows = self._db.execute("SELECT id, LENGTH(body) FROM spool WHERE state = 'updated' ORDER BY id")
        for id_, n in rows:
            if freed >= over:
                break
            dropped.append((id_, n))
            freed += n
        rows.close()
        if dropped:
            self._db.executemany("DELETE FROM spool WHERE id = ?", [(i,) for i, _ in dropped])
            self._db.execute(
                "INSERT INTO figures (name, value) VALUES ('dropped', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                (len(dropped),),
            )
        if freed < over:
            log.warning(
                "spool %s holds %d bytes, more than its %d: only opened and closed steps are left, which are never "
                "dropped",
                self.path,
                self._bytes + size - freed,
                self.max_bytes,
            )
        return dropped

    def peek(self, *, limit: int = 100, max_bytes: int = 8 * 2**20) -> list[Spooled]:
        """The oldest waiting observations, in the order they were written: at most ``limit`` of them and
        about ``max_bytes`` (always at least one)."""
        out: list[Spooled] = []
        size = 0
        with self._lock:
            rows = self._db.execute(
                "SELECT id, episode_id, state, body, queued_at FROM spool ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        for id_, episode, state, body, queued_at in rows:
            if out and size + len(body) > max_bytes:
                break
            out.append(Spooled(id_, episode, EpisodeState(state), bytes(body), queued_at))
            size += len(body)
        return out

    def ack(self, ids: Sequence[int]) -> None:
        """Forget observations the API has answered for (stored, duplicate, or refused for good)."""
        if not ids:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                gone = 0
                depth = 0
                for i in range(0, len(ids), 500):
                    chunk = list(ids[i : i + 500])
                    marks = ",".join("?" * len(chunk))
                    n, count = self._db.execute(
                        f"SELECT COALESCE(SUM(LENGTH(body)), 0), COUNT(*) FROM spool WHERE id IN ({marks})", chunk
                    ).fetchone()
                    self._db.execute(f"DELETE FROM spool WHERE id IN ({marks})", chunk)
                    gone += int(n)
                    depth += int(count)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise SpoolError(f"the spool {self.path} cannot be written: {exc}") from exc
            self._bytes -= gone
            self._depth -= depth

    def figures(self) -> SpoolFigures:
        with self._lock:
            oldest = self._db.execute("SELECT queued_at FROM spool ORDER BY id LIMIT 1").fetchone()
            dropped = self._db.execute("SELECT value FROM figures WHERE name = 'dropped'").fetchone()
            return SpoolFigures(
                depth=self._depth,
                bytes=self._bytes,
                max_bytes=self.max_bytes,
                dropped=int(dropped[0]) if dropped else 0,
                oldest_at=float(oldest[0]) if oldest else None,
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):  # no transaction was open
            self._db.execute("ROLLBACK")

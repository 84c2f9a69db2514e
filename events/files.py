"""Evidence snapshots, clips and case attachments as files under the data dir (never database blobs).

A file is written before the database transaction that refers to it commits; `Staged` removes what it
wrote when that transaction fails, so neither an orphan file nor a row pointing at nothing is left.
Types are recognised from the bytes, never from the name a client sent.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

import cv2
import numpy as np

from core.errors import InvalidInput, Issue
from detectors.types import Detection
from events.policy import AttachmentPolicy
from events.types import NewAttachment

_EXT = {"image/jpeg": "jpg", "image/png": "png", "video/mp4": "mp4", "application/pdf": "pdf"}


def sniff(content: bytes) -> str | None:
    """The content type the bytes really are (of the few gridwatch accepts), or None."""
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    if len(content) >= 12 and content[4:8] == b"ftyp":
        return "video/mp4"
    return None


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n} bytes"


@dataclass(frozen=True, slots=True)
class CheckedFile:
    name: str
    content_type: str
    content: bytes
    sha256: str


def check_attachments(
    files: Sequence[NewAttachment], policy: AttachmentPolicy, where: str = "attachments"
) -> list[CheckedFile]:
    """Every problem with the files at once, or the files with their real types."""
    issues: list[Issue] = []
    if len(files) > policy.max_files:
        issues.append(Issue(where, f"at most {policy.max_files} files, got {len(files)}"))
    out: list[CheckedFile] = []
    for i, f in enumerate(files):
        at = f"{where}[{i}]"
        name = PurePosixPath(f.name.replace("\\", "/")).name.strip()
        if not name or len(name) > 200:
            issues.append(Issue(f"{at}.name", "a file name of 1 to 200 characters is required"))
        if not f.content:
            issues.append(Issue(at, f'"{name}" is empty'))
            continue
        if len(f.content) > policy.max_bytes:
            issues.append(Issue(at, f'"{name}" is {_mib(len(f.content))}; the limit is {_mib(policy.max_bytes)}'))
            continue
        kind = sniff(f.content)
        if kind is None or kind not in policy.types:
            allowed = ", ".join(policy.types)
            issues.append(Issue(at, f'"{name}" is {kind or "of an unknown type"}; accepted: {allowed}'))
            continue
        out.append(CheckedFile(name, kind, f.content, hashlib.sha256(f.content).hexdigest()))
    if issues:
        raise InvalidInput(issues)
    return out


def draw_detections(jpeg: bytes, detections: Sequence[Detection]) -> bytes:
    """The snapshot with each detection's box and label drawn, for evidence sent without them."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise InvalidInput(Issue("evidence_jpeg", "not a decodable JPEG image"))
    for d in detections:
        p1 = (round(d.box.x1), round(d.box.y1))
        p2 = (round(d.box.x2), round(d.box.y2))
        cv2.rectangle(image, p1, p2, (0, 0, 255), 2)
        cv2.putText(image, f"{d.label} {d.confidence:.2f}", (p1[0], max(p1[1] - 4, 10)), 0, 0.5, (0, 0, 255), 1)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise InvalidInput(Issue("evidence_jpeg", "could not re-encode the annotated snapshot"))
    return bytes(buf)


class FileStore:
    """Files under one root (the data dir); paths handed out and stored are relative to it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._dirs: set[Path] = set()

    def pool(self) -> ThreadPoolExecutor | None:
        """Threads for writing many files at once (started on first use); None once closed, so that a
        write that comes late (a batch still in flight at shutdown) runs in its caller's thread instead of
        starting a thread that nothing would ever stop."""
        with self._lock:
            if self._closed:
                return None
            if self._pool is None:
                # One thread: creating files in one directory does not go faster in parallel (the
                # file system serialises it), it only costs more CPU; one thread still overlaps the
                # disk with the database work.
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="files")
            return self._pool

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def path(self, rel: str) -> Path:
        """Absolute path of a stored file; refuses anything that would leave the root."""
        full = (self.root / rel).resolve()
        if not full.is_relative_to(self.root.resolve()):
            raise InvalidInput(Issue("path", f'"{rel}" is outside the data dir'))
        return full

    def write(self, rel: str, content: bytes) -> None:
        """Atomic: readers see the whole file or none of it."""
        full = self.root / rel
        full.parent.mkdir(parents=True, exist_ok=True)
        tmp = full.with_name(f".{full.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_bytes(content)
        os.replace(tmp, full)

    def write_new(self, rel: str, content: bytes) -> None:
        """Straight to its name, for a path no committed row refers to yet (so no reader can see it
        half-written): half the file-system work of `write`, which matters for evidence under load."""
        full = self.root / rel
        if full.parent not in self._dirs:
            full.parent.mkdir(parents=True, exist_ok=True)
            with self._lock:
                self._dirs.add(full.parent)
        fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)

    def remove(self, rel: str) -> None:
        (self.root / rel).unlink(missing_ok=True)

    @contextmanager
    def staged(self) -> Iterator[Staged]:
        """Files written inside are removed again if the block raises."""
        staged = Staged(self)
        try:
            yield staged
        except BaseException:
            staged.undo()
            raise


class Staged:
    def __init__(self, store: FileStore) -> None:
        self._store = store
        self._written: list[str] = []
        self._pending: list[Future[None]] = []
        self._failed: list[tuple[str, OSError]] = []

    def write(self, rel: str, content: bytes) -> str:
        self._written.append(rel)
        self._store.write(rel, content)
        return rel

    def start_new(self, files: Sequence[tuple[str, bytes]], *, best_effort: bool = False) -> None:
        """Begin writing new files in the background, so the disk's waits overlap the database's;
        `finish` (before the commit) waits for them. ``best_effort``: a file that cannot be written (a
        full disk: ENOSPC, or any other OSError) is left out and reported by `settle` instead of failing
        the transaction."""
        if files:
            self._written.extend(rel for rel, _ in files)
            pool = self._store.pool()
            if pool is None:
                self._write_all(files, best_effort)
            else:
                self._pending.append(pool.submit(self._write_all, files, best_effort))

    def _write_all(self, files: Sequence[tuple[str, bytes]], best_effort: bool) -> None:
        for rel, content in files:
            try:
                self._store.write_new(rel, content)
            except OSError as exc:
                if not best_effort:
                    raise
                self._failed.append((rel, exc))
                with contextlib.suppress(OSError):
                    self._store.remove(rel)  # a partly written file

    def settle(self) -> list[tuple[str, OSError]]:
        """Wait for background writes, like `finish`, and return the best-effort files that could not be
        written, with why."""
        self.finish()
        failed, self._failed = self._failed, []
        return failed

    def finish(self) -> None:
        """Wait for background writes; the first failure is raised (and the transaction rolled back)."""
        pending, self._pending = self._pending, []
        for fut in pending:
            fut.result()

    def undo(self) -> None:
        for fut in self._pending:
            fut.exception()  # let it finish before its file is removed
        self._pending.clear()
        for rel in self._written:
            self._store.remove(rel)
        self._written.clear()


def evidence_path(episode_id: str, seq: int, day: datetime) -> str:
    """Where the snapshot of one step of an episode is stored: one file per step, under the day it arrived."""
    return f"evidence/{day:%Y/%m/%d}/{evidence_stem(episode_id)}-{seq}.jpg"


def evidence_stem(episode_id: str) -> str:
    """The part of an episode's snapshot names that all its steps share."""
    return hashlib.sha256(episode_id.encode()).hexdigest()[:24]


def attachment_path(case_id: int, checked: CheckedFile) -> str:
    return f"attachments/{case_id}/{uuid.uuid4().hex}.{_EXT[checked.content_type]}"

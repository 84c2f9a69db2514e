"""Retention of residents' pictures, and a watchdog on the data dir's disk.

`Retention.run` deletes the files whose keeping period (`events.policy.RetentionPolicy`) has ended:
snapshots and clips of alerts nobody made a case of, sooner for alerts dismissed as false alarms, and
every file of a closed (or dismissed) case some time after it closed. A file of an open case is never
deleted. Rows are never deleted: an alert or attachment keeps its place (its case's trail still lists
it) and is marked removed, with when and why, so the API answers 410 Gone for it; a case whose files
go gets a trail row saying how many were removed by retention on which day. A run is bounded
(``batch_size`` items), idempotent, and a file already missing is counted, not an error.

`Retention.check_disk` keeps the data dir within its floor of free space and its quota: when short of
room it deletes the evidence of alerts in no case, oldest first (never case files, never the
database), until there is room again, and publishes ``system.disk_low`` (`events.messages.DiskLow`).

Other stores with a keeping period plug in as `Pruner`s (e.g. access-audit rows): each gets the moment
before which its rows go and answers how many it removed.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import Session

from core.errors import GridwatchError
from events.case_plan import AuditStep
from events.files import Staged, evidence_stem
from events.messages import BusMessage, DiskLow
from events.orm import AlertRow, CaseAttachmentRow, CaseAuditRow, CaseRow
from events.service import EventsService
from events.types import SYSTEM, AlertStatus, CaseState

log = logging.getLogger(__name__)

RETENTION = "retention"
"""``removed_by`` of files whose keeping period ended."""
DISK = "disk"
"""``removed_by`` of evidence the disk watchdog deleted to make room."""
MIB = 2**20
_DAY = timedelta(days=1)
_MAX_SPAN_DAYS = 31
"""An episode's snapshots are looked for under the days it lasted, at most this many."""


@dataclass(frozen=True, slots=True)
class Pruner:
    """Another store with a keeping period, pruned with every run: ``prune(before)`` removes what is
    older than ``before`` (now − ``keep_days``) and returns how many rows or files it removed."""

    name: str
    keep_days: int
    prune: Callable[[datetime], int]


@dataclass(frozen=True, slots=True)
class RemovedItem:
    """The files of one alert (snapshots, clip) or one case attachment that a run removed (or would)."""

    kind: Literal["alert", "attachment"]
    id: int
    case_id: int | None
    reason: str
    """Why they went, e.g. ``dismissed 2026-03-02`` or ``case 7 closed 2025-03-01``."""
    files: int
    bytes: int
    missing: int = 0
    """Files the row named that were already gone (counted, not an error)."""


@dataclass(frozen=True, slots=True)
class RetentionSummary:
    now: datetime
    dry_run: bool
    items: tuple[RemovedItem, ...]
    pruned: Mapping[str, int] = field(default_factory=dict)
    """Rows each `Pruner` removed (left out in a dry run)."""
    more: bool = False
    """The run stopped at ``batch_size``: more is due, the next run takes it."""

    @property
    def alerts(self) -> int:
        return sum(1 for i in self.items if i.kind == "alert")

    @property
    def attachments(self) -> int:
        return sum(1 for i in self.items if i.kind == "attachment")

    @property
    def files(self) -> int:
        return sum(i.files for i in self.items)

    @property
    def bytes_freed(self) -> int:
        return sum(i.bytes for i in self.items)

    @property
    def missing(self) -> int:
        return sum(i.missing for i in self.items)


@dataclass(frozen=True, slots=True)
class DiskReport:
    """One check of the data dir: where it stood after the check, and what was removed to get there."""

    at: datetime
    free_bytes: int
    used_bytes: int
    min_free_bytes: int
    """The limits checked against: the floor of free space, and the data dir's quota when it has one."""
    quota_bytes: int | None
    low: bool
    """It was short of room when checked."""
    still_low: bool
    """It is still short of room: nothing that may be removed is left."""
    files_removed: int = 0
    bytes_freed: int = 0
    alerts_affected: int = 0


def disk_free(path: Path) -> int:
    """Free bytes on the file system that holds ``path`` (or would hold it: its nearest existing parent)."""
    while not path.exists() and path.parent != path:
        path = path.parent
    return shutil.disk_usage(path).free


def dir_size(root: Path) -> int:
    """Bytes the files under ``root`` take (symbolic links not followed); 0 when it does not exist."""
    total = 0
    stack = [root]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total


class Retention:
    """Retention and the disk watchdog over one events service (its database, data dir and bus).

    ``min_free_bytes`` and ``quota_bytes`` start as the policy's ``disk`` settings (MiB) and may be set
    in bytes; ``free_bytes`` measures the free space (default: the file system's).
    """

    def __init__(
        self,
        events: EventsService,
        *,
        pruners: Iterable[Pruner] = (),
        free_bytes: Callable[[Path], int] = disk_free,
    ) -> None:
        self.events = events
        self.policy = events.policy
        self.clock = events.clock
        self.files = events.files
        self.pruners: list[Pruner] = list(pruners)
        self.min_free_bytes: int = self.policy.disk.min_free_mb * MIB
        quota = self.policy.disk.data_quota_mb
        self.quota_bytes: int | None = quota * MIB if quota is not None else None
        self._free_bytes = free_bytes
        self._lock = threading.Lock()
        self.last_disk: DiskReport | None = None
        """The latest `check_disk` (for metrics)."""

    def add_pruner(self, pruner: Pruner) -> None:
        """Prune another store with every run (e.g. ``Pruner("access audit", 365, audit_log.prune)``)."""
        self.pruners.append(pruner)

    # ------------------------------------------------------------------ retention

    def run(self, *, dry_run: bool = False, now: datetime | None = None) -> RetentionSummary:
        """Remove (``dry_run``: only list) the files past their keeping period, at most ``batch_size``
        alerts and attachments, then run the pruners."""
        with self._lock:
            now = now or self.clock.now()
            policy = self.policy.retention
            budget = policy.batch_size
            items: list[RemovedItem] = []
            for label, query in self._alert_queries(now):
                if len(items) >= budget:
                    break
                # A dry run changes nothing, so an alert due for two reasons comes twice: listed once.
                seen = {i.id for i in items}
                got = self._alerts(label, query.limit(budget if dry_run else budget - len(items)), now, dry_run)
                items += [i for i in got if i.id not in seen][: budget - len(items)]
            if len(items) < budget:
                items += self._case_files(now, budget - len(items), dry_run)
            pruned: dict[str, int] = {}
            if not dry_run:
                for p in self.pruners:
                    try:
                        pruned[p.name] = p.prune(now - timedelta(days=p.keep_days))
                    except Exception:  # one failing store does not hold back the others or the files
                        log.exception("retention: pruning %s failed", p.name)
            summary = RetentionSummary(now, dry_run, tuple(items), pruned, more=len(items) >= budget)
        if not dry_run and (summary.items or summary.pruned):
            log.info(
                "retention: files of %d alert(s) and %d attachment(s) removed, %d file(s), %d bytes; pruned %s",
                summary.alerts,
                summary.attachments,
                summary.files,
                summary.bytes_freed,
                dict(summary.pruned) or "nothing else",
            )
        return summary

    def _alert_queries(self, now: datetime) -> list[tuple[str, Select[AlertRow, datetime | None]]]:
        """Alerts in no case whose files are due: (why, the query with the moment their days count from)."""
        policy = self.policy.retention
        a = AlertRow
        kept = (a.evidence_removed_at.is_(None), or_(a.evidence.is_not(None), a.clip.is_not(None)))
        dismissed = (
            select(a, a.handled_at)
            .where(*kept, a.case_id.is_(None), a.status == AlertStatus.DISMISSED.value)
            .where(a.handled_at < now - timedelta(days=policy.dismissed_evidence_days))
            .order_by(a.handled_at, a.id)
        )
        unused = (
            select(a, a.last_seen_at)
            .where(*kept, a.case_id.is_(None), a.last_seen_at < now - timedelta(days=policy.alert_evidence_days))
            .order_by(a.last_seen_at, a.id)
        )
        return [("dismissed", dismissed), ("in no case, last seen", unused)]

    def _alerts(
        self, label: str, query: Select[AlertRow, datetime | None], now: datetime, dry_run: bool
    ) -> list[RemovedItem]:
        if dry_run:
            with self.events.sessions() as s:
                listed = [self._alert_item(row, f"{label} {when:%Y-%m-%d}", True) for row, when in s.execute(query)]
            return [i for i in listed if i is not None]

        def work(s: Session, _staged: Staged, _out: list[BusMessage]) -> list[RemovedItem]:
            got = []
            for row, when in s.execute(query.with_for_update(skip_locked=True)).all():
                item = self._alert_item(row, f"{label} {when:%Y-%m-%d}", False)
                if item is not None:
                    row.evidence_removed_at, row.evidence_removed_by = now, RETENTION
                    got.append(item)
            return got

        return self.events.write(work)

    def _alert_item(self, row: AlertRow, reason: str, dry_run: bool) -> RemovedItem | None:
        named = [p for p in (row.evidence, row.clip) if p is not None]
        deleted = self._delete(named, self._earlier_snapshots(row), dry_run)
        if deleted is None:
            return None
        files, size, missing = deleted
        return RemovedItem("alert", row.id, row.case_id, reason, files, size, missing)

    def _earlier_snapshots(self, row: AlertRow) -> list[str]:
        """Snapshots of the episode's earlier steps (each step stores its own; the row names the latest)."""
        stem = evidence_stem(row.episode_id)
        first = row.received_at.date()
        last = max(row.last_seen_at, row.received_at).date() + _DAY
        days = min((last - first).days, _MAX_SPAN_DAYS)
        found = []
        for n in range(days + 1):
            folder = self.files.root / f"evidence/{first + timedelta(days=n):%Y/%m/%d}"
            if folder.is_dir():
                found += [
                    f"{folder.relative_to(self.files.root).as_posix()}/{p.name}" for p in folder.glob(f"{stem}-*")
                ]
        return found

    def _case_files(self, now: datetime, limit: int, dry_run: bool) -> list[RemovedItem]:
        """Files of cases closed longer ago than their days: their alerts' snapshots and clips and their
        attachments, in one transaction so that each case gets one trail row saying what went."""
        policy = self.policy.retention
        before = now - timedelta(days=policy.case_files_days_after_close)
        a, f = AlertRow, CaseAttachmentRow
        alerts = (
            select(a, CaseRow.closed_at)
            .join(CaseRow, CaseRow.id == a.case_id)
            .where(a.evidence_removed_at.is_(None), or_(a.evidence.is_not(None), a.clip.is_not(None)))
            .where(CaseRow.is_open == false(), CaseRow.closed_at < before)
            .order_by(CaseRow.closed_at, a.id)
            .limit(limit)
        )
        files = (
            select(f, CaseRow.closed_at)
            .join(CaseRow, CaseRow.id == f.case_id)
            .where(f.removed_at.is_(None), CaseRow.is_open == false(), CaseRow.closed_at < before)
            .order_by(CaseRow.closed_at, f.id)
        )

        def attachment(row: CaseAttachmentRow, closed: datetime | None, dry: bool) -> RemovedItem | None:
            deleted = self._delete([row.path], [], dry)
            if deleted is None:
                return None
            reason = f"case {row.case_id} closed {closed:%Y-%m-%d}"
            return RemovedItem("attachment", row.id, row.case_id, reason, *deleted)

        def collect(s: Session, dry: bool) -> list[RemovedItem]:
            got: list[RemovedItem] = []
            for row, closed in s.execute(alerts if dry else alerts.with_for_update(skip_locked=True)).all():
                if (item := self._alert_item(row, f"case {row.case_id} closed {closed:%Y-%m-%d}", dry)) is not None:
                    got.append(item)
                    if not dry:
                        row.evidence_removed_at, row.evidence_removed_by = now, RETENTION
            if len(got) < limit:
                more = files.limit(limit - len(got))
                for att, closed in s.execute(more if dry else more.with_for_update(skip_locked=True)).all():
                    if (item := attachment(att, closed, dry)) is not None:
                        got.append(item)
                        if not dry:
                            att.removed_at, att.removed_by = now, RETENTION
            return got

        if dry_run:
            with self.events.sessions() as s:
                return collect(s, True)

        def work(s: Session, _staged: Staged, _out: list[BusMessage]) -> list[RemovedItem]:
            got = collect(s, False)
            trail: dict[int, list[RemovedItem]] = {}
            for item in got:
                trail.setdefault(item.case_id or 0, []).append(item)
            self._trail(s, trail, now)
            return got

        return self.events.write(work)

    @staticmethod
    def _trail(s: Session, removed: Mapping[int, Sequence[RemovedItem]], now: datetime) -> None:
        """One trail row per case saying what retention removed and when (the case's state is unchanged)."""
        for case_id, items in sorted(removed.items()):
            state = CaseState(s.get_one(CaseRow, case_id).state)
            alerts = [i.id for i in items if i.kind == "alert"]
            attachments = [i.id for i in items if i.kind == "attachment"]
            what = []
            if alerts:
                what.append(f"the snapshots and clips of {len(alerts)} alert(s)")
            if attachments:
                what.append(f"{len(attachments)} attached file(s)")
            note = f"{' and '.join(what)} removed by retention on {now:%Y-%m-%d}"
            data = {"alert_ids": alerts, "attachment_ids": attachments, "bytes": sum(i.bytes for i in items)}
            s.add(CaseAuditRow(**AuditStep(RETENTION, state, state, SYSTEM, now, note, data).columns(case_id)))

    def _delete(self, named: Sequence[str], others: Sequence[str], dry_run: bool) -> tuple[int, int, int] | None:
        """Delete (or, dry, measure) the files: (deleted, bytes, named ones already missing); None when
        one could not be deleted (logged), so that its row stays as it is and the next run tries again."""
        count = size = missing = 0
        for rel in dict.fromkeys([*named, *others]):
            try:
                path = self.files.path(rel)
                n = path.stat().st_size
                if not dry_run:
                    path.unlink()
            except FileNotFoundError:
                missing += rel in named
                continue
            except (OSError, GridwatchError) as exc:
                log.error("retention: cannot delete %s: %s", rel, exc)
                return None
            count += 1
            size += n
        return count, size, missing

    # ------------------------------------------------------------------ disk watchdog

    def check_disk(self, *, now: datetime | None = None) -> DiskReport:
        """Keep the data dir within its floor and quota; when short of room, delete the evidence of alerts
        in no case, oldest first, until there is room, publish ``system.disk_low`` and log a warning."""
        with self._lock:
            now = now or self.clock.now()
            root = self.files.root
            root.mkdir(parents=True, exist_ok=True)
            used = dir_size(root) if self.quota_bytes is not None else 0
            free = self._free_bytes(root)
            if not self._short(free, used):
                report = DiskReport(now, free, used, self.min_free_bytes, self.quota_bytes, low=False, still_low=False)
                self.last_disk = report
                return report
            files = freed = alerts = 0
            batch = max(1, min(self.policy.retention.batch_size, 200))
            query = (
                select(AlertRow, AlertRow.last_seen_at)
                .where(AlertRow.evidence_removed_at.is_(None), AlertRow.case_id.is_(None))
                .where(or_(AlertRow.evidence.is_not(None), AlertRow.clip.is_not(None)))
                .order_by(AlertRow.last_seen_at, AlertRow.id)
            )
            while self._short(free, used):
                got = self._disk_batch(query, batch, now, free, used)
                if not got:
                    break
                for item in got:
                    files += item.files
                    freed += item.bytes
                    used -= item.bytes
                alerts += len(got)
                free = self._free_bytes(root)
            still = self._short(free, used)
            report = DiskReport(
                now, free, used if self.quota_bytes is not None else dir_size(root), self.min_free_bytes,
                self.quota_bytes, low=True, still_low=still, files_removed=files, bytes_freed=freed,
                alerts_affected=alerts,
            )  # fmt: skip
            self.last_disk = report
            message = DiskLow(
                now, free, self.min_free_bytes, report.used_bytes, self.quota_bytes, files, freed, alerts, still
            )
            self.events.write(lambda _s, _staged, out: out.append(message))
        log.warning(
            "data dir %s short of room (free %d bytes, floor %d; size %d bytes, quota %s): removed %d evidence "
            "file(s) of %d alert(s) in no case, %d bytes%s",
            root,
            report.free_bytes,
            report.min_free_bytes,
            report.used_bytes,
            report.quota_bytes,
            files,
            alerts,
            freed,
            "; STILL SHORT: what is left is case files and the database" if still else "",
        )
        return report

    def _short(self, free: int, used: int) -> bool:
        return free < self.min_free_bytes or (self.quota_bytes is not None and used > self.quota_bytes)

    def _disk_batch(
        self, query: Select[AlertRow, datetime], batch: int, now: datetime, free: int, used: int
    ) -> list[RemovedItem]:
        """Delete the oldest alerts' evidence one at a time until there is room or ``batch`` are done."""

        def work(s: Session, _staged: Staged, _out: list[BusMessage]) -> list[RemovedItem]:
            got: list[RemovedItem] = []
            room_free, room_used = free, used
            for row, when in s.execute(query.limit(batch).with_for_update(skip_locked=True)).all():
                if got and not self._short(room_free, room_used):
                    break
                item = self._alert_item(row, f"disk short of room, last seen {when:%Y-%m-%d}", False)
                if item is None:
                    continue
                row.evidence_removed_at, row.evidence_removed_by = now, DISK
                got.append(item)
                room_free += item.bytes
                room_used -= item.bytes
            return got

        return self.events.write(work)

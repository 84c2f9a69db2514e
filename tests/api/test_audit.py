"""The access audit store on both databases: rows written, read back filtered and paged, pruned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from api.audit import AuditAction, AuditActor, AuditFilter, AuditLog
from core.clock import FakeClock
from core.db import session_factory
from core.errors import InvalidInput

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
OPERATOR = AuditActor("operator", "operator", "10.0.0.7")
ADMIN = AuditActor("admin", "admin", "10.0.0.1")


@pytest.fixture
def audit_clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def audit(engine: Engine, audit_clock: FakeClock) -> AuditLog:
    return AuditLog(session_factory(engine), audit_clock)


def test_record_stamps_the_time_and_reads_back(audit: AuditLog, audit_clock: FakeClock) -> None:
    first = audit.record(OPERATOR, AuditAction.LIVE_VIEW, "CAM-01", "sub stream")
    audit_clock.advance(42)
    second = audit.record(OPERATOR, AuditAction.LIVE_VIEW_ENDED, "CAM-01", "42 s")
    assert (first.at, second.at) == (START, START + timedelta(seconds=42))
    page = audit.query()
    assert page.items == (second, first)  # newest first
    assert page.next_cursor is None
    assert (first.actor, first.actor_role, first.action, first.target, first.detail, first.address) == (
        "operator",
        "operator",
        AuditAction.LIVE_VIEW,
        "CAM-01",
        "sub stream",
        "10.0.0.7",
    )


def test_text_is_kept_to_one_storable_line_of_the_column_length(audit: AuditLog) -> None:
    entry = audit.record(AuditActor("cli:root", "admin"), AuditAction.CAMERAS_IMPORTED, "a\x00b\nc", "x" * 900)
    assert entry.target == "a\ufffdb\ufffdc"
    assert len(entry.detail) == 500
    assert entry.address is None
    assert audit.query().items == (entry,)


def test_filters_combine(audit: AuditLog, audit_clock: FakeClock) -> None:
    audit.record(OPERATOR, AuditAction.LIVE_VIEW, "CAM-01")
    audit_clock.advance(60)
    audit.record(OPERATOR, AuditAction.EVIDENCE_OPENED, "alert 7", "CAM-02")
    audit_clock.advance(60)
    audit.record(ADMIN, AuditAction.LIVE_VIEW, "CAM-02")
    audit_clock.advance(60)
    audit.record(ADMIN, AuditAction.USER_CREATED, "li.na", "grid_worker, grids:G-01")

    def targets(f: AuditFilter) -> list[str]:
        return [e.target for e in audit.query(f).items]

    assert targets(AuditFilter(actor="operator")) == ["alert 7", "CAM-01"]
    assert targets(AuditFilter(action=AuditAction.LIVE_VIEW)) == ["CAM-02", "CAM-01"]
    assert targets(AuditFilter(actor="admin", action=AuditAction.LIVE_VIEW)) == ["CAM-02"]
    assert targets(AuditFilter(target="CAM-02")) == ["CAM-02"]
    window = AuditFilter(since=START + timedelta(seconds=60), until=START + timedelta(seconds=180))
    assert targets(window) == ["CAM-02", "alert 7"]
    assert targets(AuditFilter(actor="nobody")) == []


def test_pages_follow_each_other_without_gaps_or_repeats(audit: AuditLog, audit_clock: FakeClock) -> None:
    for i in range(7):
        audit.record(OPERATOR, AuditAction.ATTACHMENT_OPENED, f"attachment {i}")
        if i % 2:
            audit_clock.advance(1)  # some rows share a moment: the id breaks the tie
    seen: list[str] = []
    cursor = None
    while True:
        page = audit.query(cursor=cursor, limit=3)
        seen += [e.target for e in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"attachment {i}" for i in reversed(range(7))]
    assert [e.target for e in audit.entries(batch=2)] == seen
    with pytest.raises(InvalidInput, match="cursor: not a cursor"):
        audit.query(cursor="nonsense")


def test_prune_deletes_only_rows_older_than_the_cutoff(audit: AuditLog, audit_clock: FakeClock) -> None:
    audit.record(OPERATOR, AuditAction.LIVE_VIEW, "CAM-01")
    audit_clock.advance(3600)
    audit.record(OPERATOR, AuditAction.LIVE_VIEW, "CAM-02")
    audit_clock.advance(3600)
    kept = audit.record(OPERATOR, AuditAction.LIVE_VIEW, "CAM-03")
    assert audit.prune(START + timedelta(seconds=3600)) == 1  # the cutoff itself is kept
    assert [e.target for e in audit.query().items] == ["CAM-03", "CAM-02"]
    assert audit.prune(kept.at + timedelta(seconds=1)) == 2
    assert audit.query().items == ()
    assert audit.prune(kept.at) == 0
    with pytest.raises(ValueError, match="aware"):
        audit.prune(datetime(2026, 1, 1))

"""Retention and the disk watchdog on real files under a real data dir, a real database (both backends)
and a fake clock: what goes when, what never goes, and what is left to say that it went."""

from __future__ import annotations

import errno
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from core.clock import FakeClock
from core.errors import Gone
from detectors.types import EpisodeState, HazardType, Severity
from events.files import FileStore
from events.messages import DiskLow
from events.policy import Policy, RetentionPolicy
from events.retention import DISK, RETENTION, Pruner, Retention
from events.service import EventsService
from events.types import Actor, ActorRole, Alert, CaseAction, NewAttachment
from tests.events.conftest import MakeService, Recorder
from tests.support.factories import jpeg, observation

OPERATOR = Actor("op-1", ActorRole.OPERATOR)
DAY = timedelta(days=1).total_seconds()


def loitering(
    service: EventsService, clock: FakeClock, episode: str, *, steps: int = 1, seen_min_ago: int = 0
) -> Alert:
    """An alert in no case (loitering opens no case by itself) on camera C2, with a snapshot per step."""
    alert = None
    for seq in range(steps):
        state = EpisodeState.OPENED if seq == 0 else EpisodeState.UPDATED
        obs = observation(
            episode,
            camera_id="C2",
            hazard=HazardType.LOITERING,
            severity=Severity.LOW,
            state=state,
            seq=seq,
            at=clock.now() - timedelta(minutes=seen_min_ago),
            evidence=jpeg(64 + 16 * seq),
        )
        alert = service.apply_observation(obs).alert
    assert alert is not None
    assert alert.case_id is None
    assert alert.evidence is not None
    return alert


def stored(service: EventsService, rel: str | None) -> Path:
    assert rel is not None
    return service.files.root / rel


def test_evidence_of_an_alert_in_no_case_goes_after_its_days_not_before(
    service: EventsService, clock: FakeClock
) -> None:
    alert = loitering(service, clock, "ep-1", steps=2)
    snapshots = sorted((service.files.root / "evidence").rglob("*.jpg"))
    assert len(snapshots) == 2, "one snapshot per step"
    size = sum(p.stat().st_size for p in snapshots)
    job = Retention(service)

    clock.advance(29 * DAY)
    assert job.run().items == ()
    assert all(p.exists() for p in snapshots)

    clock.advance(2 * DAY)
    summary = job.run()
    assert (summary.alerts, summary.attachments, summary.files, summary.bytes_freed) == (1, 0, 2, size)
    assert summary.items[0].reason == f"in no case, last seen {alert.last_seen_at:%Y-%m-%d}"
    assert not any(p.exists() for p in snapshots), "the earlier step's snapshot goes too"
    after = service.alert(alert.id)
    assert (after.evidence_removed_at, after.evidence_removed_by) == (clock.now(), RETENTION)
    assert after.evidence == alert.evidence, "the row still says what there was"
    with pytest.raises(Gone, match=f"removed by retention on {clock.now():%Y-%m-%d}"):
        service.evidence_file(alert.id)

    again = job.run()
    assert (again.items, again.files, again.bytes_freed) == ((), 0, 0), "a second run has nothing to do"


def test_a_dismissed_false_alarm_goes_sooner(service: EventsService, clock: FakeClock) -> None:
    kept = loitering(service, clock, "ep-kept")
    false = loitering(service, clock, "ep-false")
    service.dismiss_alert(false.id, OPERATOR, "shadow")
    job = Retention(service)
    clock.advance(6 * DAY)
    assert job.run().items == ()
    clock.advance(2 * DAY)
    summary = job.run()
    assert [(i.id, i.reason.split()[0]) for i in summary.items] == [(false.id, "dismissed")]
    assert not stored(service, false.evidence).exists()
    assert stored(service, kept.evidence).exists()
    assert service.alert(kept.id).evidence_removed_at is None


def test_case_files_stay_while_the_case_is_open_and_for_their_days_after_close(
    service: EventsService, clock: FakeClock
) -> None:
    opened = service.apply_observation(observation("ep-1", evidence=jpeg(), at=clock.now()))  # a fallen person
    assert opened.case is not None
    case_id = opened.case.id
    service.comment(case_id, OPERATOR, "on site", [NewAttachment("gate.jpg", jpeg(80))])
    photo = service.case(case_id).comments[0].attachments[0]
    files = [stored(service, opened.alert.evidence), stored(service, photo.path)]  # type: ignore[attr-defined]
    job = Retention(service)

    clock.advance(400 * DAY)
    assert job.run().items == (), "an open case keeps everything, however old"
    assert all(p.exists() for p in files)

    service.transition(case_id, CaseAction.DISMISS, OPERATOR, "nobody there")
    closed_at = clock.now()
    clock.advance(364 * DAY)
    assert job.run().items == ()
    assert all(p.exists() for p in files)

    clock.advance(2 * DAY)
    summary = job.run()
    assert sorted((i.kind, i.id) for i in summary.items) == [("alert", opened.alert.id), ("attachment", photo.id)]
    assert {i.reason for i in summary.items} == {f"case {case_id} closed {closed_at:%Y-%m-%d}"}
    assert not any(p.exists() for p in files)

    detail = service.case(case_id)
    [gone] = detail.comments[0].attachments
    assert (gone.id, gone.name, gone.removed_at, gone.removed_by) == (photo.id, "gate.jpg", clock.now(), RETENTION)
    [entry] = [e for e in detail.audit if e.action == RETENTION]
    on = f"{clock.now():%Y-%m-%d}"
    assert entry.note == f"the snapshots and clips of 1 alert(s) and 1 attached file(s) removed by retention on {on}"
    assert entry.from_state == entry.to_state == detail.case.state
    assert (entry.data["alert_ids"], entry.data["attachment_ids"]) == ([opened.alert.id], [photo.id])
    assert opened.alert.id in detail.alert_ids
    with pytest.raises(Gone, match=f'attachment {photo.id} \\("gate.jpg"\\) was removed by retention on {on}'):
        service.attachment_file(photo.id)
    assert job.run().items == ()
    assert len([e for e in service.case(case_id).audit if e.action == RETENTION]) == 1


def test_a_file_already_missing_is_counted_and_its_row_marked(service: EventsService, clock: FakeClock) -> None:
    alert = loitering(service, clock, "ep-1")
    stored(service, alert.evidence).unlink()
    clock.advance(31 * DAY)
    summary = Retention(service).run()
    assert (summary.alerts, summary.files, summary.missing, summary.bytes_freed) == (1, 0, 1, 0)
    assert service.alert(alert.id).evidence_removed_at == clock.now()


def test_a_run_is_bounded_by_the_batch_size(make_service: MakeService, clock: FakeClock) -> None:
    service = make_service(policy=Policy(retention=RetentionPolicy(batch_size=2)))
    alerts = [loitering(service, clock, f"ep-{i}") for i in range(3)]
    clock.advance(31 * DAY)
    job = Retention(service)
    first = job.run()
    assert (first.alerts, first.more) == (2, True)
    assert [i.id for i in first.items] == [a.id for a in alerts[:2]], "oldest first"
    second = job.run()
    assert ([i.id for i in second.items], second.more) == ([alerts[2].id], False)


def test_a_dry_run_lists_and_removes_nothing(service: EventsService, clock: FakeClock) -> None:
    alert = loitering(service, clock, "ep-1")
    service.dismiss_alert(alert.id, OPERATOR, "shadow")  # due for two reasons after 31 days: listed once
    clock.advance(31 * DAY)
    pruned: list[datetime] = []

    def prune(before: datetime) -> int:
        pruned.append(before)
        return 1

    job = Retention(service, pruners=[Pruner("access audit", 365, prune)])
    dry = job.run(dry_run=True)
    size = stored(service, alert.evidence).stat().st_size
    assert (dry.dry_run, [i.id for i in dry.items], dry.bytes_freed, dry.pruned) == (True, [alert.id], size, {})
    assert stored(service, alert.evidence).exists()
    assert service.alert(alert.id).evidence_removed_at is None
    assert pruned == [], "pruners do not run dry"
    done = job.run()
    assert (done.bytes_freed, done.pruned) == (size, {"access audit": 1})
    assert pruned == [clock.now() - timedelta(days=365)], "a pruner gets the moment before which its rows go"


def test_a_failing_pruner_does_not_hold_back_the_others(service: EventsService, clock: FakeClock) -> None:
    def broken(_before: datetime) -> int:
        raise RuntimeError("table missing")

    job = Retention(service, pruners=[Pruner("broken", 30, broken)])
    job.add_pruner(Pruner("fine", 30, lambda _before: 4))
    assert job.run().pruned == {"fine": 4}


# ---------------------------------------------------------------------------- disk watchdog


def test_over_its_quota_the_data_dir_loses_the_oldest_evidence_in_no_case_first(
    service: EventsService, clock: FakeClock, bus_log: Recorder
) -> None:
    in_case = service.apply_observation(observation("ep-case", evidence=jpeg(200), at=clock.now()))
    assert in_case.case is not None
    service.comment(in_case.case.id, OPERATOR, "photo", [NewAttachment("p.jpg", jpeg(300))])
    # Made newest first (ids do not decide): last seen 1, 2 and 3 minutes ago.
    new, mid, old = (loitering(service, clock, f"ep-{m}", seen_min_ago=m) for m in (1, 2, 3))
    root = service.files.root
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    oldest = stored(service, old.evidence).stat().st_size
    job = Retention(service)
    job.min_free_bytes = 0
    job.quota_bytes = total - oldest  # room again once the oldest snapshot is gone

    report = job.check_disk()
    assert (report.low, report.still_low, report.files_removed, report.alerts_affected) == (True, False, 1, 1)
    assert (report.bytes_freed, report.used_bytes) == (oldest, total - oldest)
    assert not stored(service, old.evidence).exists()
    assert stored(service, mid.evidence).exists()
    assert stored(service, new.evidence).exists()
    assert service.alert(old.id).evidence_removed_by == DISK
    [message] = [d.message for d in bus_log.messages if d.topic == "system.disk_low"]
    assert isinstance(message, DiskLow)
    assert (message.files_removed, message.bytes_freed, message.quota_bytes, message.still_low) == (
        1,
        oldest,
        total - oldest,
        False,
    )
    assert job.check_disk().low is False, "within the quota now: nothing more goes"

    job.quota_bytes = 1
    report = job.check_disk()
    assert (report.still_low, report.alerts_affected) == (True, 2)
    case_files = [stored(service, in_case.alert.evidence), *(root / "attachments").rglob("*.jpg")]
    assert len(case_files) == 2
    assert all(p.exists() for p in case_files), "case files are never removed"
    assert service.alert(in_case.alert.id).evidence_removed_at is None
    assert bus_log.messages[-1].payload["still_low"] is True


def test_below_the_free_space_floor_it_makes_room_and_says_so(
    service: EventsService, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    alert = loitering(service, clock, "ep-1")
    size = stored(service, alert.evidence).stat().st_size
    freed: list[int] = []
    job = Retention(service, free_bytes=lambda _root: 1000 + sum(freed))  # a disk nearly full
    job.min_free_bytes = 1000 + size
    real_delete = job._delete

    def counting(named: Sequence[str], others: Sequence[str], dry_run: bool) -> tuple[int, int, int] | None:
        got = real_delete(named, others, dry_run)
        freed.append(got[1] if got else 0)
        return got

    job._delete = counting  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING):
        report = job.check_disk()
    assert (report.low, report.still_low, report.free_bytes, report.bytes_freed) == (True, False, 1000 + size, size)
    assert "short of room" in caplog.text
    assert job.last_disk == report


# ---------------------------------------------------------------------------- a full disk while ingesting


class FullDisk(FileStore):
    """The data dir's file system with no space left: every new file fails as the kernel says ENOSPC."""

    def write_new(self, rel: str, content: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", rel)


def test_with_the_disk_full_the_alert_is_still_stored_without_its_snapshot(
    service: EventsService, clock: FakeClock, bus_log: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    first = service.apply_observation(observation("ep-1", evidence=jpeg(), at=clock.now())).alert
    assert first.evidence is not None
    service.files = FullDisk(service.files.root)
    with caplog.at_level(logging.WARNING):
        updated = service.apply_observation(
            observation("ep-1", state=EpisodeState.UPDATED, seq=1, evidence=jpeg(90), at=clock.now())
        ).alert
        new = service.apply_observation(observation("ep-2", camera_id="C2", evidence=jpeg(), at=clock.now())).alert
    assert (updated.seq, updated.evidence) == (1, first.evidence), "the update is kept with the last snapshot"
    assert service.alert(updated.id).evidence == first.evidence
    assert new.evidence is None, "a new alert is kept without one"
    assert service.alert(new.id).evidence is None
    assert "No space left on device" in caplog.text
    assert f"alert {new.id} " in caplog.text
    assert not list((service.files.root / "evidence").rglob("*-1.jpg")), "no partial file left"
    [opened] = [d.payload for d in bus_log.messages if d.topic == "alert.opened" and d.payload["id"] == new.id]
    assert opened["evidence"] is None, "subscribers are told the same"


def test_a_new_snapshot_after_the_watchdog_made_room_is_the_alerts_evidence_again(
    service: EventsService, clock: FakeClock
) -> None:
    alert = loitering(service, clock, "ep-1")  # the episode goes on
    job = Retention(service)
    job.quota_bytes = 1
    assert job.check_disk().alerts_affected == 1
    assert service.alert(alert.id).evidence_removed_by == DISK
    clock.advance(5)
    obs = observation(
        "ep-1", camera_id="C2", hazard=HazardType.LOITERING, severity=Severity.LOW, state=EpisodeState.UPDATED, seq=1
    )
    updated = service.apply_observation(replace(obs, observed_at=clock.now(), evidence_jpeg=jpeg())).alert
    assert (updated.evidence_removed_at, updated.evidence_removed_by) == (None, None)
    assert service.evidence_file(alert.id).is_file()

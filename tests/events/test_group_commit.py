"""Batched ingestion: one transaction for many observations, each with its own result or error."""

from __future__ import annotations

import threading
from concurrent.futures import Future

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.errors import Conflict, GridwatchError, InvalidInput, NotFound, Unavailable
from detectors.types import EpisodeState, HazardType, Severity
from events.group_commit import GroupCommit
from events.orm import AlertRow, CaseRow
from events.service import EventsService
from events.types import ObservationResult
from tests.events.conftest import Recorder
from tests.support.factories import observation


def test_a_batch_applies_in_order_and_isolates_bad_observations(
    service: EventsService, sessions: sessionmaker[Session], bus_log: Recorder
) -> None:
    service.apply_observation(
        observation("old", seq=4, state=EpisodeState.UPDATED, hazard=HazardType.LOITERING, severity=Severity.LOW)
    )
    results = service.apply_observations(
        [
            observation("a"),  # opens, and makes the case
            observation("b"),  # same camera and hazard: joins a's case, created in this same batch
            observation("a", seq=1, state=EpisodeState.UPDATED, severity=Severity.CRITICAL),
            observation("x", camera_id="C9"),  # unknown camera
            observation("old", seq=2, state=EpisodeState.UPDATED, hazard=HazardType.LOITERING),  # out of order
            observation("a", seq=1, state=EpisodeState.UPDATED, severity=Severity.CRITICAL),  # redelivered
            observation("c", camera_id="C2", hazard=HazardType.CROWD, severity=Severity.CRITICAL),
        ]
    )
    a, b, a1, x, old, again, c = results
    assert isinstance(x, NotFound)
    assert isinstance(old, Conflict)
    assert "seq 2 arrived after seq 4" in str(old)
    for r in (a, b, a1, again, c):
        assert isinstance(r, ObservationResult)
    assert isinstance(a, ObservationResult)
    assert isinstance(b, ObservationResult)
    assert isinstance(a1, ObservationResult)
    assert isinstance(again, ObservationResult)
    assert isinstance(c, ObservationResult)
    assert (a.created, a1.created, again.duplicate) == (True, False, True)
    assert a.alert.seq == 1  # results show the batch's end state
    assert a.case is not None
    assert b.case is not None
    assert c.case is not None
    assert b.case.id == a.case.id
    assert (b.case.alert_count, b.case.severity) == (2, Severity.CRITICAL)
    assert c.case.id != a.case.id
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(AlertRow)) == 4
        assert s.scalar(select(func.count()).select_from(CaseRow)) == 2
    assert [e.action for e in service.case(a.case.id).audit] == ["report", "register", "dispatch", "add_alert"]
    assert bus_log.topics == [
        "alert.opened",  # the first, single ingest of "old" (an update with no open before it still opens)
        "alert.opened",
        "case.created",
        "alert.opened",
        "case.alert_added",
        "alert.updated",
        "alert.opened",
        "case.created",
    ]


def test_the_batcher_commits_concurrent_submissions_together(service: EventsService) -> None:
    batcher = GroupCommit(service, writers=2)
    with pytest.raises(Unavailable, match="not running"):
        batcher.submit(observation())
    batcher.start()
    try:
        gate = threading.Barrier(8)
        futures: list[Future[ObservationResult]] = []
        lock = threading.Lock()

        def send(i: int) -> None:
            gate.wait()
            fut = batcher.submit_async(observation(f"ep-{i}", camera_id="C9" if i == 7 else "C1"))
            with lock:
                futures.append(fut)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        outcomes: list[ObservationResult | BaseException] = []
        for fut in futures:
            exc = fut.exception(30)
            outcomes.append(exc if exc is not None else fut.result())
        with pytest.raises(InvalidInput, match="seq: must be"):
            batcher.submit(observation("neg", seq=-1))
    finally:
        batcher.close()
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    oks = [o for o in outcomes if isinstance(o, ObservationResult)]
    assert len(errors) == 1
    assert isinstance(errors[0], GridwatchError)
    assert len(oks) == 7
    assert len({o.case.id for o in oks if o.case is not None}) == 1  # one camera, one hazard: one case
    assert batcher.observations == 9
    assert batcher.batches <= 9


def test_a_group_gets_one_answer_with_every_outcome_in_its_place(service: EventsService) -> None:
    batcher = GroupCommit(service)
    batcher.start()
    try:
        empty = batcher.submit_group([])
        group = batcher.submit_group(
            [observation("g-1"), observation("g-bad", camera_id="C9"), observation("g-1", seq=1)]
        )
        outcomes = group.result(30)
        assert empty.result(1) == []
    finally:
        batcher.close()
    first, refused, update = outcomes
    assert isinstance(first, ObservationResult)
    assert first.created
    assert isinstance(refused, NotFound)
    assert '"C9"' in str(refused)
    assert isinstance(update, ObservationResult)
    assert (update.alert.id, update.alert.seq) == (first.alert.id, 1)
    assert (batcher.batches, batcher.observations) == (1, 3)


def test_a_caller_that_gives_up_does_not_stop_the_writer(
    service: EventsService, sessions: sessionmaker[Session]
) -> None:
    """A request cancelled while its batch waits (a client that hung up) cancels its future: its observation
    is still stored, and the writer goes on answering the next callers."""
    batcher = GroupCommit(service, linger_s=2.0)  # the first group waits 2 s for company: time to give up
    batcher.start()
    try:
        gave_up = batcher.submit_group([observation("gone")])
        assert gave_up.cancel()
        assert isinstance(batcher.submit(observation("next", camera_id="C2"), timeout_s=30), ObservationResult)
        with sessions() as s:
            assert set(s.scalars(select(AlertRow.episode_id))) == {"gone", "next"}
    finally:
        batcher.close()

"""Typed bus messages: one class per topic, JSON only in the outbox, rows decoded back for subscribers."""

from __future__ import annotations

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from core.clock import FakeClock
from events.messages import (
    MESSAGE_OF,
    AlertOpened,
    AlertUpdated,
    CaseAlertAdded,
    CaseChanged,
    CaseCommented,
    CaseCreated,
    Topic,
    decode,
    encode,
)
from events.orm import OUTBOX
from events.service import EventsService
from events.types import CaseAction
from tests.events.bus_scenario import OPERATOR, WORKER, run_scenario
from tests.events.conftest import MakeService, Recorder
from tests.support.factories import START, observation


def test_every_topic_has_its_class_and_round_trips(service: EventsService, bus_log: Recorder, clock: FakeClock) -> None:
    run_scenario(service, clock)
    assert set(bus_log.topics) == set(Topic) == set(MESSAGE_OF)
    for d in bus_log.messages:
        assert isinstance(d.message, MESSAGE_OF[d.topic])
        assert encode(d.message) == dict(d.payload)
        assert decode(d.topic, d.payload) == d.message


def test_subscribers_get_the_values_the_service_made(service: EventsService, bus_log: Recorder) -> None:
    opened = service.apply_observation(observation())
    assert opened.case is not None
    absorbed = service.apply_observation(observation("ep-2"))
    accepted = service.transition(opened.case.id, CaseAction.ACCEPT, WORKER)
    note = service.comment(accepted.id, OPERATOR, "called the family")
    assert [type(d.message) for d in bus_log.messages] == [
        AlertOpened,
        CaseCreated,
        AlertOpened,
        CaseAlertAdded,
        CaseChanged,
        CaseCommented,
    ]
    got = [d.message for d in bus_log.messages]
    assert absorbed.case is not None
    assert got[:4] == [
        AlertOpened.of(opened.alert),
        CaseCreated.of(opened.case),
        AlertOpened.of(absorbed.alert),
        CaseAlertAdded(absorbed.case, absorbed.alert.id),
    ]
    assert got[4] == CaseChanged(accepted, CaseAction.ACCEPT)
    assert got[4].topic is Topic.CASE_ACCEPTED
    assert got[5] == CaseCommented.of(note)


def test_a_message_that_does_not_fit_its_topic_is_refused(service: EventsService) -> None:
    opened = service.apply_observation(observation())
    assert opened.case is not None
    with pytest.raises(ValueError, match="unknown bus topic"):
        decode("case.archived", {})
    with pytest.raises(ValueError, match="validation error"):
        decode("alert.opened", {"id": 1})
    with pytest.raises(ValueError, match=r'a CaseChanged for "case\.dispatched" came under "case\.closed"'):
        decode("case.closed", encode(CaseChanged(opened.case, CaseAction.DISPATCH)))
    update = AlertUpdated.of(opened.alert)
    assert decode("alert.updated", encode(update)) == update


def test_a_row_that_does_not_decode_is_skipped_not_blocking(
    make_service: MakeService, sessions: sessionmaker[Session]
) -> None:
    service = make_service(publish="off")
    got = Recorder()
    service.bus.subscribe("*", got)
    with sessions.begin() as s:
        s.execute(insert(OUTBOX), [{"topic": "alert.renamed", "payload": {}, "created_at": START}])
    service.apply_observation(observation())
    assert service.relay() == 2
    assert got.topics == ["alert.opened", "case.created"]
    assert service.outbox.undecodable == 1
    assert service.outbox.pending() == 0

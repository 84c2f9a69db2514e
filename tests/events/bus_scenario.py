"""A day on the bus: every kind of message the service emits, produced by the real service."""

from __future__ import annotations

from datetime import timedelta

import cv2
import numpy as np

from core.clock import FakeClock
from detectors.types import EpisodeState, HazardType, Severity
from events.retention import Retention
from events.service import EventsService
from events.types import Actor, ActorRole, CaseAction, HotlineTicket, NewAttachment, PatrolReport
from tests.support.factories import START, observation

OPERATOR = Actor("op-1", ActorRole.OPERATOR)
WORKER = Actor("W1", ActorRole.GRID_WORKER)
A = CaseAction


def png() -> bytes:
    ok, buf = cv2.imencode(".png", np.random.default_rng(1).integers(0, 255, (50, 40, 3), dtype=np.uint8))
    assert ok
    return bytes(buf)


def run_scenario(service: EventsService, clock: FakeClock) -> None:
    """Open, update and close alerts; operator decisions; a case around the whole loop; comments;
    patrol and hotline cases; the escalation tick."""
    first = service.apply_observation(observation("ep-1"))
    assert first.case is not None
    clock.advance(5)
    service.apply_observation(
        observation("ep-1", state=EpisodeState.UPDATED, seq=1, severity=Severity.CRITICAL, at=clock.now())
    )
    service.apply_observation(observation("ep-2", at=clock.now()))  # absorbed into the open case
    service.apply_observation(observation("ep-1", state=EpisodeState.CLOSED, seq=2, at=clock.now()))
    case_id = first.case.id
    service.comment(case_id, WORKER, "on my way", [NewAttachment("gate.png", png())])
    for action, note in [(A.ACCEPT, ""), (A.START, ""), (A.RESOLVE, "helped up"), (A.REOPEN, "still there")]:
        service.transition(case_id, action, WORKER if action in (A.ACCEPT, A.START, A.RESOLVE) else OPERATOR, note)
    service.transition(case_id, A.ESCALATE, OPERATOR, "needs the community")
    service.transition(case_id, A.DISPATCH, OPERATOR, assignee_id="W1")
    service.transition(case_id, A.ACCEPT, WORKER)
    service.transition(case_id, A.RESOLVE, WORKER, "done")
    service.transition(case_id, A.VERIFY, OPERATOR)
    service.transition(case_id, A.CLOSE, OPERATOR)

    loiter = service.apply_observation(observation("ep-3", hazard=HazardType.LOITERING, severity=Severity.LOW)).alert
    service.acknowledge_alert(loiter.id, OPERATOR)
    service.attach_clip(loiter.id, bytes(4) + b"ftypisom" + bytes(200))
    service.alert_to_case(loiter.id, OPERATOR, "looks odd")
    other = service.apply_observation(observation("ep-4", hazard=HazardType.LOITERING, severity=Severity.LOW)).alert
    service.escalate_alert(other.id, OPERATOR, "again")
    false = service.apply_observation(observation("ep-5", hazard=HazardType.LOITERING, camera_id="C2")).alert
    service.dismiss_alert(false.id, OPERATOR, "shadow")

    patrol = service.patrol_report(PatrolReport("G1", "Broken fence", "a panel is down"), WORKER)
    service.transition(patrol.id, A.REGISTER, OPERATOR)
    service.transition(patrol.id, A.DISMISS, OPERATOR, "not a matter")
    service.import_hotline([HotlineTicket("T-1", "G1", "Noise at night", received_at=START)])
    clock.advance(timedelta(days=2).total_seconds())
    assert service.escalation_tick()

    watchdog = Retention(service)
    watchdog.quota_bytes = 1  # the data dir holds more than a byte: the watchdog makes room and tells admins
    assert watchdog.check_disk().low

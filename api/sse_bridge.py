"""From the events bus to the consoles: alert and case changes as server-sent events, and their metrics.

The bus calls in on whichever thread committed the change; `SseHub.publish` hands each event to
the event loop, where subscribers see it only when its grid is in their scope.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from api.metrics import ApiMetrics
from api.names import CameraNames, PersonNames
from api.sse import SseHub
from api.work_schemas import AlertPublic, CasePublic
from core.clock import Clock
from events.lifecycle import TERMINAL
from events.queries import CaseFilter
from events.service import EventsService
from events.types import BusMessage

log = logging.getLogger(__name__)


class SseBridge:
    """Subscribes to ``alert.*`` and ``case.*`` while the API runs (`start` / `close`)."""

    def __init__(
        self,
        events: EventsService,
        hub: SseHub,
        names: CameraNames,
        people: PersonNames,
        clock: Clock,
        metrics: ApiMetrics,
    ) -> None:
        self._events = events
        self._hub = hub
        self._names = names
        self._people = people
        self._clock = clock
        self._metrics = metrics
        self._unsubscribe: list[Callable[[], None]] = []

    def start(self) -> None:
        if not self._unsubscribe:
            bus = self._events.bus
            self._unsubscribe = [bus.subscribe("alert.*", self._alert), bus.subscribe("case.*", self._case)]

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def _alert(self, message: BusMessage) -> None:
        payload = message.payload
        if message.topic == "alert.opened":
            self._metrics.alerts_received.labels(payload["hazard"], payload["severity"]).inc()
        kind = "alert.new" if message.topic == "alert.opened" else "alert.changed"
        alert = AlertPublic.from_data(payload, self._names.name(payload["camera_id"]))
        self._hub.publish(kind, alert.grid_id, alert.model_dump(mode="json"))

    def _case(self, message: BusMessage) -> None:
        data: Mapping[str, Any]
        if message.topic == "case.created":
            data = message.payload
        elif "case" in message.payload:
            data = message.payload["case"]
        elif "case_id" in message.payload:  # a comment: the case as it is now
            data = _fields(self._events.case(int(message.payload["case_id"])).case)
        else:
            log.warning("bus message %s (%d) names no case; not forwarded", message.topic, message.id)
            return
        case = CasePublic.from_data(
            data,
            self._names.name(data.get("camera_id")),
            self._clock.now(),
            assignee_name=self._people.name(data.get("assignee_id")),
        )
        kind = "case.new" if message.topic == "case.created" else "case.changed"
        self._hub.publish(kind, case.grid_id, case.model_dump(mode="json"))


def _fields(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__dataclass_fields__}


def register_gauges(metrics: ApiMetrics, events: EventsService, clock: Clock, in_flight: Callable[[], int]) -> None:
    """Case and queue gauges, read from the database at scrape time (a failing read leaves them out)."""

    def guarded(read: Callable[[], Mapping[str, float]]) -> Callable[[], Mapping[str, float]]:
        def safe() -> Mapping[str, float]:
            try:
                return read()
            except Exception:
                log.exception("reading a metric from the events database failed")
                return {}

        return safe

    metrics.gauges(
        "gridwatch_cases",
        "Cases by state.",
        "state",
        guarded(lambda: {s.value: float(n) for s, n in events.case_counts().items()}),
    )
    metrics.gauges(
        "gridwatch_cases_overdue",
        "Open cases past their first deadline.",
        None,
        guarded(
            lambda: {
                "": float(
                    sum(n for s, n in events.case_counts(CaseFilter(late_at=clock.now())).items() if s not in TERMINAL)
                )
            }
        ),
    )
    metrics.gauges(
        "gridwatch_events_outbox_pending",
        "Bus messages committed but not yet published.",
        None,
        guarded(lambda: {"": float(events.outbox.pending())}),
    )
    metrics.gauges(
        "gridwatch_events_ingest_in_flight",
        "Observations from workers being applied right now (the ingest queue).",
        None,
        lambda: {"": float(in_flight())},
    )

"""From the events bus to the consoles: alert and case changes as server-sent events, and their metrics.

The bus calls in on whichever thread committed the change; `SseHub.publish` hands each event to
the event loop, where subscribers see it only when its grid is in their scope.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import assert_never

from api.metrics import ApiMetrics
from api.names import CameraNames, PersonNames
from api.sse import SseHub
from api.work_schemas import AlertPublic, CasePublic
from core.clock import Clock
from events.lifecycle import TERMINAL
from events.messages import (
    AlertMessage,
    AlertOpened,
    CaseAlertAdded,
    CaseChanged,
    CaseCommented,
    CaseCreated,
    Delivery,
    DiskLow,
)
from events.queries import CaseFilter
from events.retention import disk_free
from events.service import EventsService
from events.types import Alert, Case

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
            self._unsubscribe = [bus.subscribe("alert.*", self._forward), bus.subscribe("case.*", self._forward)]

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def _forward(self, delivery: Delivery) -> None:
        match delivery.message:
            case AlertOpened() as alert:
                self._metrics.alerts_received.labels(alert.hazard.value, alert.severity.value).inc()
                self._alert("alert.new", alert)
            case AlertMessage() as alert:
                self._alert("alert.changed", alert)
            case CaseCreated() as case:
                self._case("case.new", case)
            case CaseAlertAdded(case=case) | CaseChanged(case=case):
                self._case("case.changed", case)
            case CaseCommented(case_id=case_id):  # the case as it is now
                self._case("case.changed", self._events.case(case_id).case)
            case DiskLow():  # system.* is for admins' channels, never on the console's streams
                return
            case unknown:
                assert_never(unknown)

    def _alert(self, kind: str, alert: Alert) -> None:
        public = AlertPublic.of(alert, self._names.name(alert.camera_id))
        self._hub.publish(kind, public.grid_id, public.model_dump(mode="json"))

    def _case(self, kind: str, case: Case) -> None:
        public = CasePublic.of(
            case,
            self._names.name(case.camera_id),
            self._clock.now(),
            assignee_name=self._people.name(case.assignee_id),
        )
        self._hub.publish(
            kind, public.grid_id, public.model_dump(mode="json"), holder=case.holder, compound_id=case.compound_id
        )


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
        "gridwatch_data_dir_free_bytes",
        "Free space on the data dir's file system (the disk watchdog keeps it above disk.min_free_mb).",
        None,
        guarded(lambda: {"": float(disk_free(events.files.root))}),
    )
    metrics.gauges(
        "gridwatch_events_ingest_in_flight",
        "Observations from workers being applied right now (the ingest queue).",
        None,
        lambda: {"": float(in_flight())},
    )

"""Prometheus metrics: the registry other stages add their collectors to, and the API's own figures."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True, slots=True)
class GaugeSpec:
    """A gauge read at scrape time along with others (see `ApiMetrics.gauge_families`)."""

    name: str
    help_text: str
    labels: tuple[str, ...]


Readings = Mapping[str, Mapping[tuple[str, ...], float]]
"""Gauge name → label values (in the spec's order) → number."""


class ApiMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.requests = Counter(
            "gridwatch_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gridwatch_http_request_duration_seconds",
            "Time to answer an HTTP request (until the response starts).",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
            registry=self.registry,
        )
        self.logins = Counter(
            "gridwatch_logins",
            "Login attempts by outcome (ok, refused, throttled).",
            ["outcome"],
            registry=self.registry,
        )
        self.alerts_received = Counter(
            "gridwatch_alerts_received",
            "Alerts opened (new hazard episodes), by hazard type and severity.",
            ["hazard", "severity"],
            registry=self.registry,
        )

    def gauges(self, name: str, help_text: str, label: str | None, read: Callable[[], Mapping[str, float]]) -> None:
        """Register gauges read at scrape time (never stale): ``read`` returns label value → number."""
        self.registry.register(_ReadAtScrape(name, help_text, label, read))

    def gauge_families(self, specs: Sequence[GaugeSpec], read: Callable[[], Readings]) -> None:
        """Register several gauges filled by one ``read`` per scrape: figures that come from one costly look
        (the site model against the workers' reports) are read once and agree with each other."""
        self.registry.register(_FamiliesAtScrape(tuple(specs), read))


class InFlight:
    """How many of something are under way right now (thread-safe), e.g. observations being applied."""

    def __init__(self) -> None:
        self._n = 0
        self._lock = threading.Lock()

    @property
    def value(self) -> int:
        return self._n

    @contextmanager
    def add(self, n: int) -> Iterator[None]:
        with self._lock:
            self._n += n
        try:
            yield
        finally:
            with self._lock:
                self._n -= n


class _ReadAtScrape(Collector):
    def __init__(self, name: str, help_text: str, label: str | None, read: Callable[[], Mapping[str, float]]) -> None:
        self._name, self._help, self._label, self._read = name, help_text, label, read

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(self._name, self._help, labels=[self._label] if self._label else None)
        for key, value in sorted(self._read().items()):
            family.add_metric([key] if self._label else [], value)
        yield family

    def describe(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(self._name, self._help, labels=[self._label] if self._label else None)


class _FamiliesAtScrape(Collector):
    def __init__(self, specs: tuple[GaugeSpec, ...], read: Callable[[], Readings]) -> None:
        self._specs, self._read = specs, read

    def collect(self) -> Iterable[Metric]:
        readings = self._read()
        for spec in self._specs:
            family = GaugeMetricFamily(spec.name, spec.help_text, labels=list(spec.labels))
            for key, value in sorted(readings.get(spec.name, {}).items()):
                family.add_metric(list(key), value)
            yield family

    def describe(self) -> Iterable[Metric]:
        for spec in self._specs:
            yield GaugeMetricFamily(spec.name, spec.help_text, labels=list(spec.labels))


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (bounded labels, no ids in them)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                route = getattr(scope.get("route"), "path", None) or "unmatched"
                self.metrics.latency.labels(scope["method"], route).observe(time.perf_counter() - start)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()

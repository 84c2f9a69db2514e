"""FastAPI application factory; the shell builds an `ApiContext` and passes it in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import errors
from api.access import ScopeResolver
from api.audit import AuditLog
from api.context import ApiContext
from api.edge import EdgeMiddleware
from api.live_view import LiveViewHub, host_candidates
from api.metrics import ApiMetrics, InFlight, MetricsMiddleware
from api.names import CameraNames, PersonNames
from api.notify.mqtt import camera_states
from api.notify.render import Context as NotifyContext
from api.notify.senders import sender_factories
from api.open311 import Clients, Gate, RateLimiter
from api.routes import (
    alerts,
    audit,
    auth,
    cameras,
    cases,
    cluster,
    console,
    figures,
    gateways,
    live_view,
    notifications,
    onvif,
    open311,
    push,
    risk,
    service,
    site,
    site_map,
    sse,
    stats,
    users,
    worker,
)
from api.runtime import LifespanState, Runtime
from api.sse import SseHub
from api.sse_bridge import SseBridge, register_gauges
from api.users import UserStore
from api.workers import WorkerRegistry
from core.db import session_factory
from events.group_commit import GroupCommit
from events.notify.dispatcher import Dispatcher

DESCRIPTION = """\
gridwatch's HTTP API and console.

Log in with `POST /api/auth/login` (a session cookie, for the console; changes then need the
`X-CSRF-Token` header) or send an API token as `Authorization: Bearer gw_...`. Every route but
`/api/health` needs one of them. Everything listed is filtered by the caller's scope: a camera in
another grid answers 404 exactly like one that does not exist. Errors always have the shape
`{"detail": ..., "errors": [{"where": field, "message": ...}]}`.
"""

TAGS = [
    {"name": "auth", "description": "Log in and out; who am I."},
    {"name": "tokens", "description": "API tokens (bearer) for workers and integrators."},
    {"name": "users", "description": "Accounts, roles and scopes (admins)."},
    {"name": "site", "description": "The site tree and grids, in the caller's scope."},
    {"name": "cameras", "description": "Cameras: read in scope, written by integrators; bulk CSV import."},
    {"name": "zones", "description": "Zones drawn on a camera's picture."},
    {
        "name": "gateways",
        "description": "GB/T 28181 gateways (wvp-GB28181-pro): their channels imported and synced as cameras.",
    },
    {"name": "live", "description": "WebRTC live view."},
    {"name": "alerts", "description": "Hazard alerts: list, evidence, acknowledge, dismiss, escalate, make a case."},
    {"name": "cases", "description": "Cases through the loop: board, trail, transitions with photos, comments."},
    {"name": "figures", "description": "Completion and on-time rates per unit; false alarms per camera and rule."},
    {
        "name": "worker",
        "description": "Remote detection workers (API token, worker role): their cameras with stream credentials, "
        "their observations, their health.",
    },
    {"name": "events", "description": "Server-sent events."},
    {"name": "service", "description": "Health, metrics and the box's live stats."},
    {"name": "audit", "description": "Who watched, opened, exported, imported or changed what (admins)."},
    {
        "name": "notifications",
        "description": "Outbound channels (webhooks, group robots, Web Push, MQTT), their delivery logs and dead "
        "letters; suspends and what the alert-fatigue controls held back.",
    },
]


def create_app(context: ApiContext) -> FastAPI:
    """The API and console on ``context``; the lifespan binds the event hub and closes live views on exit."""
    factory = session_factory(context.engine)
    names = CameraNames(context.site)
    notify_context = dispatcher = None
    if context.notifications is not None:
        notify_context = NotifyContext(context.public_url, names.name)
        senders = sender_factories(
            notify_context,
            context.notifications,
            context.data_dir,
            camera_states=lambda: camera_states(
                context.camera_figures(), context.site.camera_names(), context.clock.now()
            ),
        )
        dispatcher = Dispatcher(context.notifications, senders, kinds=context.send_kinds)
    runtime = Runtime(
        context=context,
        users=UserStore(factory, context.site, context.clock, context.auth),
        metrics=ApiMetrics(context.registry),
        live_view=LiveViewHub(context.live_view, context.clock),
        sse=SseHub(context.clock),
        names=names,
        people=PersonNames(context.site),
        applying=InFlight(),
        audit=AuditLog(factory, context.clock),
        scopes=ScopeResolver(context.site),
        workers=WorkerRegistry(context.clock),
        ingest=None if context.events is None else GroupCommit(context.events),
        dispatcher=dispatcher,
        notify_context=notify_context,
        open311=Gate(Clients(factory, context.clock), RateLimiter(context.clock)),
    )
    for name, read, help_text in (
        ("gridwatch_worker_report_age_seconds", "age", "Seconds since each remote worker last reported."),
        ("gridwatch_worker_cameras", "cameras", "Cameras each remote worker pulls."),
        ("gridwatch_worker_spool_depth", "spool_depth", "Observations waiting in each remote worker's spool."),
        ("gridwatch_worker_spool_dropped", "spool_dropped", "Updates each worker's full spool dropped, ever."),
    ):
        runtime.metrics.gauges(name, help_text, "worker", partial(runtime.workers.gauges, read))
    runtime.metrics.gauges(
        "gridwatch_live_pulls",
        "Camera streams pulled for live view (one per stream, whatever the viewers).",
        "camera",
        runtime.live_view.pulls,
    )
    runtime.metrics.gauges("gridwatch_live_viewers", "Open live views.", "camera", runtime.live_view.viewers)
    runtime.metrics.gauges(
        "gridwatch_event_subscribers",
        "Open server-sent event streams.",
        None,
        lambda: {"": float(runtime.sse.subscribers)},
    )

    if runtime.ingest is not None:
        commit = runtime.ingest
        runtime.metrics.gauges(
            "gridwatch_worker_transactions",
            "Transactions the workers' observations were applied in, since start (observations / this = batch size).",
            None,
            lambda: {"": float(commit.batches)},
        )
        runtime.metrics.gauges(
            "gridwatch_worker_observations_applied",
            "Workers' observations applied (or refused one by one) in those transactions, since start.",
            None,
            lambda: {"": float(commit.observations)},
        )

    bridge = None
    if context.events is not None:
        bridge = SseBridge(context.events, runtime.sse, runtime.names, runtime.people, context.clock, runtime.metrics)
        register_gauges(runtime.metrics, context.events, context.clock, lambda: runtime.applying.value)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[LifespanState]:
        runtime.sse.bind(asyncio.get_running_loop())
        if bridge is not None:
            bridge.start()
        if runtime.ingest is not None:
            runtime.ingest.start()
        if runtime.dispatcher is not None:
            runtime.dispatcher.start()
        with host_candidates(context.live_view.ice_hosts):
            try:
                yield {"runtime": runtime}
            finally:
                if runtime.ingest is not None:
                    runtime.ingest.close()
                if bridge is not None:
                    bridge.close()
                if runtime.dispatcher is not None:
                    runtime.dispatcher.close()
                runtime.sse.close()
                await runtime.live_view.close()

    app = FastAPI(
        title="gridwatch",
        version="0.1.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        license_info={"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    errors.install(app)
    app.add_middleware(EdgeMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=runtime.metrics)
    # Matching walks the routes in order: the busiest (workers' deliveries, the boards) go first.
    hot = (worker, cases, alerts)
    for module in (
        *hot,
        service,
        stats,
        auth,
        users,
        site,
        site_map,
        onvif,
        cameras,
        gateways,
        live_view,
        figures,
        risk,
        sse,
        audit,
        cluster,
        notifications,
        open311,
        console,
    ):
        app.include_router(module.router)
    cluster.register_gauges(runtime)
    app.include_router(cases.files_router)
    app.include_router(worker.workers_router)
    app.include_router(push.router)
    worker.document(app)
    app.mount("/static", StaticFiles(directory=console.STATIC), name="static")
    return app

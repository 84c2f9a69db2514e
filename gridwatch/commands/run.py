"""`gridwatch run`: the service, with the live pipeline unless --no-detect."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from core.errors import GridwatchError
from core.redact import redact_logs
from gridwatch.commands.common import STOP_SIGNALS, Subparsers, add_command, err, out
from gridwatch.settings import DEMO_SITE, settings_from_args

SHUTDOWN_GRACE_S = 5
"""Requests still running this long after a stop signal are cancelled."""


def cmd_run(args: argparse.Namespace) -> int:
    import gc
    import logging

    import uvicorn

    from gridwatch.runner import build_app
    from gridwatch.serving import ClosingServer

    # Threads started from here on (ingest, inference and the runtimes' own pools, the outbox relay) never
    # take SIGTERM/SIGINT: landing in a thread that is not the main one, a stop signal crashed a worker now
    # and then. The main thread, where uvicorn handles them, takes them again just before serving.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    settings = settings_from_args(args)
    site_file: Path | None = args.site or (DEMO_SITE if settings.demo else None)
    app, service, live = build_app(settings, site_file=site_file, progress=lambda line: out.print(line, soft_wrap=True))
    # The pipeline's threads log what they do (site changes applied, refused observations, retries).
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact_logs()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per gateway call otherwise (sync, play/start)
    service.events.start()  # the outbox relay: what a previous run left, then every commit's messages
    counts = service.site.counts()
    out.print(
        f"gridwatch: {counts['cameras']} cameras, {counts['grids']} grids; database {settings.db_url.split('://')[0]}"
    )
    if live is None:
        out.print("detection off (--no-detect / GRIDWATCH_DETECT=0): serving the API and console only")
    else:
        try:
            live.start()
        except GridwatchError as exc:
            err.print(f"[red]detection not started[/red]: {exc}; serving the API and console only", soft_wrap=True)
            live = None
    from gridwatch.housekeeping import Housekeeping, Job

    gateway_sync = app.state.runtime.context.gateway_sync  # built by build_app, clients shared with ingest
    # GB/T 28181 gateways: new channels become cameras, vanished ones are disabled (the pipeline applies it).
    jobs = [Job("gateway sync", settings.gateway_sync_s, gateway_sync.run_all)] if settings.gateway_sync_s else []
    housekeeping = Housekeeping(service, pruners=service.pruners(), jobs=jobs).start()
    dispatch = None
    if settings.dispatch == "process":
        from gridwatch.dispatch_process import DispatchProcess

        dispatch = DispatchProcess(settings).start()
    retention = service.events.policy.retention
    out.print(
        f"retention: evidence kept {retention.alert_evidence_days} days ({retention.dismissed_evidence_days} when "
        f"dismissed), case files {retention.case_files_days_after_close} days after close; runs every "
        f"{retention.run_every_min} min"
    )
    out.print(f"console on http://{settings.host}:{settings.port}")
    if settings.demo:
        from api.demo import ensure_demo_users

        out.print("demo logins (new passwords at every start):")
        for login in ensure_demo_users(service.engine, service.site):
            out.print(f"  {login.username:<11} {login.password:<18} {login.role.value} ({login.scope})")
    # What start-up built (the site, caches, modules) lives as long as the process: out of the
    # collector's way, a full collection under load paused the server ~20 ms instead of 110-150 ms.
    gc.collect()
    gc.freeze()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    try:
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        )
        ClosingServer(config, app.state.runtime.sse.close).run()
    finally:
        housekeeping.stop()
        if dispatch is not None:
            dispatch.stop()
        if live is not None:
            out.print("stopping detection and camera streams")
            live.stop()
        service.events.close()
        gateway_sync.clients.close()
    return 0


def register(sub: Subparsers) -> None:
    r = add_command(
        sub,
        "run",
        "start the service: API, console and the live pipeline (cameras → detection → alerts)",
        "Serves the API and console and, unless --no-detect, pulls every enabled camera, runs the "
        "detectors and raises alerts (camera edits apply while running). With --demo, the demo site's cameras "
        "are served from the real footage by the RTSP footage server (or read from the files).",
        func=cmd_run,
    )
    r.set_defaults(takes_stop_signals=True)
    r.add_argument("--site", type=Path, help="site YAML to load at start (with --demo: the demo site)")
    r.add_argument(
        "--no-detect",
        action="store_true",
        help="serve the API and console only: no camera pulls, no detection (also GRIDWATCH_DETECT=0)",
    )

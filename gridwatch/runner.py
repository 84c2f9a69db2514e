"""The embedded single-process service: database, site, API and the live pipeline (ingest → detectors → events)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.context import ApiContext, CameraFigures, LiveSettings
from gridwatch.live import LiveSystem, Progress
from gridwatch.settings import Settings
from gridwatch.wiring import Service, open_service

LOOPBACK = {"127.0.0.1", "localhost"}


def build_app(
    settings: Settings, *, site_file: Path | None = None, progress: Progress | None = None
) -> tuple[FastAPI, Service, LiveSystem | None]:
    """The app and, unless ``settings.detect`` is off, the live pipeline (not started: the caller starts and
    stops it around serving)."""
    service = open_service(settings)
    if site_file is not None:
        service.site.load_site(site_file)
    live_system = LiveSystem(service, settings, progress=progress) if settings.detect else None
    registry = CollectorRegistry()
    if live_system is not None:
        registry.register(live_system.collector())
    # Served on loopback only, the browser is on this machine: WebRTC then needs 127.0.0.1 candidates.
    live = LiveSettings(ice_hosts=("127.0.0.1",) if settings.host in LOOPBACK else None)
    context = ApiContext(engine=service.engine, site=service.site, live=live, registry=registry, events=service.events)
    if live_system is not None:
        context = replace(
            context, health=live_system.health, latest_frame=live_system.latest, stats=_figures_of(live_system)
        )
    app = create_app(context)
    return app, service, live_system


def _figures_of(live: LiveSystem) -> Callable[[str], CameraFigures | None]:
    """The API's stats source: the live pipeline's figures of one camera (detector ones only if it detects)."""

    def figures(camera_id: str) -> CameraFigures | None:
        s = live.camera_stats(camera_id)
        if s is None:
            return None
        if not s.detecting:
            return CameraFigures(s.ingest)
        return CameraFigures(s.ingest, s.inference_ms, s.detected_frames, s.people)

    return figures

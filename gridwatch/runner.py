"""The embedded single-process service: database, site, API (later stages plug in here)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from api.app import create_app
from api.context import ApiContext, LiveSettings
from gridwatch.settings import Settings
from gridwatch.wiring import Service, open_service

LOOPBACK = {"127.0.0.1", "localhost"}


def build_app(settings: Settings, *, site_file: Path | None = None) -> tuple[FastAPI, Service]:
    service = open_service(settings)
    if site_file is not None:
        service.site.load_site(site_file)
    # Served on loopback only, the browser is on this machine: WebRTC then needs 127.0.0.1 candidates.
    live = LiveSettings(ice_hosts=("127.0.0.1",) if settings.host in LOOPBACK else None)
    app = create_app(ApiContext(engine=service.engine, site=service.site, live=live, events=service.events))
    return app, service

"""The embedded single-process service: database, site, API and the live pipeline (ingest → detectors → events)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.context import ApiContext, LiveViewSettings
from events.notify.config import ChannelKind
from gridwatch.monitor import Progress, SiteMonitor
from gridwatch.settings import Settings
from gridwatch.wiring import Service, open_service
from ingest.gateway_sync import GatewaySync
from ingest.gateways import GatewayClients

LOOPBACK = {"127.0.0.1", "localhost"}


def build_app(
    settings: Settings, *, site_file: Path | None = None, progress: Progress | None = None
) -> tuple[FastAPI, Service, SiteMonitor | None]:
    """The app and, unless ``settings.detect`` is off, the live pipeline (not started: the caller starts and
    stops it around serving, as it does the events service's outbox relay)."""
    service = open_service(settings, publish="thread")
    if site_file is not None:
        service.load_site(site_file)
    # One client per GB/T 28181 gateway, its token shared by the readers of its cameras and the sync.
    gateway_sync = GatewaySync(service.site, GatewayClients(service.site.gateways.access))
    monitor = (
        SiteMonitor(
            service.site,
            settings,
            store=service.events.apply_observation,
            progress=progress,
            gateways=gateway_sync.clients,
        )
        if settings.detect
        else None
    )
    registry = CollectorRegistry()
    if monitor is not None:
        registry.register(monitor.collector())
    # Served on loopback only, the browser is on this machine: WebRTC then needs 127.0.0.1 candidates.
    live_view = LiveViewSettings(
        ice_hosts=("127.0.0.1",) if settings.host in LOOPBACK else None, max_viewers=settings.live_max_viewers
    )
    context = ApiContext(
        engine=service.engine,
        site=service.site,
        live_view=live_view,
        registry=registry,
        events=service.events,
        notifications=service.notifications,
        public_url=settings.console_url,
        send_kinds=frozenset({ChannelKind.MQTT}) if settings.dispatch == "process" else None,
        data_dir=settings.data_dir,
        gateway_sync=gateway_sync,
    )
    if monitor is not None:
        context = replace(
            context,
            health=monitor.health,
            latest_frame=monitor.latest,
            stats=monitor.camera_stats,
            box=monitor.box,
            camera_figures=monitor.stats,
        )
    app = create_app(context)
    return app, service, monitor

"""Builds the running service from settings: database, site store, API. The only place stages meet."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from api.access import Role
from api.audit import AuditAction, AuditActor, AuditLog
from camera_config.secrets import CredentialCipher
from camera_config.store import ImportReport, Progress, SiteStore
from camera_config.validate import ValidatedSite, load_site_file
from core.clock import SystemClock
from core.db import make_engine, session_factory
from events.notify.config import ChannelSpec, parse_channels
from events.notify.store import Notifications
from events.policy import load_policy
from events.retention import Pruner
from events.service import EventsService, Publish
from gridwatch import db
from gridwatch.settings import Settings


@dataclass
class Service:
    settings: Settings
    engine: Engine
    site: SiteStore
    events: EventsService
    audit: AuditLog
    notifications: Notifications

    def audit_pruner(self) -> Pruner:
        """The access audit kept as long as the events policy says (the retention job calls it)."""
        return Pruner("access audit", self.events.policy.retention.audit_days, self.audit.prune)

    def pruners(self) -> list[Pruner]:
        """Every store with a keeping period besides evidence (the housekeeping job runs them)."""
        retention = self.events.policy.retention
        return [
            self.audit_pruner(),
            Pruner("outbox", retention.outbox_days, self.events.outbox.prune),
            Pruner("delivery log", retention.delivery_log_days, self.notifications.prune),
        ]

    def check_site(self, path: Path) -> tuple[ValidatedSite, list[ChannelSpec]]:
        """A site file validated whole, its notification channels included (InvalidInput naming each problem)."""
        site = load_site_file(path, allow_files=self.site.allow_files, existing=self.site.index())
        roles = [r.value for r in Role if r is not Role.WORKER]
        return site, parse_channels(site.notifications, roles=roles, allow_hosts=self.settings.allow_hosts)

    def load_site(self, path: Path, progress: Progress | None = None) -> ImportReport:
        """Apply a site file: the site model, then its notification channels (created or replaced by id;
        channels only in the database stay)."""
        site, channels = self.check_site(path)
        report = self.site.apply_site(site, progress)
        if channels:
            self.notifications.put_channels(channels)
        return report

    def record_cli(self, action: AuditAction, target: str, detail: str = "") -> None:
        """What the command line did, in the access audit, as ``cli:<os user>``."""
        self.audit.record(AuditActor(f"cli:{getpass.getuser()}", "cli"), action, target, detail)


def open_service(settings: Settings, *, migrate: bool = True, publish: Publish = "inline") -> Service:
    """Open the database (migrating it to the current schema), the site store and the events service.

    ``publish``: a command publishes what it changed before it returns ("inline"); the server relays
    from a thread ("thread", started by `EventsService.start`), so that writes under load do not each
    wait for a pass over the outbox."""
    settings.prepare()
    engine = make_engine(settings.db_url)
    if migrate:
        db.upgrade(engine)
    if settings.secret_key is not None:
        cipher = CredentialCipher(settings.secret_key.get_secret_value().encode())
    else:
        cipher = CredentialCipher.from_key_file(settings.data_dir / "secret.key")
    sessions = session_factory(engine)
    site = SiteStore(sessions, cipher, allow_files=settings.demo)
    policy = load_policy(settings.events_policy) if settings.events_policy is not None else None
    events = EventsService(sessions, site, settings.data_dir, policy=policy, publish=publish)
    notifications = Notifications(sessions, cipher, events.clock, events.fatigue, allow_hosts=settings.allow_hosts)
    events.outbox.sinks.append(notifications)
    return Service(
        settings=settings,
        engine=engine,
        site=site,
        events=events,
        audit=AuditLog(sessions, SystemClock()),
        notifications=notifications,
    )

"""Builds the running service from settings: database, site store, API. The only place stages meet."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from camera_config.secrets import CredentialCipher
from camera_config.store import SiteStore
from core.db import make_engine, session_factory
from events.policy import load_policy
from events.service import EventsService
from gridwatch import db
from gridwatch.settings import Settings


@dataclass
class Service:
    settings: Settings
    engine: Engine
    site: SiteStore
    events: EventsService


def open_service(settings: Settings, *, migrate: bool = True) -> Service:
    """Open the database (migrating it to the current schema), the site store and the events service."""
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
    events = EventsService(sessions, site, settings.data_dir, policy=policy)
    return Service(settings=settings, engine=engine, site=site, events=events)

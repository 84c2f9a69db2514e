"""What the API needs from the running service, handed in by the shell (the API never builds it)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from camera_config.store import SiteStore


@dataclass(frozen=True, slots=True)
class ApiContext:
    engine: Engine
    site: SiteStore

"""What the API needs from the running service, handed in by the shell (the API never builds it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry
from pwdlib import PasswordHash
from sqlalchemy import Engine

from camera_config.store import SiteStore
from core.clock import Clock, SystemClock
from detectors.types import BoxFigures, CameraFigures
from events.notify.config import ChannelKind
from events.notify.store import Notifications
from events.service import EventsService
from ingest.gateway_sync import GatewaySync
from ingest.types import CameraHealth, Frame


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """Sessions, cookies and login throttling; the defaults suit a console on a trusted network."""

    session_idle_s: float = 12 * 3600
    """A console session ends after this long without a request."""
    session_max_s: float = 7 * 24 * 3600
    """... and after this long in any case."""
    cookie_secure: bool = False
    """Send cookies over HTTPS only; turn on whenever the console is served over HTTPS."""
    login_window_s: float = 15 * 60
    """Failed logins are counted over this window."""
    max_failures_per_user: int = 5
    max_failures_per_address: int = 50
    lockout_s: float = 30.0
    """First lockout once a limit is reached; doubles with every further failure."""
    max_lockout_s: float = 15 * 60
    password_hash: PasswordHash = field(default_factory=PasswordHash.recommended)
    """argon2id with pwdlib's recommended cost; stored hashes with other parameters are upgraded at login."""


@dataclass(frozen=True, slots=True)
class LiveViewSettings:
    """WebRTC live view: how the server reaches browsers and opens camera streams."""

    ice_hosts: tuple[str, ...] | None = None
    """Offer only these host addresses as ICE candidates and ignore browser candidates elsewhere.
    ``("127.0.0.1",)`` when browser and server share a machine (loopback); None offers every interface."""
    open_timeout_s: float = 10.0
    """Opening a camera stream (RTSP connect and the first packets) gives up after this long."""
    retry_max_s: float = 30.0
    """A lost stream is reopened with exponential backoff up to this interval while viewers watch."""
    connect_timeout_s: float = 20.0
    """A viewer whose browser has not connected this long after the answer is dropped."""
    max_viewers: int = 32
    """Peer connections the server keeps at once (each costs a little CPU for packetising and SRTP)."""


HealthSource = Callable[[str], CameraHealth | None]
"""camera id → its latest health from ingest, or None when nothing is known yet."""


def _no_health(_camera_id: str) -> CameraHealth | None:
    return None


FrameSource = Callable[[str], Frame | None]
"""camera id → the newest frame ingest decoded for the detector, or None when there is none (yet)."""


StatsSource = Callable[[str], CameraFigures | None]
"""camera id → its live figures, or None when the camera is not being pulled."""


def _no_frame(_camera_id: str) -> Frame | None:
    return None


def _no_stats(_camera_id: str) -> CameraFigures | None:
    return None


BoxSource = Callable[[], BoxFigures | None]
"""The whole box's headroom now, or None when no live pipeline runs (``--no-detect``)."""

FiguresSource = Callable[[], list[CameraFigures]]
"""Every pulled camera's live figures (empty without a live pipeline)."""


def _no_box() -> BoxFigures | None:
    return None


def _no_camera_figures() -> list[CameraFigures]:
    return []


@dataclass(frozen=True, slots=True)
class ApiContext:
    engine: Engine
    site: SiteStore
    clock: Clock = field(default_factory=SystemClock)
    auth: AuthSettings = field(default_factory=AuthSettings)
    live_view: LiveViewSettings = field(default_factory=LiveViewSettings)
    health: HealthSource = _no_health
    latest_frame: FrameSource = _no_frame
    """Snapshots; the default knows none (no live pipeline, e.g. ``--no-detect``)."""
    stats: StatsSource = _no_stats
    box: BoxSource = _no_box
    """``GET /api/stats``: the default has no pipeline, so that route answers 503."""
    camera_figures: FiguresSource = _no_camera_figures
    registry: CollectorRegistry | None = None
    """Prometheus registry shared with the other stages; the API makes its own when None."""
    events: EventsService | None = None
    """Alerts, cases and figures; None serves the site alone (those routes answer 503)."""
    notifications: Notifications | None = None
    """Channels, deliveries and suspends; with it the app runs the dispatcher that sends them."""
    public_url: str = "http://127.0.0.1:8000/"
    """The console's address as people reach it, for links in notifications."""
    send_kinds: frozenset[ChannelKind] | None = None
    """The channel kinds this process sends; None: all. `gridwatch run` leaves the HTTP ones (webhooks,
    robots, Web Push) to its dispatch process and keeps MQTT, whose camera states come from this process."""
    data_dir: Path | None = None
    """Where keys the API makes live (the Web Push VAPID key)."""
    gateway_sync: GatewaySync | None = None
    """Import and sync of GB/T 28181 gateways; None: gateways can be listed and added, not imported."""

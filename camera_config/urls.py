"""Stream URL rules: which sources are accepted, and keeping credentials out of URLs and logs."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from core.redact import redact

STREAM_SCHEMES = ("rtsp", "rtsps")
SYNTHETIC_SCHEME = "synthetic"
SYNTHETIC_SWITCH = "GRIDWATCH_SYNTHETIC_SOURCES"
"""Generated frames (``synthetic:<seed>?fps=1&size=64x36``) stand in for cameras only when this is ``1``: a
benchmark or test runs the control plane at full scale without streams; a real site never should."""


GATEWAY_SCHEME = "gb28181"
"""A channel behind a GB/T 28181 gateway: ``gb28181://<gateway>/<deviceId>/<channelId>``. Ingest asks the gateway
for the channel's RTSP URL (wvp's ``play/start``) every time it opens the stream; the URL itself holds no secret."""
GATEWAY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,30}$")
"""A gateway's id: short enough that ``<gateway>-<channelId>`` is a valid camera id (at most 64)."""
GB_CODE = re.compile(r"^[A-Za-z0-9]{1,32}$")
"""A device or channel code as a gateway lists it (GB/T 28181 codes are 20 digits; some platforms use others)."""


@dataclass(frozen=True, slots=True)
class GatewayChannel:
    """Where a ``gb28181://`` URL points: a channel of a device behind a gateway."""

    gateway_id: str
    device_id: str
    channel_id: str

    @property
    def url(self) -> str:
        return f"{GATEWAY_SCHEME}://{self.gateway_id}/{self.device_id}/{self.channel_id}"

    @property
    def camera_id(self) -> str:
        """The camera a gateway import makes of the channel: stable, and valid as a camera id."""
        return f"{self.gateway_id}-{self.channel_id}"


def is_gateway_source(url: str) -> bool:
    return url.strip().lower().startswith(GATEWAY_SCHEME + "://")


def parse_gateway_url(url: str) -> GatewayChannel:
    """``gb28181://gw-1/<deviceId>/<channelId>`` → its parts; ValueError naming what is wrong."""
    parts = urlsplit(url.strip())
    segments = parts.path.strip("/").split("/") if parts.path.strip("/") else []
    if parts.scheme.lower() != GATEWAY_SCHEME or len(segments) != 2 or parts.query or parts.fragment:
        raise ValueError(f"a gateway URL is {GATEWAY_SCHEME}://<gateway>/<deviceId>/<channelId> (got {redact(url)!r})")
    if not GATEWAY_ID.match(parts.netloc):
        raise ValueError(
            f'gateway id "{parts.netloc}": use letters, digits, "_" or "-", at most 31, starting alphanumeric'
        )
    for name, code in zip(("deviceId", "channelId"), segments, strict=True):
        if not GB_CODE.match(code):
            raise ValueError(f'{name} "{code}": use letters and digits only, at most 32 (GB/T 28181: 20 digits)')
    return GatewayChannel(parts.netloc, segments[0], segments[1])


def synthetic_sources_on() -> bool:
    """The one place the switch is read (at every check, so a test can turn it on and off)."""
    return os.environ.get(SYNTHETIC_SWITCH, "") == "1"


def is_synthetic_source(url: str) -> bool:
    return url.strip().lower().startswith(SYNTHETIC_SCHEME + ":")


def is_file_source(url: str) -> bool:
    return url.startswith("file:") or ("://" not in url and not is_synthetic_source(url))


def check_stream_url(url: str, *, allow_files: bool) -> str:
    """Return the URL if gridwatch may open it, else raise ValueError naming the problem."""
    url = url.strip()
    if not url:
        raise ValueError("stream URL is empty")
    if is_synthetic_source(url):
        if synthetic_sources_on():
            return url
        raise ValueError(
            f"synthetic sources are for tests and benchmarks only, accepted when {SYNTHETIC_SWITCH}=1 "
            f"(got {redact(url)!r})"
        )
    if is_file_source(url):
        if allow_files:
            return url
        raise ValueError(f"file sources are only accepted in demo mode (got {redact(url)!r})")
    if is_gateway_source(url):
        return parse_gateway_url(url).url
    parts = urlsplit(url)
    if parts.scheme.lower() not in STREAM_SCHEMES:
        raise ValueError(f"only rtsp:// or rtsps:// URLs are accepted (got {redact(url)!r})")
    if not parts.hostname:
        raise ValueError(f"URL has no host (got {redact(url)!r})")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"URL has an invalid port (got {redact(url)!r})") from None
    if port == 0:
        raise ValueError(f"URL has an invalid port (got {redact(url)!r})")
    return url


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """Separate ``rtsp://user:pass@host/...`` into the bare URL and its username and password."""
    if is_file_source(url):
        return url, None, None
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return bare, user, password


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """The URL a stream client needs; only ingest calls this, and never logs the result."""
    if not username or is_file_source(url):
        return url
    parts = urlsplit(url)
    auth = quote(username, safe="")
    if password:
        auth += ":" + quote(password, safe="")
    return urlunsplit((parts.scheme, f"{auth}@{parts.netloc}", parts.path, parts.query, parts.fragment))

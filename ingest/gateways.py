"""The gateways a process talks to: one `WvpClient` per gateway (its token shared by every camera behind it), and
how a camera's ``gb28181://`` URL becomes the RTSP stream its reader opens.

A reader resolves its camera every time it (re)opens the stream: ``play/start`` answers the channel's RTSP URL on
the gateway's media server (it may differ after a gateway restart), the reader opens it and holds it. Any failure
on the way becomes the camera's offline reason, naming the gateway and the cause
(``GB28181 网关 gw-1 无法连接 (unreachable): ...``), and the reader retries with its backoff.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from camera_config.gateways import GatewayAccess
from camera_config.urls import parse_gateway_url
from core.errors import NotFound
from ingest.gb28181 import GatewayError, WvpClient
from ingest.sources import Source, SourceKind, StreamError, resolve_source
from ingest.types import OfflineReason

GatewayLookup = Callable[[str], GatewayAccess]
"""gateway id → how to log in to it (the site store's ``gateways.access``); NotFound for an unknown gateway."""
ClientFactory = Callable[[GatewayAccess], WvpClient]


class GatewayResolver(Protocol):
    """What turns a ``gb28181://`` source into the stream to open, at every (re)open: `GatewayClients` where the
    gateways are reached, `gridwatch.remote.RemoteGateways` (the API asks them) on a remote worker."""

    def resolve(self, source: Source, /) -> Source: ...


class GatewayClients:
    """Clients by gateway id, made on first use and made again when the gateway's settings change; thread-safe."""

    def __init__(self, lookup: GatewayLookup, *, factory: ClientFactory = WvpClient) -> None:
        self._lookup = lookup
        self._factory = factory
        self._clients: dict[str, WvpClient] = {}
        self._lock = threading.Lock()

    def client(self, gateway_id: str) -> WvpClient:
        """The gateway's client; NotFound when no such gateway is configured."""
        access = self._lookup(gateway_id)
        with self._lock:
            client = self._clients.get(gateway_id)
            if client is not None and client.access == access:
                return client
            self._clients[gateway_id] = fresh = self._factory(access)
        if client is not None:
            client.close()
        return fresh

    def resolve(self, source: Source) -> Source:
        """A ``gb28181://`` source → the RTSP source the gateway serves it on now (``play/start``); StreamError
        GATEWAY naming the gateway when that fails."""
        if source.kind is not SourceKind.GATEWAY:
            return source
        try:
            ref = parse_gateway_url(source.url)
        except ValueError as exc:
            raise StreamError(OfflineReason.UNSUPPORTED_SOURCE, str(exc)) from None
        try:
            play = self.client(ref.gateway_id).play(ref.device_id, ref.channel_id)
        except NotFound:
            raise StreamError(
                OfflineReason.GATEWAY, f"GB28181 网关 {ref.gateway_id} 未配置 (no such gateway is configured)"
            ) from None
        except GatewayError as exc:
            raise StreamError(OfflineReason.GATEWAY, str(exc)) from None
        return resolve_source(play.rtsp, allow_files=False)

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

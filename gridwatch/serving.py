"""The HTTP server of `gridwatch run`: uvicorn, with open event streams ended when a stop begins."""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvicorn


class ClosingServer(uvicorn.Server):
    """Uvicorn waits for every open connection to finish before it shuts the application down, and a
    console's event stream never finishes by itself: a stop waited until it was killed. ``before_shutdown``
    (ending the streams) runs first, in the server's loop, so the streams end and the stop is prompt."""

    def __init__(self, config: uvicorn.Config, before_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self._before_shutdown = before_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._before_shutdown()
        await super().shutdown(sockets)

"""A local HTTP receiver for outbound channels: answers with a scripted list of statuses (the last one
repeats) and keeps every request it got. Serves on 127.0.0.1 only, from a thread, stopped on exit."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True, slots=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    statuses: list[int]
    answer: bytes = b"{}"
    requests: list[Request] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, n: int, timeout_s: float = 10.0) -> list[Request]:
        """The first ``n`` requests, once they have come (AssertionError after ``timeout_s``)."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.requests) >= n, timeout_s):
                raise AssertionError(f"{len(self.requests)} request(s) arrived, {n} expected")
            return list(self.requests[:n])


@contextmanager
def receiver(
    statuses: Sequence[int] = (200,), answer: bytes = b"{}", extra_headers: dict[str, str] | None = None
) -> Iterator[Receiver]:
    got = Receiver("", list(statuses), answer)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with got.arrived:
                n = len(got.requests)
                status = got.statuses[min(n, len(got.statuses) - 1)]
                got.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                got.arrived.notify_all()
            self.send_response(status)
            for k, v in (extra_headers or {}).items():
                self.send_header(k, v)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(got.answer)))
            self.end_headers()
            self.wfile.write(got.answer)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    got.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield got
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)

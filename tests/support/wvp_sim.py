"""A small, honest wvp-GB28181-pro for tests: its REST API as wvp's controllers answer it, on 127.0.0.1.

No gateway runs here, so this stands in for one at the edge (never inside gridwatch). What it does as wvp does:
the login takes the password's MD5 hex (``POST`` form or query) and answers a ``LoginUser`` with ``accessToken``
and the ``access-token`` header; tokens expire (``token_ttl_s``, wvp: 30 min) and then every call answers HTTP 401
``{"code": 401, "msg": "请登录后重新请求"}``; lists are ``PageInfo`` pages; ``play/start`` answers a
``StreamContent`` whose ``rtsp`` URL is on the gateway's "media server": a TCP relay to the project's RTSP footage
server (the channel's ``rtsp_path`` there), so the stream really flows through the gateway's host. `stop` takes
the API and the relay down (connections cut), `start` brings both back on the same ports: a gateway outage.

Devices and channels are plain dicts the test edits while it runs; ``play_starts``, ``play_stops`` and
``logins`` count the calls.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ingest.demo_server import free_port

OK = "成功"
LOGIN_FIRST = "请登录后重新请求"


@dataclass
class SimChannel:
    device_id: str
    channel_id: str
    name: str
    rtsp_path: str
    """Where the footage server serves its picture, e.g. ``/cam/CAM-0001/sub``."""
    online: bool = True
    longitude: float | None = None
    latitude: float | None = None
    channel_type: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    """Fields put over the channel's JSON as listed (a test's malformed answer)."""


class _Relay:
    """The gateway's media port: relays TCP to the footage server; closing it cuts every connection."""

    def __init__(self, port: int, upstream: tuple[str, int]) -> None:
        self.port = port
        self.upstream = upstream
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(32)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name="wvp-sim-relay", daemon=True).start()

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            _shut(listener)  # shutdown wakes the thread blocked in accept (close alone would leave it listening)
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            _shut(conn)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._conns |= {client, server}
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), name="wvp-sim-pump", daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                _shut(s)
                with self._lock:
                    self._conns.discard(s)


def _shut(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    s.close()


DEVICE = "34020000001320000001"
"""The device `gateway_with_channels` lists its channels under."""


class WvpSimulator:
    """One wvp on 127.0.0.1 (API on ``port``, media relay on ``media_port``); ``start`` / ``stop`` repeatable."""

    def __init__(
        self,
        media_upstream: tuple[str, int],
        *,
        username: str = "admin",
        password: str = "admin-pass",
        token_ttl_s: float = 1800.0,
    ) -> None:
        self.port = free_port()
        self.media_port = free_port()
        self.users = {username: hashlib.md5(password.encode(), usedforsecurity=False).hexdigest()}
        self.token_ttl_s = token_ttl_s
        self.devices: dict[str, dict[str, Any]] = {}
        self.channels: dict[tuple[str, str], SimChannel] = {}
        self.tokens: dict[str, float] = {}
        self.logins = 0
        self.login_attempts = 0
        self.play_starts: list[tuple[str, str]] = []
        self.play_stops: list[tuple[str, str]] = []
        self.refused_tokens = 0
        self._lock = threading.Lock()
        self._relay = _Relay(self.media_port, media_upstream)
        self._http: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------ the test's side

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_device(self, device_id: str, name: str = "", online: bool = True) -> None:
        self.devices[device_id] = {"name": name or f"NVR {device_id[-4:]}", "online": online}

    def add_channel(self, channel: SimChannel) -> SimChannel:
        if channel.device_id not in self.devices:
            self.add_device(channel.device_id)
        self.channels[(channel.device_id, channel.channel_id)] = channel
        return channel

    def remove_channel(self, device_id: str, channel_id: str) -> None:
        del self.channels[(device_id, channel_id)]

    def expire_tokens(self) -> None:
        """Every token handed out so far is past its 30 minutes now."""
        with self._lock:
            self.tokens = dict.fromkeys(self.tokens, 0.0)

    def start(self) -> WvpSimulator:
        sim = self

        class Handler(_Handler):
            simulator = sim

        http = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        http.daemon_threads = True
        self._http = http
        threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self._relay.start()
        return self

    def stop(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            http.shutdown()
            http.server_close()
        self._relay.stop()

    def __enter__(self) -> WvpSimulator:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ wvp's answers

    def login(self, params: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str]]:
        username, password = params.get("username", ""), params.get("password", "")
        with self._lock:
            self.login_attempts += 1
        if not username or not password:
            return 400, _result(400, "参数或方法错误"), {}
        if self.users.get(username) != password:
            return 200, _result(100, "用户名或密码错误"), {}
        token = "eyJ." + secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = time.monotonic() + self.token_ttl_s
            self.logins += 1
        user = {"id": 1, "username": username, "accessToken": token, "serverId": "sim", "role": {"id": 1}}
        return 200, _result(0, OK, user), {"access-token": token}

    def authorised(self, token: str | None) -> bool:
        with self._lock:
            expires = self.tokens.get(token or "")
            ok = expires is not None and time.monotonic() < expires
            if not ok:
                self.refused_tokens += 1
            return ok

    def answer(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        if path == "/api/device/query/devices":
            devices = [
                {"deviceId": d, "name": v["name"], "onLine": v["online"], "channelCount": self._count(d)}
                for d, v in sorted(self.devices.items())
            ]
            return _result(0, OK, _page(devices, params))
        if m := re.fullmatch(r"/api/device/query/devices/([^/]+)/channels", path):
            device = m.group(1)
            listed = [self._channel_json(c) for (d, _), c in sorted(self.channels.items()) if d == device]
            return _result(0, OK, _page(listed, params))
        if m := re.fullmatch(r"/api/play/(start|stop)/([^/]+)/([^/]+)", path):
            action, device, channel_id = m.groups()
            if device not in self.devices:
                return _result(100, "设备不存在")
            channel = self.channels.get((device, channel_id))
            if channel is None:
                return _result(100, "通道不存在")
            with self._lock:
                (self.play_starts if action == "start" else self.play_stops).append((device, channel_id))
            if action == "stop":
                return _result(0, OK, {"deviceId": device, "channelId": channel_id})
            if not (channel.online and self.devices[device]["online"]):
                return _result(100, "点播超时")
            stream = f"{device}_{channel_id}"
            return _result(0, OK, self._stream_content(channel, stream))
        return _result(404, "资源未找到")

    def _count(self, device: str) -> int:
        return sum(1 for d, _ in self.channels if d == device)

    def _channel_json(self, c: SimChannel) -> dict[str, Any]:
        doc = {
            "id": abs(hash((c.device_id, c.channel_id))) % 100000,
            "deviceId": c.channel_id,  # wvp 2.7: the channel's own code
            "parentId": c.device_id,
            "name": c.name,
            "status": "ON" if c.online else "OFF",
            "longitude": c.longitude,
            "latitude": c.latitude,
            "channelType": c.channel_type,
            "ptzType": 3,
            "hasAudio": False,
        }
        doc.update(c.extra)
        return doc

    def _stream_content(self, channel: SimChannel, stream: str) -> dict[str, Any]:
        host = f"127.0.0.1:{self.media_port}"
        return {
            "app": "rtp",
            "stream": stream,
            "ip": "127.0.0.1",
            "rtsp": f"rtsp://{host}{channel.rtsp_path}",
            "flv": f"http://127.0.0.1:{self.media_port}/rtp/{stream}.live.flv",
            "rtmp": f"rtmp://127.0.0.1/rtp/{stream}",
            "mediaServerId": "zlm-sim",
        }


def _result(code: int, msg: str, data: Any = None) -> dict[str, Any]:
    return {"code": code, "msg": msg, "data": data}


def _page(items: list[dict[str, Any]], params: dict[str, str]) -> dict[str, Any]:
    page, count = max(1, int(params.get("page", "1"))), max(1, int(params.get("count", "15")))
    chunk = items[(page - 1) * count : page * count]
    return {
        "total": len(items),
        "list": chunk,
        "pageNum": page,
        "pageSize": count,
        "size": len(chunk),
        "pages": (len(items) + count - 1) // count,
    }


class _Handler(BaseHTTPRequestHandler):
    simulator: WvpSimulator
    # HTTP/1.0: one request per connection, so a stopped simulator answers nothing on an old connection either.

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            body = self.rfile.read(length).decode()
            if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                params.update({k: v[0] for k, v in parse_qs(body).items()})
        sim = self.simulator
        if parts.path == "/api/user/login":
            status, doc, headers = sim.login(params)
            self._send(status, doc, headers)
        elif not sim.authorised(self.headers.get("access-token")):
            self._send(401, {"code": 401, "msg": LOGIN_FIRST})
        else:
            self._send(200, sim.answer(parts.path, params))

    def _send(self, status: int, doc: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        body = json.dumps(doc, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def gateway_with_channels(count: int, password: str = "gw-pass") -> Iterator[WvpSimulator]:
    """A running gateway with ``count`` channels of `DEVICE` whose streams lead nowhere: for import and sync."""
    with WvpSimulator(("127.0.0.1", 9), password=password) as sim:
        for n in range(1, count + 1):
            sim.add_channel(SimChannel(DEVICE, f"3402000000131{n:07d}", f"Gate {n}", "/x"))
        yield sim

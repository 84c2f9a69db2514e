"""A client of wvp-GB28181-pro's REST API: how gridwatch reaches cameras on a GB/T 28181 network.

Chinese public-security camera networks (雪亮工程) speak GB/T 28181 (SIP signalling, PS-over-RTP media); gridwatch
does not: it asks a gateway that does. wvp-GB28181-pro with ZLMediaKit is the common one. Its API, as its
controllers define it:

- ``POST /api/user/login`` with ``username`` and ``password`` (the MD5 hex of the password) answers a ``LoginUser``
  with ``accessToken`` (also in the ``access-token`` response header); later calls send that JWT in the
  ``access-token`` header. It expires after 30 minutes: the gateway then answers HTTP 401
  (``{"code": 401, "msg": "请登录后重新请求"}``), and the client logs in again once and repeats the call.
- Every answer is a ``WVPResult`` ``{"code": 0, "msg": "成功", "data": ...}``; a refusal has another code and says
  why in ``msg`` (``设备不存在``, ``点播超时``), often with HTTP 200.
- ``GET /api/device/query/devices?page&count`` and ``/devices/{deviceId}/channels?page&count`` page through the
  devices and their channels (``PageInfo``: ``total`` and ``list``).
- ``GET /api/play/start/{deviceId}/{channelId}`` INVITEs the channel onto the media server and answers its URLs
  (``rtsp``, ``flv``, ...); the stream is ``{deviceId}_{channelId}``. ZLMediaKit drops a stream about 20 s after
  its last reader leaves, so ingest holds the RTSP session and asks ``play/start`` again before every reopen.

Every failure is a `GatewayError` that names the gateway and what went wrong, in Chinese and English, and never
holds the password or its hash (the login goes in a form body, never in a URL).
"""

from __future__ import annotations

import enum
import hashlib
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from camera_config.gateways import GatewayAccess
from camera_config.urls import check_stream_url
from core.errors import Unavailable
from core.redact import redact

PAGE_SIZE = 100
"""Devices or channels asked for per page."""
MAX_PAGES = 1000
"""A paging loop ends here whatever ``total`` says (a gateway that always answers a full page)."""
ACCESS_HEADER = "access-token"
"""wvp's JwtUtils.HEADER."""
UNREACHABLE_RETRY_S = 1.0
"""A login that failed for another reason than a refusal (no answer, a bad answer) is repeated as it is for this
long."""


class GatewayFault(enum.StrEnum):
    """How a gateway call failed; the text is what an operator reads (Chinese first, as the gateways' users do)."""

    UNREACHABLE = "无法连接 (unreachable)"
    LOGIN = "登录失败 (login refused)"
    REFUSED = "拒绝请求 (request refused)"
    MALFORMED = "应答无法解析 (malformed answer)"


class GatewayError(Unavailable):
    """A gateway call failed: ``GB28181 网关 gw-1 无法连接 (unreachable): GET /api/...: connection refused``."""

    def __init__(self, gateway_id: str, fault: GatewayFault, detail: str) -> None:
        super().__init__(f"GB28181 网关 {gateway_id} {fault.value}: {detail}")
        self.gateway_id = gateway_id
        self.fault = fault
        self.detail = detail


@dataclass(frozen=True, slots=True)
class WvpDevice:
    device_id: str
    name: str
    online: bool


@dataclass(frozen=True, slots=True)
class WvpChannel:
    device_id: str
    """The device (NVR, platform or camera) the channel belongs to."""
    channel_id: str
    name: str
    online: bool
    longitude: float | None = None
    latitude: float | None = None
    channel_type: int = 0
    """0: a video channel; 1 and 2 are catalogue nodes (civil area, business group) with nothing to play."""


@dataclass(frozen=True, slots=True)
class PlayInfo:
    """What ``play/start`` answered: where the media server serves the channel now."""

    rtsp: str
    stream: str | None = None
    media_server_id: str | None = None


def password_md5(password: str) -> str:
    """What wvp's login takes for a password: its 32-character lower-case MD5 hex."""
    return hashlib.md5(password.encode("utf-8"), usedforsecurity=False).hexdigest()


class _Fields:
    """Reads typed fields out of one JSON object, each failure naming the field's path in the answer."""

    def __init__(self, client: WvpClient, what: str, path: str, doc: object) -> None:
        self._client, self._what, self._path = client, what, path
        if not isinstance(doc, Mapping):
            raise self.malformed(path, f"is {_json_kind(doc)}, not an object")
        self.doc: Mapping[str, Any] = doc

    def malformed(self, path: str, problem: str) -> GatewayError:
        return self._client.fault(GatewayFault.MALFORMED, f"{self._what}: {path} {problem}")

    def text(self, key: str, *, required: bool = True) -> str:
        value = self.doc.get(key)
        if value is None or value == "":
            if required:
                raise self.malformed(f"{self._path}.{key}", "is missing")
            return ""
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise self.malformed(f"{self._path}.{key}", f"is {_json_kind(value)}, not text")
        return str(value)

    def number(self, key: str) -> float | None:
        value = self.doc.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.malformed(f"{self._path}.{key}", f"is {_json_kind(value)}, not a number")
        try:
            return float(value)
        except ValueError:
            raise self.malformed(f"{self._path}.{key}", f'"{value}" is not a number') from None

    def integer(self, key: str, default: int) -> int:
        value = self.number(key)
        if value is None:
            return default
        if value != int(value):
            raise self.malformed(f"{self._path}.{key}", f"{value} is not a whole number")
        return int(value)

    def flag(self, *keys: str) -> bool:
        """The first of ``keys`` present as a status: true/false, 1/0 or wvp's "ON"/"OFF"."""
        for key in keys:
            value = self.doc.get(key)
            if value is None:
                continue
            if isinstance(value, bool):
                return value
            if isinstance(value, int | float):
                return value != 0
            if isinstance(value, str) and value.strip().upper() in ("ON", "1", "TRUE", "ONLINE"):
                return True
            if isinstance(value, str) and value.strip().upper() in ("OFF", "0", "FALSE", "OFFLINE", ""):
                return False
            raise self.malformed(f"{self._path}.{key}", f"{value!r} is not a status (ON/OFF, true/false, 1/0)")
        return False


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "an object"


class WvpClient:
    """One gateway's API over one keep-alive connection; thread-safe (every camera's reader may call ``play``).

    The token is fetched on first use and kept; a 401 logs in again once. A refused login is remembered for
    ``login_retry_s``: cameras that all reconnect at once do not each try the wrong password (and lock the user)."""

    def __init__(
        self,
        access: GatewayAccess,
        *,
        timeout_s: float = 10.0,
        play_timeout_s: float = 15.0,
        login_retry_s: float = 10.0,
    ) -> None:
        self.access = access
        self.gateway_id = access.id
        self.play_timeout_s = play_timeout_s
        self.login_retry_s = login_retry_s
        self._http = httpx.Client(base_url=access.url, timeout=httpx.Timeout(timeout_s, connect=min(5.0, timeout_s)))
        self._lock = threading.Lock()
        self._token: str | None = None
        self._failed: tuple[float, GatewayError] | None = None
        self.logins = 0
        """Logins that succeeded (a test sees an expired token renewed)."""

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> WvpClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def fault(self, fault: GatewayFault, detail: str) -> GatewayError:
        """The error, with any URL's user:password part and the password's hash masked. Neither the password nor
        its hash is ever in a URL (the login is a form body); the plain password is not searched for, since a
        short one would mask ordinary words of the message."""
        return GatewayError(self.gateway_id, fault, redact(detail, [password_md5(self.access.password)]))

    # ------------------------------------------------------------------ the calls

    def login(self) -> str:
        """Log in (again) and keep the token; `GatewayError` LOGIN when the gateway refuses the user."""
        with self._lock:
            return self._login()

    def devices(self) -> list[WvpDevice]:
        path = "/api/device/query/devices"
        return [
            WvpDevice(f.text("deviceId"), f.text("name", required=False), f.flag("onLine", "online", "onlineStatus"))
            for f in self._pages(path, {})
        ]

    def channels(self, device_id: str) -> list[WvpChannel]:
        path = f"/api/device/query/devices/{device_id}/channels"
        out = []
        for f in self._pages(path, {}):
            out.append(
                WvpChannel(
                    device_id=device_id,
                    # wvp 2.7 calls the channel's code deviceId; older releases channelId (deviceId: the parent)
                    channel_id=f.text("channelId") if "channelId" in f.doc else f.text("deviceId"),
                    name=f.text("name", required=False),
                    online=f.flag("status", "online"),
                    longitude=f.number("longitude"),
                    latitude=f.number("latitude"),
                    channel_type=f.integer("channelType", 0),
                )
            )
        return out

    def play(self, device_id: str, channel_id: str) -> PlayInfo:
        """INVITE the channel onto the media server; its RTSP URL. The gateway waits for the device (wvp's
        ``playTimeout``, 10 s by default) and refuses with ``点播超时`` when it does not answer."""
        path = f"/api/play/start/{device_id}/{channel_id}"
        data = self._call("GET", path, timeout_s=self.play_timeout_s)
        f = _Fields(self, f"GET {path}", "data", data)
        rtsp = f.text("rtsp")
        try:
            check_stream_url(rtsp, allow_files=False)
        except ValueError as exc:
            raise f.malformed("data.rtsp", f"is no RTSP URL ({exc})") from None
        return PlayInfo(rtsp, f.text("stream", required=False) or None, f.text("mediaServerId", required=False) or None)

    def stop(self, device_id: str, channel_id: str) -> None:
        self._call("GET", f"/api/play/stop/{device_id}/{channel_id}")

    # ------------------------------------------------------------------ plumbing

    def _pages(self, path: str, params: Mapping[str, str]) -> list[_Fields]:
        """Every item of a paged list, in order."""
        items: list[_Fields] = []
        for page in range(1, MAX_PAGES + 1):
            what = f"GET {path} page {page}"
            data = self._call("GET", path, params={**params, "page": str(page), "count": str(PAGE_SIZE)})
            f = _Fields(self, what, "data", data)
            total = f.integer("total", -1)
            listed = f.doc.get("list")
            if listed is None:
                listed = []
            if not isinstance(listed, list):
                raise f.malformed("data.list", f"is {_json_kind(listed)}, not a list")
            items += [_Fields(self, what, f"data.list[{i}]", item) for i, item in enumerate(listed)]
            if not listed or total < 0 or len(items) >= total:
                break
        return items

    def _call(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, timeout_s: float | None = None
    ) -> Any:
        """The ``data`` of a call that answered code 0; logs in first, and again once on a 401."""
        with self._lock:
            token = self._token or self._login()
        res = self._send(method, path, params=params, token=token, timeout_s=timeout_s)
        if res.status_code == 401:
            with self._lock:
                if self._token == token:  # no other thread renewed it meanwhile
                    self._token = None
                token = self._token or self._login()
            res = self._send(method, path, params=params, token=token, timeout_s=timeout_s)
            if res.status_code == 401:
                raise self.fault(GatewayFault.LOGIN, f"{method} {path}: a fresh token was refused too (HTTP 401)")
        return self._result(method, path, res)

    def _login(self) -> str:
        """Holding the lock: log in, or repeat the last failure while it is fresh: a refused login for
        ``login_retry_s``, any other for ``UNREACHABLE_RETRY_S`` (the cameras waiting on the lock behind an
        attempt at a gateway that does not answer get its answer, instead of each waiting out the timeout)."""
        if self._failed is not None:
            at, error = self._failed
            fresh_s = self.login_retry_s if error.fault is GatewayFault.LOGIN else UNREACHABLE_RETRY_S
            if time.monotonic() - at < fresh_s:
                raise error
        path = "/api/user/login"
        form = {"username": self.access.username, "password": password_md5(self.access.password)}
        try:
            res = self._send("POST", path, data=form)
            try:
                data = self._result("POST", path, res)
            except GatewayError as exc:
                if exc.fault is GatewayFault.REFUSED or res.status_code in (401, 403):
                    raise self.fault(GatewayFault.LOGIN, f'user "{self.access.username}": {exc.detail}') from None
                raise
        except GatewayError as exc:
            self._failed = (time.monotonic(), exc)
            raise
        f = _Fields(self, f"POST {path}", "data", data)
        token = f.text("accessToken", required=False) or res.headers.get(ACCESS_HEADER, "")
        if not token:
            raise f.malformed("data.accessToken", "is missing (and no access-token header)")
        self._token, self._failed = token, None
        self.logins += 1
        return token

    def _send(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        timeout_s: float | None = None,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        headers = {ACCESS_HEADER: token} if token else {}
        extra: dict[str, Any] = {} if timeout_s is None else {"timeout": timeout_s}
        try:
            return self._http.request(method, path, params=params, data=data, headers=headers, **extra)
        except httpx.TimeoutException as exc:
            raise self.fault(
                GatewayFault.UNREACHABLE,
                f"{self.access.url}: {method} {path}: no answer in time ({type(exc).__name__})",
            ) from None
        except httpx.HTTPError as exc:
            raise self.fault(
                GatewayFault.UNREACHABLE, f"{self.access.url}: {method} {path}: {exc or type(exc).__name__}"
            ) from None

    def _result(self, method: str, path: str, res: httpx.Response) -> Any:
        """A WVPResult's ``data``; REFUSED for another code, UNREACHABLE for a 5xx without one."""
        what = f"{method} {path}"
        try:
            body = res.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            if res.status_code >= 500:
                raise self.fault(GatewayFault.UNREACHABLE, f"{what}: HTTP {res.status_code}") from None
            raise self.fault(
                GatewayFault.MALFORMED, f"{what}: HTTP {res.status_code}, not JSON: {res.text[:80]!r}"
            ) from None
        f = _Fields(self, what, "(body)", body)
        if "code" not in f.doc:
            raise f.malformed("code", f"is missing (HTTP {res.status_code})")
        code = f.integer("code", -1)
        if code != 0:
            msg = f.text("msg", required=False) or "no message"
            raise self.fault(GatewayFault.REFUSED, f"{what}: code {code} {msg} (HTTP {res.status_code})")
        if res.status_code >= 400:
            raise self.fault(GatewayFault.MALFORMED, f"{what}: code 0 with HTTP {res.status_code}")
        return f.doc.get("data")

"""A remote worker's side of the API: its cameras from ``GET /api/worker/cameras``, its observations from the
spool to ``POST /api/worker/observations``.

`RemoteSite` is the worker's camera source: the live pipeline polls it every few seconds and it asks the API
with ``If-None-Match`` (a 304 costs next to nothing), so an edit in the API reaches the worker within one
poll. While the API cannot be reached it keeps the cameras it last had.

`SpoolSender` replays the spool in order, in batches, and forgets an observation only when the API has
answered for it: stored, a duplicate (sent before, answer lost), or refused for good (unknown camera,
invalid, out of order: retrying cannot help, so it is logged and counted). An API that is down, overloaded
(5xx) or refuses the token is retried with backoff, for ever, and the spool grows meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from camera_config.types import Camera, StreamCredentials
from camera_config.wire import Shard, camera_from_doc
from core.errors import GridwatchError, InvalidInput, NotFound, Unavailable
from core.retry import Backoff
from gridwatch.spool import Spool, Spooled
from ingest.sources import Source, SourceKind, StreamError, resolve_source
from ingest.types import OfflineReason

log = logging.getLogger(__name__)

BATCH = 100
"""Observations per post at most (the API takes 500)."""
BATCH_BYTES = 8 * 2**20
"""... and about this many bytes (the API takes 64 MiB)."""
PLAY_TIMEOUT_S = 30.0
"""Longest wait for a gateway camera's stream from the API: its gateway's login (10 s) and play/start (15 s)."""
RETRY_MAX_S = 10.0
"""Longest wait between two tries of an API that is away: the replay starts at most this long after it is back."""


class ApiUnreachable(Unavailable):
    """No answer, or a 5xx: the API is down, restarting or overloaded; try again later."""


class TokenRefused(Unavailable):
    """401 or 403: the token is wrong, revoked, expired or not a worker's. Retried slowly (an admin may fix it)."""


def api_issues(url: str, token: str) -> list[str]:
    """What is wrong with a worker's API URL and token, each named (a worker and a cluster check the same)."""
    issues = []
    if not url.startswith(("http://", "https://")):
        issues.append(f'--api "{url}" is not an http:// or https:// URL')
    if not token.strip():
        issues.append("the worker token is empty (--token or GRIDWATCH_WORKER_TOKEN)")
    return issues


class ApiClient:
    """The worker endpoints over one keep-alive connection; errors name the URL and what the API said."""

    def __init__(self, url: str, token: str, *, timeout_s: float = 30.0) -> None:
        if issues := api_issues(url, token):
            raise InvalidInput("; ".join(issues))
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token.strip()}"}, timeout=timeout_s
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            res = self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise ApiUnreachable(f"the API at {self.url} did not answer {method} {path}: {exc}") from exc
        if res.status_code >= 500:
            raise ApiUnreachable(
                f"the API at {self.url} answered {method} {path} with {res.status_code}: {_detail(res)}"
            )
        if res.status_code in (401, 403):
            raise TokenRefused(f"the API at {self.url} refused the worker token ({res.status_code}): {_detail(res)}")
        return res

    def cameras(
        self, *, ids: Sequence[str] | None = None, shard: Shard | None = None, etag: str | None = None
    ) -> tuple[list[dict[str, Any]], list[str], str | None] | None:
        """(camera documents, unknown ids, ETag), or None when nothing changed since ``etag``."""
        params = {"cameras": ",".join(ids)} if ids else {"shard": str(shard)} if shard else {}
        headers = {"If-None-Match": etag} if etag else {}
        # short: the poll runs on the pipeline's control thread, which also watches camera health
        res = self._send("GET", "/api/worker/cameras", params=params, headers=headers, timeout=10.0)
        if res.status_code == 304:
            return None
        if res.status_code != 200:
            raise InvalidInput(f"the API refused the camera question ({res.status_code}): {_detail(res)}")
        body = res.json()
        return list(body["cameras"]), list(body["unknown"]), res.headers.get("ETag")

    def heartbeat(self, report: dict[str, Any]) -> None:
        """Tell the API how this worker is (`api.workers.WorkerReport`); raises like the other calls."""
        res = self._send("POST", "/api/worker/heartbeat", json=report, timeout=5.0)
        if res.status_code != 204:
            raise InvalidInput(f"the API refused the worker's report ({res.status_code}): {_detail(res)}")

    def play(self, camera_id: str, *, timeout_s: float = PLAY_TIMEOUT_S) -> dict[str, Any]:
        """The stream a camera behind a GB/T 28181 gateway is served on now (`GatewayPlay`), asked of the API's
        gateway client. Raises GatewayRefused when the API answered with a refusal, ApiUnreachable /
        TokenRefused like the other calls."""
        path = f"/api/worker/cameras/{quote(camera_id, safe='')}/play"
        try:
            res = self._http.request("POST", path, timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise ApiUnreachable(f"the API at {self.url} did not answer POST {path}: {exc}") from exc
        if res.status_code in (401, 403):
            raise TokenRefused(f"the API at {self.url} refused the worker token ({res.status_code}): {_detail(res)}")
        if res.status_code != 200:
            raise GatewayRefused(res.status_code, _code(res), _detail(res) or f"answered {res.status_code}")
        try:
            body = res.json()
            return {"url": str(body["url"]), "credentials": body.get("credentials")}
        except (ValueError, KeyError, TypeError):
            raise ApiUnreachable(f"the API at {self.url} answered POST {path} without a stream URL") from None

    def deliver(self, bodies: Sequence[bytes]) -> list[dict[str, Any]]:
        """Post observation documents (JSON, as the spool holds them) in one batch; the API's per-item results.
        A 413 is raised as InvalidInput (send fewer at a time)."""
        payload = b'{"observations":[' + b",".join(bodies) + b"]}"
        res = self._send(
            "POST", "/api/worker/observations", content=payload, headers={"Content-Type": "application/json"}
        )
        if res.status_code == 413:
            raise InvalidInput(f"the API found the batch too large: {_detail(res)}")
        try:
            results = res.json()["results"]
        except (ValueError, KeyError, TypeError):
            raise ApiUnreachable(
                f"the API at {self.url} answered the delivery with {res.status_code} and no results: {_detail(res)}"
            ) from None
        if len(results) != len(bodies):
            raise ApiUnreachable(f"the API answered {len(results)} results for {len(bodies)} observations")
        return list(results)


class GatewayRefused(GridwatchError):
    """The API answered a gateway camera's play with an error: its status, code (the camera's offline reason on a
    503) and detail."""

    def __init__(self, status: int, reason: str | None, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail


def _code(res: httpx.Response) -> str | None:
    try:
        code = res.json().get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, str) else None


def _detail(res: httpx.Response) -> str:
    try:
        return str(res.json().get("detail", ""))[:300]
    except (ValueError, AttributeError):
        return res.text[:300]


class RemoteSite:
    """The worker's cameras as the API says (`gridwatch.monitor.CameraSource`)."""

    def __init__(self, client: ApiClient, *, ids: Sequence[str] | None = None, shard: Shard | None = None) -> None:
        self._client = client
        self._ids = list(ids) if ids else None
        self._shard = shard
        self._lock = threading.Lock()
        self._cameras: dict[str, Camera] = {}
        self._credentials: dict[str, StreamCredentials] = {}
        self._etag: str | None = None
        self._unknown: list[str] = []
        self._failing: str | None = None
        self.loaded = False

    def refresh(self) -> bool:
        """Ask the API; True when the cameras changed. Raises ApiUnreachable / TokenRefused (the last cameras stay)."""
        try:
            answer = self._client.cameras(ids=self._ids, shard=self._shard, etag=self._etag)
        except Unavailable as exc:
            if str(exc) != self._failing and self.loaded:  # before the first answer the caller says it waits
                log.warning("cameras not refreshed, keeping the %d known: %s", len(self._cameras), exc)
                self._failing = str(exc)
            raise
        if self._failing is not None:
            log.info("the API answers again: cameras refreshed")
            self._failing = None
        if answer is None:
            return False
        docs, unknown, etag = answer
        cameras: dict[str, Camera] = {}
        credentials: dict[str, StreamCredentials] = {}
        for i, doc in enumerate(docs):
            try:
                camera, creds = camera_from_doc(doc, f"cameras[{i}]")
            except InvalidInput as exc:  # another version's document: skip that camera, say which
                log.error("camera %s from the API not understood, not run: %s", doc.get("id", f"#{i}"), exc)
                continue
            cameras[camera.id] = camera
            if creds is not None:
                credentials[camera.id] = creds
        if unknown != self._unknown:
            if unknown:
                log.error(
                    "camera(s) %s do not exist on the API (or are outside this worker's grids); the worker runs the "
                    "others and picks these up when they are added",
                    ", ".join(f'"{c}"' for c in unknown),
                )
            self._unknown = unknown
        with self._lock:
            changed = cameras != self._cameras or credentials != self._credentials
            self._cameras, self._credentials, self._etag = cameras, credentials, etag
        self.loaded = True
        return changed

    @property
    def unknown(self) -> list[str]:
        return list(self._unknown)

    def cameras(self, *, enabled_only: bool = False) -> list[Camera]:
        with self._lock:
            return sorted((c for c in self._cameras.values() if c.enabled or not enabled_only), key=lambda c: c.id)

    def revisions(self) -> dict[str, int]:
        """Refreshes from the API first (cheap when nothing changed); the last known ones when it is away."""
        with contextlib.suppress(GridwatchError):  # logged once per outage by refresh
            self.refresh()
        with self._lock:
            return {c.id: c.revision for c in self._cameras.values()}

    def gateway_camera(self, url: str) -> str | None:
        """The enabled camera whose detect stream is this ``gb28181://`` URL (a gateway reader knows only that)."""
        with self._lock:
            found = sorted(c.id for c in self._cameras.values() if c.enabled and c.detect_url == url)
        return found[0] if found else None

    def credentials(self, camera_id: str) -> StreamCredentials:
        with self._lock:
            if camera_id not in self._cameras:
                raise NotFound(f'camera "{camera_id}" is not one of this worker\'s')
            return self._credentials.get(camera_id, StreamCredentials(None))


class RemoteGateways:
    """A remote worker's way into GB/T 28181 gateways: the API asks the gateway for the camera's stream
    (``POST /api/worker/cameras/{id}/play``) at every (re)open of its reader, so the gateway's login never leaves
    the API; what goes wrong becomes the camera's offline reason (``gateway`` and the API's detail naming the
    gateway, as `gridwatch run` shows it). Thread-safe: every reader thread calls `resolve`."""

    def __init__(self, client: ApiClient, site: RemoteSite, *, timeout_s: float = PLAY_TIMEOUT_S) -> None:
        self._client = client
        self._site = site
        self._timeout_s = timeout_s

    def resolve(self, source: Source, /) -> Source:
        if source.kind is not SourceKind.GATEWAY:
            return source
        camera_id = self._site.gateway_camera(source.url)
        if camera_id is None:
            raise StreamError(OfflineReason.GATEWAY, f"{source.url}: no camera of this worker has this stream")
        try:
            play = self._client.play(camera_id, timeout_s=self._timeout_s)
        except GatewayRefused as exc:
            by_status = {503: _offline_reason(exc.reason), 404: OfflineReason.NOT_FOUND}
            raise StreamError(by_status.get(exc.status, OfflineReason.UNSUPPORTED_SOURCE), exc.detail) from None
        except GridwatchError as exc:  # the API itself is away or refuses the token: not the gateway's fault
            detail = f'camera "{camera_id}": its gateway stream could not be asked for: {exc}'
            raise StreamError(OfflineReason.ERROR, detail) from None
        creds = play["credentials"] if isinstance(play["credentials"], dict) else {}
        credentials = StreamCredentials(creds.get("username"), creds.get("password"))
        try:
            return resolve_source(play["url"], allow_files=False, credentials=credentials)
        except InvalidInput as exc:
            raise StreamError(OfflineReason.GATEWAY, f'camera "{camera_id}": the gateway\'s stream: {exc}') from None


def _offline_reason(code: str | None) -> OfflineReason:
    try:
        return OfflineReason(code) if code else OfflineReason.GATEWAY
    except ValueError:
        return OfflineReason.GATEWAY


@dataclass(frozen=True, slots=True)
class SenderFigures:
    delivered: int
    """Observations the API has answered for as stored since start, each once: a re-sent one whose first answer
    was lost counts here once, as a duplicate."""
    duplicates: int
    """Of those, re-sent ones the API already had (the answer to the first send was lost; or a later step of
    the episode was already stored): no second alert, no change."""
    refused: int
    """Refused for good by the API (logged), since start."""
    state: str
    """``ok``, ``idle``, or what is wrong right now (API unreachable, token refused)."""
    latency_p50_s: float | None
    """From an observation written to the spool to its stored answer, over the last 1,000 delivered."""
    latency_p95_s: float | None


class SpoolSender:
    """One thread that empties the spool into the API, in order; `start` once, `stop` once."""

    def __init__(self, spool: Spool, client: ApiClient, *, idle_s: float = 0.2, retry_first_s: float = 0.5) -> None:
        self._spool = spool
        self._client = client
        self._idle_s = idle_s
        self._backoff = Backoff(base_s=retry_first_s, cap_s=RETRY_MAX_S)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._latencies: deque[float] = deque(maxlen=1000)
        self._delivered = 0
        self._duplicates = 0
        self._refused = 0
        self._state = "idle"
        self._batch = BATCH

    def start(self) -> SpoolSender:
        self._thread = threading.Thread(target=self._run, name="spool-sender", daemon=True)
        self._thread.start()
        return self

    def notify(self) -> None:
        """Something was written: send without waiting for the idle poll."""
        self._wake.set()

    def stop(self, *, drain_s: float = 5.0) -> int:
        """Send what the spool holds for at most ``drain_s`` more, then stop; what is left stays in the spool
        for the next start. Returns how many observations are left."""
        deadline = time.monotonic() + drain_s
        while time.monotonic() < deadline and self._spool.figures().depth and self._state in ("ok", "idle"):
            self._wake.set()
            time.sleep(0.05)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(RETRY_MAX_S + 5)
        return self._spool.figures().depth

    def latencies(self) -> list[float]:
        """Spool-to-stored seconds of the last 1,000 delivered, oldest first."""
        with self._lock:
            return list(self._latencies)

    def figures(self) -> SenderFigures:
        with self._lock:
            lat = sorted(self._latencies)
            p50 = statistics.median(lat) if lat else None
            p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else None
            return SenderFigures(self._delivered, self._duplicates, self._refused, self._state, p50, p95)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self._spool.peek(limit=self._batch, max_bytes=BATCH_BYTES)
            except GridwatchError as exc:
                log.error("%s", exc)
                self._stop.wait(self._backoff.next_delay_s())
                continue
            if not batch:
                self._set_state("idle")
                self._wake.wait(self._idle_s)
                self._wake.clear()
                continue
            try:
                results = self._client.deliver([s.body for s in batch])
            except InvalidInput as exc:  # 413: fewer at a time (down to one, which the API's limits admit)
                self._batch = max(1, len(batch) // 2)
                log.warning("%s; sending %d at a time", exc, self._batch)
                continue
            except Unavailable as exc:
                self._failed(exc)
                continue
            self._settle(batch, results)

    def send_once(self) -> int:
        """One batch now, on the caller's thread (tests, and draining); how many the API answered for."""
        batch = self._spool.peek(limit=self._batch, max_bytes=BATCH_BYTES)
        if not batch:
            return 0
        return self._settle(batch, self._client.deliver([s.body for s in batch]))

    def _failed(self, exc: Unavailable) -> None:
        state = f"token refused: {exc}" if isinstance(exc, TokenRefused) else f"API unreachable: {exc}"
        if state != self._state:
            log.error("delivery paused, the spool keeps the observations: %s", exc)
        self._set_state(state)
        self._stop.wait(self._backoff.next_delay_s())

    def _settle(self, batch: list[Spooled], results: list[dict[str, Any]]) -> int:
        """Forget what the API answered for, up to the first it could not handle now (re-sent in order)."""
        done: list[int] = []
        now = time.time()
        latencies: list[float] = []
        refused = 0
        duplicates = 0
        held = False
        for item, result in zip(batch, results, strict=True):
            status = int(result.get("status", 500))
            if status == 200 or result.get("superseded"):  # superseded: sent before, its answer lost
                latencies.append(now - item.queued_at)
                duplicates += bool(result.get("duplicate") or result.get("superseded"))
            elif status >= 500 or status == 429:
                held = True  # the API could not take it now: it and everything after it go again, in order
                break
            else:
                refused += 1
                log.error(
                    "observation %s (%s) refused by the API for good (%d): %s; dropped from the spool",
                    item.episode_id,
                    item.state.value,
                    status,
                    result.get("error"),
                )
            done.append(item.id)
        self._spool.ack(done)
        with self._lock:
            self._latencies.extend(latencies)
            self._delivered += len(latencies)
            self._duplicates += duplicates
            self._refused += refused
        if held:
            self._failed(ApiUnreachable(f"the API could not apply observation {batch[len(done)].episode_id} now"))
            return len(done)
        if self._state not in ("ok", "idle"):
            log.info("delivery resumed: the API answers again")
        self._set_state("ok")
        self._backoff.reset()
        return len(done)

    def _set_state(self, state: str) -> None:
        with self._lock:
            self._state = state

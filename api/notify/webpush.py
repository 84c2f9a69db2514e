"""Web Push (RFC 8030, 8291, 8292) to the phones and browsers that subscribed in the console.

The server signs every push with its VAPID key, made on first use and kept in the data directory
(``vapid_private.pem``, mode 0600); browsers subscribe with its public half (``applicationServerKey``),
so a new key would orphan every subscription: the file is never replaced. Each delivery goes to one
subscription (``job.target`` is its id), encrypted for that browser (aes128gcm): a title and a few
plain lines in Chinese, the console link to open and the message id as the notification's tag.

A push service's 404 or 410 means the subscription is gone (the store marks it so and stops queueing
for it); 429 and 5xx are retried on the channel's schedule, honouring ``Retry-After``; any other
answer is final.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02
from pywebpush import WebPusher, WebPushException

from api.notify.http import Parallel
from api.notify.render import Context, card
from api.notify.wire import Wire, WireError, retry_after_s
from events.notify.config import ESCALATIONS, Channel, ChannelKind, check_url
from events.notify.dispatcher import SenderFactory
from events.notify.store import Job, Notifications, Outcome, PushSubscription

log = logging.getLogger(__name__)

KEY_FILE = "vapid_private.pem"
TIMEOUT_S = 10.0
VAPID_EXP_S = 12 * 3600
"""A VAPID token's life (RFC 8292 allows up to 24 h); it is signed again an hour before it ends."""
ALERT_TTL_S = 3600
"""An alert's push waits at most an hour for a phone that is off: later it is old news."""
CASE_TTL_S = 86400
"""A case's (dispatched to a worker, escalated) stays relevant for a day."""
MAX_BODY_BYTES = 3000
"""Push services take 4,096 bytes of encrypted payload; the body is cut well below that."""
P256DH_BYTES = 65
AUTH_BYTES = 16


# ---------------------------------------------------------------------------- the VAPID key


@dataclass(frozen=True, slots=True)
class VapidKey:
    """The server's VAPID key pair: ``vapid`` signs, ``public_key`` is what browsers subscribe with."""

    vapid: Any
    """A py_vapid ``Vapid02`` (RFC 8292: ``Authorization: vapid t=…, k=…``)."""
    public_key: str
    """The P-256 public key as an uncompressed point, base64url without padding (``applicationServerKey``)."""
    path: Path


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_vapid(data_dir: Path) -> VapidKey:
    """The key in ``data_dir/vapid_private.pem``, made (mode 0600) on first use.

    The new key is written in full to a file of its own and then linked to the final name, which fails
    if it exists: two processes starting together end up with the same key, and no reader ever sees a
    half-written file."""
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fresh = Vapid02()
        fresh.generate_keys()
        tmp = data_dir / f".{KEY_FILE}.{uuid.uuid4().hex}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(fresh.private_pem())
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
                log.info("Web Push: made the VAPID key %s", path)
            except FileExistsError:
                pass  # another process made it first: use theirs
        finally:
            tmp.unlink(missing_ok=True)
    vapid = Vapid02.from_pem(path.read_bytes())
    point = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return VapidKey(vapid, b64url(point), path)


_DNS_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9-]+(\.[a-z0-9-]+)+$", re.IGNORECASE)


def vapid_subject(public_url: str, contact: str | None = None) -> str:
    """The ``sub`` claim push services reach the sender by: ``contact`` (an e-mail address or a
    ``mailto:`` / ``https:`` URL) when given, else the console's https origin, else a ``mailto:`` at
    the console's host (the claim is required; a service that needs a real address says so in its
    answer, which lands in the delivery log)."""
    if contact:
        return contact if contact.startswith(("mailto:", "https://")) else f"mailto:{contact}"
    parts = urlsplit(public_url)
    host = parts.hostname or "localhost"
    if parts.scheme == "https" and _DNS_HOST.match(host) and parts.port in (None, 443):
        return f"https://{host}"
    return f"mailto:gridwatch@{host if _DNS_HOST.match(host) or host == 'localhost' else 'localhost'}"


# ---------------------------------------------------------------------------- what browsers send


def check_endpoint(url: str, allow_hosts: Collection[str] = ()) -> str:
    """A push service's endpoint: https on a host name (push services have one), or http / an address
    on a host in ``allow_hosts`` (local receivers in tests). ValueError saying why not."""
    check_url(ChannelKind.WEBHOOK, url, allow_hosts)  # an http(s) URL with a host
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.username is not None or parts.password is not None:
        raise ValueError("a push endpoint carries no user name or password")
    if host in allow_hosts:
        return url
    if parts.scheme != "https":
        raise ValueError("a push endpoint must be https://")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return url
    raise ValueError("a push endpoint is on a push service's host name, not on an address")


def check_key(value: str, size: int) -> str:
    """``value`` if it is base64url (padding optional) of exactly ``size`` bytes; ValueError otherwise."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+={0,2}", value):
        raise ValueError("expected base64url (letters, digits, '-' and '_')")
    try:
        raw = base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not valid base64url") from None
    if len(raw) != size:
        raise ValueError(f"expected {size} bytes, got {len(raw)}")
    if size == P256DH_BYTES and raw[0] != 0x04:
        raise ValueError("expected an uncompressed P-256 point (first byte 0x04)")
    return value


# ---------------------------------------------------------------------------- sending


def _plain(markdown_line: str) -> str:
    return markdown_line.lstrip("#> ").strip()


def push_message(job: Job, ctx: Context) -> dict[str, str]:
    """What the service worker shows: the card's title (with the severity) and its lines as plain text."""
    _title, text = card(job, ctx)
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("[")]
    title = _plain(lines[0]) if lines else job.topic
    body = "\n".join(_plain(ln) for ln in lines[1:])
    body = body.encode()[:MAX_BODY_BYTES].decode(errors="ignore")
    return {"title": title, "body": body, "url": ctx.link(job.payload), "tag": job.message_id, "topic": job.topic}


def _urgency(job: Job) -> str:
    """RFC 8030 ``Urgency``: phones in power-saving wake for ``high`` only."""
    body = job.payload.get("case") if isinstance(job.payload.get("case"), Mapping) else job.payload
    critical = isinstance(body, Mapping) and body.get("severity") == "critical"
    return "high" if critical or job.topic in ESCALATIONS else "normal"


def _status_outcome(status: int, text: str, retry_after_value: str | None) -> Outcome:
    error = f"HTTP {status}: {text[:200]}"
    if 200 <= status < 300:
        return Outcome(True, status=status)
    if status in (404, 410):
        return Outcome(False, status=status, error=f"{error} (subscription gone)", gone=True)
    if status == 429 or status >= 500:
        wait = None
        if retry_after_value:
            wait = retry_after_s(retry_after_value)
        return Outcome(False, status=status, error=error, retry_after_s=wait)
    return Outcome(False, status=status, error=error, permanent=True)


class WebPushSender:
    """Sends a Web Push channel's deliveries, each to the subscription its target names.

    pywebpush encrypts (aes128gcm, RFC 8291) and py_vapid signs; the POST goes over the senders' kept-alive
    connections, and the signed VAPID header is reused per push service until an hour before it expires: per
    message only the encryption is new, as the spec requires."""

    def __init__(
        self, channel: Channel, ctx: Context, store: Notifications, vapid: VapidKey, *, contact: str | None = None
    ) -> None:
        self.channel = channel
        self.ctx = ctx
        self._store = store
        self._vapid = vapid
        self._subject = vapid_subject(ctx.public_url, contact)
        self._wire = Wire(TIMEOUT_S)
        self._parallel = Parallel(f"push-{channel.id}")
        self._signed: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def send(self, jobs: Sequence[Job]) -> list[Outcome]:
        ids = {int(j.target) for j in jobs if j.target.isdigit()}
        subs = self._store.subscriptions_by_id(ids)
        return self._parallel.map(lambda job: self._one(job, subs), jobs)

    def _one(self, job: Job, subs: Mapping[int, PushSubscription]) -> Outcome:
        if not job.target.isdigit():
            return Outcome(False, error=f"not a push subscription id: {job.target!r}", permanent=True)
        sub = subs.get(int(job.target))
        if sub is None:
            return Outcome(False, error="subscription removed", permanent=True)
        try:
            data = json.dumps(push_message(job, self.ctx), ensure_ascii=False, separators=(",", ":"))
            return self._push(sub, job, data.encode())
        except Exception as exc:  # a sender never raises: whatever went wrong is this delivery's outcome
            log.exception("Web Push to subscription %d failed", sub.id)
            return Outcome(False, error=f"{type(exc).__name__}: {exc}")

    def _authorization(self, endpoint: str) -> str:
        """``vapid t=<JWT>, k=<key>`` for the endpoint's push service, signed once per 11 hours."""
        url = urlsplit(endpoint)
        aud = f"{url.scheme}://{url.netloc}"
        now = time.time()
        with self._lock:
            cached = self._signed.get(aud)
            if cached is not None and cached[0] > now:
                return cached[1]
        exp = int(now) + VAPID_EXP_S
        header = str(self._vapid.vapid.sign({"sub": self._subject, "aud": aud, "exp": exp})["Authorization"])
        with self._lock:
            self._signed[aud] = (exp - 3600, header)
        return header

    def _push(self, sub: PushSubscription, job: Job, data: bytes) -> Outcome:
        info = {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}}
        try:
            body = WebPusher(info).encode(data, "aes128gcm")["body"]
        except (ValueError, TypeError, WebPushException) as exc:  # keys that decode but are no usable point
            return Outcome(False, error=f"the subscription's keys are unusable: {exc}"[:300], permanent=True)
        headers = {
            "content-type": "application/octet-stream",
            "content-encoding": "aes128gcm",
            "ttl": str(ALERT_TTL_S if job.topic.startswith("alert.") else CASE_TTL_S),
            "urgency": _urgency(job),
            "authorization": self._authorization(sub.endpoint),
        }
        try:
            answer = self._wire.post(sub.endpoint, body, headers)
        except WireError as exc:
            return Outcome(False, error=str(exc)[:300])
        return _status_outcome(answer.status, answer.text, answer.retry_after)

    def close(self) -> None:
        self._parallel.close()
        self._wire.close()


def webpush_factory(ctx: Context, store: Notifications, data_dir: Path | None) -> SenderFactory:
    """The dispatcher's factory for Web Push channels; without a data directory there is no key to sign with."""

    def make(channel: Channel) -> WebPushSender:
        if data_dir is None:
            raise RuntimeError("Web Push needs a data directory for its VAPID key")
        return WebPushSender(channel, ctx, store, load_vapid(data_dir))

    return make

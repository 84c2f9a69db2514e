"""Signatures receivers check: Standard Webhooks (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``)
and DingTalk's signed robot URLs.

Standard Webhooks: the signature is ``v1,`` + base64(HMAC-SHA256(key, ``id.timestamp.body``)) where the key is the
base64 secret after the ``whsec_`` prefix, decoded; the body is signed as the exact bytes sent. A receiver
accepts any one of several space-separated signatures (so that a secret can be rotated) and refuses timestamps
more than five minutes away from its clock (replays).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from urllib.parse import quote_plus

from core.errors import InvalidInput, Issue

PREFIX = "whsec_"
TOLERANCE_S = 300
"""How far a webhook's timestamp may be from the receiver's clock, either way."""
MIN_SECRET_BYTES = 24


def webhook_secret(text: str, where: str = "secret") -> bytes:
    """The key of a ``whsec_<base64>`` secret (the prefix is optional); InvalidInput naming ``where`` otherwise."""
    raw = text.removeprefix(PREFIX)
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(Issue(where, "must be base64 after the whsec_ prefix (e.g. whsec_MfKQ9r8G…)")) from None
    if len(key) < MIN_SECRET_BYTES:
        raise InvalidInput(Issue(where, f"must hold at least {MIN_SECRET_BYTES} bytes of key, got {len(key)}"))
    return key


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 signature>`` of one message."""
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_headers(key: bytes, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers a signed webhook carries; the same ``msg_id`` on every retry (receivers de-duplicate on it)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(key, msg_id, timestamp, body),
    }


def verify(key: bytes, headers: Mapping[str, str], body: bytes, now: int, tolerance_s: int = TOLERANCE_S) -> None:
    """Check a received webhook as a receiver must; InvalidInput saying what is wrong (never which byte)."""
    lower = {k.lower(): v for k, v in headers.items()}
    missing = [h for h in ("webhook-id", "webhook-timestamp", "webhook-signature") if not lower.get(h)]
    if missing:
        raise InvalidInput([Issue(h, "missing") for h in missing])
    stamp = lower["webhook-timestamp"]
    if not stamp.isdigit():
        raise InvalidInput(Issue("webhook-timestamp", f"must be whole seconds since 1970, got {stamp[:40]!r}"))
    if abs(now - int(stamp)) > tolerance_s:
        raise InvalidInput(Issue("webhook-timestamp", f"more than {tolerance_s} s from now: a replay or a bad clock"))
    expected = sign(key, lower["webhook-id"], int(stamp), body).encode()
    offered = [s.encode() for s in lower["webhook-signature"].split() if s.startswith("v1,")]
    if not any(hmac.compare_digest(expected, s) for s in offered):
        raise InvalidInput(Issue("webhook-signature", "no signature matches the body"))


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """A DingTalk custom robot's webhook URL in its signed mode: ``timestamp`` (ms) and ``sign``, the URL-encoded
    base64 HMAC-SHA256 of ``timestamp + "\\n" + secret`` keyed with the secret (DingTalk refuses a timestamp more
    than an hour old)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={quote_plus(base64.b64encode(digest).decode())}"


def new_webhook_secret() -> str:
    """A fresh ``whsec_`` secret (32 random bytes), for a webhook channel created without one."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")

"""Webhook signatures per the Standard Webhooks spec (its reference vector) and DingTalk's signed robot URLs."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qs, unquote_plus, urlsplit

import pytest

from core.errors import InvalidInput
from events.notify.signing import dingtalk_signed_url, sign, verify, webhook_headers, webhook_secret

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
STAMP = 1614265330
BODY = b'{"test": 2432232314}'


def test_the_specs_reference_vector() -> None:
    assert sign(webhook_secret(SECRET), MSG_ID, STAMP, BODY) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert webhook_secret(SECRET) == webhook_secret(SECRET.removeprefix("whsec_"))  # the prefix is optional


def test_a_receiver_accepts_what_was_signed_and_refuses_a_tampered_body_or_an_old_stamp() -> None:
    key = webhook_secret(SECRET)
    headers = webhook_headers(key, MSG_ID, STAMP, BODY)
    verify(key, headers, BODY, now=STAMP + 299)
    verify(key, {k.title(): v for k, v in headers.items()}, BODY, now=STAMP)  # header names in any case
    with pytest.raises(InvalidInput, match="webhook-signature: no signature matches the body"):
        verify(key, headers, BODY.replace(b"2", b"3"), now=STAMP)
    with pytest.raises(InvalidInput, match="webhook-timestamp: more than 300 s from now"):
        verify(key, headers, BODY, now=STAMP + 301)
    with pytest.raises(InvalidInput, match="webhook-timestamp: more than 300 s from now"):
        verify(key, headers, BODY, now=STAMP - 301)
    with pytest.raises(InvalidInput, match="no signature matches"):
        verify(webhook_secret("whsec_" + base64.b64encode(b"k" * 32).decode()), headers, BODY, now=STAMP)


def test_one_matching_signature_of_several_is_enough() -> None:
    key = webhook_secret(SECRET)
    good = webhook_headers(key, MSG_ID, STAMP, BODY)["webhook-signature"]
    old = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
    verify(
        key, {"webhook-id": MSG_ID, "webhook-timestamp": str(STAMP), "webhook-signature": f"{old} {good}"}, BODY, STAMP
    )
    other = good.replace("v1,", "v2,")  # another scheme's signature does not count as v1
    with pytest.raises(InvalidInput, match="no signature matches"):
        verify(key, {"webhook-id": MSG_ID, "webhook-timestamp": str(STAMP), "webhook-signature": other}, BODY, STAMP)


def test_missing_or_malformed_headers_are_named() -> None:
    key = webhook_secret(SECRET)
    with pytest.raises(InvalidInput) as caught:
        verify(key, {"webhook-timestamp": str(STAMP)}, BODY, STAMP)
    assert [i.where for i in caught.value.issues] == ["webhook-id", "webhook-signature"]
    with pytest.raises(InvalidInput, match="webhook-timestamp: must be whole seconds since 1970, got 'soon'"):
        verify(key, {"webhook-id": MSG_ID, "webhook-timestamp": "soon", "webhook-signature": "v1,x"}, BODY, STAMP)


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("whsec_not base64!", "must be base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "must hold at least 24 bytes of key, got 5"),
    ],
)
def test_a_bad_secret_is_named(secret: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=f"channels.0.secret: {message}"):
        webhook_secret(secret, "channels.0.secret")


def test_a_dingtalk_signed_url_follows_its_documented_algorithm() -> None:
    secret = "SEC" + "a1b2c3" * 10
    base = "https://oapi.dingtalk.com/robot/send?access_token=abc"
    url = dingtalk_signed_url(base, secret, 1700000000123)
    parts = urlsplit(url)
    assert url.startswith(base + "&timestamp=1700000000123&sign=")
    query = parse_qs(parts.query)
    assert query["access_token"] == ["abc"]
    # DingTalk's check: base64(HMAC-SHA256(key=secret, "timestamp\nsecret")), URL-encoded in the query
    expected = base64.b64encode(hmac.new(secret.encode(), f"1700000000123\n{secret}".encode(), hashlib.sha256).digest())
    assert unquote_plus(url.rsplit("&sign=", 1)[1]) == expected.decode()
    assert dingtalk_signed_url(base, secret, 1700000000124) != url  # the timestamp is signed too

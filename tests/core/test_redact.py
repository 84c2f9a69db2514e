"""One redactor for credentials anywhere in a text: messages, exceptions, log records."""

from __future__ import annotations

import io
import logging

import pytest

from core.redact import RedactingFilter, redact, redact_error

SECRET = "s3cr:t@/pw"
ENCODED = "s3cr%3At%40%2Fpw"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rtsp://admin:pw@10.0.0.2:554/sub", "rtsp://***@10.0.0.2:554/sub"),
        (
            "could not open rtsp://admin:pw@10.0.0.2:554/sub: Connection refused",
            "could not open rtsp://***@10.0.0.2:554/sub: Connection refused",
        ),
        (
            "main rtsp://a:b@h1/x, sub RTSPS://c:d@h2/y",
            "main rtsp://***@h1/x, sub RTSPS://***@h2/y",
        ),
        ("'rtsp://u:p@host/s' (timeout)", "'rtsp://***@host/s' (timeout)"),
        (f"rtsp://admin:{ENCODED}@cam/live", "rtsp://***@cam/live"),
        ("rtsp://host/stream with no credentials", "rtsp://host/stream with no credentials"),
        ("mail me at ops@example.org", "mail me at ops@example.org"),
    ],
)
def test_credentials_are_found_anywhere_in_a_text(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_known_secrets_go_in_every_form_they_may_take() -> None:
    text = f"auth failed for password {SECRET} (sent as {ENCODED})"
    assert redact(text, [SECRET, None]) == "auth failed for password *** (sent as ***)"


def test_an_exception_message_is_redacted_and_an_empty_one_named() -> None:
    exc = OSError(f"[Errno 111] Connection refused: 'rtsp://admin:{ENCODED}@10.0.0.9/ch1'")
    assert ENCODED not in redact_error(exc)
    assert redact_error(TimeoutError()) == "TimeoutError"


def test_log_records_are_redacted_with_their_arguments_and_tracebacks() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("gridwatch-test-redact")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("camera %s: reopening %s failed", "CAM-01", "rtsp://admin:pw@10.0.0.2/sub")
        try:
            raise RuntimeError("demux failed on rtsp://root:hunter2@10.0.0.3/main")
        except RuntimeError:
            log.exception("stream lost")
    finally:
        log.removeHandler(handler)
    text = out.getvalue()
    assert "rtsp://***@10.0.0.2/sub" in text
    assert "rtsp://***@10.0.0.3/main" in text
    assert "RuntimeError" in text, "the traceback is kept, only the credentials go"
    assert "pw@" not in text
    assert "hunter2" not in text

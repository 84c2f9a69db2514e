"""Keeping camera credentials out of every message, log line and answer.

FFmpeg, PyAV and aiortc quote the URL they failed on, credentials included, anywhere in their
messages; so redaction looks for ``scheme://user:password@`` anywhere in a text, not only at its start,
and can also blank out known secrets in any form they may appear in.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import quote

MASK = "***"
# Bounded repeats: an unbounded scheme made every redaction quadratic in the text's length (a 1 MB
# field took minutes). Schemes are short; user:password parts longer than 1 KiB are not credentials.
_USERINFO = re.compile(r"([a-z][a-z0-9+.-]{0,31}://)[^@/\s'\"<>]{0,1024}@", re.IGNORECASE)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with the user:password part of every URL in it, and every given secret, replaced by ***."""
    if "://" in text:
        text = _USERINFO.sub(rf"\1{MASK}@", text)
    for secret in secrets:
        if secret:
            for form in sorted({secret, quote(secret, safe=""), quote(secret)}, key=len, reverse=True):
                text = text.replace(form, MASK)
    return text


def redact_error(exc: BaseException, secrets: Iterable[str | None] = ()) -> str:
    """An exception's message (or its type when it has none), redacted."""
    return redact(str(exc) or type(exc).__name__, secrets)


class RedactingFilter(logging.Filter):
    """Redacts every record a handler emits, message, arguments and traceback alike: a third-party library
    that logs the URL it failed on never puts a camera password into the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
            record.exc_info = None
        return True


def redact_logs(logger: logging.Logger | None = None) -> None:
    """Put a `RedactingFilter` on every handler of ``logger`` (default: the root logger)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())

"""Where a camera's frames come from: an RTSP URL (the norm) or, in demo mode, a local video file (and, for tests
and benchmarks only, generated frames: `ingest.synthetic`).

Opening is where most faults show up, so this module also turns every failure into an
`OfflineReason` and a message that never contains the password.
"""

from __future__ import annotations

import enum
import errno
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import av
import av.container
import av.error

from camera_config.types import StreamCredentials
from camera_config.urls import (
    check_stream_url,
    is_file_source,
    is_gateway_source,
    is_synthetic_source,
    split_credentials,
    with_credentials,
)
from core.errors import GridwatchError, InvalidInput
from core.redact import redact
from ingest.synthetic import parse_synthetic
from ingest.types import OfflineReason

PERMANENT = frozenset(
    {OfflineReason.UNAUTHORIZED, OfflineReason.NOT_FOUND, OfflineReason.CODEC, OfflineReason.UNSUPPORTED_SOURCE}
)
"""Causes that retrying soon will not fix: the reader backs off to its long cap for these."""


class SourceKind(enum.StrEnum):
    RTSP = "rtsp"
    FILE = "file"
    SYNTHETIC = "synthetic"
    """Generated frames, no container (tests and benchmarks, behind `camera_config.urls.SYNTHETIC_SWITCH`)."""
    GATEWAY = "gb28181"
    """A channel behind a GB/T 28181 gateway: resolved to an RTSP source (`ingest.gateways`) at every open."""


@dataclass(frozen=True, slots=True)
class Source:
    kind: SourceKind
    url: str
    """Without credentials: safe for messages and logs."""
    path: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def identity(self) -> tuple[str, str, str | None, str | None]:
        """What makes two sources the same stream (a change means reconnecting)."""
        return (self.kind.value, self.url, self.username, self.password)


class StreamError(GridwatchError):
    """Opening or reading a source failed; ``reason`` is what health reports."""

    def __init__(self, reason: OfflineReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def resolve_source(url: str, *, allow_files: bool, credentials: StreamCredentials | None = None) -> Source:
    """Check a camera's stream URL and pair it with its credentials; refuses other schemes clearly."""
    try:
        url = check_stream_url(url, allow_files=allow_files)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if is_synthetic_source(url):
        try:
            parse_synthetic(url)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        return Source(SourceKind.SYNTHETIC, url)
    if is_file_source(url):
        return Source(SourceKind.FILE, url, path=file_path(url))
    if is_gateway_source(url):
        return Source(SourceKind.GATEWAY, url)
    bare, url_user, url_password = split_credentials(url)
    username = credentials.username if credentials and credentials.username else url_user
    password = credentials.password if credentials and credentials.password else url_password
    return Source(SourceKind.RTSP, bare, username=username, password=password)


def file_path(url: str) -> Path:
    """``file:///a/b.mp4``, ``file:b.mp4`` or a bare path → the path."""
    if url.startswith("file:"):
        parts = urlsplit(url)
        return Path(unquote(parts.path if parts.netloc in ("", "localhost") else f"//{parts.netloc}{parts.path}"))
    return Path(url)


def open_container(
    source: Source, *, open_timeout_s: float, read_timeout_s: float, interrupt_reads: bool = False
) -> av.container.InputContainer:
    """Open a source with a bound on the open and on every later read (PyAV's interrupt callback; without
    ``interrupt_reads`` reads are bounded by FFmpeg's socket timeout alone)."""
    if source.kind is SourceKind.SYNTHETIC:
        raise StreamError(
            OfflineReason.UNSUPPORTED_SOURCE, f"{source.url}: a synthetic source has no container (the reader makes it)"
        )
    if source.kind is SourceKind.GATEWAY:
        raise StreamError(
            OfflineReason.UNSUPPORTED_SOURCE,
            f"{source.url}: a GB28181 channel is opened through its gateway, which this process does not reach",
        )
    if source.kind is SourceKind.FILE:
        assert source.path is not None
        if not source.path.is_file():
            raise StreamError(OfflineReason.NOT_FOUND, f"{source.path}: no such file")
        target = str(source.path)
        options: dict[str, str] = {}
    else:
        target = with_credentials(source.url, source.username, source.password)
        options = {
            "rtsp_transport": "tcp",
            "timeout": str(int(read_timeout_s * 1_000_000)),  # socket I/O, microseconds
            "analyzeduration": "500000",  # the SDP and the first keyframe tell us enough
        }
    started = time.monotonic()
    try:
        read_bound = read_timeout_s if interrupt_reads else None
        return av.open(target, mode="r", options=options, timeout=(open_timeout_s, read_bound))
    except Exception as exc:
        reason, detail = classify(exc, opening=True, source=source)
        waited = time.monotonic() - started
        if (
            source.kind is SourceKind.RTSP
            and reason in (OfflineReason.CODEC, OfflineReason.ERROR)
            and waited >= 0.9 * min(open_timeout_s, read_timeout_s)
        ):
            # A server that accepts the connection and then says nothing makes FFmpeg report "invalid data"
            # once the socket timeout runs out: that is no answer, not a codec problem.
            reason, detail = OfflineReason.TIMEOUT, f"{redact(source.url)}: no answer within {waited:.1f} s"
        raise StreamError(reason, detail) from None


def classify(exc: BaseException, *, opening: bool, source: Source) -> tuple[OfflineReason, str]:
    """Map a PyAV/OS failure to a reason and a message naming the source (never its password)."""
    where = redact(source.url)
    text = _message(exc, source)
    if isinstance(exc, StreamError):
        return exc.reason, exc.detail
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return OfflineReason.UNAUTHORIZED, f"{where}: the camera refused the credentials ({text})"
    if isinstance(exc, av.error.HTTPNotFoundError):
        return OfflineReason.NOT_FOUND, f"{where}: no such stream ({text})"
    if isinstance(exc, av.error.FileNotFoundError | FileNotFoundError):
        return OfflineReason.NOT_FOUND, f"{where}: no such file"
    if isinstance(exc, ConnectionRefusedError):  # av.error.ConnectionRefusedError is one too
        return OfflineReason.REFUSED, f"{where}: connection refused (nothing listening)"
    if isinstance(exc, av.error.ExitError | TimeoutError) or getattr(exc, "errno", None) == errno.ETIMEDOUT:
        if opening:
            return OfflineReason.TIMEOUT, f"{where}: no answer within the open timeout"
        return OfflineReason.STALLED, f"{where}: no data within the read timeout"
    if isinstance(exc, av.error.DecoderNotFoundError | av.error.InvalidDataError) and opening:
        return OfflineReason.CODEC, f"{where}: cannot be decoded ({text})"
    if isinstance(exc, EOFError | ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
        return OfflineReason.ENDED, f"{where}: the source closed the stream"
    if isinstance(exc, OSError) and getattr(exc, "errno", None) in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return OfflineReason.REFUSED, f"{where}: host unreachable"
    return OfflineReason.ERROR, f"{where}: {type(exc).__name__}: {text}"


def _message(exc: BaseException, source: Source) -> str:
    """The error text without the file name PyAV appends (it is the URL, credentials included)."""
    if isinstance(exc, av.error.FFmpegError):
        text = str(exc.strerror or type(exc).__name__)
    elif isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    else:
        text = str(exc)
    return redact(text, [source.password])

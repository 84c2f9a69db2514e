"""Which sources ingest opens, how credentials travel, and how failures become reasons (never leaking them)."""

from __future__ import annotations

import errno
from pathlib import Path

import av.error
import pytest

from camera_config.types import StreamCredentials
from core.errors import InvalidInput
from ingest.sources import SourceKind, StreamError, classify, file_path, open_container, resolve_source
from ingest.types import OfflineReason


def test_rtsp_with_credentials_from_the_store() -> None:
    src = resolve_source("rtsp://10.0.0.5:554/sub", allow_files=False, credentials=StreamCredentials("op", "s3cret"))
    assert (src.kind, src.url, src.username, src.password) == (
        SourceKind.RTSP,
        "rtsp://10.0.0.5:554/sub",
        "op",
        "s3cret",
    )
    assert "s3cret" not in repr(src)


def test_credentials_in_the_url_are_moved_out_of_it() -> None:
    src = resolve_source("rtsp://op:p%40ss@10.0.0.5/sub", allow_files=False)
    assert (src.url, src.username, src.password) == ("rtsp://10.0.0.5/sub", "op", "p@ss")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://169.254.169.254/latest", "only rtsp:// or rtsps:// URLs are accepted"),
        ("/srv/video.mp4", "file sources are only accepted in demo mode"),
        ("file:///srv/video.mp4", "file sources are only accepted in demo mode"),
        ("   ", "stream URL is empty"),
        ("rtsp:///no-host", "URL has no host"),
    ],
)
def test_other_sources_are_refused_clearly(url: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        resolve_source(url, allow_files=False)


@pytest.mark.parametrize(
    ("url", "path"),
    [("file:///srv/a.mp4", "/srv/a.mp4"), ("file:clips/a.mp4", "clips/a.mp4"), ("/srv/a.mp4", "/srv/a.mp4")],
)
def test_file_sources_in_demo_mode(url: str, path: str) -> None:
    src = resolve_source(url, allow_files=True)
    assert src.kind is SourceKind.FILE
    assert src.path == Path(path) == file_path(url)


def test_a_missing_file_is_not_found(tmp_path: Path) -> None:
    src = resolve_source(str(tmp_path / "gone.mp4"), allow_files=True)
    with pytest.raises(StreamError) as err:
        open_container(src, open_timeout_s=1, read_timeout_s=1)
    assert err.value.reason is OfflineReason.NOT_FOUND


def test_a_file_that_is_not_video_is_a_codec_problem(tmp_path: Path) -> None:
    junk = tmp_path / "notes.mp4"
    junk.write_text("not a video", encoding="utf-8")
    with pytest.raises(StreamError) as err:
        open_container(resolve_source(str(junk), allow_files=True), open_timeout_s=1, read_timeout_s=1)
    assert err.value.reason is OfflineReason.CODEC


SOURCE = resolve_source("rtsp://op:s3cret@10.0.0.5/sub", allow_files=False)
URL_WITH_SECRET = "rtsp://op:s3cret@10.0.0.5/sub"


@pytest.mark.parametrize(
    ("exc", "opening", "reason"),
    [
        (av.error.HTTPUnauthorizedError(1, "Server returned 401 Unauthorized", URL_WITH_SECRET), True, "unauthorized"),
        (av.error.HTTPNotFoundError(1, "Server returned 404 Not Found", URL_WITH_SECRET), True, "not_found"),
        (av.error.ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused", URL_WITH_SECRET), True, "refused"),
        (av.error.ExitError(1, "Immediate exit requested", URL_WITH_SECRET), True, "timeout"),
        (av.error.ExitError(1, "Immediate exit requested", URL_WITH_SECRET), False, "stalled"),
        (av.error.InvalidDataError(1, "Invalid data found", URL_WITH_SECRET), True, "codec_unsupported"),
        (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), False, "ended"),
        (RuntimeError(f"odd failure reading {URL_WITH_SECRET}"), False, "error"),
    ],
)
def test_failures_become_reasons_without_the_password(exc: BaseException, opening: bool, reason: str) -> None:
    got, detail = classify(exc, opening=opening, source=SOURCE)
    assert got.value == reason
    assert "s3cret" not in detail
    assert "rtsp://10.0.0.5/sub" in detail

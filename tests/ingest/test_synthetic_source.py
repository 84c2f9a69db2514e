"""Synthetic cameras (tests and benchmarks only): refused by the site rules and by ingest unless
GRIDWATCH_SYNTHETIC_SOURCES=1; with it, a reader serves the asked size at about the asked rate, shows online,
and stops at once; hundreds of them are cheap."""

from __future__ import annotations

import re
import time

import pytest
from pydantic import ValidationError

from camera_config.schema import StreamsSpec
from camera_config.urls import SYNTHETIC_SWITCH, check_stream_url, is_file_source
from core.errors import InvalidInput
from ingest.sources import SourceKind, resolve_source
from ingest.types import HealthState, OfflineReason
from ingest.worker import IngestWorker
from tests.ingest.helpers import camera, health_of, in_state
from tests.support.wait import wait_for

URL = "synthetic:7?fps=4&size=96x54"


@pytest.fixture
def switch_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SYNTHETIC_SWITCH, "1")


@pytest.fixture
def switch_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SYNTHETIC_SWITCH, raising=False)


@pytest.mark.usefixtures("switch_off")
def test_refused_without_the_switch() -> None:
    with pytest.raises(ValueError, match=re.escape(f"accepted when {SYNTHETIC_SWITCH}=1 (got '{URL}')")):
        check_stream_url(URL, allow_files=True)  # demo mode does not let it through either
    with pytest.raises(ValidationError, match="synthetic sources are for tests and benchmarks only"):
        StreamsSpec.model_validate({"main": URL})
    with pytest.raises(InvalidInput, match=SYNTHETIC_SWITCH):
        resolve_source(URL, allow_files=False)
    assert not is_file_source(URL)  # never taken for a file path, switch or not
    with IngestWorker() as worker:
        worker.apply([camera("CAM-S", URL)])
        health = health_of(worker, "CAM-S")
        assert health.state is HealthState.OFFLINE
        assert health.reason is OfflineReason.UNSUPPORTED_SOURCE
        assert SYNTHETIC_SWITCH in (health.detail or "")


@pytest.mark.usefixtures("switch_on")
@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("synthetic:seven", "the seed must be a whole number"),
        ("synthetic:7?fps=0", "fps must be above 0"),
        ("synthetic:7?fps=fast", "fps must be above 0"),
        ("synthetic:7?size=8x8", "size must be WxH"),
        ("synthetic:7?size=64", "size must be WxH"),
        ("synthetic:7?colour=red", "unknown parameter colour"),
    ],
)
def test_a_bad_spec_is_named(url: str, named: str) -> None:
    assert check_stream_url(url, allow_files=False) == url  # the site rules know the switch only
    with pytest.raises(InvalidInput, match=named) as caught:
        resolve_source(url, allow_files=False)
    assert url in str(caught.value)


@pytest.mark.usefixtures("switch_on")
def test_frames_at_the_asked_rate_and_size() -> None:
    source = resolve_source(URL, allow_files=False)
    assert source.kind is SourceKind.SYNTHETIC
    with IngestWorker() as worker:
        # every frame analysed and offered: the detector's side sees the source's own rate
        worker.apply([camera("CAM-S", URL, fps=10, motion_gating=False)])
        assert wait_for(in_state(worker, "CAM-S", HealthState.ONLINE), 5)
        started, offered0 = time.monotonic(), worker.stats("CAM-S")[0].offered
        frames = []
        while time.monotonic() - started < 3.0:
            frames += worker.take_ready(timeout_s=0.5)
        elapsed = time.monotonic() - started
        stats = worker.stats("CAM-S")[0]
        rate = (stats.offered - offered0) / elapsed
        assert 3.0 <= rate <= 5.0, stats
        assert 3.0 <= stats.input_fps <= 5.0, stats
        assert frames
        assert {f.image.shape for f in frames} == {(54, 96, 3)}
        assert stats.decode_mode == "sampled"
        assert health_of(worker, "CAM-S").state is HealthState.ONLINE


@pytest.mark.usefixtures("switch_on")
def test_the_gate_keeps_a_still_camera_quiet() -> None:
    """A still picture at 4 fps with gating on: the background is learnt, then only keep-alives go on."""
    with IngestWorker() as worker:
        worker.apply([camera("CAM-S", URL, fps=4, keepalive_s=60)])
        assert wait_for(in_state(worker, "CAM-S", HealthState.ONLINE), 5)
        time.sleep(2.0)
        before = worker.stats("CAM-S")[0]
        time.sleep(2.0)
        after = worker.stats("CAM-S")[0]
        assert after.analysed_fps >= 3.0, after
        assert after.offered - before.offered <= 1, (before, after)


@pytest.mark.usefixtures("switch_on")
def test_hundreds_go_online_and_stop_promptly() -> None:
    cameras = [camera(f"CAM-{i:04d}", f"synthetic:{i}") for i in range(300)]
    worker = IngestWorker()
    try:
        worker.apply(cameras)
        started = time.monotonic()
        cpu0 = time.process_time()

        def all_online() -> bool:
            return all(h.state is HealthState.ONLINE for h in worker.health())

        assert wait_for(all_online, 10), [h for h in worker.health() if h.state is not HealthState.ONLINE][:3]
        time.sleep(2.0)
        spent = (time.process_time() - cpu0) / (time.monotonic() - started)
        assert spent < 0.5, f"300 synthetic cameras took {spent:.0%} of a core"
    finally:
        stopping = time.monotonic()
        assert worker.close(5.0)
        assert time.monotonic() - stopping < 3.0

"""Decode modes against the real RTSP footage server, and reading local files at their native rate."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import av
import numpy as np
import pytest

from camera_config.stream_settings import DecodeMode
from ingest.demo_server import FootageServer
from ingest.gate import shrink
from ingest.reader import KeyframeClock, small_gray
from ingest.types import Frame, HealthState
from ingest.worker import IngestWorker
from tests.ingest.helpers import camera, in_state
from tests.support.wait import wait_for


def run_for(worker: IngestWorker, seconds: float) -> dict[str, list[Frame]]:
    """Act as a detector that keeps up: take every offered frame for ``seconds``."""
    frames: dict[str, list[Frame]] = {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for f in worker.take_ready(timeout_s=0.2):
            frames.setdefault(f.camera_id, []).append(f)
    return frames


def test_decode_modes_deliver_their_rates(rtsp_server: FootageServer) -> None:
    cams = [
        camera("FULL", rtsp_server.url("/cam/CAM-0001/sub"), mode=DecodeMode.FULL, motion_gating=False),
        camera("SAMPLED-2", rtsp_server.url("/cam/CAM-0002/sub"), mode=DecodeMode.SAMPLED, fps=2, motion_gating=False),
        camera("KEYFRAME", rtsp_server.url("/cam/CAM-0003/sub"), mode=DecodeMode.KEYFRAME, motion_gating=False),
        camera("AUTO-1", rtsp_server.url("/cam/CAM-0004/sub"), mode=DecodeMode.AUTO, fps=1, motion_gating=False),
        camera("AUTO-5", rtsp_server.url("/cam/CAM-0005/sub"), mode=DecodeMode.AUTO, fps=5, motion_gating=False),
    ]
    with IngestWorker() as worker:
        worker.apply(cams)
        for c in cams:
            wait_for(in_state(worker, c.id, HealthState.ONLINE), 10, what=f"{c.id} online")
        time.sleep(2.5)  # auto measures the keyframe interval first
        run_for(worker, 1.0)
        frames = run_for(worker, 5.0)
        stats = {s.camera_id: s for s in worker.stats()}

    expected = {  # camera → (mode in effect, analysed fps, decoded fps); the stream is 25 fps, 1 keyframe/s
        "FULL": ("full", 25.0, 25.0),
        "SAMPLED-2": ("sampled", 2.0, 25.0),
        "KEYFRAME": ("keyframe", 1.0, 1.0),
        "AUTO-1": ("keyframe", 1.0, 1.0),  # keyframes alone give 1 fps: nothing else is decoded
        "AUTO-5": ("sampled", 5.0, 25.0),
    }
    for cid, (mode, analysed, decoded) in expected.items():
        s = stats[cid]
        assert s.decode_mode == mode, s
        assert s.analysed_fps == pytest.approx(analysed, rel=0.25), s
        assert s.decoded_fps == pytest.approx(decoded, rel=0.25), s
        assert s.input_fps == pytest.approx(25.0, rel=0.2), s
        assert s.keyframe_interval_s == pytest.approx(1.0, abs=0.1)
        assert len(frames[cid]) == pytest.approx(5 * analysed, rel=0.3)
    for f in frames["KEYFRAME"] + frames["AUTO-1"]:
        assert f.is_keyframe
        assert f.motion is None, "gating off: the gate did not run"
    f = frames["FULL"][-1]
    assert f.image.shape == (360, 640, 3)
    assert f.image.dtype == np.uint8
    assert f.wall_at.tzinfo is not None
    seqs = [x.seq for x in frames["FULL"]]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)


def test_motion_gating_on_the_live_pattern(rtsp_server: FootageServer) -> None:
    """The moving ball is motion: gated frames flow with their motion share attached."""
    with IngestWorker() as worker:
        worker.apply([camera("PATTERN", rtsp_server.url("/pattern"), mode=DecodeMode.SAMPLED, fps=5)])
        wait_for(in_state(worker, "PATTERN", HealthState.ONLINE), 10)
        frames = run_for(worker, 3.0).get("PATTERN", [])
        stats = worker.stats("PATTERN")[0]
    assert len(frames) >= 10
    assert all(f.motion is not None for f in frames)
    assert stats.motion_ratio > 0.8
    assert stats.offered >= len(frames)


def test_slow_detector_gets_the_newest_frame_and_drops_are_counted(rtsp_server: FootageServer) -> None:
    with IngestWorker() as worker:
        worker.apply([camera("FAST", rtsp_server.url("/vtest-1080p"), mode=DecodeMode.FULL, motion_gating=False)])
        wait_for(in_state(worker, "FAST", HealthState.ONLINE), 10)
        taken = []
        for _ in range(4):
            time.sleep(0.5)  # a detector busy for half a second
            batch = worker.take_ready(timeout_s=1.0)
            assert len(batch) == 1, "one frame per camera, never a backlog"
            taken.append(batch[0])
        stats = worker.stats("FAST")[0]
        latest = worker.latest("FAST")
    assert [f.seq for f in taken] == sorted(f.seq for f in taken)
    assert taken[-1].seq - taken[0].seq >= 25, "frames between takes were skipped, not queued"
    assert stats.dropped >= 30
    assert latest is not None
    assert latest.seq >= taken[-1].seq
    assert latest.image.shape == (1080, 1920, 3)


@pytest.fixture(scope="module")
def short_clip(footage: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds of tree.avi (15 fps), so looping shows within a short test."""
    out = tmp_path_factory.mktemp("clips") / "tree-2s.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(footage / "tree.avi"),
            "-t",
            "2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "15",
            "-pix_fmt",
            "yuv420p",
            str(out),
        ],
        check=True,
        timeout=60,
    )
    return out


def test_a_file_source_loops_at_its_native_rate(short_clip: Path) -> None:
    with IngestWorker(allow_files=True) as worker:
        worker.apply([camera("FILE", str(short_clip), mode=DecodeMode.FULL, motion_gating=False)])
        wait_for(in_state(worker, "FILE", HealthState.ONLINE), 5)
        frames = run_for(worker, 4.5)["FILE"]
        stats = worker.stats("FILE")[0]
        health = worker.health("FILE")[0]
    assert stats.input_fps == pytest.approx(15.0, rel=0.15), "played at the file's own 15 fps, not as fast as possible"
    assert len(frames) >= 55, "kept going past the 30 frames of the clip: looped"
    assert health.state is HealthState.ONLINE
    assert health.reconnects_last_hour == 0
    gaps = np.diff([f.monotonic_s for f in frames])
    assert gaps.max() < 0.3, "no pause at the loop point"


def test_file_url_forms(short_clip: Path) -> None:
    with IngestWorker(allow_files=True) as worker:
        worker.apply([camera("URL", f"file://{short_clip}", mode=DecodeMode.KEYFRAME)])
        wait_for(in_state(worker, "URL", HealthState.ONLINE), 5)


def test_keyframe_clock_measures_the_interval() -> None:
    clock = KeyframeClock()
    assert clock.interval_s() is None
    for t in (0.0, 1.0, 2.0, 3.04, 4.0):
        clock.add(t)
    assert clock.interval_s() == pytest.approx(1.0, abs=0.05)
    clock.add(0.5)  # timestamps restarted (a new session): measure afresh
    assert clock.interval_s() is None


def test_small_gray_reads_the_luma_plane() -> None:
    """Straight from the decoder's luma plane (no colour conversion), honouring its padded rows."""
    rng = np.random.default_rng(7)
    bgr = np.repeat(np.linspace(0, 255, 1000, dtype=np.uint8)[None, :], 562, axis=0)[:, :, None].repeat(3, axis=2)
    bgr = np.clip(bgr.astype(np.int16) + rng.integers(-5, 5, bgr.shape), 0, 255).astype(np.uint8)
    yuv = av.VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p")
    assert yuv.planes[0].line_size != yuv.width, "the case worth testing: rows padded beyond the width"
    luma = np.asarray(yuv.to_ndarray(), dtype=np.uint8)[: yuv.height]
    small = small_gray(yuv)
    assert small.shape == (90, 160)
    assert np.abs(small.astype(int) - shrink(luma).astype(int)).max() <= 1
    assert small[:, :20].mean() < 40 < 200 < small[:, -20:].mean()

"""Server CPU for WebRTC live view: gridwatch's H.264 pass-through against aiortc re-encoding (the peer).

The peer is aiortc's usual server recipe: `MediaPlayer` decoding the camera, `MediaRelay`, and
aiortc encoding VP8 for every viewer. gridwatch demuxes without decoding and passes the camera's
H.264 through (`api.live_view.LiveViewHub`). The server side runs in a child process whose CPU time is
measured; the viewers are aiortc peers in this process, connected over loopback. The source is
20 s of the real footage (vtest.avi, 768×576, 10 fps) as H.264 in MPEG-TS.

Target: pass-through well under the re-encode, growing little per extra viewer.

    .venv/bin/python bench/live_view.py [--seconds 8] [--viewers 1 4]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from api.context import LiveViewSettings  # noqa: E402
from api.live_view import LiveViewHub, host_candidates  # noqa: E402
from camera_config.types import Camera, CameraLevel, StreamCredentials  # noqa: E402

LOOPBACK = ("127.0.0.1",)


def make_clip(out: Path) -> None:
    footage = REPO / ".cache" / "footage" / "vtest.avi"
    if not footage.exists():
        raise SystemExit(f"{footage} is missing: run scripts/setup.sh")
    encode = ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-bf", "0"]
    source = ["-t", "20", "-i", str(footage), "-an"]
    keyframes = ["-g", "10", "-sc_threshold", "0"]
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *source, *encode, *keyframes, "-f", "mpegts", str(out)],
        check=True,
        timeout=120,
    )


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve(mode: str, clip: str, conn: Connection) -> None:
    """Child process: answer each offer received on ``conn`` until told to stop."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        camera = Camera("BENCH", "bench", CameraLevel.STREET, "G", main_url=clip, sub_url=None)
        hub = LiveViewHub(LiveViewSettings(ice_hosts=LOOPBACK))
        peers: list[RTCPeerConnection] = []
        relay = player = None
        with host_candidates(LOOPBACK):
            while True:
                offer = await loop.run_in_executor(None, conn.recv)
                if offer is None:
                    break
                if mode == "passthrough":
                    session = await hub.connect(camera, "main", offer, "bench", lambda: StreamCredentials(None))
                    conn.send(session.answer_sdp)
                    continue
                from aiortc.contrib.media import MediaPlayer, MediaRelay

                if player is None:
                    player, relay = MediaPlayer(clip), MediaRelay()
                assert relay is not None
                assert player.video is not None
                pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                peers.append(pc)
                await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
                pc.addTrack(relay.subscribe(player.video))
                await pc.setLocalDescription(await pc.createAnswer())
                conn.send(pc.localDescription.sdp)
            await hub.close()
            for pc in peers:
                await pc.close()
            if player is not None and player.video is not None:
                player.video.stop()  # stops aiortc's decoding thread before the loop closes

    asyncio.run(main())


def counting_peer(
    loop: asyncio.AbstractEventLoop, counts: list[int], i: int, pulls: list[asyncio.Future[None]]
) -> tuple[RTCPeerConnection, asyncio.Future[None]]:
    """A receive-only peer whose frames are counted in ``counts[i]``, and a future done at its first frame."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    first: asyncio.Future[None] = loop.create_future()

    def on_track(track: object) -> None:
        async def pull() -> None:
            while True:
                await track.recv()  # type: ignore[attr-defined]
                counts[i] += 1
                if not first.done():
                    first.set_result(None)

        pulls.append(asyncio.ensure_future(pull()))

    pc.on("track", on_track)
    return pc, first


async def watch(mode: str, clip: Path, viewers: int, seconds: float) -> tuple[float, float]:
    """(server CPU % of one core, frames per second each viewer received)."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=serve, args=(mode, str(clip), child))
    proc.start()
    loop = asyncio.get_running_loop()
    pcs: list[RTCPeerConnection] = []
    counts = [0] * viewers
    tasks: list[asyncio.Future[None]] = []
    try:
        with host_candidates(LOOPBACK):
            for i in range(viewers):
                pc, first = counting_peer(loop, counts, i, tasks)
                pcs.append(pc)
                await pc.setLocalDescription(await pc.createOffer())
                parent.send(pc.localDescription.sdp)
                answer = await loop.run_in_executor(None, parent.recv)
                await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
                await asyncio.wait_for(first, 20)
            assert proc.pid is not None
            await asyncio.sleep(1.0)  # settle
            before_cpu = cpu_s(proc.pid)
            before_frames = list(counts)
            start = time.monotonic()
            await asyncio.sleep(seconds)
            elapsed = time.monotonic() - start
            cpu = cpu_s(proc.pid) - before_cpu
            fps = sum(c - b for c, b in zip(counts, before_frames, strict=True)) / viewers / elapsed
    finally:
        for t in tasks:
            t.cancel()
        for pc in pcs:
            await pc.close()
        parent.send(None)
        proc.join(15)
        if proc.is_alive():
            proc.kill()
    return 100 * cpu / elapsed, fps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="measuring window per case")
    parser.add_argument("--viewers", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "vtest.ts"
        make_clip(clip)
        print(f"live view, vtest 768x576 10 fps, {args.seconds:g} s per case, server CPU in % of one core")
        print(f"{'viewers':>7}  {'gridwatch pass-through (H.264)':>32}  {'aiortc re-encode (VP8), peer':>30}")
        for n in args.viewers:
            ours = asyncio.run(watch("passthrough", clip, n, args.seconds))
            peer = asyncio.run(watch("reencode", clip, n, args.seconds))
            print(f"{n:>7}  {ours[0]:>18.1f} % at {ours[1]:4.1f} fps  {peer[0]:>16.1f} % at {peer[1]:4.1f} fps")


if __name__ == "__main__":
    main()

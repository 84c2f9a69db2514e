"""What a video wall costs the server: CPU and memory per tile for 1, 4, 9 and 16 tiles of live video.

A tile is one WebRTC viewer of a camera's sub stream, passed through without decoding by
`api.live_view.LiveViewHub` (what `POST /api/cameras/{id}/live` runs). On a wall every tile shows another
camera, so N tiles are N camera pulls and N peer connections. The peer, side by side, is the live view as the
camera page uses it today, N times over: N viewers of one camera (one pull fanned out to them); its first row
is one live view.

The cameras are the footage server's per-camera mounts (scripts/rtsp_server.py: vtest at 640×360, 25 fps,
H.264, one keyframe a second) over RTSP on 127.0.0.1. The server side runs in a child process of its own for
each case: its CPU time (user + system, from /proc) is taken over the measuring window once every viewer has
had its first frame, and its resident memory is compared with its own before the first viewer. The viewers are
aiortc peers in this process, on loopback; they decode what they receive, as a browser would, and their frame
rate says whether the server kept up.

    .venv/bin/python bench/wall.py [--seconds 10] [--tiles 1 4 9 16]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from aiortc import RTCPeerConnection, RTCSessionDescription

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from api.context import LiveViewSettings  # noqa: E402
from api.live_view import LiveViewHub, host_candidates  # noqa: E402
from bench.live_view import LOOPBACK, counting_peer, cpu_s  # noqa: E402
from camera_config.types import Camera, CameraLevel, StreamCredentials  # noqa: E402
from ingest.demo_server import FootageServer  # noqa: E402

FIRST_FRAME_S = 20.0
"""A viewer without a picture this long after its answer fails the run."""


def rss_mib(pid: int) -> float:
    """Resident memory of a process (VmRSS from /proc), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def serve(streams: list[tuple[str, str]], conn: Connection) -> None:
    """Child process: the live view hub of a server; answers each (camera index, offer) received on ``conn``."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        cameras = [
            Camera(f"W-{i}", f"wall {i}", CameraLevel.STREET, "G", main_url=main, sub_url=sub)
            for i, (main, sub) in enumerate(streams, start=1)
        ]
        hub = LiveViewHub(LiveViewSettings(ice_hosts=LOOPBACK, max_viewers=len(streams) + 1))
        with host_candidates(LOOPBACK):
            conn.send("ready")
            while True:
                message = await loop.run_in_executor(None, conn.recv)
                if message is None:
                    break
                index, offer = message
                session = await hub.connect(cameras[index], "sub", offer, "bench", lambda: StreamCredentials(None))
                conn.send(session.answer_sdp)
            await hub.close()

    asyncio.run(main())


@dataclass(frozen=True)
class Figures:
    viewers: int
    cpu_pct: float
    """Server CPU over the window, in % of one core."""
    memory_mib: float
    """Server resident memory with the viewers, above its own before the first one."""
    fps: float
    """Frames each viewer received per second."""

    def per_viewer(self) -> str:
        each = self.viewers or 1
        return (
            f"{self.cpu_pct:5.1f} %  {self.cpu_pct / each:4.2f} %  "
            f"{self.memory_mib:5.1f} MiB  {self.memory_mib / each:4.1f} MiB  {self.fps:4.1f}"
        )


async def measure(streams: list[tuple[str, str]], cameras: list[int], seconds: float) -> Figures:
    """One viewer per entry of ``cameras`` (an index into ``streams``), on a fresh server process."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=serve, args=(streams, child))
    proc.start()
    loop = asyncio.get_running_loop()
    pcs: list[RTCPeerConnection] = []
    pulls: list[asyncio.Future[None]] = []
    counts = [0] * len(cameras)
    try:
        assert await loop.run_in_executor(None, parent.recv) == "ready"
        assert proc.pid is not None
        idle_mib = rss_mib(proc.pid)
        with host_candidates(LOOPBACK):
            for i, camera in enumerate(cameras):
                pc, first = counting_peer(loop, counts, i, pulls)
                pcs.append(pc)
                await pc.setLocalDescription(await pc.createOffer())
                parent.send((camera, pc.localDescription.sdp))
                answer = await loop.run_in_executor(None, parent.recv)
                await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
                await asyncio.wait_for(first, FIRST_FRAME_S)
            await asyncio.sleep(2.0)  # settle: every viewer past its first keyframe
            before_cpu, before_frames, start = cpu_s(proc.pid), list(counts), time.monotonic()
            await asyncio.sleep(seconds)
            elapsed = time.monotonic() - start
            cpu = cpu_s(proc.pid) - before_cpu
            memory = rss_mib(proc.pid) - idle_mib
            received = sum(c - b for c, b in zip(counts, before_frames, strict=True))
    finally:
        for task in pulls:
            task.cancel()
        for pc in pcs:
            await pc.close()
        parent.send(None)
        proc.join(15)
        if proc.is_alive():
            proc.kill()
    return Figures(len(cameras), 100 * cpu / elapsed, memory, received / len(cameras) / elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window per case (default 10)")
    parser.add_argument(
        "--tiles", type=int, nargs="+", default=[1, 4, 9, 16], help="wall sizes to measure (default 1 4 9 16)"
    )
    args = parser.parse_args()
    most = max(args.tiles)
    with FootageServer.start(cameras=most) as footage:
        streams = [
            (footage.url(f"/cam/CAM-{i:04d}/main"), footage.url(f"/cam/CAM-{i:04d}/sub")) for i in range(1, most + 1)
        ]
        print(
            f"video wall: server cost per tile; sub streams 640x360 25 fps over RTSP, {args.seconds:g} s per case; "
            "CPU in % of one core, memory above the server's own before the first viewer"
        )
        print(f"{'':>5}  {'wall: N tiles of N cameras':<42}  {'peer: N viewers of one camera (live view today)':<42}")
        head = f"{'CPU':>7}  {'each':>6}  {'memory':>9}  {'each':>8}  {'fps':>4}"
        print(f"{'tiles':>5}  {head}  {head}")
        for n in args.tiles:
            wall = asyncio.run(measure(streams, list(range(n)), args.seconds))
            peer = asyncio.run(measure(streams, [0] * n, args.seconds))
            print(f"{n:>5}  {wall.per_viewer()}  {peer.per_viewer()}")


if __name__ == "__main__":
    main()

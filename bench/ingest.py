"""CPU per camera and analysed fps of gridwatch's ingest, next to a plain OpenCV loop and ultralytics' LoadStreams.

N concurrent real RTSP streams (N = 1, 8, 32) at 640×360 and 1920×1080 (25 fps, H.264, one keyframe per
second) from the project's RTSP footage server on 127.0.0.1. Each reader runs in a process of its own,
which measures its own CPU time (all threads, psutil) over the measuring window after a warm-up.
Every analysed frame is handed over as a BGR image, as a detector would take it (motion gating off).
OpenCV captures are opened one after another (LoadStreams does the same); the window starts once the
video they queued meanwhile has been read, so it shows the steady state, not the catching up.

Readers:
  full        gridwatch, decode and analyse every frame
  sampled@1   gridwatch, analyse 1 fps, decoding every frame (mode "sampled")
  auto@1      gridwatch, analyse 1 fps, mode "auto": keyframes only once the 1 s keyframe interval is measured
  keyframe    gridwatch, keyframe-only decoding, every keyframe (here 1 per second)
  keyframe@0.5 gridwatch, keyframe-only at 0.5 fps: one keyframe every 2 s, the structure rule's cadence
  pyav-key    the floor: PyAV alone with skip_frame="NONKEY", each keyframe converted to BGR
  cv2         plain cv2.VideoCapture read loop (RTSP over TCP, one thread per stream)
  cv2@1       cv2.VideoCapture, grab() every frame, retrieve() one per second
  LoadStreams ultralytics.data.loaders.LoadStreams (its own threads), iterated as fast as it yields

Targets on a 2-core machine: keyframe-only ≤ 1 % of a core per 1080p camera; auto@1 ≤ 1/4 of the plain
cv2 loop's CPU. Figures are noisy when other work shares the cores: the load average is printed.

    .venv/bin/python bench/ingest.py [--n 1,8,32] [--res 360p,1080p] [--readers full,auto@1,cv2] [--seconds 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil  # type: ignore[import-untyped]

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

READERS = ("full", "sampled@1", "auto@1", "keyframe", "keyframe@0.5", "pyav-key", "cv2", "cv2@1", "LoadStreams")
GRIDWATCH = ("full", "sampled@1", "auto@1", "keyframe", "keyframe@0.5")
PATHS = {"360p": "sub", "1080p": "main"}  # /cam/<id>/sub is the 360p clip, /cam/<id>/main the 1080p one


# ---------------------------------------------------------------------------------------- child side


def measure(
    frames: Callable[[], int], warmup_s: float, seconds: float, pump: Callable[[], None] | None = None
) -> dict[str, float]:
    """CPU seconds and frames over the window; ``pump`` runs the consumer loop when there is one."""
    me = psutil.Process()

    def run_for(duration: float) -> None:
        end = time.monotonic() + duration
        while time.monotonic() < end:
            if pump is not None:
                pump()
            else:
                time.sleep(0.05)

    run_for(warmup_s)
    c0, f0, t0 = me.cpu_times(), frames(), time.monotonic()
    run_for(seconds)
    c1, f1, t1 = me.cpu_times(), frames(), time.monotonic()
    return {"cpu_s": (c1.user + c1.system) - (c0.user + c0.system), "frames": f1 - f0, "wall_s": t1 - t0}


def drain_backlog(read: Callable[[], int], n: int, limit_s: float = 120.0) -> None:
    """Streams opened one after another have queued up seconds of video: wait until it is read.

    Otherwise the window would show faster-than-real-time catching up instead of the steady state.
    """
    quiet = 0
    last = read()
    end = time.monotonic() + limit_s
    while quiet < 2 and time.monotonic() < end:
        time.sleep(1.0)
        now = read()
        quiet = quiet + 1 if now - last <= 1.05 * 25 * n else 0
        last = now


def child_gridwatch(reader: str, urls: list[str], warmup_s: float, seconds: float) -> dict[str, float]:
    from camera_config.stream_settings import DecodeMode, DetectSettings
    from camera_config.types import Camera, CameraLevel
    from ingest.worker import IngestWorker

    detect = {
        "full": DetectSettings(mode=DecodeMode.FULL, motion_gating=False),
        "sampled@1": DetectSettings(mode=DecodeMode.SAMPLED, fps=1, motion_gating=False),
        "auto@1": DetectSettings(mode=DecodeMode.AUTO, fps=1, motion_gating=False),
        "keyframe": DetectSettings(mode=DecodeMode.KEYFRAME, motion_gating=False),
        "keyframe@0.5": DetectSettings(mode=DecodeMode.KEYFRAME, fps=0.5, motion_gating=False),
    }[reader]
    cams = [
        Camera(f"B{i}", f"bench {i}", CameraLevel.COMPOUND, "G", main_url=u, sub_url=None, detect=detect)
        for i, u in enumerate(urls)
    ]
    counts = [0]
    with IngestWorker() as worker:
        worker.apply(cams)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(h.state.value != "online" for h in worker.health()):
            time.sleep(0.2)

        def pump() -> None:
            counts[0] += len(worker.take_ready(timeout_s=0.2))

        result = measure(lambda: counts[0], warmup_s, seconds, pump)
        result["opened"] = sum(s.input_fps > 0 for s in worker.stats())
        return result


def child_pyav_key(urls: list[str], warmup_s: float, seconds: float) -> dict[str, float]:
    """The floor: PyAV alone, decoding keyframes only (``skip_frame="NONKEY"``), each turned into BGR."""
    import av

    counts = [0] * len(urls)
    running = True
    containers = [av.open(u, options={"rtsp_transport": "tcp"}, timeout=10.0) for u in urls]

    def loop(i: int, container: av.container.InputContainer) -> None:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        for packet in container.demux(stream):
            if not running:
                break
            for frame in packet.decode():
                frame.to_ndarray(format="bgr24")
                counts[i] += 1
        container.close()

    threads = [threading.Thread(target=loop, args=(i, c), daemon=True) for i, c in enumerate(containers)]
    for t in threads:
        t.start()
    result = measure(lambda: sum(counts), warmup_s, seconds)
    result["opened"] = len(containers)
    running = False
    for t in threads:
        t.join(timeout=10)
    return result


def child_cv2(reader: str, urls: list[str], warmup_s: float, seconds: float) -> dict[str, float]:
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "rtsp_transport;tcp"
    import cv2

    counts = [0] * len(urls)
    grabs = [0] * len(urls)
    running = True
    caps = [cv2.VideoCapture(url, cv2.CAP_FFMPEG) for url in urls]  # one after another, as LoadStreams does

    def loop(i: int, cap: cv2.VideoCapture) -> None:
        last = 0.0
        while running and cap.isOpened():
            if reader == "cv2":
                ok, _ = cap.read()
                counts[i] += ok
                grabs[i] += ok
            else:  # one frame per second: grab (decode) everything, convert only what is used
                if not cap.grab():
                    continue
                grabs[i] += 1
                now = time.monotonic()
                if now - last >= 1.0 - 0.02:
                    ok, _ = cap.retrieve()
                    counts[i] += ok
                    last = now
        cap.release()

    threads = [threading.Thread(target=loop, args=(i, c), daemon=True) for i, c in enumerate(caps)]
    for t in threads:
        t.start()
    drain_backlog(lambda: sum(grabs), len(urls))
    result = measure(lambda: sum(counts), warmup_s, seconds)
    result["opened"] = sum(c.isOpened() for c in caps)
    running = False
    for t in threads:  # OpenCV aborts the interpreter if a thread is still inside it at exit
        t.join(timeout=10)
    return result


def child_loadstreams(urls: list[str], warmup_s: float, seconds: float) -> dict[str, float]:
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "rtsp_transport;tcp"
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="gw-bench-yolo-"))
    from ultralytics.data.loaders import LoadStreams
    from ultralytics.utils import LOGGER

    LOGGER.disabled = True
    with tempfile.NamedTemporaryFile("w", suffix=".streams", delete=False) as f:
        f.write("\n".join(urls))
    opening = time.monotonic()
    loader = LoadStreams(f.name, vid_stride=1, buffer=False)
    warmup_s = max(warmup_s, time.monotonic() - opening)  # its threads catch up meanwhile
    it = iter(loader)
    counts = [0]

    def pump() -> None:
        _, images, _ = next(it)
        counts[0] += len(images)

    try:
        result = measure(lambda: counts[0], warmup_s, seconds, pump)
        result["opened"] = len(urls)  # LoadStreams raises unless every stream opened
        return result
    finally:
        loader.close()  # type: ignore[no-untyped-call]
        os.unlink(f.name)


def child_main(args: argparse.Namespace) -> None:
    if args.child in GRIDWATCH:
        result = child_gridwatch(args.child, args.urls, args.warmup, args.seconds)
    elif args.child == "pyav-key":
        result = child_pyav_key(args.urls, args.warmup, args.seconds)
    elif args.child in ("cv2", "cv2@1"):
        result = child_cv2(args.child, args.urls, args.warmup, args.seconds)
    else:
        result = child_loadstreams(args.urls, args.warmup, args.seconds)
    print(json.dumps(result), flush=True)


# ---------------------------------------------------------------------------------------- parent side


def run_child(reader: str, urls: list[str], warmup_s: float, seconds: float, server_pid: int) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", reader, "--warmup", str(warmup_s), "--seconds", str(seconds), *urls]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    server = psutil.Process(server_pid)
    s0, t0 = server.cpu_times(), time.monotonic()
    # Opening 32 streams one after another (LoadStreams does) and reading their backlog takes a while.
    limit_s = 240 + 6 * len(urls) + warmup_s + seconds
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=limit_s)
    except subprocess.TimeoutExpired:
        return {"error": 1.0, "message": f"no result within {limit_s:g} s"}  # type: ignore[dict-item]
    s1, t1 = server.cpu_times(), time.monotonic()
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": 1.0, "message": tail}  # type: ignore[dict-item]
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    result["server_cpu"] = ((s1.user + s1.system) - (s0.user + s0.system)) / (t1 - t0)
    return result


def cell(result: dict[str, float], n: int) -> str:
    if "error" in result:
        return "timed out" if "within" in str(result.get("message")) else "failed"
    cpu = 100.0 * result["cpu_s"] / result["wall_s"] / n
    fps = result["frames"] / result["wall_s"] / n
    missing = "" if result.get("opened", n) >= n else f" ({n - int(result['opened'])} down)"
    return f"{cpu:5.1f}% {fps:5.1f}{missing}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", default="1,8,32", help="concurrent streams, comma-separated (default 1,8,32)")
    p.add_argument("--res", default="360p,1080p", help="360p and/or 1080p (default both)")
    p.add_argument("--readers", default=",".join(READERS), help=f"subset of {','.join(READERS)}")
    p.add_argument("--seconds", type=float, default=8.0, help="measuring window per run (default 8)")
    p.add_argument("--warmup", type=float, default=4.0, help="seconds after start before measuring (default 4)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("urls", nargs="*", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child_main(args)
        return 0

    from ingest.demo_server import FootageServer

    ns = [int(x) for x in args.n.split(",")]
    resolutions = args.res.split(",")
    readers = args.readers.split(",")
    unknown = [r for r in readers if r not in READERS] + [r for r in resolutions if r not in PATHS]
    if unknown:
        p.error(f"unknown reader or resolution: {', '.join(unknown)}")

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores")
    print("each cell: CPU % of one core per camera, analysed fps per camera (stream: 25 fps, 1 keyframe/s)\n")
    results: dict[tuple[int, str, str], dict[str, float]] = {}
    with FootageServer.start(cameras=max(ns)) as server:
        assert server.pid is not None
        header = f"{'N':>3} {'res':>5} | " + " | ".join(f"{r:>12}" for r in readers) + " | server CPU"
        print(header)
        print("-" * len(header))
        for res in resolutions:
            for n in ns:
                urls = [server.url(f"/cam/CAM-{i:04d}/{PATHS[res]}") for i in range(1, n + 1)]
                cells = []
                server_cpu = 0.0
                for reader in readers:
                    r = run_child(reader, urls, args.warmup, args.seconds, server.pid)
                    results[(n, res, reader)] = r
                    cells.append(f"{cell(r, n):>12}")
                    server_cpu = max(server_cpu, r.get("server_cpu", 0.0))
                print(f"{n:>3} {res:>5} | " + " | ".join(cells) + f" | ≤{100 * server_cpu:.0f} %", flush=True)

    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("\ntargets")
    for n in ns:
        key = results.get((n, "1080p", "keyframe"))
        if key and "error" not in key:
            cpu = 100.0 * key["cpu_s"] / key["wall_s"] / n
            print(f"  keyframe-only, 1080p, N={n:>2}: {cpu:.2f} % of a core per camera (target ≤ 1 %)")
        for reader in ("keyframe@0.5", "pyav-key"):
            other = results.get((n, "1080p", reader))
            if other and "error" not in other:
                cpu = 100.0 * other["cpu_s"] / other["wall_s"] / n
                print(f"    {reader:>12}, 1080p, N={n:>2}: {cpu:.2f} % of a core per camera")
    for res in resolutions:
        for n in ns:
            auto, plain = results.get((n, res, "auto@1")), results.get((n, res, "cv2"))
            if auto and plain and "error" not in auto and "error" not in plain:
                ratio = (auto["cpu_s"] / auto["wall_s"]) / (plain["cpu_s"] / plain["wall_s"])
                print(f"  1 fps (auto) vs plain cv2 loop, {res:>5}, N={n:>2}: {ratio:.2f} of its CPU (target ≤ 0.25)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

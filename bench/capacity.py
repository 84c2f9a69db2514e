"""How many cameras one box watches: N real RTSP cameras through the full live pipeline, next to ultralytics'
stream predictor on the same streams.

Cameras come from the project's RTSP footage server on 127.0.0.1 (640×360, 25 fps, H.264, one keyframe a
second), in a stated mix: a share shows people walking (vtest), a share motion without people (a swaying
tree), the rest a still scene with a camera's faint sensor noise. Every camera has a crowd zone over the
lower part of the picture and asks for 1 analysed frame a second (``detect.fps: 1``, decode mode auto).

gridwatch: each N runs in a fresh process: the site loaded into SQLite, `gridwatch.monitor.SiteMonitor`
(ingest → analysis scheduler → model → rules → events on SQLite), the default model. After a warm-up it
measures for a window:
  people ≥1     cameras showing people analysed at ≥ 1 fps (≥ 0.95 frames a second over the window)
  fps           their analysed fps: min / median / max
  trees         the tree cameras' median analysed fps, and how many the motion gate found moving in at least
                half of their checks (those count as motion cameras and must reach 1 fps too; the others are
                quiet to the gate and are checked like still cameras)
  quiet gap     longest time between two analyses of a quiet camera (target ≤ 10 s)
  p95 latency   from a frame's capture (its last packet read from the socket) to its detections
  CPU           the gridwatch process, % of one core per camera, by stage: read (RTSP receive, demux, the
                reader loop), decode, gate (motion), inference (the model, its runtime's threads included),
                rules, events (storing observations), other; and per quiet camera (read + decode + gate)
  RSS, dropped (frames replaced before the detector took them), deferred (passed over by the scheduler),
  starved (analyses later than the guaranteed minimum cadence)
The RTSP server runs on the same box; its CPU is shown apart.

ultralytics: ``YOLO(<the same weights>).predict(source=<streams file>, stream=True, vid_stride=25,
imgsz=320)``, as a user would set it up for 1 analysed frame a second: its analysed fps per stream and CPU.

Targets (2-core box): ≥ 150 cameras with 25 % showing motion, every motion camera at ≥ 1 fps, p95 latency
≤ 2 s, every quiet camera checked at least every 10 s; ≥ 10× the cameras ultralytics holds at ≥ 1 fps; CPU
per quiet camera ≤ 1 % of a core.

    .venv/bin/python bench/capacity.py [--n 8,16,32,64,128,150] [--peer-n 4,8,16] [--seconds 30] [--warmup 20]
        [--people 0.15] [--trees 0.10] [--processes 1] [--no-packet-motion] [--interrupt-reads]
        [--write-costs FILE.json] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

MODEL_CACHE = REPO / ".cache" / "bench-capacity" / "models"
STREAM_FPS = 25
MOTION_OK_FPS = 0.95
"""A camera 'analysed at ≥ 1 fps' over a window: at least this many frames a second (the stream has exactly one
keyframe a second, so a window can hold one frame fewer than its seconds)."""


def mix(n: int, people: float, trees: float) -> list[str]:
    """The mount of each camera: spread so that every prefix of the list keeps the mix."""
    mounts: list[str] = []
    want_people = want_trees = 0.0
    for _ in range(n):
        want_people += people
        want_trees += trees
        if want_people >= 1:
            mounts.append("vtest-360p")
            want_people -= 1
        elif want_trees >= 1:
            mounts.append("tree")
            want_trees -= 1
        else:
            mounts.append("still")
    return mounts


def site_doc(base_url: str, mounts: list[str]) -> dict[str, Any]:
    from camera_config.generate import generate_site

    doc = generate_site(rtsp_base=base_url)
    cameras = doc["cameras"][: len(mounts)]
    for cam, mount in zip(cameras, mounts, strict=True):
        cam["streams"] = {"main": f"{base_url}/{mount}"}
        cam.pop("credentials", None)
        cam["zones"] = [{"id": "crowd", "purpose": "crowd", "points": [[0, 0.4], [1, 0.4], [1, 1], [0, 1]]}]
        cam["detect"] = {"fps": 1}
    doc["cameras"] = cameras
    return doc


# ---------------------------------------------------------------------------------------- gridwatch child


def cpu_by_thread() -> dict[int, float]:
    return {t.id: t.user_time + t.system_time for t in psutil.Process().threads()}


def child_gridwatch(args: argparse.Namespace) -> dict[str, Any]:
    from detectors.model.config import ModelConfig
    from detectors.schedule import ScheduleConfig
    from gridwatch.monitor import MonitorOptions, SiteMonitor
    from gridwatch.settings import Settings
    from gridwatch.wiring import open_service
    from ingest.reader import IngestOptions

    mounts = args.mounts.split(",")
    data = Path(tempfile.mkdtemp(prefix="gw-capacity-"))
    site_file = data / "site.yaml"
    site_file.write_text(yaml.safe_dump(site_doc(args.base_url, mounts), allow_unicode=True))
    settings = Settings(data_dir=data)
    service = open_service(settings)
    service.site.load_site(site_file)
    options = MonitorOptions(
        # INT8 calibrated on other footage than the cameras show, as a site calibrates on its own recordings.
        model=ModelConfig(cache_dir=MODEL_CACHE, calibration=settings.footage_dir / "tree.avi", threads=args.threads),
        ingest=IngestOptions(packet_motion=not args.no_packet_motion, interrupt_reads=args.interrupt_reads),
        schedule=ScheduleConfig(budget=args.budget),
    )
    monitor = SiteMonitor(
        service.site, settings, store=service.events.apply_observation, options=options, progress=lambda _: None
    )
    me = psutil.Process()
    monitor.start()
    try:
        assert monitor.worker is not None
        assert monitor.pipeline is not None
        ids = sorted(monitor.worker.camera_ids)
        kind = {cid: mount for cid, mount in zip(sorted(ids), mounts, strict=True)}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and any(h.state.value != "online" for h in monitor.worker.health()):
            time.sleep(0.5)
        online = sum(h.state.value == "online" for h in monitor.worker.health())
        time.sleep(max(args.warmup, args.start_at - time.time()))

        def snapshot() -> dict[str, Any]:
            assert monitor.worker is not None
            assert monitor.pipeline is not None
            stats = {s.camera_id: s for s in monitor.worker.stats()}
            return {
                "t": time.monotonic(),
                "cpu": sum(me.cpu_times()[:2]),
                "threads": cpu_by_thread(),
                "analysed": {cid: monitor.pipeline.counters(cid).analysed for cid in ids},
                "decode": {cid: stats[cid].decode_cpu_s for cid in ids},
                "gate": {cid: stats[cid].gate_cpu_s for cid in ids},
                "dropped": sum(s.dropped for s in stats.values()),
                "skipped_quiet": sum(s.skipped_quiet for s in stats.values()),
                "motion_ratio": {cid: stats[cid].motion_ratio for cid in ids},
                "stages": dict(monitor.pipeline.stage_cpu_s),
                "budget": monitor.scheduler.budget(),
            }

        monitor.pipeline.latencies(clear=True)
        first = snapshot()
        last_seen = dict(first["analysed"])
        analysed_at: dict[str, list[float]] = {cid: [first["t"]] for cid in ids}
        end = first["t"] + args.seconds
        while time.monotonic() < end:
            time.sleep(0.25)
            now = time.monotonic()
            for cid in ids:
                count = monitor.pipeline.counters(cid).analysed
                if count != last_seen[cid]:
                    last_seen[cid] = count
                    analysed_at[cid].append(now)
        latencies = sorted(monitor.pipeline.latencies())
        second = snapshot()
        wall = second["t"] - first["t"]
        names = {t.native_id: t.name for t in threading.enumerate() if t.native_id is not None}
        threads0, threads1 = first["threads"], second["threads"]

        def thread_cpu(match: Any) -> float:
            return float(sum(threads1[tid] - threads0.get(tid, 0.0) for tid in threads1 if match(tid)))

        reader_of = {tid: name.removeprefix("ingest-") for tid, name in names.items() if name.startswith("ingest-")}
        readers = thread_cpu(lambda tid: tid in reader_of)
        detector = thread_cpu(lambda tid: names.get(tid) == "gridwatch-detector")
        runtime = thread_cpu(lambda tid: tid not in names)  # the model runtime's own threads (not Python's)
        decode = sum(second["decode"][c] - first["decode"][c] for c in ids)
        gate = sum(second["gate"][c] - first["gate"][c] for c in ids)
        stages = {k: second["stages"][k] - first["stages"][k] for k in second["stages"]}
        total = second["cpu"] - first["cpu"]
        quiet_ids = [c for c in ids if kind[c] == "still"]
        quiet_cpu = thread_cpu(lambda tid: reader_of.get(tid) in set(quiet_ids))
        motion_ids = [c for c in ids if kind[c] != "still"]
        rates = {c: (second["analysed"][c] - first["analysed"][c]) / wall for c in ids}
        gaps = {
            c: max((b - a for a, b in zip(ts, [*ts[1:], second["t"]], strict=True)), default=wall)
            for c, ts in analysed_at.items()
        }
        b0, b1 = first["budget"], second["budget"]
        return {
            "n": len(ids),
            "online": online,
            "wall_s": wall,
            "cpu_s": total,
            "stage_cpu_s": {
                "read": readers - decode - gate,
                "decode": decode,
                "gate": gate,
                "inference": stages["inference"] + runtime,
                "fall": stages["fall"],
                "rules": stages["rules"],
                "events": detector - sum(stages.values()),
                "other": total - readers - detector - runtime,
            },
            "quiet_cpu_s": quiet_cpu,
            "quiet": len(quiet_ids),
            "motion": len(motion_ids),
            "motion_ok": sum(rates[c] >= MOTION_OK_FPS for c in motion_ids),
            "motion_fps": sorted(rates[c] for c in motion_ids),
            "people_fps": sorted(rates[c] for c in motion_ids if kind[c] == "vtest-360p"),
            "tree_fps": sorted(rates[c] for c in motion_ids if kind[c] == "tree"),
            # how often the motion gate found the swaying tree moving: it decides whether a tree camera is a
            # motion camera (analysed at 1 fps) or a quiet one (checked every 10 s)
            "tree_motion": [second["motion_ratio"][c] for c in motion_ids if kind[c] == "tree"],
            "trees_moving": sum(second["motion_ratio"][c] >= 0.5 for c in motion_ids if kind[c] == "tree"),
            "trees_moving_ok": sum(
                rates[c] >= MOTION_OK_FPS for c in motion_ids if kind[c] == "tree" and second["motion_ratio"][c] >= 0.5
            ),
            "people_ok": sum(rates[c] >= MOTION_OK_FPS for c in motion_ids if kind[c] == "vtest-360p"),
            "quiet_fps": sorted(rates[c] for c in quiet_ids),
            "quiet_gap_s": max((gaps[c] for c in quiet_ids), default=0.0),
            "latency_p50_s": statistics.median(latencies) if latencies else None,
            "latency_p95_s": latencies[int(0.95 * (len(latencies) - 1))] if latencies else None,
            "rss_mib": me.memory_info().rss / 2**20,
            "dropped": second["dropped"] - first["dropped"],
            "skipped_quiet": second["skipped_quiet"] - first["skipped_quiet"],
            "deferred": b1.deferred - b0.deferred,
            "starved": b1.starved - b0.starved,
            "busy": (b1.spent_s - b0.spent_s) / wall,
        }
    finally:
        monitor.stop()
        service.engine.dispose()


# ---------------------------------------------------------------------------------------- ultralytics child


def child_peer(args: argparse.Namespace) -> dict[str, Any]:
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "rtsp_transport;tcp"
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="gw-bench-yolo-"))
    from ultralytics import YOLO  # type: ignore[attr-defined]
    from ultralytics.utils import LOGGER

    from detectors.model.config import DEFAULT_IMGSZ, default_weights

    LOGGER.disabled = True
    urls = [f"{args.base_url}/{m}" for m in args.mounts.split(",")]
    with tempfile.NamedTemporaryFile("w", suffix=".streams", delete=False) as f:
        f.write("\n".join(urls))
    model = YOLO(str(default_weights()))
    me = psutil.Process()
    results = model.predict(source=f.name, stream=True, vid_stride=STREAM_FPS, imgsz=DEFAULT_IMGSZ, verbose=False)
    analysed = 0  # the stream generator yields one result per stream and frame
    started = time.monotonic()
    window: tuple[float, float, int] | None = None
    try:
        for _ in results:
            analysed += 1
            now = time.monotonic()
            if window is None and now - started >= args.warmup:
                window = (now, sum(me.cpu_times()[:2]), analysed)
            if window is not None and now - window[0] >= args.seconds:
                break
    finally:
        os.unlink(f.name)
    if window is None:
        return {"n": len(urls), "error": "no batch within the warm-up"}
    wall = time.monotonic() - window[0]
    return {
        "n": len(urls),
        "wall_s": wall,
        "cpu_s": sum(me.cpu_times()[:2]) - window[1],
        "fps": (analysed - window[2]) / wall / len(urls),
        "rss_mib": me.memory_info().rss / 2**20,
    }


# ---------------------------------------------------------------------------------------- parent side


def run_child(
    kind: str, mounts: list[str], args: argparse.Namespace, base_url: str, server_pid: int, processes: int = 1
) -> dict[str, Any]:
    """One run: ``processes`` children at once (gridwatch: each a worker of every ``processes``-th camera, as
    ``gridwatch worker --shard K/N`` splits a box's cameras), measuring over the same window; figures merged."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "YOLO_OFFLINE": "1"}
    limit_s = 300 + 2 * len(mounts) + args.warmup + args.seconds
    start_at = time.time() + 30 + len(mounts) / 5  # every child connected and warm by then, measuring together
    children = []
    for k in range(processes):
        part = mounts[k::processes]
        cmd = [
            sys.executable, __file__, "--child", kind, "--base-url", base_url, "--mounts", ",".join(part),
            "--warmup", str(args.warmup), "--seconds", str(args.seconds), "--start-at", str(start_at),
        ]  # fmt: skip
        if args.no_packet_motion:
            cmd.append("--no-packet-motion")
        if args.interrupt_reads:
            cmd.append("--interrupt-reads")
        cmd += ["--threads", str(args.threads), "--budget", str(args.budget)]
        children.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    server = psutil.Process(server_pid)
    s0, t0 = sum(server.cpu_times()[:2]), time.monotonic()
    results: list[dict[str, Any]] = []
    error: str | None = None
    for child in children:
        try:
            out, err = child.communicate(timeout=max(1.0, limit_s - (time.monotonic() - t0)))
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            error = error or f"no result within {limit_s:g} s"
            continue
        if child.returncode != 0:
            error = error or (err.strip().splitlines() or ["no output"])[-1]
            continue
        results.append(json.loads(out.strip().splitlines()[-1]))
    server_cpu = (sum(server.cpu_times()[:2]) - s0) / (time.monotonic() - t0)
    if error is not None or any("error" in r for r in results):
        return {"n": len(mounts), "error": error or next(r["error"] for r in results if "error" in r)}
    result = results[0] if len(results) == 1 else merge(results)
    result["server_cpu"] = server_cpu
    result["processes"] = processes
    return result


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Figures of children that measured the same window, as one box: CPU rates and counts added up, the worst
    latency and gap kept."""
    wall = statistics.mean(r["wall_s"] for r in results)

    def rate_sum(read: Any) -> float:
        return float(sum(read(r) / r["wall_s"] for r in results) * wall)

    merged: dict[str, Any] = {"wall_s": wall}
    counts = ("n", "online", "quiet", "motion", "motion_ok", "people_ok", "trees_moving", "trees_moving_ok")
    for key in (*counts, "dropped", "skipped_quiet", "deferred", "starved"):
        merged[key] = sum(r[key] for r in results)
    for key in ("motion_fps", "people_fps", "tree_fps", "tree_motion", "quiet_fps"):
        merged[key] = sorted(x for r in results for x in r[key])
    merged["cpu_s"] = rate_sum(lambda r: r["cpu_s"])
    merged["quiet_cpu_s"] = rate_sum(lambda r: r["quiet_cpu_s"])
    merged["stage_cpu_s"] = {k: rate_sum(lambda r, k=k: r["stage_cpu_s"][k]) for k in results[0]["stage_cpu_s"]}
    merged["quiet_gap_s"] = max(r["quiet_gap_s"] for r in results)
    for key in ("latency_p50_s", "latency_p95_s"):
        values = [r[key] for r in results if r[key] is not None]
        merged[key] = max(values) if values else None
    merged["rss_mib"] = sum(r["rss_mib"] for r in results)
    merged["busy"] = sum(r["busy"] for r in results)
    return merged


def pct(cpu_s: float, wall_s: float, n: int) -> float:
    return 100.0 * cpu_s / wall_s / max(1, n)


def holds(r: dict[str, Any]) -> bool:
    """The target at this N: every motion camera at ≥ 1 fps, p95 latency ≤ 2 s, quiet cameras checked ≤ 10 s."""
    if "error" in r or r["online"] < r["n"]:
        return False
    p95 = r["latency_p95_s"]
    moving_ok = r["people_ok"] == len(r["people_fps"]) and r["trees_moving_ok"] == r["trees_moving"]
    return moving_ok and p95 is not None and p95 <= 2.0 and r["quiet_gap_s"] <= 10.0


def print_gridwatch(r: dict[str, Any]) -> None:
    n = r["n"]
    if "error" in r:
        print(f"{n:>4} | failed: {r['error']}")
        return
    fps = r["people_fps"]
    spread = f"{fps[0]:.2f}/{statistics.median(fps):.2f}/{fps[-1]:.2f}" if fps else "-"
    trees = r["tree_fps"]
    tree = f"{statistics.median(trees):.2f} {r['trees_moving']}/{len(trees)}" if trees else "-"
    p95 = r["latency_p95_s"]
    stage = r["stage_cpu_s"]
    split = " ".join(f"{pct(stage[k], r['wall_s'], n):4.2f}" for k in STAGES)
    quiet = pct(r["quiet_cpu_s"], r["wall_s"], r["quiet"]) if r["quiet"] else 0.0
    print(
        f"{n:>4} | {r['people_ok']:>3}/{len(fps):<3} {spread:>14} | {tree:>9} | {r['quiet_gap_s']:5.1f} | "
        f"{'-' if p95 is None else f'{p95:5.2f}':>5} | {pct(r['cpu_s'], r['wall_s'], 1):5.0f} "
        f"{pct(r['cpu_s'], r['wall_s'], n):5.2f} | {split} | {quiet:5.2f} | {r['rss_mib']:5.0f} | "
        f"{r['dropped']:>6} {r['deferred']:>6} {r['starved']:>4} | {100 * r['server_cpu']:4.0f} % | "
        f"{'yes' if holds(r) else 'no'}",
        flush=True,
    )


STAGES = ("read", "decode", "gate", "inference", "fall", "rules", "events", "other")


def write_costs(path: Path, results: list[dict[str, Any]]) -> None:
    """Per-camera costs for `gridwatch plan --costs`, from the largest N that held the target."""
    good = [r for r in results if holds(r)] or [r for r in results if "error" not in r]
    if not good:
        return
    r = max(good, key=lambda r: r["n"])
    wall, n = r["wall_s"], r["n"]
    motion_frames = sum(r["motion_fps"]) * wall
    all_frames = motion_frames + sum(r["quiet_fps"]) * wall
    stage = r["stage_cpu_s"]
    decoded = all_frames  # keyframe-only decoding: every decoded picture is analysed
    costs = {
        "read_core_per_camera": round((stage["read"] + stage["other"]) / wall / n, 5),
        "decode_ms": {"360p": round(1000 * stage["decode"] / max(1.0, decoded), 3)},
        "gate_ms": round(1000 * stage["gate"] / max(1.0, decoded), 3),
        "inference_ms": round(1000 * (stage["inference"] + stage["fall"]) / max(1.0, motion_frames), 3),
        "still_ms": round(1000 * stage["rules"] / max(1.0, all_frames), 3),
        "events_ms": round(1000 * stage["events"] / max(1.0, all_frames), 3),
    }
    path.write_text(json.dumps(costs, indent=2) + "\n")
    print(f"\nper-camera costs from N={n} written to {path} (for `gridwatch plan --costs`)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", default="8,16,32,64,128,150", help="cameras per run, comma-separated")
    p.add_argument("--peer-n", default="4,8,16", help="streams for ultralytics' predictor, comma-separated ('' = none)")
    p.add_argument("--people", type=float, default=0.15, help="share of cameras showing people (default 0.15)")
    p.add_argument("--trees", type=float, default=0.10, help="share showing motion without people (default 0.10)")
    p.add_argument("--seconds", type=float, default=30.0, help="measuring window per run (default 30)")
    p.add_argument("--warmup", type=float, default=20.0, help="seconds after all cameras are online (default 20)")
    p.add_argument(
        "--no-packet-motion", action="store_true", help="decode every keyframe of quiet cameras (for comparison)"
    )
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        help="worker processes sharing the box's cameras (as `gridwatch worker --shard K/N` runs them; default 1)",
    )
    p.add_argument(
        "--interrupt-reads",
        action="store_true",
        help="bound reads with PyAV's interrupt callback too (IngestOptions.interrupt_reads; off by default: it costs"
        " a still camera 1.2 %% of a core more)",
    )
    p.add_argument("--threads", type=int, default=0, help="inference threads per process (default 0: every core)")
    p.add_argument("--budget", type=float, default=0.9, help="the scheduler's model seconds per second (default 0.9)")
    p.add_argument("--write-costs", type=Path, help="write per-camera costs for `gridwatch plan --costs` here")
    p.add_argument("--json", type=Path, help="also write every run's figures here")
    p.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--base-url", help=argparse.SUPPRESS)
    p.add_argument("--mounts", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        result = child_gridwatch(args) if args.child == "gridwatch" else child_peer(args)
        print(json.dumps(result), flush=True)
        return 0
    if not (0 <= args.people <= 1 and 0 <= args.trees <= 1 and args.people + args.trees <= 1):
        p.error(f"--people {args.people} and --trees {args.trees} must be shares that add up to at most 1")

    from ingest.demo_server import FootageServer

    ns = [int(x) for x in args.n.split(",") if x]
    peer_ns = [int(x) for x in args.peer_n.split(",") if x]
    print(f"{os.cpu_count()} cores; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"mix: {args.people:.0%} people walking (vtest), {args.trees:.0%} motion without people (tree), "
        f"{1 - args.people - args.trees:.0%} still; 640×360, 25 fps, 1 keyframe/s; detect.fps 1; "
        f"packet motion {'off' if args.no_packet_motion else 'on'}; window {args.seconds:g} s after "
        f"{args.warmup:g} s warm-up\n"
    )
    results: list[dict[str, Any]] = []
    peers: list[dict[str, Any]] = []
    with FootageServer.start(cameras=0) as server:
        assert server.pid is not None
        base = server.base_url
        print("gridwatch, full live pipeline (events on SQLite)")
        print(
            "   N | people≥1  fps min/med/max | trees fps moving | quiet | p95 s |  CPU% %/cam | "
            + " ".join(f"{s[:4]:>4}" for s in STAGES)
            + " | quiet%/cam |  RSS | dropped deferred starved | server | holds"
        )
        for n in ns:
            r = run_child("gridwatch", mix(n, args.people, args.trees), args, base, server.pid, args.processes)
            results.append(r)
            print_gridwatch(r)
        if peer_ns:
            print("\nultralytics YOLO.predict(source=streams, stream=True, vid_stride=25, imgsz=320), same weights")
            print("   N | fps per stream | CPU % | %/stream |  RSS | server | holds ≥1 fps")
        for n in peer_ns:
            r = run_child("peer", mix(n, args.people, args.trees), args, base, server.pid)
            peers.append(r)
            if "error" in r:
                print(f"{n:>4} | failed: {r['error']}")
                continue
            print(
                f"{n:>4} | {r['fps']:14.2f} | {pct(r['cpu_s'], r['wall_s'], 1):5.0f} | "
                f"{pct(r['cpu_s'], r['wall_s'], n):8.2f} | {r['rss_mib']:4.0f} | {100 * r['server_cpu']:4.0f} % | "
                f"{'yes' if r['fps'] >= MOTION_OK_FPS else 'no'}",
                flush=True,
            )
    best = max((r["n"] for r in results if holds(r)), default=0)
    peer_best = max((r["n"] for r in peers if "error" not in r and r["fps"] >= MOTION_OK_FPS), default=0)
    print(f"\nlargest N that holds the target: gridwatch {best} (target ≥ 150)", end="")
    if peers:
        ratio = f"{best / peer_best:.1f}×" if peer_best else "∞ (it held none)"
        print(f"; ultralytics {peer_best} at ≥ 1 fps → {ratio} (target ≥ 10×)", end="")
    print()
    quiet = [pct(r["quiet_cpu_s"], r["wall_s"], r["quiet"]) for r in results if "error" not in r and r["quiet"]]
    if quiet:
        print(f"CPU per quiet camera (read + decode + gate): {min(quiet):.2f}–{max(quiet):.2f} % of a core (≤ 1 %)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.write_costs:
        write_costs(args.write_costs, results)
    if args.json:
        args.json.write_text(json.dumps({"gridwatch": results, "ultralytics": peers}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`gridwatch watch`: ingest only, with each camera's health and stats printed every few seconds."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from camera_config.types import Camera
from gridwatch.commands.common import Subparsers, add_command, out, service_from_args
from gridwatch.settings import DEMO_SITE

if TYPE_CHECKING:
    from ingest.worker import IngestWorker


def _health_lines(worker: IngestWorker) -> list[str]:
    """One line per camera (readable in a terminal and in a log file alike)."""
    colours = {"online": "green", "degraded": "yellow", "offline": "red", "starting": "cyan"}
    stats = {s.camera_id: s for s in worker.stats()}
    width = max((len(cid) for cid in stats), default=0)
    lines = []
    for h in worker.health():
        s = stats[h.camera_id]
        state = f"[{colours[h.state.value]}]{h.state.value:<8}[/]"
        since = h.since.strftime("%H:%M:%S")
        if h.state.value in ("offline", "starting"):
            reason = f"{h.reason.value}: " if h.reason else ""
            lines.append(f"{h.camera_id:<{width}}  {state}  since {since}  {reason}{h.detail or ''}")
            continue
        mode = s.decode_mode or "—"
        if s.keyframe_interval_s:
            mode += f", keyframe every {s.keyframe_interval_s:.1f} s"
        age = f"{s.last_frame_age_s:.1f} s" if s.last_frame_age_s is not None else "—"
        gated = worker.camera(h.camera_id).detect.motion_gating
        motion = f"motion {s.motion_ratio:4.0%}" if gated else "gating off"
        lines.append(
            f"{h.camera_id:<{width}}  {state}  since {since}  in {s.input_fps:4.1f} fps  analysed {s.analysed_fps:4.1f}"
            f" fps ({mode})  {motion}  decode {s.decode_ms:.1f} ms  last frame {age} ago  "
            f"{h.reconnects_last_hour} reconnects/h" + (f"  {h.detail}" if h.detail else "")
        )
    return lines


def cmd_watch(args: argparse.Namespace) -> int:
    from core.errors import NotFound
    from ingest.demo_server import start_demo_sources
    from ingest.gateways import GatewayClients
    from ingest.worker import IngestWorker

    service = service_from_args(args)
    settings = service.settings
    site_file: Path | None = args.site or (
        DEMO_SITE if settings.demo and not service.site.counts()["cameras"] else None
    )
    if site_file is not None:
        service.load_site(site_file)

    def wanted() -> list[Camera]:
        cameras = service.site.cameras(enabled_only=True)
        if args.camera:
            known = {c.id for c in cameras}
            missing = [cid for cid in args.camera if cid not in known]
            if missing:
                raise NotFound(f"no enabled camera {', '.join(repr(m) for m in missing)} in the site")
            cameras = [c for c in cameras if c.id in args.camera]
        return cameras

    cameras = wanted()
    if not cameras:
        out.print("no enabled cameras to watch: load a site with `gridwatch site load FILE` (or use --demo)")
        return 0
    demo = start_demo_sources(footage_dir=settings.footage_dir) if settings.demo else None
    if demo is not None:
        out.print(demo.message)
    gateways = GatewayClients(service.site.gateways.access)  # cameras behind GB/T 28181 gateways
    worker = IngestWorker(service.site.credentials, allow_files=settings.demo, gateways=gateways.resolve)
    try:
        worker.apply(demo.cameras(cameras) if demo else cameras)
        out.print(f"watching {len(cameras)} camera(s); Ctrl-C to stop")
        revisions = service.site.revisions()
        start = time.monotonic()
        next_print = start + args.interval
        next_reload = start + args.reload
        while args.duration is None or time.monotonic() - start < args.duration:
            time.sleep(0.1)
            now = time.monotonic()
            if now >= next_reload:
                next_reload = now + args.reload
                latest = service.site.revisions()
                if latest != revisions:  # the site model changed: apply it to the running cameras
                    revisions = latest
                    cameras = wanted()
                    res = worker.apply(demo.cameras(cameras) if demo else cameras)
                    out.print(f"site changed: {res.summary()}")
            if now >= next_print:
                next_print = now + args.interval
                out.print(f"[bold]{time.strftime('%H:%M:%S')}[/bold] cameras")
                for line in _health_lines(worker):
                    out.print("  " + line, soft_wrap=True)
    except KeyboardInterrupt:
        pass
    finally:
        worker.close()
        gateways.close()
        if demo is not None:
            demo.close()
    return 0


def register(sub: Subparsers) -> None:
    w = add_command(
        sub,
        "watch",
        "run the ingest workers for the site's enabled cameras and print their health and stats",
        "Runs the ingest workers (no detection) for the enabled cameras and prints, every few seconds, "
        "each camera's health (online / degraded / offline with the reason) and stats. Changes to the site "
        "model are applied to the running cameras. With --demo, the demo cameras are served by the RTSP test "
        "server (or read from the footage files when it cannot start).",
        func=cmd_watch,
    )
    w.add_argument("--camera", action="append", metavar="ID", help="watch only this camera (repeatable)")
    w.add_argument("--interval", type=float, default=5.0, help="seconds between reports (default 5)")
    w.add_argument("--duration", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    w.add_argument("--reload", type=float, default=5.0, help="seconds between checks for site changes (default 5)")
    w.add_argument("--site", type=Path, help="site YAML to load first (with --demo and an empty site: the demo site)")

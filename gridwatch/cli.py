"""The `gridwatch` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.tree import Tree

from camera_config.errors import GridwatchError, InvalidInput
from camera_config.model import Camera
from camera_config.store import ImportReport, TreeNode
from gridwatch.settings import REPO_ROOT, Settings

if TYPE_CHECKING:
    from ingest.worker import IngestWorker

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

DEMO_SITE = REPO_ROOT / "examples" / "demo-site.yaml"


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if getattr(args, "demo", False):
        overrides["demo"] = True
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = args.data_dir
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    return Settings(**overrides)  # type: ignore[arg-type]


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _print_report(report: ImportReport, what: str) -> None:
    out.print(
        f"{what}: {report.created} created, {report.updated} updated, {report.unchanged} unchanged"
        + (f", {len(report.skipped)} skipped" if report.skipped else "")
    )
    for issue in report.skipped:
        out.print(f"  skipped {issue}")


# ---------------------------------------------------------------------------- commands


def cmd_run(args: argparse.Namespace) -> int:
    import uvicorn

    from gridwatch.runner import build_app

    settings = _settings(args)
    site_file: Path | None = args.site or (DEMO_SITE if settings.demo else None)
    app, service = build_app(settings, site_file=site_file)
    counts = service.site.counts()
    out.print(
        f"gridwatch: {counts['cameras']} cameras, {counts['grids']} grids; database {settings.db_url.split('://')[0]}; "
        f"console on http://{settings.host}:{settings.port}"
    )
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level)
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    from camera_config.validate import load_site_file, read_camera_csv

    path: Path = args.file
    settings = _settings(args)
    if path.suffix.lower() == ".csv":
        from gridwatch.wiring import open_service

        service = open_service(settings)
        batch = read_camera_csv(
            _read_text(path), source=path.name, allow_files=settings.demo, existing=service.site.index()
        )
        out.print(f"{path}: {batch.rows} cameras, all valid")
        return 0
    site = load_site_file(path, allow_files=settings.demo)
    out.print(
        f"{path}: valid — {len(site.communities)} communities, {len(site.compounds)} compounds, "
        f"{len(site.grids)} grids, {len(site.people)} people, {len(site.cameras)} cameras"
    )
    return 0


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: not UTF-8 text (byte offset {exc.start})") from None


def cmd_import_cameras(args: argparse.Namespace) -> int:
    from gridwatch.wiring import open_service

    service = open_service(_settings(args))
    path: Path = args.file
    text = _read_text(path)
    with _progress("importing cameras") as progress:
        report = service.site.import_cameras(text, source=path.name, skip_invalid=args.skip_invalid, progress=progress)
    _print_report(report, str(path))
    return 0


def cmd_site_load(args: argparse.Namespace) -> int:
    from gridwatch.wiring import open_service

    service = open_service(_settings(args))
    with _progress("loading site") as progress:
        report = service.site.load_site(args.file, progress=progress)
    _print_report(report, f"{args.file} cameras")
    return 0


def _tree(node: TreeNode, parent: Tree) -> None:
    label = f"{node.name} [dim]({node.kind.replace('_', ' ')} {node.id}"
    if node.kind != "camera":
        label += f", {node.cameras} cameras" + (
            f", {node.cameras - node.enabled_cameras} disabled" if node.enabled_cameras != node.cameras else ""
        )
    elif not node.enabled_cameras:
        label += ", disabled"
    label += ")[/dim]"
    branch = parent.add(label)
    if node.grids:
        grids = branch.add(f"[bold]grids[/bold] [dim]({len(node.grids)})[/dim]")
        for g in node.grids:
            grids.add(
                f"{g.id} {g.name} [dim]({g.cameras} cameras, worker: {g.grid_worker or '—'}, "
                f"{g.building_leaders} building leaders, party group: {g.party_group_id or '—'})[/dim]"
            )
    for child in node.children:
        _tree(child, branch)


def cmd_site_show(args: argparse.Namespace) -> int:
    from gridwatch.wiring import open_service

    service = open_service(_settings(args))
    nodes = service.site.tree(with_cameras=args.cameras)
    if not nodes:
        out.print("the site is empty: load one with `gridwatch site load FILE`")
        return 0
    root = Tree("[bold]site[/bold]")
    for n in nodes:
        _tree(n, root)
    out.print(root)
    counts = service.site.counts()
    out.print(
        f"{counts['streets']} street(s), {counts['communities']} communities, {counts['property_companies']} property "
        f"companies, {counts['compounds']} compounds, {counts['grids']} grids, {counts['cameras']} cameras, "
        f"{counts['people.grid_worker']} grid workers, {counts['people.building_leader']} building leaders, "
        f"{counts['party_groups']} party groups"
    )
    return 0


def cmd_site_generate(args: argparse.Namespace) -> int:
    from camera_config.generate import cameras_csv, generate_site

    outdir: Path = args.out_dir
    outdir.mkdir(parents=True, exist_ok=True)
    doc = generate_site(rtsp_base=args.rtsp_base)
    (outdir / "site.yaml").write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    skeleton = {k: v for k, v in doc.items() if k != "cameras"}
    (outdir / "site-skeleton.yaml").write_text(yaml.safe_dump(skeleton, sort_keys=False), encoding="utf-8")
    (outdir / "cameras.csv").write_text(cameras_csv(doc["cameras"]), encoding="utf-8")
    out.print(f"wrote {outdir}/site.yaml ({len(doc['cameras'])} cameras), site-skeleton.yaml (no cameras), cameras.csv")
    return 0


def cmd_export_cameras(args: argparse.Namespace) -> int:
    from gridwatch.wiring import open_service

    text = open_service(_settings(args)).site.export_cameras_csv()
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        out.print(f"wrote {args.output} ({text.count(chr(10)) - 1} cameras; passwords are never exported)")
    else:
        sys.stdout.write(text)
    return 0


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
    import time
    from dataclasses import asdict

    from camera_config.errors import NotFound
    from gridwatch.wiring import open_service
    from ingest.demo_server import start_demo_sources
    from ingest.worker import IngestWorker

    settings = _settings(args)
    service = open_service(settings)
    site_file: Path | None = args.site or (
        DEMO_SITE if settings.demo and not service.site.counts()["cameras"] else None
    )
    if site_file is not None:
        service.site.load_site(site_file)

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
    worker = IngestWorker(service.site.credentials, allow_files=settings.demo)
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
                    changes = {k: v for k, v in asdict(res).items() if v and k != "unchanged"}
                    out.print("site changed: " + "; ".join(f"{k} {', '.join(v)}" for k, v in changes.items()))
            if now >= next_print:
                next_print = now + args.interval
                out.print(f"[bold]{time.strftime('%H:%M:%S')}[/bold] cameras")
                for line in _health_lines(worker):
                    out.print("  " + line, soft_wrap=True)
    except KeyboardInterrupt:
        pass
    finally:
        worker.close()
        if demo is not None:
            demo.close()
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from gridwatch.db import current_revision
    from gridwatch.wiring import open_service

    service = open_service(_settings(args))
    out.print(f"database at revision {current_revision(service.engine)}")
    return 0


# ---------------------------------------------------------------------------- parser


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, help="data directory (default $GRIDWATCH_DATA_DIR or ./var)")
    common.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in the data dir)")
    common.add_argument("--demo", action="store_true", help="demo mode: accept local files as camera sources")

    p = argparse.ArgumentParser(
        prog="gridwatch",
        description="Turns a community camera network into hazard cases for the grids that govern it.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", parents=[common], help="start the service (API and console)")
    r.add_argument("--site", type=Path, help="site YAML to load at start (with --demo: the demo site)")
    r.set_defaults(func=cmd_run)

    c = sub.add_parser("check-config", parents=[common], help="validate a site YAML or a camera CSV; list every error")
    c.add_argument(
        "file",
        type=Path,
        help="site .yaml (checked on its own) or cameras .csv (checked against the database)",
    )
    c.set_defaults(func=cmd_check_config)

    i = sub.add_parser("import-cameras", parents=[common], help="bulk-import cameras from CSV (all-or-nothing)")
    i.add_argument("file", type=Path, help="CSV with columns id,name,compound,grid,level,rtsp_url,sub_url,...")
    i.add_argument("--skip-invalid", action="store_true", help="import the valid rows and report the rest")
    i.set_defaults(func=cmd_import_cameras)

    site = sub.add_parser("site", help="the site model: show, load, generate, export")
    ss = site.add_subparsers(dest="site_command", required=True, metavar="SUBCOMMAND")
    show = ss.add_parser("show", parents=[common], help="tree street → community → property → compound, with counts")
    show.add_argument("--cameras", action="store_true", help="list every camera too")
    show.set_defaults(func=cmd_site_show)
    load = ss.add_parser("load", parents=[common], help="insert or update everything in a site YAML")
    load.add_argument("file", type=Path)
    load.set_defaults(func=cmd_site_load)
    gen = ss.add_parser("generate", help="write the full-size example site (1,751 cameras) to a directory")
    gen.add_argument("out_dir", type=Path)
    gen.add_argument("--rtsp-base", default="rtsp://127.0.0.1:8554", help="prefix of the generated stream URLs")
    gen.set_defaults(func=cmd_site_generate)
    exp = ss.add_parser("export-cameras", parents=[common], help="cameras as an import-ready CSV (no passwords)")
    exp.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    exp.set_defaults(func=cmd_export_cameras)

    w = sub.add_parser(
        "watch",
        parents=[common],
        help="run the ingest workers for the site's enabled cameras and print their health and stats",
        description="Runs the ingest workers (no detection) for the enabled cameras and prints, every few seconds, "
        "each camera's health (online / degraded / offline with the reason) and stats. Changes to the site "
        "model are applied to the running cameras. With --demo, the demo cameras are served by the RTSP test "
        "server (or read from the footage files when it cannot start).",
    )
    w.add_argument("--camera", action="append", metavar="ID", help="watch only this camera (repeatable)")
    w.add_argument("--interval", type=float, default=5.0, help="seconds between reports (default 5)")
    w.add_argument("--duration", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    w.add_argument("--reload", type=float, default=5.0, help="seconds between checks for site changes (default 5)")
    w.add_argument("--site", type=Path, help="site YAML to load first (with --demo and an empty site: the demo site)")
    w.set_defaults(func=cmd_watch)

    dbp = sub.add_parser("db", help="database maintenance")
    dbs = dbp.add_subparsers(dest="db_command", required=True, metavar="SUBCOMMAND")
    up = dbs.add_parser("upgrade", parents=[common], help="migrate the database to the current schema")
    up.set_defaults(func=cmd_db_upgrade)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except InvalidInput as exc:
        for issue in exc.issues:
            err.print(f"[red]error[/red] {issue}", soft_wrap=True)
        err.print(f"{len(exc.issues)} error(s); nothing was changed")
        return 1
    except GridwatchError as exc:
        err.print(f"[red]error[/red] {exc}", soft_wrap=True)
        return 1
    return code

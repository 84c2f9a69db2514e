"""The `gridwatch` command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.tree import Tree

from camera_config.store import ImportReport, TreeNode
from camera_config.types import Camera
from core.errors import GridwatchError, InvalidInput
from core.files import read_text_file
from core.redact import redact_logs
from gridwatch import events_cli
from gridwatch.settings import REPO_ROOT, Settings, settings_from_args

if TYPE_CHECKING:
    from api.users import UserStore
    from ingest.worker import IngestWorker

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

DEMO_SITE = REPO_ROOT / "examples" / "demo-site.yaml"


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
    import logging

    import uvicorn

    from gridwatch.runner import build_app

    settings = settings_from_args(args)
    site_file: Path | None = args.site or (DEMO_SITE if settings.demo else None)
    app, service, live = build_app(settings, site_file=site_file, progress=lambda line: out.print(line, soft_wrap=True))
    # The pipeline's threads log what they do (site changes applied, refused observations, retries).
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact_logs()
    counts = service.site.counts()
    out.print(
        f"gridwatch: {counts['cameras']} cameras, {counts['grids']} grids; database {settings.db_url.split('://')[0]}"
    )
    if live is None:
        out.print("detection off (--no-detect / GRIDWATCH_DETECT=0): serving the API and console only")
    else:
        try:
            live.start()
        except GridwatchError as exc:
            err.print(f"[red]detection not started[/red]: {exc}; serving the API and console only", soft_wrap=True)
            live = None
    out.print(f"console on http://{settings.host}:{settings.port}")
    if settings.demo:
        from api.demo import ensure_demo_users

        out.print("demo logins (new passwords at every start):")
        for login in ensure_demo_users(service.engine, service.site):
            out.print(f"  {login.username:<11} {login.password:<18} {login.role.value} ({login.scope})")
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level)
    finally:
        if live is not None:
            out.print("stopping detection and camera streams")
            live.stop()
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    from camera_config.validate import load_site_file, read_camera_csv

    path: Path = args.file
    settings = settings_from_args(args)
    if path.suffix.lower() == ".csv":
        from gridwatch.wiring import open_service

        service = open_service(settings)
        batch = read_camera_csv(
            read_text_file(path), source=path.name, allow_files=settings.demo, existing=service.site.index()
        )
        out.print(f"{path}: {batch.rows} cameras, all valid")
        return 0
    site = load_site_file(path, allow_files=settings.demo)
    out.print(
        f"{path}: valid — {len(site.communities)} communities, {len(site.compounds)} compounds, "
        f"{len(site.grids)} grids, {len(site.people)} people, {len(site.cameras)} cameras"
    )
    return 0


def cmd_import_cameras(args: argparse.Namespace) -> int:
    from gridwatch.wiring import open_service

    service = open_service(settings_from_args(args))
    path: Path = args.file
    text = read_text_file(path)
    with _progress("importing cameras") as progress:
        report = service.site.import_cameras(text, source=path.name, skip_invalid=args.skip_invalid, progress=progress)
    _print_report(report, str(path))
    return 0


def cmd_site_load(args: argparse.Namespace) -> int:
    from gridwatch.wiring import open_service

    service = open_service(settings_from_args(args))
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

    service = open_service(settings_from_args(args))
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

    text = open_service(settings_from_args(args)).site.export_cameras_csv()
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

    from core.errors import NotFound
    from gridwatch.wiring import open_service
    from ingest.demo_server import start_demo_sources
    from ingest.worker import IngestWorker

    settings = settings_from_args(args)
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
        if demo is not None:
            demo.close()
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from gridwatch.db import current_revision
    from gridwatch.wiring import open_service

    service = open_service(settings_from_args(args))
    out.print(f"database at revision {current_revision(service.engine)}")
    return 0


def _users(args: argparse.Namespace) -> UserStore:
    from api.users import UserStore
    from core.clock import SystemClock
    from core.db import session_factory
    from gridwatch.wiring import open_service

    service = open_service(settings_from_args(args))
    return UserStore(session_factory(service.engine), service.site, SystemClock())


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """(password, generated): one line from standard input with --password-stdin, else a new random one."""
    from api.users import generate_password

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    return generate_password(), True


def cmd_user_add(args: argparse.Namespace) -> int:
    from api.access import Role, Scope

    users = _users(args)
    role = Role(args.role)
    password, generated = (None, False) if role is Role.WORKER else _password(args)
    user = users.create(
        args.username,
        role,
        scope=Scope.parse(args.scope) if args.scope else None,
        display_name=args.name,
        password=password,
        person_id=args.person,
    )
    out.print(f'created user "{user.username}" ({user.role.value}, scope {user.scope})')
    if generated:
        out.print(f"password: {password}  (shown once)")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    for user in _users(args).all():
        state = " [disabled]" if user.disabled else ""
        out.print(f"{user.username:<20} {user.role.value:<12} {user.scope!s:<24} {user.display_name}{state}")
    return 0


def cmd_user_passwd(args: argparse.Namespace) -> int:
    users = _users(args)
    password, generated = _password(args)
    user = users.update(args.username, password=password)
    out.print(f'new password for "{user.username}"; their console sessions have ended')
    if generated:
        out.print(f"password: {password}  (shown once)")
    return 0


def cmd_user_token(args: argparse.Namespace) -> int:
    new = _users(args).create_token(args.username, args.name, expires_in_s=args.days * 86400.0 if args.days else None)
    out.print(f'token {new.token.id} "{new.token.name}" for "{new.token.username}" (shown once):')
    sys.stdout.write(new.secret + "\n")
    return 0


# ---------------------------------------------------------------------------- detectors: model and evaluation


def _model_config(args: argparse.Namespace, settings: Settings) -> object:
    from detectors.model import Backend, ModelConfig

    settings.prepare()
    return ModelConfig(
        weights=args.weights,
        backend=Backend(getattr(args, "backend", "auto")),
        imgsz=getattr(args, "imgsz", 640),
        threads=getattr(args, "threads", 0),
        cache_dir=settings.data_dir / "models",
        calibration=getattr(args, "calibration", None) or settings.model_calibration,
    )


def cmd_model_export(args: argparse.Namespace) -> int:
    from detectors.model import Backend, ModelConfig, export_model

    config = _model_config(args, settings_from_args(args))
    assert isinstance(config, ModelConfig)
    fmt = Backend(args.format)
    started = time.monotonic()

    def progress(step: str) -> None:
        err.print(f"[{time.monotonic() - started:5.1f} s] {step}")

    path = export_model(
        config.resolved_weights(),
        fmt,
        config.resolved_cache_dir(),
        progress=progress,
        force=args.force,
        calibration=config.calibration,
        imgsz=config.imgsz,
    )
    out.print(f"{fmt.value} model: {path.parent}")
    return 0


def _eval_camera(args: argparse.Namespace) -> object:
    from camera_config.validate import load_site_file
    from detectors.evaluate import file_camera

    if args.camera_config is None:
        return file_camera(args.clip.stem)
    site = load_site_file(args.camera_config, allow_files=True)
    cameras = [r.camera for r in site.cameras]
    if args.camera is not None:
        cameras = [c for c in cameras if c.id == args.camera]
        if not cameras:
            raise InvalidInput(f'--camera: no camera "{args.camera}" in {args.camera_config}')
    if not cameras:
        raise InvalidInput(f"{args.camera_config}: no cameras")
    return cameras[0]


def _frames_expected(clip: Path, every_s: float) -> int:
    import cv2

    cap = cv2.VideoCapture(str(clip))
    try:
        frames, fps = cap.get(cv2.CAP_PROP_FRAME_COUNT), cap.get(cv2.CAP_PROP_FPS) or 25.0
    finally:
        cap.release()
    return int(frames / fps / every_s) + 1 if frames > 0 else 0


def cmd_eval(args: argparse.Namespace) -> int:
    from camera_config.types import Camera
    from detectors.evaluate import Labels, evaluate_clip, read_labels
    from detectors.model import Detector, ModelConfig
    from detectors.pipeline import DetectorPipeline, Mode, PipelineConfig

    if not args.clip.is_file():
        raise InvalidInput(f"{args.clip}: no such video file")
    settings = settings_from_args(args)
    config = _model_config(args, settings)
    assert isinstance(config, ModelConfig)
    camera = _eval_camera(args)
    assert isinstance(camera, Camera)
    counts: dict[int, int] = {}
    episodes: list[object] = []
    for path in args.labels or []:
        found = read_labels(path)
        counts |= found.counts
        episodes += found.episodes
    labels = Labels(counts, tuple(episodes))  # type: ignore[arg-type]
    detector = Detector(config, progress=lambda step: err.print(f"model: {step}"))
    every_s = args.every if args.every is not None else 1.0 / camera.detect.fps
    pipeline = DetectorPipeline(detector, config=PipelineConfig(mode=Mode(args.mode), track_fps=1.0 / every_s))
    expected = _frames_expected(args.clip, every_s)
    with _progress(f"analysing {args.clip.name}") as progress:
        report = evaluate_clip(
            args.clip,
            camera,
            pipeline,
            labels=labels,
            every_s=every_s,
            progress=lambda n: progress(n, max(n, expected)),
        )
    out.print(
        f"{report.clip}: {report.frames} frames analysed ({report.corrupt} corrupt), camera {camera.id}, "
        f"backend {detector.backend.value}, {args.mode}, median {report.median_ms:.0f} ms a frame"
    )
    by_hazard = report.alerts_by_hazard()
    out.print("alerts: " + (", ".join(f"{k} {v}" for k, v in sorted(by_hazard.items())) if by_hazard else "none"))
    for e in report.episodes:
        end = f"{e.end_s:.1f}" if e.end_s is not None else "open"
        zone = f" [{e.zone_id}]" if e.zone_id else ""
        out.print(f"  {e.start_s:7.1f} s – {end:>6} s  {e.hazard.value}{zone}: {e.summary}")
    if report.counts:
        out.print(
            f"people count on {len(report.counts)} labelled frames: mean absolute error {report.count_mae:.2f}, "
            f"bias {report.count_bias:+.2f}"
        )
    if report.labelled_episodes:
        p, r = report.precision, report.recall
        out.print(f"episodes: precision {p if p is not None else float('nan'):.2f}, recall {r:.2f}")
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

    r = sub.add_parser(
        "run",
        parents=[common],
        help="start the service: API, console and the live pipeline (cameras → detection → alerts)",
        description="Serves the API and console and, unless --no-detect, pulls every enabled camera, runs the "
        "detectors and raises alerts (camera edits apply while running). With --demo, the demo site's cameras "
        "are served from the real footage by the RTSP test server (or read from the files).",
    )
    r.add_argument("--site", type=Path, help="site YAML to load at start (with --demo: the demo site)")
    r.add_argument(
        "--no-detect",
        action="store_true",
        help="serve the API and console only: no camera pulls, no detection (also GRIDWATCH_DETECT=0)",
    )
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

    users = sub.add_parser("user", help="console and API accounts: add, list, passwd, token")
    us = users.add_subparsers(dest="user_command", required=True, metavar="SUBCOMMAND")
    ua = us.add_parser("add", parents=[common], help="create an account (prints a generated password once)")
    ua.add_argument("username")
    ua.add_argument(
        "--role",
        required=True,
        choices=["admin", "operator", "grid_worker", "integrator", "viewer", "worker"],
        help="worker = a detection worker process: API tokens only, no password",
    )
    ua.add_argument(
        "--scope",
        help="site, street:ID, community:ID[,ID] or grids:ID[,ID] (operators: street or community; "
        "grid workers: grids)",
    )
    ua.add_argument("--name", help="display name (default: the user name)")
    ua.add_argument("--person", help="id of the person in the site model this account belongs to")
    ua.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    ua.set_defaults(func=cmd_user_add)
    ul = us.add_parser("list", parents=[common], help="every account with role and scope")
    ul.set_defaults(func=cmd_user_list)
    up = us.add_parser("passwd", parents=[common], help="set a new password (ends the user's console sessions)")
    up.add_argument("username")
    up.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    up.set_defaults(func=cmd_user_passwd)
    ut = us.add_parser("token", parents=[common], help="new API token for an account (printed once)")
    ut.add_argument("username")
    ut.add_argument("--name", default="cli", help="what the token is for")
    ut.add_argument("--days", type=int, help="expire after this many days (default: never)")
    ut.set_defaults(func=cmd_user_token)
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

    events_cli.add_commands(sub, common)
    model = sub.add_parser("model", help="the detection model: export to a faster backend")
    ms = model.add_subparsers(dest="model_command", required=True, metavar="SUBCOMMAND")
    mexp = ms.add_parser(
        "export",
        parents=[common],
        help="export the weights to OpenVINO or ONNX, fp32 or INT8, into the data dir's model cache "
        "(used automatically after)",
    )
    mexp.add_argument(
        "--format",
        choices=["openvino", "onnx", "openvino-int8", "onnx-int8"],
        default="openvino",
        help="export format; the -int8 ones are calibrated on --calibration frames and checked against fp32",
    )
    mexp.add_argument(
        "--calibration",
        type=Path,
        help="for the -int8 formats: a clip, an image or a folder of snapshots from your cameras "
        "(default: $GRIDWATCH_CALIBRATION)",
    )
    mexp.add_argument("--weights", type=Path, help="ultralytics weights file (default: the shipped person model)")
    mexp.add_argument("--force", action="store_true", help="export again even when an up-to-date export exists")
    mexp.set_defaults(func=cmd_model_export)

    ev = sub.add_parser(
        "eval",
        parents=[common],
        help="run a video file through the detectors; report alerts and, with labels, count error and precision/recall",
    )
    ev.add_argument("clip", type=Path, help="video file")
    ev.add_argument(
        "--labels",
        type=Path,
        action="append",
        help="labels CSV: frame,people (count error) or hazard,start_s,end_s[,zone] (episodes); repeatable",
    )
    ev.add_argument("--camera-config", type=Path, help="site YAML whose camera (zones, thresholds) to apply")
    ev.add_argument("--camera", help="camera id in --camera-config (default: its first camera)")
    ev.add_argument("--every", type=float, help="seconds of video between analysed frames (default: 1 / camera fps)")
    ev.add_argument("--weights", type=Path, help="ultralytics weights file (default: the shipped person model)")
    ev.add_argument("--backend", choices=["auto", "torch", "onnx", "openvino"], default="auto")
    ev.add_argument("--imgsz", type=int, default=640, help="model input size for whole frames")
    ev.add_argument(
        "--mode", choices=["regions", "full"], default="regions", help="motion-region crops or whole frames"
    )
    ev.add_argument("--threads", type=int, default=0, help="inference threads (default: every core)")
    ev.set_defaults(func=cmd_eval)
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

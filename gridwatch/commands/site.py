"""`gridwatch check-config`, `import-cameras` and `site ...`: the site model (streets down to cameras) from the
shell."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml
from rich.tree import Tree

from api.audit import AuditAction
from camera_config.store import ImportReport, TreeNode
from core.files import read_text_file
from gridwatch.commands.common import Subparsers, add_command, add_group, out, progress, service_from_args
from gridwatch.settings import settings_from_args


def _print_report(report: ImportReport, what: str) -> None:
    out.print(
        f"{what}: {report.created} created, {report.updated} updated, {report.unchanged} unchanged"
        + (f", {len(report.skipped)} skipped" if report.skipped else "")
    )
    for issue in report.skipped:
        out.print(f"  skipped {issue}")
    for issue in report.warnings:
        out.print(f"  warning {issue}")


def cmd_check_config(args: argparse.Namespace) -> int:
    from camera_config.camera_csv import read_camera_csv
    from camera_config.validate import load_site_file

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
    from api.access import Role
    from events.notify.config import parse_channels

    site = load_site_file(path, allow_files=settings.demo)
    roles = [r.value for r in Role if r is not Role.WORKER]
    channels = parse_channels(site.notifications, roles=roles, allow_hosts=settings.allow_hosts)
    out.print(
        f"{path}: valid — {len(site.communities)} communities, {len(site.compounds)} compounds, "
        f"{len(site.grids)} grids, {len(site.people)} people, {len(site.cameras)} cameras, "
        f"{len(channels)} notification channels"
    )
    return 0


def cmd_import_cameras(args: argparse.Namespace) -> int:
    service = service_from_args(args)
    path: Path = args.file
    text = read_text_file(path)
    with progress("importing cameras") as update:
        report = service.site.import_cameras(text, source=path.name, skip_invalid=args.skip_invalid, progress=update)
    _print_report(report, str(path))
    service.record_cli(AuditAction.CAMERAS_IMPORTED, path.name, report.summary())
    return 0


def cmd_site_load(args: argparse.Namespace) -> int:
    service = service_from_args(args)
    with progress("loading site") as update:
        report = service.load_site(args.file, progress=update)
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
    service = service_from_args(args)
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
    service = service_from_args(args)
    text = service.site.export_cameras_csv()
    service.record_cli(AuditAction.CAMERAS_EXPORTED, str(args.output or "stdout"), f"{text.count(chr(10)) - 1} cameras")
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        out.print(f"wrote {args.output} ({text.count(chr(10)) - 1} cameras; passwords are never exported)")
    else:
        sys.stdout.write(text)
    return 0


def register(sub: Subparsers) -> None:
    c = add_command(
        sub,
        "check-config",
        "validate a site YAML or a camera CSV; list every error",
        "Checks a site YAML on its own, or a camera CSV against the site in the database, and lists every "
        "error with the line or key it is on. Nothing is imported.",
        func=cmd_check_config,
    )
    c.add_argument(
        "file",
        type=Path,
        help="site .yaml (checked on its own) or cameras .csv (checked against the database)",
    )

    i = add_command(
        sub,
        "import-cameras",
        "bulk-import cameras from CSV (all-or-nothing)",
        "Adds the cameras of a CSV file to the site, or updates them. One invalid row and nothing is imported, "
        "unless --skip-invalid.",
        func=cmd_import_cameras,
    )
    i.add_argument("file", type=Path, help="CSV with columns id,name,compound,grid,level,rtsp_url,sub_url,...")
    i.add_argument("--skip-invalid", action="store_true", help="import the valid rows and report the rest")

    ss = add_group(
        sub,
        "site",
        "the site model: show, load, generate, export",
        "The site model (streets, communities, property companies, compounds, grids, people, party groups "
        "and cameras): show it, load it from YAML, generate the full-size example, export the cameras.",
    )
    show = add_command(
        ss,
        "show",
        "tree street → community → property → compound, with counts",
        "Prints the site as a tree, street → community → property company → compound with each one's grids "
        "and camera counts, then how many of everything the site has.",
        func=cmd_site_show,
    )
    show.add_argument("--cameras", action="store_true", help="list every camera too")
    load = add_command(
        ss,
        "load",
        "insert or update everything in a site YAML",
        "Inserts or updates everything in a site YAML and reports how many cameras were created, updated "
        "or left unchanged.",
        func=cmd_site_load,
    )
    load.add_argument("file", type=Path, help="site YAML (the format of examples/demo-site.yaml)")
    gen = add_command(
        ss,
        "generate",
        "write the full-size example site (1,751 cameras) to a directory",
        "Writes the full-size example site to a directory: site.yaml (everything, 1,751 cameras), "
        "site-skeleton.yaml (everything but the cameras) and cameras.csv (the cameras, for import-cameras).",
        opens_database=False,
        func=cmd_site_generate,
    )
    gen.add_argument("out_dir", type=Path, help="directory to write the three files to (created if missing)")
    gen.add_argument("--rtsp-base", default="rtsp://127.0.0.1:8554", help="prefix of the generated stream URLs")
    exp = add_command(
        ss,
        "export-cameras",
        "cameras as an import-ready CSV (no passwords)",
        "Writes every camera as CSV in the columns import-cameras reads. Stream passwords are never exported.",
        func=cmd_export_cameras,
    )
    exp.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")

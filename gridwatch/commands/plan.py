"""`gridwatch plan`: how many worker nodes a site needs, from what one camera costs (see `gridwatch.capacity`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.table import Table

from core.errors import InvalidInput, Issue
from gridwatch.capacity import (
    BUILT_IN,
    INPUT_FPS,
    KEYFRAME_INTERVAL_S,
    MAIN_RESOLUTION,
    MOTION_SHARE,
    SUB_RESOLUTION,
    CostModel,
    Plan,
    ProfileLoad,
    plan_site,
    top,
)
from gridwatch.commands.common import Subparsers, add_command, err, out

DEFAULT_NODE_CORES = 2.0
"""The reference machine the built-in costs are measured on."""


def _option_issues(args: argparse.Namespace) -> list[Issue]:
    issues = []
    if not args.node_cores > 0:
        issues.append(Issue("--node-cores", f"must be more than 0, got {args.node_cores:g}"))
    if args.motion_share is not None and not 0 <= args.motion_share <= 1:
        issues.append(Issue("--motion-share", f"is a share: must be between 0 and 1, got {args.motion_share:g}"))
    if args.raycluster is not None:
        if not args.image:
            issues.append(Issue("--image", "the container image with gridwatch is needed for --raycluster"))
        if not args.api or not args.api.startswith(("http://", "https://")):
            issues.append(Issue("--api", f"the API's http(s) URL is needed for --raycluster, got {args.api!r}"))
    return issues


def _plan(args: argparse.Namespace) -> Plan:
    from camera_config.validate import load_site_file  # pydantic models: only when needed

    if issues := _option_issues(args):
        raise InvalidInput(issues)
    costs = CostModel.from_json(args.costs) if args.costs else CostModel()
    if args.motion_share is not None:
        costs = costs.with_motion_share(args.motion_share, "--motion-share")
    site = load_site_file(args.site, allow_files=True)  # the plan opens no stream: local files count as cameras
    return plan_site(
        (record.camera for record in site.cameras),
        costs,
        node_cores=args.node_cores,
        gpu=args.gpu,
        compound_names={c.id: c.name for c in site.compounds},
        sub_resolution=args.sub_resolution,
        main_resolution=args.main_resolution,
    )


def _pct(share: float) -> str:
    """A share of one core as a percentage (a quiet camera's stages are thousandths of one)."""
    return f"{share * 100:.3f}"


STAGES = ("read", "decode", "gate", "inference", "rules", "events")
SHOWN_PROFILES = 4
"""Per-camera tables printed; a site with more kinds of camera lists the rest in one line (all are in --json)."""


def _profile_table(pl: ProfileLoad, costs: CostModel, gpu: bool) -> Table:
    """One kind of camera: its load by stage while moving, while quiet, and on average."""
    p = pl.profile
    fps = f"{p.analysed_per_s:g} fps analysed" + (
        f" of {p.decoded_per_s:g} decoded" if p.decoded_per_s != p.analysed_per_s else ""
    )
    table = Table(
        title=f"{pl.cameras} cameras, {p.resolution} {p.mode.value}, {fps}: % of one core each",
        title_justify="left",
    )
    table.add_column("stage")
    table.add_column("moving", justify="right")
    table.add_column(f"quiet (1 frame/{costs.quiet_check_s:g} s)", justify="right")
    table.add_column(f"expected ({costs.motion_share:.0%} moving)", justify="right")
    loads = (pl.moving, pl.quiet, pl.expected)
    for stage in STAGES:
        table.add_row(stage, *(_pct(getattr(load, stage)) for load in loads))
    table.add_row("total", *(_pct(load.cpu) for load in loads), style="bold", end_section=gpu)
    if gpu:
        table.add_row("% of a GPU", *(_pct(load.gpu) for load in loads))
    return table


def _print_plan(plan: Plan, site: Path) -> None:
    costs = plan.costs
    main_only = plan.cameras - plan.with_sub_stream
    out.print(
        f"[bold]{site}[/bold]: {plan.cameras} enabled cameras ({plan.with_sub_stream} with a sub stream, "
        f"{main_only} main stream only)" + (f", {plan.disabled} disabled (not counted)" if plan.disabled else "")
    )

    for pl in plan.profiles[:SHOWN_PROFILES]:
        out.print(_profile_table(pl, costs, plan.gpu))
    if more := plan.profiles[SHOWN_PROFILES:]:
        out.print(f"and {sum(pl.cameras for pl in more)} cameras of {len(more)} other kinds (all in --json)")

    out.print(f"site total: [bold]{plan.cores:.2f} cores[/bold] (expected, {costs.motion_share:.0%} of cameras moving)")
    out.print(
        f"node: {plan.node_cores:g} cores × {costs.usable_share:.0%} usable − {costs.node_reserve_cores:g} reserved "
        f"= {plan.usable_cores:.2f} cores for cameras"
    )
    out.print(
        f"[bold]nodes needed: {plan.nodes}[/bold]" + (" (CPU ingest nodes, inference on GPU)" if plan.gpu else "")
    )
    out.print(
        f"worker processes per node: {plan.processes_per_node} (`gridwatch worker --shard K/N`; one process holds "
        f"up to {costs.process_cameras:g} cameras: its stream readers share Python's GIL)"
    )
    if plan.gpu:
        out.print(
            f"[bold]GPU nodes needed: {plan.gpu_nodes}[/bold] ({plan.moving_frames_per_s:.1f} frames with motion a "
            f"second, {costs.gpu_frames_per_s:g} per GPU node)"
        )

    shown, rest = top(plan.compounds)
    compounds = Table(title="biggest compounds, expected cores", title_justify="left")
    for col in ("compound", "name", "cameras", "cores"):
        compounds.add_column(col, justify="right" if col in ("cameras", "cores") else "left")
    for c in shown:
        compounds.add_row(c.compound_id or "—", c.name, str(c.cameras), f"{c.cores:.3f}")
    if rest is not None:
        compounds.add_row("", rest.name, str(rest.cameras), f"{rest.cores:.3f}")
    out.print(compounds)

    assumed = costs.assumed()
    out.print(
        "[yellow]assumed[/yellow] (built-in, not from a --costs file): " + (", ".join(assumed) if assumed else "none"),
        soft_wrap=True,
    )
    share_from = costs.source("motion_share")
    out.print(
        f"motion share: {costs.motion_share:.0%} "
        + ("(assumed: set it with --motion-share)" if share_from == BUILT_IN else f"(from {share_from})")
    )
    out.print(
        f"streams (assumed): sub stream {plan.sub_resolution}, main stream {plan.main_resolution}, keyframe every "
        f"{KEYFRAME_INTERVAL_S:g} s (detect auto counts as keyframe-only), {INPUT_FPS:g} fps input",
        soft_wrap=True,
    )


def cmd_plan(args: argparse.Namespace) -> int:
    plan = _plan(args)
    if args.json:
        sys.stdout.write(json.dumps({"site": str(args.site), **plan.as_json()}, ensure_ascii=False) + "\n")
    else:
        _print_plan(plan, args.site)
    if args.raycluster is not None:
        _write_raycluster(plan, args)
    return 0


def _write_raycluster(plan: Plan, args: argparse.Namespace) -> None:
    import yaml

    from gridwatch.manifest import raycluster

    doc = raycluster(plan, image=args.image, api=args.api)
    try:
        args.raycluster.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(Issue("--raycluster", f"cannot write {args.raycluster}: {exc.strerror}")) from exc
    say = (err if args.json else out).print  # --json keeps standard output one JSON object
    groups = doc["spec"]["workerGroupSpecs"]
    gpus = f" and {groups[1]['replicas']} GPU pod(s)" if len(groups) > 1 else ""
    notes = doc["metadata"]["annotations"]
    then = f"{notes['gridwatch/detector-up']}, then " if gpus else ""
    say(
        f"RayCluster manifest: {args.raycluster} ({groups[0]['replicas']} worker pod(s){gpus}); once it runs: "
        f"{then}{notes['gridwatch/cluster-up']}",
        soft_wrap=True,
    )


def register(sub: Subparsers) -> None:
    p = add_command(
        sub,
        "plan",
        "how many worker nodes a site needs for all its enabled cameras",
        "Plans capacity: from what reading, decoding, gating and analysing one camera costs, how many cores "
        "a site's enabled cameras need and so how many worker nodes (and, with --gpu, GPU nodes). Costs are "
        "built in until measured: run `bench/capacity.py --write-costs FILE` on a worker node and pass the "
        "file with --costs; every figure still built in is listed as assumed.",
        opens_database=False,
        func=cmd_plan,
    )
    p.add_argument("--site", type=Path, required=True, metavar="SITE.yaml", help="site YAML to plan for")
    p.add_argument(
        "--node-cores",
        type=float,
        default=DEFAULT_NODE_CORES,
        metavar="N",
        help=f"CPU cores of one worker node (default {DEFAULT_NODE_CORES:g})",
    )
    p.add_argument("--gpu", action="store_true", help="inference on shared GPU nodes; also plan how many")
    p.add_argument(
        "--costs",
        type=Path,
        metavar="COSTS.json",
        help="measured costs, as `bench/capacity.py --write-costs FILE` writes them (default: built in)",
    )
    p.add_argument(
        "--motion-share",
        type=float,
        metavar="F",
        help=f"share of cameras showing motion at any time, 0 to 1 (default {MOTION_SHARE:g}, or the costs file's)",
    )
    p.add_argument(
        "--sub-resolution",
        default=SUB_RESOLUTION,
        metavar="CLASS",
        help=f"resolution class of the sub streams (default {SUB_RESOLUTION})",
    )
    p.add_argument(
        "--main-resolution",
        default=MAIN_RESOLUTION,
        metavar="CLASS",
        help=f"resolution class of main streams read for detection (default {MAIN_RESOLUTION})",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object (for the scale-out tooling)")
    p.add_argument(
        "--raycluster",
        type=Path,
        metavar="FILE.yaml",
        help="also write a KubeRay RayCluster for the plan here (needs --image and --api)",
    )
    p.add_argument("--image", help="container image with gridwatch and ray, for --raycluster")
    p.add_argument("--api", help="the API's URL as the worker pods reach it, for --raycluster")

"""`gridwatch cluster up|status|down`: camera shards on a Ray cluster (see `gridwatch.cluster`)."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from datetime import datetime
from pathlib import Path

from core.errors import InvalidInput, Unavailable
from gridwatch.commands.common import Subparsers, add_command, add_group, err, out
from gridwatch.commands.worker import TOKEN_ENV


def _resources(text: str | None) -> dict[str, float]:
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"--resources is not JSON ({exc.msg}): {text!r}") from exc
    if not isinstance(doc, dict) or not all(
        isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for k, v in doc.items()
    ):
        raise InvalidInput(f'--resources must map resource names to positive numbers, e.g. {{"cam-net-a": 1}}: {text}')
    return {k: float(v) for k, v in doc.items()}


def cmd_cluster_up(args: argparse.Namespace) -> int:
    from gridwatch.cluster import ClusterSpec, connect, up

    spec = ClusterSpec(
        api=args.api,
        token=args.token or os.environ.get(TOKEN_ENV, ""),
        shards=args.shards,
        num_cpus=args.num_cpus,
        memory_mb=args.memory_mb,
        data_root=str(args.data_root) if args.data_root else None,
        demo=args.demo,
        resources=_resources(args.resources),
        detector_service=args.detector_service,
    )
    spec.check()  # before connecting: a bad option is named at once
    connect(args.address)
    shards = up(spec, say=lambda line: out.print(line, soft_wrap=True), wait_s=args.wait_s)
    for s in shards:
        out.print(f"{s['name']}: node {s['node_id'][:12]}, pid {s['pid']}")
    out.print(f"cluster: {len(shards)} shard(s) running; `gridwatch cluster status` shows their cameras")
    return 0


def cmd_cluster_status(args: argparse.Namespace) -> int:
    from gridwatch.cluster import connect

    if args.watch is not None and not (math.isfinite(args.watch) and args.watch > 0):
        raise InvalidInput(f"--watch {args.watch:g}: the pause between rounds must be a number of seconds above 0")
    connect(args.address)
    if args.watch is None:
        _print_status(args.json)
        return 0
    # one driver for every round: a round costs a query, not a Python start and a Ray connection
    try:
        while True:
            try:
                _print_status(args.json)
            except Unavailable as exc:  # a lost record node or a cluster brought down: say so, keep watching
                err.print(f"cluster status: {exc}", soft_wrap=True)
            if not args.json:
                out.print()
            sys.stdout.flush()
            time.sleep(args.watch)
    except KeyboardInterrupt:
        return 0


def _print_status(as_json: bool) -> None:
    from gridwatch.cluster import nodes, status

    spec, shards = status()
    members = nodes()
    if as_json:
        sys.stdout.write(json.dumps({"cluster": spec, "nodes": members, "shards": shards}) + "\n")
        return
    for n in members:
        on = sum(s.get("node_id") == n["node_id"] for s in shards)
        out.print(
            f"node {n['node_id'][:12]} {n['address']}: {'alive' if n['alive'] else 'DEAD'}, {n['cpus']:g} CPU, "
            f"{n['memory_mb']} MiB, {on} shard(s)" + (f", resources {n['resources']}" if n["resources"] else "")
        )
    out.print(
        f"cluster: {spec['shards']} shard(s), API {spec['api']}, "
        f"{spec['num_cpus']:g} CPU and {spec['memory_mb']} MiB each"
    )
    for s in shards:
        if s["state"] != "alive":
            out.print(f"{s['name']}: {s['state']}")
            continue
        since = datetime.fromtimestamp(s["started"]).strftime("%H:%M:%S")
        out.print(
            f"{s['name']}: node {s['node_id'][:12]} pid {s['pid']}, since {since}"
            + (" (restarted by Ray)" if s["restarted"] else "")
            + f"; {s['online']}/{s['cameras']} camera(s) online; spool {s['spool_depth']}, "
            f"{s['delivered']} delivered, delivery {s['delivery_state']}",
            soft_wrap=True,
        )


def cmd_cluster_down(args: argparse.Namespace) -> int:
    from gridwatch.cluster import connect, down

    connect(args.address)
    stopped = down(say=lambda line: out.print(line, soft_wrap=True))
    out.print(f"cluster: {stopped} shard(s) stopped")
    return 0


def cmd_cluster_detector(args: argparse.Namespace) -> int:
    from gridwatch.cluster import connect
    from gridwatch.detector_service import deploy, describe

    connect(args.address)
    out.print(f"detector: deploying {args.replicas} replica(s) of {args.app} (loading the model in each)")
    deploy(args.app, replicas=args.replicas, num_gpus=args.num_gpus, num_cpus=args.num_cpus)
    info = describe(args.app)
    out.print(
        f"detector: {args.app} runs {info['backend']} on {info['device']} (batches up to {info['max_batch_size']}); "
        f"start shards with --detector-service {args.app}"
    )
    return 0


def register(sub: Subparsers) -> None:
    cs = add_group(
        sub,
        "cluster",
        "camera shards on a Ray cluster: up, status, down",
        "Runs the cameras as shards on a Ray cluster: one detached, named actor per shard, restarted by Ray "
        "wherever it fits when its process or node dies, each running the worker's loop (cameras from the API "
        "by a stable hash, detection, observations through an on-disk spool on its node).",
    )

    def address(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--address",
            default="auto",
            help="the Ray cluster: auto (the one this machine belongs to), HOST:PORT or ray://HOST:PORT",
        )

    u = add_command(
        cs,
        "up",
        "start the shards (or find them running) and wait until each answers",
        "Starts --shards shard actors and waits until each answers. Refused with the reason when the cluster's "
        "nodes cannot hold that many shards of --num-cpus and --memory-mb, or when a cluster with other settings "
        f"runs there. The token (of a `worker` account) comes from --token or ${TOKEN_ENV}; Ray keeps it with "
        "the shards' arguments.",
        func=cmd_cluster_up,
        opens_database=False,
    )
    address(u)
    u.add_argument("--api", required=True, help="the API's base URL as the nodes reach it, e.g. http://10.0.0.5:8000")
    u.add_argument("--token", help=f"the worker account's API token (better: ${TOKEN_ENV})")
    u.add_argument("--shards", type=int, required=True, help="how many shards (`gridwatch plan`: nodes × processes)")
    u.add_argument("--num-cpus", type=float, default=1.0, help="CPUs Ray reserves for each shard (default 1)")
    u.add_argument("--memory-mb", type=int, default=2048, help="memory Ray reserves for each shard (default 2048)")
    u.add_argument("--resources", help='custom Ray resources each shard needs, as JSON, e.g. {"cam-net-a": 1}')
    u.add_argument(
        "--data-root",
        type=Path,
        help="where each node keeps a shard's spool and model exports (default: the node's $GRIDWATCH_DATA_DIR/shards)",
    )
    u.add_argument(
        "--detector-service",
        metavar="APP",
        help="send model input to this shared detector (a Ray Serve app on GPU nodes) instead of running the model "
        "in each shard",
    )
    u.add_argument("--demo", action="store_true", help="demo mode: shards accept local files as camera sources")
    u.add_argument("--wait-s", type=float, default=120.0, help="how long to wait for the shards (default 120)")
    s = add_command(
        cs,
        "status",
        "the nodes, and every shard: node, process, cameras online, spool and delivery",
        func=cmd_cluster_status,
        opens_database=False,
    )
    address(s)
    s.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    s.add_argument(
        "--watch",
        type=float,
        metavar="SECONDS",
        help="print them again every SECONDS until interrupted (with --json: one object per line)",
    )
    g = add_command(
        cs,
        "detector",
        "run the shared detector (a Ray Serve app) that shards started with --detector-service use",
        "Deploys the detection model as a Ray Serve app whose replicas batch the letterboxed images of many shards "
        "(@serve.batch); with --num-gpus each replica takes a GPU and runs on CUDA. Runs until `serve shutdown` or "
        "the cluster ends; deploying again with other figures updates it in place.",
        func=cmd_cluster_detector,
        opens_database=False,
    )
    address(g)
    g.add_argument("--app", default="gridwatch-detector", help="the Serve app's name (default gridwatch-detector)")
    g.add_argument("--replicas", type=int, default=1, help="how many replicas (default 1)")
    g.add_argument("--num-gpus", type=float, default=0.0, help="GPUs per replica (default 0: on CPU)")
    g.add_argument("--num-cpus", type=float, default=1.0, help="CPUs per replica (default 1)")
    d = add_command(
        cs,
        "down",
        "stop every shard (what a spool holds stays on its node)",
        func=cmd_cluster_down,
        opens_database=False,
    )
    address(d)

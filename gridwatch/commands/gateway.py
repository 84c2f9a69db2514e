"""`gridwatch gateway ...`: GB/T 28181 gateways (wvp-GB28181-pro) whose channels are cameras of a compound."""

from __future__ import annotations

import argparse
import sys

from api.audit import AuditAction
from gridwatch.commands.common import Subparsers, add_command, add_group, out, service_from_args


def cmd_gateway_add(args: argparse.Namespace) -> int:
    from camera_config.gateways import parse_gateway_spec

    service = service_from_args(args)
    data = {
        "id": args.id,
        "url": args.url,
        "username": args.username,
        "compound": args.compound,
        "grid": args.grid,
        "name": args.name,
    }
    if args.password_stdin:
        data["password"] = sys.stdin.readline().rstrip("\r\n")
    gateway = service.site.gateways.put(parse_gateway_spec(data), create=not args.replace)
    out.print(f'gateway "{gateway.id}" ({gateway.kind}, {gateway.url}) imports into compound {gateway.compound_id}')
    out.print(f"next: gridwatch gateway import {gateway.id}")
    return 0


def cmd_gateway_list(args: argparse.Namespace) -> int:
    service = service_from_args(args)
    gateways = service.site.gateways.list()
    if not gateways:
        out.print("no gateways: add one with `gridwatch gateway add`")
    for g in gateways:
        synced = f"synced {g.synced_at:%Y-%m-%d %H:%M:%S} UTC: {g.sync_summary}" if g.synced_at else "never synced"
        out.print(f"{g.id}  {g.kind}  {g.url}  user {g.username}  compound {g.compound_id}  {synced}", soft_wrap=True)
    return 0


def _run(args: argparse.Namespace, ids: list[str], compound: str | None = None, grid: str | None = None) -> int:
    from ingest.gateway_sync import GatewaySync
    from ingest.gateways import GatewayClients

    service = service_from_args(args)
    sync = GatewaySync(service.site, GatewayClients(service.site.gateways.access))
    try:
        for gateway_id in ids or [g.id for g in service.site.gateways.list()]:
            report = sync.run(gateway_id, compound=compound, grid=grid)
            out.print(report.summary(), soft_wrap=True)
            service.record_cli(AuditAction.CAMERAS_IMPORTED, f"gateway {gateway_id}", report.summary())
    finally:
        sync.clients.close()
    return 0


def cmd_gateway_import(args: argparse.Namespace) -> int:
    return _run(args, [args.id], compound=args.compound, grid=args.grid)


def cmd_gateway_sync(args: argparse.Namespace) -> int:
    return _run(args, args.ids)


def register(sub: Subparsers) -> None:
    g = add_group(
        sub,
        "gateway",
        "GB/T 28181 gateways (wvp-GB28181-pro): add, list, import, sync",
        "Cameras of a GB/T 28181 network (雪亮工程) reached through a wvp-GB28181-pro gateway: add the gateway, "
        "import its channels as cameras of a compound (all-or-nothing), sync them later (the service also syncs "
        "every GRIDWATCH_GATEWAY_SYNC_S seconds).",
    )
    add = add_command(
        g,
        "add",
        "add a gateway (its password from standard input)",
        "Stores a gateway: its REST API's base URL, the user gridwatch logs in as (the password read from standard "
        "input, stored encrypted) and the compound its channels are imported into.",
        func=cmd_gateway_add,
    )
    add.add_argument("id", help="gateway id (its cameras are named <id>-<channelId>); at most 31 characters")
    add.add_argument("--url", required=True, help="base URL of wvp's API, e.g. http://10.1.2.3:18080")
    add.add_argument("--username", required=True, help="the wvp user gridwatch logs in as")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument("--compound", required=True, help="compound the channels are imported into")
    add.add_argument("--grid", help="grid the cameras report to (default: the compound's one grid, or by location)")
    add.add_argument("--name", help="display name (default: the id)")
    add.add_argument("--replace", action="store_true", help="replace a gateway that exists (no password: keep it)")

    add_command(
        g,
        "list",
        "the gateways and their last sync",
        "Lists every gateway with its URL, user, compound and what its last sync changed.",
        func=cmd_gateway_list,
    )
    imp = add_command(
        g,
        "import",
        "import a gateway's channels as cameras (all-or-nothing)",
        "Lists every device and channel of the gateway and makes each video channel a camera of the compound. "
        "One channel that cannot be a camera and nothing is imported; the error names it and the field.",
        func=cmd_gateway_import,
    )
    imp.add_argument("id", help="gateway id")
    imp.add_argument("--compound", help="import into this compound (stored with the gateway)")
    imp.add_argument("--grid", help="with --compound: the grid its cameras report to")
    sync = add_command(
        g,
        "sync",
        "bring cameras in line with their gateways' channels",
        "New channels become cameras, cameras whose channel vanished are disabled (enabled again if it returns); "
        "prints what changed.",
        func=cmd_gateway_sync,
    )
    sync.add_argument("ids", nargs="*", help="gateway ids (default: all)")

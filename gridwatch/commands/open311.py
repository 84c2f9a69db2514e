"""`gridwatch open311 client ...`: the apps that may post resident reports to the Open311 façade."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from gridwatch.commands.common import Subparsers, add_command, add_group, out, service_from_args

if TYPE_CHECKING:
    from api.open311 import Clients


def _clients(args: argparse.Namespace) -> Clients:
    from api.open311 import Clients
    from core.clock import SystemClock
    from core.db import session_factory

    return Clients(session_factory(service_from_args(args).engine), SystemClock())


def cmd_client_add(args: argparse.Namespace) -> int:
    from api.open311 import DEFAULT_RATE_PER_MIN, parse_rate

    rate = parse_rate(args.rate) if args.rate else DEFAULT_RATE_PER_MIN
    new = _clients(args).add(args.name, rate)
    out.print(f'Open311 client "{new.client.name}" ({new.client.rate_per_min}/min); its api_key (shown once):')
    sys.stdout.write(new.key + "\n")
    return 0


def cmd_client_list(args: argparse.Namespace) -> int:
    for c in _clients(args).all():
        used = c.last_used_at.isoformat(timespec="seconds") if c.last_used_at else "never"
        state = "" if c.enabled else " (disabled)"
        out.print(f"{c.name:<24} {c.prefix}…  {c.rate_per_min:>6}/min  last used {used}{state}", markup=False)
    return 0


def cmd_client_disable(args: argparse.Namespace) -> int:
    client = _clients(args).set_enabled(args.name, False)
    out.print(f'Open311 client "{client.name}" disabled: its key is refused (403) from now on')
    return 0


def cmd_client_enable(args: argparse.Namespace) -> int:
    client = _clients(args).set_enabled(args.name, True)
    out.print(f'Open311 client "{client.name}" enabled again')
    return 0


def register(sub: Subparsers) -> None:
    group = add_group(
        sub,
        "open311",
        "the Open311 GeoReport v2 door for residents' apps: client",
        "The Open311 GeoReport v2 façade at /open311/v2: residents' apps post reports there with their api_key.",
    )
    clients = add_group(
        group,
        "client",
        "client apps and their api_keys: add, list, disable, enable",
        "Client apps of the Open311 façade: each has its own api_key (shown once, stored as a hash) and rate limit.",
    )
    add = add_command(
        clients,
        "add",
        "new client app (prints its api_key once)",
        "Adds a client app and prints its api_key once, on standard output.",
        func=cmd_client_add,
    )
    add.add_argument("name", help="the app's name, e.g. lianxinqiao (letters, digits, _ . -)")
    add.add_argument("--rate", help="reports it may post, as N/min (default 30/min)")
    add_command(
        clients,
        "list",
        "every client app with its rate and last use",
        "Lists every client app: the start of its key, its rate limit, when it last posted; disabled ones are marked.",
        func=cmd_client_list,
    )
    for name, summary, func in (
        ("disable", "refuse a client app's key from now on (403)", cmd_client_disable),
        ("enable", "accept a disabled client app's key again", cmd_client_enable),
    ):
        command = add_command(clients, name, summary, f"{summary[0].upper()}{summary[1:]}.", func=func)
        command.add_argument("name", help="the client app's name")

"""`gridwatch db ...`: database maintenance."""

from __future__ import annotations

import argparse

from gridwatch.commands.common import COMMON_OPTIONS, Subparsers, out, service_from_args


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from gridwatch.db import current_revision

    service = service_from_args(args)  # opening the service migrates the database
    out.print(f"database at revision {current_revision(service.engine)}")
    return 0


def register(sub: Subparsers) -> None:
    dbp = sub.add_parser("db", help="database maintenance")
    dbs = dbp.add_subparsers(dest="db_command", required=True, metavar="SUBCOMMAND")
    up = dbs.add_parser("upgrade", parents=[COMMON_OPTIONS], help="migrate the database to the current schema")
    up.set_defaults(func=cmd_db_upgrade)

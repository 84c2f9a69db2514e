"""`gridwatch db ...`: database maintenance."""

from __future__ import annotations

import argparse

from gridwatch.commands.common import Subparsers, add_command, add_group, out, service_from_args


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from gridwatch.db import current_revision

    service = service_from_args(args)  # opening the service migrates the database
    out.print(f"database at revision {current_revision(service.engine)}")
    return 0


def register(sub: Subparsers) -> None:
    dbs = add_group(sub, "db", "database maintenance", "Database maintenance: the schema migrations.")
    add_command(
        dbs,
        "upgrade",
        "migrate the database to the current schema",
        "Migrates the database to the current schema and prints the revision it is at (every command that "
        "opens the database does this too).",
        func=cmd_db_upgrade,
    )

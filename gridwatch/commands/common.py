"""What every command uses: the two consoles, the options that pick the data dir and database, the service
those options open, and a progress bar."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gridwatch.settings import settings_from_args

if TYPE_CHECKING:
    from gridwatch.wiring import Service

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What ``ArgumentParser.add_subparsers`` returns; each command module's ``register`` adds to it."""

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
"""What stops a long-running command; only the main thread takes them (see `gridwatch.commands.worker`)."""

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

COMMON_OPTIONS = argparse.ArgumentParser(add_help=False)
"""Parent parser of every command that opens the database: where the data is, and demo mode."""
COMMON_OPTIONS.add_argument(
    "--data-dir",
    type=Path,
    help="directory of the database, secret key, evidence images and model exports "
    "(default $GRIDWATCH_DATA_DIR or ./var)",
)
COMMON_OPTIONS.add_argument(
    "--database-url", help="database to use, as a SQLAlchemy URL (default: SQLite in the data dir)"
)
COMMON_OPTIONS.add_argument("--demo", action="store_true", help="demo mode: accept local files as camera sources")


Command = Callable[[argparse.Namespace], int]
"""Carries out a command with the parsed arguments; returns the exit status."""


def add_command(
    sub: Subparsers,
    name: str,
    summary: str,
    description: str | None = None,
    *,
    func: Command,
    opens_database: bool = True,
) -> argparse.ArgumentParser:
    """Add the command ``name``, carried out by ``func``: ``summary`` is its line in the list of commands,
    ``description`` opens its own --help (default: the summary as a sentence). With ``opens_database``, it
    takes the common options."""
    command = sub.add_parser(
        name,
        parents=[COMMON_OPTIONS] if opens_database else [],
        help=summary,
        description=description or f"{summary[0].upper()}{summary[1:]}.",
    )
    command.set_defaults(func=func)
    return command


def add_group(sub: Subparsers, name: str, summary: str, description: str) -> Subparsers:
    """Add the command group ``name`` (`gridwatch NAME SUBCOMMAND`); its sub-commands are added to what it returns."""
    group = sub.add_parser(name, help=summary, description=description)
    return group.add_subparsers(dest=f"{name}_command", required=True, metavar="SUBCOMMAND")


def service_from_args(args: argparse.Namespace) -> Service:
    """The database (migrated to the current schema), site store and events service the options point at."""
    from gridwatch.wiring import open_service

    return open_service(settings_from_args(args))


@contextmanager
def progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on standard error; yields ``update(done, total)``."""
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

"""The `gridwatch` command line: the top-level parser (each command group adds its own) and error reporting."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Sequence

from core.errors import GridwatchError, InvalidInput
from gridwatch.commands import (
    cameras,
    cluster,
    db,
    detect,
    dispatch,
    events,
    gateway,
    open311,
    plan,
    run,
    site,
    user,
    watch,
    worker,
)
from gridwatch.commands.common import STOP_SIGNALS, err

COMMAND_GROUPS = (
    run,
    dispatch,
    worker,
    cluster,
    site,
    cameras,
    gateway,
    plan,
    user,
    watch,
    db,
    events,
    open311,
    detect,
)
"""In the order `gridwatch --help` lists them."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gridwatch",
        description="Turns a community camera network into hazard cases for the grids that govern it.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not getattr(args, "takes_stop_signals", False):  # Ctrl-C as usual, on the main thread only
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
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

"""`gridwatch worker`: the live pipeline on another machine, its cameras from the API, its observations
delivered through an on-disk spool."""

from __future__ import annotations

import argparse
import os
import signal
import socket
from pathlib import Path

from core.errors import InvalidInput
from gridwatch.commands.common import STOP_SIGNALS, Subparsers, add_command, err, out
from gridwatch.settings import settings_from_args

TOKEN_ENV = "GRIDWATCH_WORKER_TOKEN"


class StopSignals:
    """SIGTERM and SIGINT taken by the main thread when it waits, never delivered into another thread.

    Blocked before any thread starts (threads inherit the mask, native ones too), so the signal never lands
    in the middle of a decoder's or a runtime's native code: a handler-based stop crashed the worker with
    SIGSEGV now and then when the signal arrived while inference ran."""

    def __init__(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        self._stop = False
        self._said = False
        # Threads started before the block (when not run as `python -m gridwatch`) may still take a signal:
        # a handler then notes it instead of the default action ending the process mid-write.
        for s in STOP_SIGNALS:
            signal.signal(s, self._noted)

    def _noted(self, _signum: int, _frame: object) -> None:
        self._stop = True

    def wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for a stop signal; True once one has come."""
        if not self._stop and signal.sigtimedwait(STOP_SIGNALS, max(0.0, timeout_s)) is not None:
            self._stop = True
        if self._stop and not self._said:
            out.print("worker: stop signal, stopping")
            self._said = True
        return self._stop

    def is_set(self) -> bool:
        return self.wait(0.0)


def cmd_worker(args: argparse.Namespace) -> int:
    stopping = StopSignals()  # first: before an import or a library starts a thread
    import logging
    import sys

    from camera_config.wire import Shard
    from core.redact import redact_logs
    from gridwatch.worker_loop import WorkerLoop, WorkerSpec

    if hasattr(sys.stdout, "reconfigure"):  # status lines reach a log file or journald as they are printed
        sys.stdout.reconfigure(line_buffering=True)
    os.umask(0o077)  # the spool holds residents' pictures and the model cache nothing public: this user's only
    settings = settings_from_args(args)
    settings.prepare()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per poll otherwise
    redact_logs()
    token = args.token or os.environ.get(TOKEN_ENV, "")
    if not token:
        raise InvalidInput(f"no worker token: give --token or set {TOKEN_ENV} (an API token of a worker account)")
    ids = [c.strip() for c in args.cameras.split(",") if c.strip()] if args.cameras else None
    if args.cameras is not None and not ids:
        raise InvalidInput("--cameras lists no camera id")
    shard = Shard.parse(args.shard, "--shard") if args.shard else None
    if args.spool_mb <= 0:
        raise InvalidInput(f"--spool-mb must be positive, got {args.spool_mb}")

    spec = WorkerSpec(
        api=args.api,
        token=token,
        name=args.name or f"{socket.gethostname()} {shard or ','.join(ids or []) or 'all'}",
        ids=ids,
        shard=shard,
        spool_path=args.spool,
        spool_mb=args.spool_mb,
        drain_s=args.drain_s,
        status_every_s=args.status_every_s,
    )
    loop = WorkerLoop(
        spec,
        settings,
        say=lambda line: out.print(line, soft_wrap=True),
        warn=lambda line: err.print(line, soft_wrap=True),
    )
    return loop.run(stopping)


def register(sub: Subparsers) -> None:
    w = add_command(
        sub,
        "worker",
        "run detection on another machine: cameras from the API, observations delivered through a spool",
        "Pulls the cameras the API assigns to this worker (by --cameras, by --shard K/N, or every camera of the "
        "worker account's grids), runs the detectors and delivers the observations to POST "
        "/api/worker/observations. Each observation is written to an on-disk spool first and removed only when "
        "the API has answered for it: an API that is down, a lost connection or a killed worker lose nothing "
        "(the API de-duplicates re-sent ones). Camera edits in the API reach the worker within a few seconds. "
        f"The token (of a `worker` account; `gridwatch user token`) comes from --token or ${TOKEN_ENV}.",
        func=cmd_worker,
        opens_database=False,
    )
    w.set_defaults(takes_stop_signals=True)
    w.add_argument(
        "--data-dir", type=Path, help="where the spool and model exports live (default $GRIDWATCH_DATA_DIR or ./var)"
    )
    w.add_argument("--demo", action="store_true", help="demo mode: accept local files as camera sources")
    w.add_argument("--name", help="how the API lists this worker (default: host name and cameras or shard)")
    w.add_argument("--api", required=True, help="the API's base URL, e.g. http://10.0.0.5:8000")
    w.add_argument("--token", help=f"the worker account's API token (better: ${TOKEN_ENV}, not seen in ps)")
    which = w.add_mutually_exclusive_group()
    which.add_argument("--cameras", help="comma-separated camera ids to run")
    which.add_argument("--shard", help="K/N: run shard K of N (cameras spread by a stable hash)")
    w.add_argument("--spool", type=Path, help="the spool file (default: spool.db in the data dir)")
    w.add_argument(
        "--spool-mb", type=int, default=1024, help="spool size in MiB; when full, old updates go first (default 1024)"
    )
    w.add_argument("--status-every-s", type=float, default=60.0, help="seconds between status lines (default 60)")
    w.add_argument(
        "--drain-s",
        type=float,
        default=5.0,
        help="on stop, seconds to keep sending what the spool holds (the rest waits for the next start)",
    )

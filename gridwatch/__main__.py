"""`python -m gridwatch`. SIGTERM and SIGINT are blocked before any import can start a thread (numpy's BLAS
pool starts at import): every thread then inherits the block, and only the main thread takes the signals
back (`gridwatch.cli.main`, or the long-running command itself)."""

import signal

signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})

from gridwatch.cli import main  # noqa: E402 - after the block, on purpose

raise SystemExit(main())

"""The dispatch process `gridwatch run` keeps beside itself: it sends webhooks, robot messages and Web Push.

Sending costs CPU per message (signing, encryption, HTTP); in a process of its own, at a lower priority, that
cost no longer competes with the API's writer for one interpreter lock, so a burst of notifications does not
slow alerts becoming cases. The queue is in the database: the process reads it, so it can die and be started
again (it is, with a growing pause) without losing or repeating anything beyond at-least-once.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time

from gridwatch.settings import Settings

log = logging.getLogger(__name__)

NICE = 5
"""How much lower than the API the dispatch process runs (nice increment)."""
BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)


def child_env(settings: Settings) -> dict[str, str]:
    """The environment that gives the child the service's own settings (the command line's included)."""
    env = dict(os.environ)
    env |= {
        "GRIDWATCH_DATA_DIR": str(settings.data_dir.resolve()),
        "GRIDWATCH_DATABASE_URL": settings.db_url,
        "GRIDWATCH_BIND": settings.bind,
        "GRIDWATCH_PUBLIC_URL": settings.console_url,
        "GRIDWATCH_NOTIFY_ALLOW_HOSTS": settings.notify_allow_hosts,
        "GRIDWATCH_DEMO": "1" if settings.demo else "0",
        "GRIDWATCH_LOG_LEVEL": settings.log_level,
    }
    if settings.secret_key is not None:
        env["GRIDWATCH_SECRET_KEY"] = settings.secret_key.get_secret_value()
    return env


class DispatchProcess:
    """Starts `gridwatch dispatch`, starts it again when it exits, stops it (SIGTERM, then SIGKILL) on `stop`."""

    def __init__(self, settings: Settings) -> None:
        self._env = child_env(settings)
        self._stop = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._proc.pid if self._proc is not None else None

    def start(self) -> DispatchProcess:
        self._thread = threading.Thread(target=self._keep, name="dispatch-process", daemon=True)
        self._thread.start()
        return self

    def _spawn(self) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "gridwatch", "dispatch", "--nice", str(NICE), "--parent", str(os.getpid())]
        return subprocess.Popen(cmd, env=self._env, stdin=subprocess.DEVNULL)

    def _keep(self) -> None:
        failures = 0
        while not self._stop.is_set():
            with self._lock:
                if self._stop.is_set():
                    return
                self._proc = proc = self._spawn()
                self.starts += 1
            began = time.monotonic()
            code = proc.wait()
            if self._stop.is_set():
                return
            failures = 0 if time.monotonic() - began > 60 else failures + 1
            pause = BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]
            log.warning(
                "the dispatch process (pid %d) exited with %s; starting it again in %g s", proc.pid, code, pause
            )
            self._stop.wait(pause)

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self._thread is not None:
            self._thread.join(timeout_s)

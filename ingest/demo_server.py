"""Starting and stopping the project's footage server (scripts/rtsp_server.py) from Python.

The demo's cameras stream from it, and so do the tests and benchmarks: it runs under the system
Python (where GStreamer's Python bindings live), listens on 127.0.0.1 only and is always stopped by
its process id. When it cannot run (no script, no GStreamer), the demo falls back to reading the
footage files directly.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from camera_config.types import Camera
from core.errors import Unavailable

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = REPO_ROOT / "scripts" / "rtsp_server.py"
CACHE_ROOT = REPO_ROOT / os.environ.get("GRIDWATCH_CACHE", ".cache")  # as scripts/setup.sh (an absolute path wins)
DEFAULT_FOOTAGE = CACHE_ROOT / "footage"
DEFAULT_CACHE = CACHE_ROOT / "rtsp"
DEMO_PORT = 8554
CLIPS = ("vtest-360p", "vtest-1080p", "tree", "still")
"""What the server encodes into its cache (scripts/rtsp_server.py, VARIANTS)."""

DEMO_FILES = {"/vtest-360p": "vtest.avi", "/vtest-1080p": "vtest.avi", "/tree": "tree.avi"}
"""Demo mounts with a footage file that can stand in for them (the live pattern has none)."""


def system_python() -> str:
    """Debian's interpreter, which has python3-gi (it does not import inside a virtual environment)."""
    return os.environ.get("GRIDWATCH_SYSTEM_PYTHON", "/usr/bin/python3")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def prepare_clips(
    footage_dir: Path = DEFAULT_FOOTAGE, cache_dir: Path = DEFAULT_CACHE, *, timeout_s: float = 900.0
) -> None:
    """Encode the footage into the server's cache once (about a minute the first time, instant after)."""
    if all((cache_dir / f"{name}.ts").is_file() for name in CLIPS):
        return
    if not SCRIPT.is_file():
        raise Unavailable(f"the footage server script is missing ({SCRIPT.name})")
    if not Path(system_python()).exists():
        raise Unavailable(f"{system_python()} is missing: the footage server needs the system Python with GStreamer")
    cmd = [system_python(), str(SCRIPT), "--prepare-only", "--footage", str(footage_dir), "--cache", str(cache_dir)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"encoding the test clips took longer than {timeout_s:g} s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise Unavailable(f"the footage server cannot prepare its clips: {last}")


class FootageServer:
    """One running server process on 127.0.0.1; every signal goes to its pid only."""

    def __init__(
        self,
        port: int,
        *,
        auth: Mapping[str, tuple[str, str]] | None = None,
        cameras: int = 64,
        clips: Mapping[str, Path] | None = None,
        footage_dir: Path = DEFAULT_FOOTAGE,
        cache_dir: Path = DEFAULT_CACHE,
    ) -> None:
        self.port = port
        self.auth = dict(auth or {})
        self.clips = dict(clips or {})
        self.cameras = cameras
        self.footage_dir = footage_dir
        self.cache_dir = cache_dir
        self.process: subprocess.Popen[bytes] | None = None
        self._log = Path(tempfile.mkstemp(prefix="gridwatch-rtsp-", suffix=".log")[1])

    @classmethod
    def start(
        cls,
        port: int | None = None,
        *,
        auth: Mapping[str, tuple[str, str]] | None = None,
        cameras: int = 64,
        clips: Mapping[str, Path] | None = None,
        footage_dir: Path = DEFAULT_FOOTAGE,
        cache_dir: Path = DEFAULT_CACHE,
        ready_timeout_s: float = 20.0,
    ) -> FootageServer:
        """Prepare the clips if needed, start the server and wait until it accepts connections.

        ``clips`` serves extra H.264 MPEG-TS files (no B-frames) on mounts of their own, looping."""
        prepare_clips(footage_dir, cache_dir)
        server = cls(
            port or free_port(),
            auth=auth,
            cameras=cameras,
            clips=clips,
            footage_dir=footage_dir,
            cache_dir=cache_dir,
        )
        server.launch(ready_timeout_s)
        return server

    def launch(self, ready_timeout_s: float = 20.0) -> None:
        """(Re)start the process on this server's port."""
        if self.alive:
            raise Unavailable(f"the footage server on port {self.port} is already running")
        cmd = [
            system_python(),
            str(SCRIPT),
            "--port",
            str(self.port),
            "--footage",
            str(self.footage_dir),
            "--cache",
            str(self.cache_dir),
            "--cameras",
            str(self.cameras),
        ]
        for path, (user, password) in self.auth.items():
            cmd += ["--auth", f"{path}={user}:{password}"]
        for path, file in self.clips.items():
            cmd += ["--clip", f"{path}={file}"]
        with self._log.open("wb") as log:
            try:
                self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            except OSError as exc:
                raise Unavailable(f"cannot run the footage server with {system_python()}: {exc.strerror}") from None
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise Unavailable(f"the footage server exited at start: {self.log_tail()}")
            if b"ready rtsp://" in self._log.read_bytes() and answers(self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise Unavailable(f"the footage server did not come up within {ready_timeout_s:g} s: {self.log_tail()}")

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def base_url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self._log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])

    # ------------------------------------------------------------------ faults, by pid only

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open, nothing is sent."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def kill(self) -> None:
        """Kill the server (SIGKILL) as a crash would; `launch` brings it back on the same port."""
        if self.process is not None and self.process.poll() is None:
            self._signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self._signal(signal.SIGCONT)  # a stopped process would not act on SIGTERM
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout_s)

    def close(self) -> None:
        self.stop()
        self._log.unlink(missing_ok=True)

    def _signal(self, sig: signal.Signals) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, sig)

    def __enter__(self) -> FootageServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# ---------------------------------------------------------------------------------------- the demo


@dataclass
class DemoSources:
    """How the demo's cameras are fed: the footage server, or the footage files when it cannot run."""

    server: FootageServer | None
    """The server this process started (None when one was already running, or on the file fallback)."""
    streaming: bool
    """RTSP is available on the demo port."""
    message: str
    footage_dir: Path = DEFAULT_FOOTAGE
    port: int = DEMO_PORT

    def cameras(self, cameras: Iterable[Camera]) -> list[Camera]:
        """The cameras as ingest should read them: unchanged over RTSP, else demo mounts mapped to files."""
        cameras = list(cameras)
        if self.streaming:
            return cameras
        return [self._to_file(c) for c in cameras]

    def _to_file(self, camera: Camera) -> Camera:
        main = self._file_for(camera.main_url)
        sub = self._file_for(camera.sub_url) if camera.sub_url else None
        if main is None and sub is None:
            return camera
        return replace(camera, main_url=main or camera.main_url, sub_url=sub)

    def _file_for(self, url: str) -> str | None:
        parts = urlsplit(url)
        if parts.scheme != "rtsp" or parts.hostname != "127.0.0.1" or (parts.port or 554) != self.port:
            return None
        name = DEMO_FILES.get(parts.path)
        return str(self.footage_dir / name) if name else None

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


def start_demo_sources(
    *, port: int = DEMO_PORT, footage_dir: Path = DEFAULT_FOOTAGE, cache_dir: Path = DEFAULT_CACHE
) -> DemoSources:
    """Serve the demo footage over RTSP on 127.0.0.1:``port``; fall back to the files, saying why."""
    if answers(port):
        return DemoSources(None, True, f"demo cameras: using the RTSP server already on 127.0.0.1:{port}")
    try:
        server = FootageServer.start(port, footage_dir=footage_dir, cache_dir=cache_dir)
    except Unavailable as exc:
        return DemoSources(
            None,
            False,
            f"demo cameras: footage server unavailable ({exc}); reading the footage files directly instead "
            f"(the live pattern camera stays offline)",
            footage_dir,
            port,
        )
    return DemoSources(
        server, True, f"demo cameras: footage server on 127.0.0.1:{port} (pid {server.pid})", footage_dir, port
    )

"""Settings from the environment (``GRIDWATCH_*``) and the command line, with defaults for the embedded
single-process mode."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_SITE = REPO_ROOT / "examples" / "demo-site.yaml"
"""The demo site: what `gridwatch run --demo` loads, and `gridwatch watch --demo` on an empty site."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDWATCH_", extra="forbid")

    data_dir: Path = Field(Path("var"), description="Database, secret key, evidence images, model exports.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: SQLite file gridwatch.db in the data dir."
    )
    bind: str = Field("127.0.0.1:8000", description="host:port the HTTP server listens on.")
    secret_key: SecretStr | None = Field(
        None, description="Fernet key for stored credentials; default: generated into data_dir/secret.key."
    )
    footage_dir: Path = Field(REPO_ROOT / ".cache" / "footage", description="Real demo footage (vtest.avi, tree.avi).")
    demo: bool = Field(False, description="Demo mode: accept local files as camera sources.")
    calibration: Path | None = Field(
        None,
        description="Frames (a clip, an image or a folder of snapshots from the cameras) to calibrate an INT8 "
        "model on; it is then raced against the fp32 exports and used when faster. Default in demo mode: "
        "the demo footage.",
    )
    detect: bool = Field(
        True,
        description="`gridwatch run` pulls the cameras and raises alerts; false (0) serves the API and console only.",
    )
    log_level: str = Field("info", description="debug, info, warning or error.")
    events_policy: Path | None = Field(
        None, description="Events policy YAML (triage, deadlines, auto-case, escalation); default: built-in."
    )
    detector_service: str | None = Field(
        None,
        description="Name of a running detector service (a Ray Serve app, gridwatch.detector_service) that runs "
        "the detection model for this process's pipelines, e.g. on GPU nodes; default: the model runs here.",
    )

    public_url: str | None = Field(
        None,
        description="The console's address as people reach it, for links in notifications; default: http://<bind>/.",
    )
    notify_allow_hosts: str = Field(
        "",
        description="Comma-separated hosts that robot channels may post to over http besides their vendors' https "
        "hosts (local receivers on an isolated network, tests).",
    )

    live_max_viewers: int = Field(
        32,
        ge=1,
        le=1000,
        description="Live views (WebRTC viewers) the server serves at once; each tile of a video wall is one. "
        "Past it a new view is refused with 503 naming the limit.",
    )

    gateway_sync_s: float = Field(
        60.0,
        ge=0,
        le=86400,
        description="`gridwatch run` syncs every GB/T 28181 gateway's channels this often (new channels become "
        "cameras, vanished ones are disabled); 0: only on demand (`gridwatch gateway sync`, the API).",
    )

    dispatch: Literal["process", "inline"] = Field(
        "process",
        description="Where `gridwatch run` sends webhooks, robot messages and Web Push: a process of its own "
        "(`gridwatch dispatch`, started and restarted by the service, at a lower CPU priority than the API) or "
        "threads in the API process. MQTT is always sent from the API process.",
    )

    @field_validator("bind")
    @classmethod
    def _bind(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f'bind must be host:port, got "{value}"')
        return value

    @property
    def host(self) -> str:
        return self.bind.rpartition(":")[0]

    @property
    def port(self) -> int:
        return int(self.bind.rpartition(":")[2])

    @property
    def console_url(self) -> str:
        return self.public_url or f"http://{self.bind}/"

    @property
    def allow_hosts(self) -> tuple[str, ...]:
        return tuple(h.strip() for h in self.notify_allow_hosts.split(",") if h.strip())

    @property
    def model_calibration(self) -> Path | None:
        if self.calibration is not None:
            return self.calibration
        demo_clip = self.footage_dir / "vtest.avi"
        return demo_clip if self.demo and demo_clip.is_file() else None

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'gridwatch.db').resolve()}"

    def prepare(self) -> None:
        """Create the data dir and point ultralytics' config dir inside it (it writes settings there); with a
        detector service, make the detectors built from now on run their model there.

        Ultralytics logs only errors (``YOLO_VERBOSE=False`` unless set): its first import would otherwise
        print a settings banner about its own command line into the service's output."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("YOLO_CONFIG_DIR", str((self.data_dir / "ultralytics").resolve()))
        os.environ.setdefault("YOLO_VERBOSE", "False")
        if self.detector_service:
            from gridwatch.detector_service import use_service

            use_service(self.detector_service)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The settings, with the command line's --demo, --no-detect, --data-dir and --database-url over the
    environment's."""
    overrides: dict[str, object] = {}
    if getattr(args, "demo", False):
        overrides["demo"] = True
    if getattr(args, "no_detect", False):
        overrides["detect"] = False
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = args.data_dir
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    return Settings(**overrides)  # type: ignore[arg-type]

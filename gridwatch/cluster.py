"""Camera shards on a Ray cluster: one detached, named, restartable actor per shard, each running the remote
worker's loop (cameras from the API, the live pipeline, the on-disk spool) from its constructor.

Who moves what: Ray restarts a shard whose process or node died, wherever its resources fit (``max_restarts=-1``;
the constructor runs again and the loop resumes by itself, the spool on that node first). Which cameras a
shard runs is the API's stable hash (`camera_config.wire.shard_of`): a camera edit moves that camera only.
Frames never leave the node that decodes them; only observations travel, over HTTP to the API, which stays
the only writer of alerts and cases.

A small detached actor, the ``gridwatch-cluster`` record, keeps the cluster's spec, so that ``status`` and
``down`` need only the Ray address. Everything here talks to Ray's GCS only (no dashboard or state API).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from camera_config.wire import MAX_SHARDS, Shard
from core.errors import GridwatchError, InvalidInput, NotFound, Unavailable

NAMESPACE = "gridwatch"
RECORD = "gridwatch-cluster"
HEALTH_TIMEOUT_S = 5.0
"""How long a shard may take to answer a health call before it counts as not answering."""
CONNECT_TIMEOUT_S = 10.0
"""How long connecting to the cluster may take before the address counts as not answering."""


def shard_name(shard: Shard) -> str:
    return f"gridwatch-shard-{shard.index}-of-{shard.count}"


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """What `up` starts; kept by the cluster record."""

    api: str
    token: str
    """A worker account's API token. It travels in the shards' constructor arguments, which Ray's GCS keeps
    for restarts: whoever can reach the cluster can read it (as with any Ray job's arguments)."""
    shards: int
    num_cpus: float = 1.0
    memory_mb: int = 2048
    data_root: str | None = None
    """Where each node keeps a shard's spool and model exports (a folder per shard); default: the node's
    ``GRIDWATCH_DATA_DIR``/shards."""
    demo: bool = False
    resources: dict[str, float] = field(default_factory=dict)
    """Custom Ray resources every shard asks for (a node label such as a compound's network, or a GPU pool)."""
    detector_service: str | None = None
    """A running shared detector (a Ray Serve app, `gridwatch.detector_service`) the shards send model input to,
    instead of running the model on their own CPUs."""

    def check(self) -> None:
        from gridwatch.remote import api_issues  # httpx: only when a cluster is asked for

        issues = api_issues(self.api, self.token)
        if not 1 <= self.shards <= MAX_SHARDS:
            issues.append(f"--shards must be 1 to {MAX_SHARDS}, got {self.shards}")
        if self.num_cpus <= 0:
            issues.append(f"--num-cpus must be above 0, got {self.num_cpus:g}")
        if self.memory_mb < 256:
            issues.append(f"--memory-mb must be at least 256, got {self.memory_mb}")
        if issues:
            raise InvalidInput("; ".join(issues))


class ShardActor:
    """One shard (made a Ray actor by `up`). Its constructor starts the worker loop on a thread, so a restart
    by Ray resumes the shard with no call from anyone."""

    def __init__(self, spec: dict[str, Any], index: int) -> None:
        import ray

        from gridwatch.settings import Settings
        from gridwatch.worker_loop import WorkerLoop, WorkerSpec

        # the loop's progress lines go to this worker's log (Ray keeps it in the node's session logs)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("httpx").setLevel(logging.WARNING)
        cluster = ClusterSpec(**spec)
        self.shard = Shard(index, cluster.shards)
        self.name = shard_name(self.shard)
        context = ray.get_runtime_context()
        self.node_id = context.get_node_id()
        self.restarted = context.was_current_actor_reconstructed
        self.started = time.time()
        root = Path(cluster.data_root) if cluster.data_root else Settings().data_dir / "shards"
        settings = Settings(data_dir=root / self.name, demo=cluster.demo, detector_service=cluster.detector_service)
        settings.prepare()
        worker = WorkerSpec(
            api=cluster.api, token=cluster.token, name=f"{self.name} (ray)", shard=self.shard, status_every_s=60.0
        )
        self.loop = WorkerLoop(worker, settings)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{self.name}-loop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.loop.run(self._stop)

    async def health(self) -> dict[str, Any]:
        h = self.loop.health()
        monitor = self.loop.monitor
        return {
            "shard": str(self.shard),
            "name": self.name,
            "node_id": self.node_id,
            "pid": os.getpid(),
            "restarted": self.restarted,
            "started": self.started,
            "running": self._thread.is_alive(),
            "revisions": monitor.applied_revisions() if monitor is not None else {},
            "applied_at": monitor.applied_at if monitor is not None else None,
            "analysed": {f.camera_id: f.detected_frames for f in monitor.stats()} if monitor is not None else {},
            **asdict(h),
        }

    async def stop(self) -> bool:
        """End the loop (the spool keeps what was not delivered); True when it ended."""
        self._stop.set()
        await asyncio.to_thread(self._thread.join, 30.0)
        return not self._thread.is_alive()


class ClusterRecord:
    """The cluster's spec, kept in a detached actor so that any driver finds it by name."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def get(self) -> dict[str, Any]:
        return self.spec


def connect(address: str) -> None:
    """Join the cluster at ``address`` (``auto``, ``HOST:PORT`` or ``ray://HOST:PORT``) as a driver; `Unavailable`
    naming the address when nothing answers within `CONNECT_TIMEOUT_S`."""
    import ray

    if ray.is_initialized():
        return
    failure: list[BaseException] = []

    def attempt() -> None:
        try:
            ray.init(address=address, namespace=NAMESPACE, log_to_driver=False, logging_level=logging.WARNING)
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError or its own errors
            failure.append(exc)

    # joined on a thread to bound the wait, where Ray says it cannot take SIGTERM there: the CLI stops on its own
    logging.getLogger("ray._private.worker").setLevel(logging.ERROR)
    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(CONNECT_TIMEOUT_S)
    if thread.is_alive():
        raise Unavailable(f'the Ray cluster at "{address}" did not answer within {CONNECT_TIMEOUT_S:g} s')
    if failure:
        raise Unavailable(f'cannot join the Ray cluster at "{address}": {failure[0]}')


def _record() -> Any:
    import ray

    try:
        return ray.get_actor(RECORD, namespace=NAMESPACE)
    except ValueError as exc:
        raise NotFound("no gridwatch cluster runs there (start one with `gridwatch cluster up`)") from exc


RECORD_TIMEOUT_S = 20.0
"""How long a call waits for the record, which Ray may be restarting elsewhere after its node was lost."""


def _spec() -> dict[str, Any]:
    """The running cluster's spec, from its record (calls to it are retried while Ray restarts it)."""
    import ray

    try:
        return dict(ray.get(_record().get.remote(), timeout=RECORD_TIMEOUT_S))
    except (ray.exceptions.GetTimeoutError, ray.exceptions.RayActorError) as exc:
        raise Unavailable(
            f"the cluster's record ({RECORD}) did not answer within {RECORD_TIMEOUT_S:g} s; Ray may be placing it "
            "again after its node was lost, or the cluster has no room for it"
        ) from exc


def up(spec: ClusterSpec, *, say: Callable[[str], None] = print, wait_s: float = 120.0) -> list[dict[str, Any]]:
    """Start (or find running) every shard of ``spec`` and the record; wait until each answers. Refuses a
    spec that differs from the running cluster's (bring it down first) and shards the cluster cannot place."""
    import ray

    spec.check()
    doc = asdict(spec)
    try:
        running = _spec()
    except NotFound:
        running = None
    if running is not None and running != doc:
        raise InvalidInput(
            f"a gridwatch cluster with other settings runs there ({running['shards']} shard(s), API "
            f"{running['api']}): `gridwatch cluster down` first"
        )
    _check_fits(spec)
    if spec.detector_service:
        _check_detector(spec.detector_service)
    ray.remote(ClusterRecord).options(
        name=RECORD,
        namespace=NAMESPACE,
        lifetime="detached",
        get_if_exists=True,
        num_cpus=0,
        max_restarts=-1,
        max_task_retries=-1,  # a call made while Ray restarts it waits for the new one
    ).remote(doc)
    remote = ray.remote(ShardActor)
    handles: list[Any] = []
    for k in range(1, spec.shards + 1):
        shard = Shard(k, spec.shards)
        handles.append(
            remote.options(
                name=shard_name(shard),
                namespace=NAMESPACE,
                lifetime="detached",
                get_if_exists=True,
                max_restarts=-1,
                max_task_retries=0,
                num_cpus=spec.num_cpus,
                memory=spec.memory_mb * 2**20,
                resources=dict(spec.resources),
                scheduling_strategy="SPREAD",
            ).remote(doc, k)
        )
    say(f"cluster: {spec.shards} shard(s) asked for; waiting for them to answer")
    deadline = time.monotonic() + wait_s
    answers: list[dict[str, Any]] = []
    for handle in handles:
        left = max(1.0, deadline - time.monotonic())
        try:
            answers.append(ray.get(handle.health.remote(), timeout=left))
        except ray.exceptions.GetTimeoutError as exc:
            raise Unavailable(
                f"shards did not start within {wait_s:g} s (see `gridwatch cluster status`; Ray's logs say why)"
            ) from exc
    return answers


def _check_fits(spec: ClusterSpec) -> None:
    """Refuse shards no node can hold: Ray would keep them pending for ever, silently."""
    import ray

    nodes = [n for n in ray.nodes() if n.get("Alive")]  # type: ignore[no-untyped-call]
    wanted = {"CPU": spec.num_cpus, "memory": spec.memory_mb * 2**20, **spec.resources}

    def holds(node: dict[str, Any]) -> int:
        have = node.get("Resources", {})
        counts = [int(have.get(k, 0) // v) for k, v in wanted.items() if v > 0]
        return min(counts) if counts else 0

    room = sum(holds(n) for n in nodes)
    if room < spec.shards:
        totals = ", ".join(
            f"{k} {sum(n.get('Resources', {}).get(k, 0) for n in nodes):g}" for k in wanted if k != "memory"
        )
        raise InvalidInput(
            f"{spec.shards} shard(s) of {spec.num_cpus:g} CPU and {spec.memory_mb} MiB do not fit the cluster's "
            f"{len(nodes)} node(s) ({totals}; memory "
            f"{sum(n.get('Resources', {}).get('memory', 0) for n in nodes) / 2**20:.0f} MiB): it holds {room}; "
            "give fewer --shards, less --num-cpus/--memory-mb, or more nodes"
        )


def _check_detector(app: str) -> None:
    """Refuse shards that would wait for a detector service nobody started."""
    from gridwatch.detector_service import describe

    try:
        describe(app)
    except GridwatchError as exc:
        raise InvalidInput(
            f"--detector-service {app}: {exc}; start it first with `gridwatch cluster detector --app {app}`"
        ) from exc


def _names(spec: dict[str, Any]) -> list[str]:
    """The shard actors' names of a cluster spec, shard 1 first."""
    count = int(spec["shards"])
    return [shard_name(Shard(k, count)) for k in range(1, count + 1)]


def nodes() -> list[dict[str, Any]]:
    """The cluster's nodes as Ray's GCS sees them: a lost node shows as not alive once its health checks fail."""
    import ray

    out = []
    for n in ray.nodes():  # type: ignore[no-untyped-call]
        have = n.get("Resources", {})
        out.append(
            {
                "node_id": n["NodeID"],
                "address": n.get("NodeManagerAddress", ""),
                "alive": bool(n.get("Alive")),
                "cpus": have.get("CPU", 0.0),
                "memory_mb": round(have.get("memory", 0.0) / 2**20),
                "resources": {
                    k: v
                    for k, v in have.items()
                    if k not in ("CPU", "memory", "object_store_memory") and not k.startswith("node:")
                },
            }
        )
    return out


def status() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The running cluster's spec (token left out) and one line per shard: its health, or why it has none."""
    import ray

    spec = _spec()
    spec.pop("token", None)
    shards = []
    for name in _names(spec):
        try:
            handle: Any = ray.get_actor(name, namespace=NAMESPACE)
            shards.append({"state": "alive", **ray.get(handle.health.remote(), timeout=HEALTH_TIMEOUT_S)})
        except ValueError:
            shards.append({"name": name, "state": "missing"})
        except ray.exceptions.GetTimeoutError:
            shards.append({"name": name, "state": "not answering (starting, restarting or unplaceable)"})
        except ray.exceptions.RayActorError as exc:
            shards.append({"name": name, "state": f"dead: {str(exc).splitlines()[0][:200]}"})
    return spec, shards


def down(*, say: Callable[[str], None] = print) -> int:
    """Stop every shard (each ends its loop; the spool keeps what was not delivered) and the record; the
    number of shards stopped."""
    import ray

    spec = _spec()
    stopped = 0
    for name in _names(spec):
        try:
            actor: Any = ray.get_actor(name, namespace=NAMESPACE)
        except ValueError:
            continue
        try:
            ray.get(actor.stop.remote(), timeout=40)
        except (ray.exceptions.GetTimeoutError, ray.exceptions.RayActorError):
            say(f"cluster: {name} did not stop by itself; killed")
        ray.kill(actor, no_restart=True)
        stopped += 1
    ray.kill(_record(), no_restart=True)
    return stopped

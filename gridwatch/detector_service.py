"""A shared detector: one model behind a Ray Serve deployment that batches images from many shards, so that GPU
nodes can serve CPU-only ingest nodes.

A shard sends each letterboxed model-size image, never a full frame, as uint8 RGB planes (3, H, W): a 768×576
camera at the default 320 side is a 320×256 input, 240 KiB as uint8 against 960 KiB as float32 (Ray passes
arguments above 100 KiB through its object store; lossless PNG only got it to 141 KiB, for 5 ms of encoding).
The answer is the model's raw output for that image; with ``min_score`` set, only the anchors some class scores
at least that high on (the others can never make a detection above that floor), which keeps the answer to a
few KiB instead of 550. The client (`ServiceRunner`) is a `Runner`, so the detector and the pipeline above it
do not change; `use_service` makes every detector of the process that loads the served weights use it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from ray import serve

from core.errors import InvalidInput, Unavailable
from detectors.model.config import Backend, ModelConfig
from detectors.model.detector import Detector, RunnerFactory, use_runner_factory
from detectors.model.exports import WeightsInfo, load_yolo
from detectors.model.runners import Runner
from detectors.model.tensors import Tensor

log = logging.getLogger(__name__)

DEFAULT_APP = "gridwatch-detector"
STRIDE = 32
MAX_SIDE = 1280
"""Largest input side accepted (the largest YOLO input size in common use): a 1080p or 4K frame sent whole, by
mistake, is refused rather than moved as 6-25 MiB."""
MAX_BATCH_SIZE = 16
BATCH_WAIT_TIMEOUT_S = 0.005
"""How long a replica waits for more images once one has come: a few ms is small next to an inference."""
REQUEST_TIMEOUT_S = 60.0

Rows = tuple[int, npt.NDArray[np.int32], Tensor]
"""One image's answer: the anchor count, the anchors kept and their raw output rows (4 + classes, kept)."""


def pack(batch: Tensor) -> list[npt.NDArray[np.uint8]]:
    """A model input batch (0..1 float32, as `tensors.chw` makes it) → one uint8 (3, H, W) array per image.

    Exact: every value is k / 255, so the service rebuilds the same float32 input bit for bit."""
    if batch.ndim != 4 or batch.shape[1] != 3:
        raise InvalidInput(f"detector service: batch must be (B, 3, H, W), got shape {tuple(batch.shape)}")
    scaled = np.rint(batch * np.float32(255.0))
    if not np.array_equal(scaled / np.float32(255.0), batch) or scaled.min(initial=0) < 0 or scaled.max() > 255:
        raise InvalidInput("detector service: batch values must be whole steps of 1/255 in 0..1 (a letterboxed image)")
    as_bytes = scaled.astype(np.uint8)
    return [np.ascontiguousarray(image) for image in as_bytes]


def unpack(image: npt.NDArray[np.uint8]) -> Tensor:
    """The float32 model input `pack` came from."""
    return np.asarray(image / np.float32(255.0), dtype=np.float32)


def check_image(image: object) -> npt.NDArray[np.uint8]:
    """Refuse, by name, what is not one letterboxed uint8 (3, H, W) image (before it joins others in a batch)."""
    if not isinstance(image, np.ndarray):
        raise InvalidInput(f"detector service: image must be a numpy uint8 array (3, H, W), got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InvalidInput(f"detector service: image dtype must be uint8 (3, H, W), got {image.dtype}")
    shape = tuple(image.shape)
    if len(shape) != 3 or shape[0] != 3:
        raise InvalidInput(f"detector service: image shape must be (3, H, W) RGB planes, got {shape}")
    if any(side % STRIDE or not STRIDE <= side <= MAX_SIDE for side in shape[1:]):
        raise InvalidInput(
            f"detector service: image shape {shape}: H and W must be multiples of {STRIDE} in {STRIDE}..{MAX_SIDE} "
            "(a letterboxed model input, never a full frame)"
        )
    return image


def keep_rows(raw: Tensor, min_score: float) -> Rows:
    """The anchors of one image's raw output (4 + classes, anchors) whose best class scores ``min_score`` or more."""
    kept = np.flatnonzero(raw[4:].max(axis=0) >= min_score).astype(np.int32)
    rows = raw if kept.size == raw.shape[1] else raw[:, kept]
    return raw.shape[1], kept, np.ascontiguousarray(rows, dtype=np.float32)


def full_rows(rows: Rows, channels: int) -> Tensor:
    """`keep_rows` undone: anchors left out score 0 for every class, so no detection comes from them."""
    anchors, kept, values = rows
    if kept.size == anchors:
        return values
    out = np.zeros((channels, anchors), dtype=np.float32)
    out[:, kept] = values
    return out


class _CudaRunner:
    """PyTorch on the replica's GPU: the CPU runtimes (OpenVINO, ONNX Runtime's CPU provider) cannot use one."""

    def __init__(self, weights: Path) -> None:
        import torch

        yolo, _ = load_yolo(weights)
        self._torch = torch
        self._module = yolo.model.fuse().eval().to("cuda")

    def __call__(self, batch: Tensor) -> Tensor:
        with self._torch.inference_mode():
            out = self._module(self._torch.from_numpy(batch).to("cuda", non_blocking=True))
        out = out[0] if isinstance(out, (tuple, list)) else out
        return np.asarray(out.float().cpu().numpy(), dtype=np.float32)


def _on_gpu() -> bool:
    import ray

    if not ray.get_gpu_ids():
        return False
    import torch

    return bool(torch.cuda.is_available())


@serve.deployment(ray_actor_options={"num_cpus": 1})
class DetectorService:
    """One replica: the model loaded as a local `Detector` would load it (same weights file, backend choice and
    exports), or PyTorch on CUDA when the replica was given a GPU. Images from every caller are batched."""

    def __init__(self, config: ModelConfig, max_batch_size: int, batch_wait_timeout_s: float) -> None:
        gpu = _on_gpu()
        # On a GPU the detector is only the model's description (labels, hash): no CPU export or backend race.
        self._detector = Detector(replace(config, backend=Backend.TORCH) if gpu else config)
        self._run: Runner = _CudaRunner(self._detector.info.path) if gpu else self._detector.infer
        self._device = "cuda" if gpu else "cpu"
        self._sizes: deque[int] = deque(maxlen=10_000)
        batcher = cast(Any, self.infer)  # serve.batch's setters are not in its type
        batcher.set_max_batch_size(max_batch_size)
        batcher.set_batch_wait_timeout_s(batch_wait_timeout_s)
        self._max_batch_size = max_batch_size

    def info(self) -> dict[str, Any]:
        """What a client checks before it runs a model here: the weights' hash, the backend, where it runs."""
        return {
            "sha256": self._detector.info.sha256,
            "weights": str(self._detector.info.path),
            "backend": self._detector.backend.value,
            "model_path": str(self._detector.model_path),
            "device": self._device,
            "max_batch_size": self._max_batch_size,
        }

    def batch_sizes(self) -> list[int]:
        """The sizes of the batches this replica ran (the latest 10,000), to see batching at work."""
        return list(self._sizes)

    async def detect(self, image: npt.NDArray[np.uint8], min_score: float = 0.0) -> Rows:
        """One letterboxed image's raw output, run in a batch with whatever other callers sent meanwhile."""
        check_image(image)  # here, so that one bad image fails alone and not the batch it would have joined
        if not 0.0 <= float(min_score) <= 1.0:
            raise InvalidInput(f"detector service: min_score must be in 0..1, got {min_score}")
        rows: Rows = await self.infer((image, float(min_score)))
        return rows

    @serve.batch(max_batch_size=MAX_BATCH_SIZE, batch_wait_timeout_s=BATCH_WAIT_TIMEOUT_S)
    async def infer(self, requests: list[tuple[npt.NDArray[np.uint8], float]]) -> list[Rows]:
        self._sizes.append(len(requests))
        # Off the event loop: the next batch fills up while this one runs.
        return await asyncio.to_thread(self._infer_batch, requests)

    def _infer_batch(self, requests: list[tuple[npt.NDArray[np.uint8], float]]) -> list[Rows]:
        out: list[Rows | None] = [None] * len(requests)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, (image, _) in enumerate(requests):
            by_shape.setdefault(tuple(image.shape), []).append(i)
        for indices in by_shape.values():  # cameras of other aspect ratios give other input shapes
            raw = self._run(np.stack([unpack(requests[i][0]) for i in indices]))
            for row, i in enumerate(indices):
                out[i] = keep_rows(raw[row], requests[i][1])
        return [rows for rows in out if rows is not None]


class ServiceRunner:
    """A `Runner` whose model runs in the detector service: each image of a batch is sent as a request of its own,
    all at once, so that the service batches them with other shards' images; the answers are stacked back."""

    def __init__(
        self, handle: Any, *, app_name: str, min_score: float = 0.0, timeout_s: float = REQUEST_TIMEOUT_S
    ) -> None:
        self._handle = handle
        self.app_name = app_name
        self.min_score = min_score
        """Anchors no class scores this high on are not sent back (they read as 0): at most the lowest floor."""
        self.timeout_s = timeout_s

    def __call__(self, batch: Tensor) -> Tensor:
        responses = [self._handle.detect.remote(image, self.min_score) for image in pack(batch)]
        answers: list[Rows] = [_result(r, self.app_name, self.timeout_s) for r in responses]
        return np.stack([full_rows(rows, rows[2].shape[0]) for rows in answers])


def _result(response: Any, app_name: str, timeout_s: float) -> Any:
    """A response's value, or the service's own error (bad input), or Unavailable naming the app."""
    from ray.exceptions import RayError, RayTaskError

    try:
        return response.result(timeout_s=timeout_s)
    except TimeoutError:
        raise Unavailable(f"detector service {app_name!r}: no answer within {timeout_s:g} s") from None
    except RayTaskError as exc:
        cause = exc.cause
        if isinstance(cause, InvalidInput):
            raise InvalidInput(cause.issues) from None
        raise Unavailable(f"detector service {app_name!r}: {type(cause).__name__}: {cause}") from None
    except RayError as exc:  # the replica died, the cluster went away
        raise Unavailable(f"detector service {app_name!r}: {type(exc).__name__}: {exc}") from None


def _app_handle(app_name: str) -> Any:
    import ray
    from ray.serve.exceptions import RayServeException

    try:
        if not ray.is_initialized():
            ray.init(address="auto", log_to_driver=False)  # a process outside the cluster: join the running one
        return serve.get_app_handle(app_name)
    except (RayServeException, ConnectionError) as exc:
        raise Unavailable(
            f"detector service {app_name!r}: not running on this Ray cluster ({exc}); deploy it first "
            "(`gridwatch cluster detector`)"
        ) from None


def describe(app_name: str, *, timeout_s: float = REQUEST_TIMEOUT_S) -> dict[str, Any]:
    """What the running app serves (weights, backend, device, batch size); `Unavailable` naming it otherwise."""
    return dict(_result(_app_handle(app_name).info.remote(), app_name, timeout_s))


def service_factory(app_name: str, *, timeout_s: float = REQUEST_TIMEOUT_S) -> RunnerFactory:
    """A `RunnerFactory` running the weights the app serves there (other weights, e.g. the fall model, stay here)."""

    def factory(info: WeightsInfo, config: ModelConfig) -> tuple[Backend, Path, Runner] | None:
        handle = _app_handle(app_name)
        served = describe(app_name, timeout_s=timeout_s)
        if served["sha256"] != info.sha256:
            log.info(
                "detector service %r serves %s, not %s: that model runs here", app_name, served["weights"], info.path
            )
            return None
        floor = min([config.conf, *config.label_conf.values()])
        log.info(
            "model %s: running in detector service %r (%s on %s)",
            info.path.name,
            app_name,
            served["backend"],
            served["device"],
        )
        runner = ServiceRunner(handle, app_name=app_name, min_score=floor, timeout_s=timeout_s)
        return Backend(served["backend"]), Path(served["model_path"]), runner

    return factory


def use_service(app_name: str) -> None:
    """Every detector this process builds from now on runs in the detector service ``app_name`` when it serves
    the same weights (what `Settings.detector_service` sets up)."""
    use_runner_factory(service_factory(app_name))


def deploy(
    app_name: str = DEFAULT_APP,
    *,
    replicas: int = 1,
    num_gpus: float = 0.0,
    num_cpus: float = 1.0,
    config: ModelConfig | None = None,
    max_batch_size: int = MAX_BATCH_SIZE,
    batch_wait_timeout_s: float = BATCH_WAIT_TIMEOUT_S,
) -> Any:
    """Run the detector service as the Serve app ``app_name`` on the connected Ray cluster; returns its handle.

    ``num_gpus`` > 0 puts each replica on a GPU node and runs PyTorch on CUDA there. Serve is started without
    an HTTP proxy when it is not running yet: callers use handles, nothing listens on a port."""
    issues = []
    if not app_name:
        issues.append("app_name: must not be empty")
    if replicas < 1:
        issues.append(f"replicas: must be 1 or more, got {replicas}")
    if num_gpus < 0 or num_cpus < 0:
        issues.append(f"num_gpus, num_cpus: must not be negative, got {num_gpus}, {num_cpus}")
    if max_batch_size < 1:
        issues.append(f"max_batch_size: must be 1 or more, got {max_batch_size}")
    if batch_wait_timeout_s < 0:
        issues.append(f"batch_wait_timeout_s: must not be negative, got {batch_wait_timeout_s}")
    if issues:
        raise InvalidInput("; ".join(issues))
    serve.start(proxy_location="Disabled")
    env = {"YOLO_OFFLINE": "1"}  # the weights come from the installed file; never a download
    if "YOLO_CONFIG_DIR" in os.environ:
        env["YOLO_CONFIG_DIR"] = os.environ["YOLO_CONFIG_DIR"]
    app = (
        cast(Any, DetectorService)
        .options(  # the decorator made it a Deployment; its stub does not say so
            num_replicas=replicas,
            max_ongoing_requests=2 * max_batch_size,  # one batch running, the next one filling
            ray_actor_options={"num_cpus": num_cpus, "num_gpus": num_gpus, "runtime_env": {"env_vars": env}},
        )
        .bind(config or ModelConfig(), max_batch_size, batch_wait_timeout_s)
    )
    return serve.run(app, name=app_name, route_prefix=None)

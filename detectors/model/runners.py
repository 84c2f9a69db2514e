"""One runner per backend, each taking the same input tensor and giving the same raw predictions, so the
detector (and the INT8 check) need not care which runtime is underneath. Thread counts are set here: left
alone, ultralytics would keep torch on one thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from detectors.model.config import Backend
from detectors.model.tensors import Tensor


class Runner(Protocol):
    """A backend's model behind one call."""

    def __call__(self, batch: Tensor) -> Tensor:
        """(B, 3, H, W) float32 in 0..1 → raw predictions (B, 4 + classes, anchors)."""
        ...


class _TorchRunner:
    def __init__(self, yolo: Any, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self._torch = torch
        self._module = yolo.model.fuse().eval() if hasattr(yolo.model, "fuse") else yolo.model.eval()

    def __call__(self, batch: Tensor) -> Tensor:
        with self._torch.inference_mode():
            out = self._module(self._torch.from_numpy(batch))
        out = out[0] if isinstance(out, (tuple, list)) else out
        return np.asarray(out.numpy(), dtype=np.float32)


class _OnnxRunner:
    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads  # 0: ONNX Runtime's own choice (every core)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # Its threads otherwise spin for a while after each run, taking the CPU that decoding, the other
        # runtime or the next camera's work needs on a small box (and skewing the backend race).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def __call__(self, batch: Tensor) -> Tensor:
        return np.asarray(self._session.run(None, {self._input: batch})[0], dtype=np.float32)


class _OpenVinoRunner:
    """OpenVINO compiles a model for one input shape at a time: a model compiled for a fixed shape ran a 320×256
    frame in 6.5 ms here against 8.2 ms for the dynamic one. gridwatch feeds few picture shapes (a camera's frames,
    square crops) but batches of every size, and compiling costs 0.4–0.5 s: keyed on the batch size, a crowded box
    spent a fifth of its detector's time compiling. So a batch runs in chunks of `CHUNKS` images (7 = 4 + 2 + 1;
    per image a chunk of 4 costs 15 % less than singles): a picture shape needs at most four compiled models. The
    most recent `SHAPES` are kept; a shape is compiled once it has come `COMPILE_AFTER` times (one seen once runs
    on the dynamic model)."""

    CHUNKS = (8, 4, 2, 1)
    SHAPES = 16
    COMPILE_AFTER = 3

    def __init__(self, path: Path, threads: int) -> None:
        import openvino as ov

        self._core = ov.Core()
        self._path = str(path)
        self._config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads}
        self._dynamic = self._compile(None)
        self._fixed: dict[tuple[int, ...], Any] = {}
        self._seen: dict[tuple[int, ...], int] = {}
        self.compiled = 0
        """Fixed-shape models compiled so far (a steady box compiles none after its first minutes)."""

    def _compile(self, shape: tuple[int, ...] | None) -> Any:
        model = self._core.read_model(self._path)
        if shape is not None:
            model.reshape(list(shape))
        return self._core.compile_model(model, "CPU", self._config).create_infer_request()

    def _request(self, shape: tuple[int, ...]) -> Any:
        fixed = self._fixed.pop(shape, None)
        if fixed is None:
            if len(self._seen) > 256:
                self._seen.clear()  # odd shapes come and go; a bounded tally is enough
            self._seen[shape] = self._seen.get(shape, 0) + 1
            if self._seen[shape] < self.COMPILE_AFTER:
                return self._dynamic
            fixed = self._compile(shape)
            self.compiled += 1
            if len(self._fixed) >= self.SHAPES:
                self._fixed.pop(next(iter(self._fixed)))  # the least recently used
        self._fixed[shape] = fixed  # most recently used last
        return fixed

    def _run(self, chunk: Tensor) -> Tensor:
        request = self._request(tuple(chunk.shape))
        request.infer({0: chunk})
        return np.asarray(request.get_output_tensor(0).data, dtype=np.float32).copy()

    def __call__(self, batch: Tensor) -> Tensor:
        outputs: list[Tensor] = []
        start = 0
        while start < len(batch):
            size = next(c for c in self.CHUNKS if c <= len(batch) - start)
            outputs.append(self._run(batch[start : start + size]))
            start += size
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs)


STEADY_AFTER = _OpenVinoRunner.COMPILE_AFTER + 2
"""Calls with one shape after which every runner runs it as it will from then on (OpenVINO has compiled the
shape and run its compiled model once, which allocates): what a speed probe must wait for before timing."""


def runner_for(backend: Backend, path: Path, yolo: Any, threads: int) -> Runner:
    """The runner of ``backend``: the export at ``path``, or for PyTorch the loaded ``yolo`` model itself."""
    if backend in (Backend.OPENVINO, Backend.OPENVINO_INT8):
        return _OpenVinoRunner(path, threads)
    if backend in (Backend.ONNX, Backend.ONNX_INT8):
        return _OnnxRunner(path, threads)
    return _TorchRunner(yolo, threads)

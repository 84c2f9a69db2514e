"""The shared detector service against the local runner, on CPU: a local Ray (127.0.0.1, no HTTP proxy), the
service on one replica, real vtest frames at the default 320 side.

    local:    the model in this process, one image per inference (what a shard does on a quiet site)
    service:  one caller, one image per request (the round trip a lone shard pays)
    shared:   --callers callers at once, one image per request each (shards sharing the service): images/s
              and the batch sizes the replica ran

Also printed: the bytes of one request (uint8 planes) and of one answer, whole and cut at the 0.25 floor,
against Ray's 100 KiB inline limit.

    .venv/bin/python bench/detector_service.py [--images 60] [--callers 6]
"""

# ruff: noqa: E402 - the path fix below must run before the project's imports

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import collections
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cv2
import numpy as np

from detectors.model.config import Backend, ModelConfig
from detectors.model.detector import Detector
from detectors.model.tensors import model_input
from gridwatch.settings import REPO_ROOT

INLINE_LIMIT = 100 * 1024
"""Ray passes arguments and results up to this inline; larger ones go through the object store."""


def frames(count: int) -> list[np.ndarray[Any, np.dtype[np.float32]]]:
    cap = cv2.VideoCapture(str(REPO_ROOT / ".cache" / "footage" / "vtest.avi"))
    out: list[np.ndarray[Any, np.dtype[np.float32]]] = []
    try:
        while len(out) < count:
            ok, image = cap.read()
            if not ok:
                break
            out.append(model_input(np.asarray(image, dtype=np.uint8), 320))
    finally:
        cap.release()
    if not out:
        raise SystemExit("no vtest footage: run scripts/setup.sh")
    return out


def ms(values: list[float]) -> str:
    values = sorted(values)
    return (
        f"p50 {statistics.median(values) * 1000:6.1f} ms   p95 {values[int(0.95 * (len(values) - 1))] * 1000:6.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--callers", type=int, default=6)
    args = parser.parse_args()
    try:
        import ray
        from ray import serve

        from gridwatch.detector_service import deploy
    except ImportError as exc:
        print(f"skipped: Ray Serve does not import here ({exc}); it needs ray[serve]")
        return 0
    os.environ.setdefault("YOLO_OFFLINE", "1")
    batches = frames(args.images)
    with tempfile.TemporaryDirectory(prefix="gw-bench-service-") as cache:
        config = ModelConfig(backend=Backend.ONNX, cache_dir=Path(cache), threads=1)
        local = Detector(config)
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
        ray.init(num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False)
        try:
            serve.start(proxy_location="Disabled")
            handle = deploy("gridwatch-detector-bench", config=config, max_batch_size=8, batch_wait_timeout_s=0.005)
            return run(local, handle, batches, args.callers)
        finally:
            serve.shutdown()  # type: ignore[no-untyped-call]
            ray.shutdown()


def run(local: Detector, handle: Any, batches: list[Any], callers: int) -> int:
    from gridwatch.detector_service import ServiceRunner, keep_rows, pack

    image = pack(batches[0])[0]
    raw = local.infer(batches[0])[0]
    cut = keep_rows(raw, 0.25)
    print(
        f"request: uint8 {image.shape} = {image.nbytes / 1024:.0f} KiB "
        f"(float32 would be {image.nbytes * 4 / 1024:.0f} KiB)"
    )
    print(
        f"answer:  raw {raw.shape} = {raw.nbytes / 1024:.0f} KiB; cut at 0.25: {cut[1].size} anchors = "
        f"{(cut[1].nbytes + cut[2].nbytes) / 1024:.1f} KiB (Ray's inline limit: {INLINE_LIMIT // 1024} KiB)"
    )
    for warm in batches[:5]:
        local.infer(warm)
    seen: list[float] = []
    for batch in batches:
        start = time.perf_counter()
        local.infer(batch)
        seen.append(time.perf_counter() - start)
    print(f"local    1 image/inference   {ms(seen)}   {len(seen) / sum(seen):6.1f} images/s")
    runner = ServiceRunner(handle, app_name="gridwatch-detector-bench", min_score=0.25)
    for warm in batches[:5]:
        runner(warm)
    seen = []
    for batch in batches:
        start = time.perf_counter()
        runner(batch)
        seen.append(time.perf_counter() - start)
    print(f"service  1 caller            {ms(seen)}   {len(seen) / sum(seen):6.1f} images/s")
    before = len(handle.batch_sizes.remote().result(timeout_s=60))

    def caller(k: int) -> list[float]:
        took = []
        for batch in batches[k::callers]:
            start = time.perf_counter()
            runner(batch)
            took.append(time.perf_counter() - start)
        return took

    start = time.perf_counter()
    with ThreadPoolExecutor(callers) as pool:
        seen = [t for took in pool.map(caller, range(callers)) for t in took]
    wall = time.perf_counter() - start
    sizes = handle.batch_sizes.remote().result(timeout_s=60)[before:]
    print(f"service  {callers} callers           {ms(seen)}   {len(seen) / wall:6.1f} images/s")
    spread = ", ".join(f"{size}: {n}" for size, n in sorted(collections.Counter(sizes).items()))
    print(f"         batch sizes run (size: times) {spread}; mean {statistics.mean(sizes):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

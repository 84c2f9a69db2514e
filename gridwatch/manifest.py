"""A KubeRay ``RayCluster`` for a site, sized from its `gridwatch.capacity.Plan`: one worker pod per planned node,
each reserving the node's cores for Ray, room for its shards' memory, and a data folder for their spools and
model exports. The ``gridwatch cluster up`` line that fills it is kept in an annotation."""

from __future__ import annotations

import math
from typing import Any

from gridwatch.capacity import Plan

RAY_VERSION = "2.60.0"
SHARD_MEMORY_MB = 2048
"""Memory Ray reserves for each shard (`gridwatch cluster up --memory-mb`): the model, the readers and frames."""
POD_OVERHEAD_MB = 1024
"""Each worker pod's memory beyond its shards: Ray's own processes and the object store."""
HEAD_CPU = 1
HEAD_MEMORY_MB = 4096
DETECTOR_APP = "gridwatch-detector"
DETECTOR_CPU = 4
DETECTOR_MEMORY_MB = 8192
"""A GPU node's pod besides its GPU: the replica's letterboxing, batching and the CUDA runtime."""
HEALTH_CHECK = {
    "RAY_health_check_period_ms": "2000",
    "RAY_health_check_timeout_ms": "2000",
    "RAY_health_check_failure_threshold": "3",
}
"""The GCS's node health checks: a lost node is declared dead after 6–12 s instead of Ray's 15–65 s (3 s period,
10 s timeout, 5 failures), so that its shards are placed again sooner; looser than the tests' 1 s, for real
networks."""


def _resources(cpu: float, memory_mb: int) -> dict[str, dict[str, str]]:
    amount = {"cpu": f"{cpu:g}", "memory": f"{memory_mb}Mi"}
    return {"requests": dict(amount), "limits": dict(amount)}


def shard_cpus(plan: Plan) -> float:
    """CPUs each shard reserves so that a node's shards fill its usable cores (rounded down to 0.05)."""
    processes = max(1, plan.processes_per_node)
    return max(0.05, math.floor(plan.usable_cores / processes * 20) / 20)


def raycluster(plan: Plan, *, image: str, api: str, name: str = "gridwatch") -> dict[str, Any]:
    """The manifest as a document (`yaml.safe_dump` writes it). The head runs no shards (``num-cpus: 0``); the
    worker pods take the worker token from the Secret ``<name>-worker-token`` (key ``token``)."""
    nodes = max(1, plan.nodes)
    processes = max(1, plan.processes_per_node)
    shards = nodes * processes
    cpus = shard_cpus(plan)
    pod_memory = processes * SHARD_MEMORY_MB + POD_OVERHEAD_MB
    address = f"{name}-head-svc:6379"
    up = (
        f"gridwatch cluster up --address {address} --api {api} --shards {shards} "
        f"--num-cpus {cpus:g} --memory-mb {SHARD_MEMORY_MB} --data-root /data/shards"
    )
    annotations = {}
    groups = []
    if plan.gpu:
        up += f" --detector-service {DETECTOR_APP}"
        annotations["gridwatch/detector-up"] = (
            f"gridwatch cluster detector --address {address} --app {DETECTOR_APP} --replicas {plan.gpu_nodes} "
            "--num-gpus 1"
        )
        groups.append(_gpu_group(image, plan.gpu_nodes, name))
    worker_env = [
        {"name": "GRIDWATCH_DATA_DIR", "value": "/data"},
        {"name": "YOLO_OFFLINE", "value": "1"},
        {
            "name": "GRIDWATCH_WORKER_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": f"{name}-worker-token", "key": "token"}},
        },
        *_ray_auth(name),
    ]
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {
            "name": name,
            "annotations": {
                "gridwatch/cluster-up": up,
                **annotations,
                "gridwatch/plan": (
                    f"{plan.cameras} cameras, {plan.cores:.2f} cores expected at "
                    f"{plan.costs.motion_share:.0%} motion: {nodes} node(s) of {plan.node_cores:g} cores, "
                    f"{processes} shard(s) each"
                ),
            },
        },
        "spec": {
            "rayVersion": RAY_VERSION,
            "headGroupSpec": {
                "rayStartParams": {"num-cpus": "0"},
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "ray-head",
                                "image": image,
                                "env": [{"name": k, "value": v} for k, v in HEALTH_CHECK.items()] + _ray_auth(name),
                                "resources": _resources(HEAD_CPU, HEAD_MEMORY_MB),
                                "ports": [
                                    {"containerPort": 6379, "name": "gcs"},
                                    {"containerPort": 10001, "name": "client"},
                                ],
                            }
                        ]
                    }
                },
            },
            "workerGroupSpecs": [
                {
                    "groupName": "cameras",
                    "replicas": nodes,
                    "minReplicas": nodes,
                    "maxReplicas": nodes,
                    "rayStartParams": {"num-cpus": f"{plan.node_cores:g}"},
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "ray-worker",
                                    "image": image,
                                    "env": worker_env,
                                    "resources": _resources(plan.node_cores, pod_memory),
                                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                                }
                            ],
                            # the spools: a hostPath or a volume per pod keeps them across pod restarts
                            "volumes": [{"name": "data", "emptyDir": {}}],
                        }
                    },
                },
                *groups,
            ],
        },
    }


def _ray_auth(name: str) -> list[dict[str, Any]]:
    """Ray's token authentication on every pod, the token from the Secret ``<name>-ray-token`` (key ``token``):
    without it, whoever reaches the cluster's ports can run code on it."""
    return [
        {"name": "RAY_AUTH_MODE", "value": "token"},
        {"name": "RAY_AUTH_TOKEN", "valueFrom": {"secretKeyRef": {"name": f"{name}-ray-token", "key": "token"}}},
    ]


def _gpu_group(image: str, nodes: int, name: str) -> dict[str, Any]:
    """GPU nodes for the shared detector (`gridwatch cluster detector`): one replica per GPU; the shards, on the
    CPU nodes, send it their letterboxed images."""
    amount = {"cpu": f"{DETECTOR_CPU}", "memory": f"{DETECTOR_MEMORY_MB}Mi", "nvidia.com/gpu": "1"}
    return {
        "groupName": "detector",
        "replicas": nodes,
        "minReplicas": nodes,
        "maxReplicas": nodes,
        "rayStartParams": {"num-cpus": f"{DETECTOR_CPU}", "num-gpus": "1"},
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "ray-worker",
                        "image": image,
                        "env": [{"name": "YOLO_OFFLINE", "value": "1"}, *_ray_auth(name)],
                        "resources": {"requests": dict(amount), "limits": dict(amount)},
                    }
                ]
            }
        },
    }

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
    up = (
        f"gridwatch cluster up --address {name}-head-svc:6379 --api {api} --shards {shards} "
        f"--num-cpus {cpus:g} --memory-mb {SHARD_MEMORY_MB} --data-root /data/shards"
    )
    worker_env = [
        {"name": "GRIDWATCH_DATA_DIR", "value": "/data"},
        {"name": "YOLO_OFFLINE", "value": "1"},
        {
            "name": "GRIDWATCH_WORKER_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": f"{name}-worker-token", "key": "token"}},
        },
    ]
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {
            "name": name,
            "annotations": {
                "gridwatch/cluster-up": up,
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
                }
            ],
        },
    }

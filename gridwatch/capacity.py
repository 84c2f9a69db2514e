"""Capacity planning: how many worker nodes a site needs, from what one camera costs.

Pure arithmetic (the only I/O is `CostModel.from_json` reading a costs file), so that the figures can be
table-tested and the same model serves `gridwatch plan` and the scale-out tooling. Every cost is in
milliseconds of one core per frame (or a share of one core); a site's load is the expected load: each camera
is moving with the probability ``motion_share`` and quiet otherwise.

Stream assumptions the plan cannot know without opening the streams (documented, shown in every plan):
keyframes come every `KEYFRAME_INTERVAL_S`, so keyframe-only decoding (detect mode ``keyframe``, and
``auto``, which prefers it) analyses at most one frame a second; ``full`` and ``sampled`` decode every frame
of an `INPUT_FPS` stream and analyse at the camera's ``detect.fps``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from camera_config.stream_settings import DecodeMode
from camera_config.types import Camera
from core.errors import InvalidInput, Issue
from core.files import read_text_file

# Built-in costs: measured by `bench/capacity.py --write-costs FILE` with 150 cameras on a 2-core Intel Xeon
# with AVX-512 (360p sub streams, the default model on its fastest backend there); 720p and 1080p decoding
# scaled from 360p by their pixels. On a CPU with AVX2 only the model costs 3-5 times as much. Measure your own
# worker nodes and pass the file with --costs: a plan names every figure that still comes from here as
# "assumed".

READ_CORE_PER_CAMERA: Final = 0.0036
"""Share of one core to receive and demux one RTSP stream, whatever its resolution (every camera pays it)."""
DECODE_MS: Final[Mapping[str, float]] = MappingProxyType({"360p": 3.3, "720p": 13.2, "1080p": 29.7})
"""Milliseconds of one core to decode one frame, by resolution class of the detect stream."""
GATE_MS: Final = 0.52
"""Motion gate, per decoded frame."""
INFERENCE_MS: Final = 13.6
"""Detector per analysed frame with motion: the model and the fall stage, CPU of every thread of the runtime,
on a box whose cores are also decoding."""
STILL_MS: Final = 0.76
"""Rules per analysed frame without motion (the model does not run)."""
EVENTS_MS: Final = 0.66
"""Events stage per analysed frame."""
QUIET_CHECK_S: Final = 10.0
"""A quiet camera is decoded and checked once per this many seconds."""
MOTION_SHARE: Final = 0.25
"""Share of the cameras showing motion at any time: assumed, it depends on the site."""
USABLE_SHARE: Final = 0.8
"""Share of each node's cores a plan fills; the rest is headroom for bursts of motion."""
NODE_RESERVE_CORES: Final = 0.2
"""Cores per node for the worker's spool, delivery and the OS."""
PROCESS_CAMERAS: Final = 150.0
"""Cameras one worker process holds: its RTSP readers share Python's GIL, and past this the detector waits on
them (measured: one process held 150 cameras and fell to 0.83 fps at 200 on a box with cores to spare; two
processes held 200). A node with more cameras runs several (`gridwatch worker --shard K/N`)."""
GPU_INFERENCE_MS: Final = 1.0
"""With a GPU: milliseconds of GPU per analysed frame with motion (the CPU then runs only the rules)."""
GPU_FRAMES_PER_S: Final = 400.0
"""What one GPU node analyses: frames with motion per second."""

KEYFRAME_INTERVAL_S: Final = 1.0
"""Assumed keyframe interval of every stream: keyframe-only decoding analyses at most 1/this frames a second."""
INPUT_FPS: Final = 25.0
"""Assumed frame rate of every stream: what ``full`` and ``sampled`` decoding decode."""
SUB_RESOLUTION: Final = "360p"
"""Assumed resolution class of a camera's sub stream (detection reads it when there is one)."""
MAIN_RESOLUTION: Final = "1080p"
"""Assumed resolution class of a main stream (read only when the camera has no sub stream)."""

BUILT_IN: Final = "built-in"
"""The source of a figure nobody measured."""

_SHARES = frozenset({"motion_share", "usable_share"})
_POSITIVE = frozenset({"quiet_check_s", "gpu_frames_per_s", "usable_share", "process_cameras"})


@dataclass(frozen=True, slots=True)
class CostModel:
    """What a camera costs and what a node holds; ``sources`` says where each figure came from (`BUILT_IN`, a
    costs file's name, or the command-line option that set it). ``decode_ms`` figures are named
    ``decode_ms.CLASS`` there."""

    read_core_per_camera: float = READ_CORE_PER_CAMERA
    decode_ms: Mapping[str, float] = field(default_factory=lambda: DECODE_MS)
    gate_ms: float = GATE_MS
    inference_ms: float = INFERENCE_MS
    still_ms: float = STILL_MS
    events_ms: float = EVENTS_MS
    quiet_check_s: float = QUIET_CHECK_S
    motion_share: float = MOTION_SHARE
    usable_share: float = USABLE_SHARE
    node_reserve_cores: float = NODE_RESERVE_CORES
    process_cameras: float = PROCESS_CAMERAS
    gpu_inference_ms: float = GPU_INFERENCE_MS
    gpu_frames_per_s: float = GPU_FRAMES_PER_S
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def figure_names(cls) -> list[str]:
        """The fields a costs file may set."""
        return [f.name for f in fields(cls) if f.name != "sources"]

    def source(self, figure: str) -> str:
        return self.sources.get(figure, BUILT_IN)

    def assumed(self) -> list[str]:
        """Every figure still at its built-in value (with ``decode_ms.CLASS`` for each resolution class)."""
        names: list[str] = []
        for name in self.figure_names():
            if name == "decode_ms":
                names += [f"decode_ms.{c}" for c in self.decode_ms if self.source(f"decode_ms.{c}") == BUILT_IN]
            elif self.source(name) == BUILT_IN:
                names.append(name)
        return names

    def with_motion_share(self, share: float, source: str) -> CostModel:
        return replace(self, motion_share=share, sources={**self.sources, "motion_share": source})

    @classmethod
    def from_json(cls, path: Path) -> CostModel:
        """The built-in model with the figures a JSON costs file sets (any subset of the field names; a partial
        ``decode_ms`` keeps the other classes). Every problem is reported, each naming its key."""
        text = read_text_file(path)
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(Issue(f"{path.name} line {exc.lineno}", f"not valid JSON: {exc.msg}")) from None
        return cls.from_mapping(doc, path.name)

    @classmethod
    def from_mapping(cls, doc: Any, source: str) -> CostModel:
        """See `from_json`; ``source`` names the document in errors and in ``sources``."""
        if not isinstance(doc, Mapping):
            raise InvalidInput(Issue(source, f"a costs file must be a JSON object, got {type(doc).__name__}"))
        known = cls.figure_names()
        issues: list[Issue] = []
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for key, value in doc.items():
            where = f"{source} {key}"
            if key not in known:
                issues.append(Issue(where, f"unknown key (expected one of: {', '.join(known)})"))
            elif key == "decode_ms":
                decode = _decode_ms(value, where, issues)
                values[key] = MappingProxyType({**DECODE_MS, **decode})
                sources.update({f"decode_ms.{c}": source for c in decode})
            elif (problem := _figure_problem(key, value)) is not None:
                issues.append(Issue(where, f"{problem}, got {json.dumps(value)}"))
            else:
                values[key] = float(value)
                sources[key] = source
        if issues:
            raise InvalidInput(issues)
        return cls(**values, sources=sources)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _figure_problem(name: str, value: Any) -> str | None:
    """What is wrong with one scalar figure, or None."""
    if not _is_number(value):
        return "must be a number"
    if name in _POSITIVE and value <= 0:
        return "must be more than 0"
    if value < 0:
        return "must not be negative"
    if name in _SHARES and value > 1:
        return "is a share: must be between 0 and 1"
    return None


def _decode_ms(value: Any, where: str, issues: list[Issue]) -> dict[str, float]:
    if not isinstance(value, Mapping) or not value:
        issues.append(Issue(where, f'must be an object of resolution class → ms, e.g. {{"360p": 1.5}}, got {value!r}'))
        return {}
    decode: dict[str, float] = {}
    for cls_name, ms in value.items():
        if not _is_number(ms) or ms < 0:
            issues.append(Issue(f"{where}.{cls_name}", f"must be a number of ms ≥ 0, got {json.dumps(ms)}"))
        else:
            decode[str(cls_name)] = float(ms)
    return decode


@dataclass(frozen=True, slots=True)
class Load:
    """Shares of one core (or, for ``gpu``, of one GPU's time) by stage."""

    read: float = 0.0
    decode: float = 0.0
    gate: float = 0.0
    inference: float = 0.0
    rules: float = 0.0
    events: float = 0.0
    gpu: float = 0.0

    @property
    def cpu(self) -> float:
        return self.read + self.decode + self.gate + self.inference + self.rules + self.events

    def mix(self, other: Load, share: float) -> Load:
        """``share`` of this load and the rest of ``other``: the expected load of a camera moving ``share`` of
        the time."""
        return Load(
            *(share * a + (1 - share) * b for a, b in zip(_parts(self), _parts(other), strict=True)),
        )

    def times(self, n: float) -> Load:
        return Load(*(n * a for a in _parts(self)))

    def __add__(self, other: Load) -> Load:
        return Load(*(a + b for a, b in zip(_parts(self), _parts(other), strict=True)))

    def as_dict(self) -> dict[str, float]:
        names = ("read", "decode", "gate", "inference", "rules", "events", "gpu")
        return {**dict(zip(names, (round(v, 6) for v in _parts(self)), strict=True)), "cpu": round(self.cpu, 6)}


def _parts(load: Load) -> tuple[float, ...]:
    return (load.read, load.decode, load.gate, load.inference, load.rules, load.events, load.gpu)


@dataclass(frozen=True, slots=True)
class Profile:
    """What reading one camera means for the plan: its detect stream's class and frame rates while moving."""

    resolution: str
    mode: DecodeMode
    decoded_per_s: float
    """Frames decoded a second while there is motion."""
    analysed_per_s: float
    """Frames analysed a second while there is motion."""


def profile(camera: Camera, sub_resolution: str = SUB_RESOLUTION, main_resolution: str = MAIN_RESOLUTION) -> Profile:
    """The camera's detect stream and rates: keyframe-only (modes ``keyframe`` and ``auto``) analyses at most one
    keyframe per `KEYFRAME_INTERVAL_S`; ``full`` and ``sampled`` decode all `INPUT_FPS` and analyse at
    ``detect.fps`` (never more than the input)."""
    resolution = sub_resolution if camera.sub_url else main_resolution
    detect = camera.detect
    if detect.mode in (DecodeMode.FULL, DecodeMode.SAMPLED):
        analysed = min(detect.fps, INPUT_FPS)
        return Profile(resolution, detect.mode, INPUT_FPS, analysed)
    analysed = min(detect.fps, 1.0 / KEYFRAME_INTERVAL_S)
    return Profile(resolution, detect.mode, analysed, analysed)


def moving_load(p: Profile, costs: CostModel, *, gpu: bool = False) -> Load:
    """A camera with motion: every analysed frame goes to the detector (on the GPU with ``gpu``, the CPU then
    runs only the rules)."""
    decode_ms = costs.decode_ms[p.resolution]
    per_s = p.analysed_per_s / 1000.0
    return Load(
        read=costs.read_core_per_camera,
        decode=decode_ms * p.decoded_per_s / 1000.0,
        gate=costs.gate_ms * p.decoded_per_s / 1000.0,
        inference=0.0 if gpu else costs.inference_ms * per_s,
        rules=costs.still_ms * per_s if gpu else 0.0,
        events=costs.events_ms * per_s,
        gpu=costs.gpu_inference_ms * per_s if gpu else 0.0,
    )


def quiet_load(p: Profile, costs: CostModel) -> Load:
    """A camera without motion: decoded, gated and checked by the rules once per ``quiet_check_s``."""
    per_s = 1.0 / costs.quiet_check_s / 1000.0
    return Load(
        read=costs.read_core_per_camera,
        decode=costs.decode_ms[p.resolution] * per_s,
        gate=costs.gate_ms * per_s,
        rules=costs.still_ms * per_s,
        events=costs.events_ms * per_s,
    )


@dataclass(frozen=True, slots=True)
class ProfileLoad:
    """The cameras that share one profile, and what each of them costs."""

    profile: Profile
    cameras: int
    moving: Load
    quiet: Load
    expected: Load


@dataclass(frozen=True, slots=True)
class CompoundLoad:
    compound_id: str | None
    """None: the cameras outside any compound (roads, public spaces)."""
    name: str
    cameras: int
    cores: float


@dataclass(frozen=True, slots=True)
class Plan:
    """How many nodes a site needs, and the figures that say why."""

    costs: CostModel
    node_cores: float
    gpu: bool
    cameras: int
    disabled: int
    with_sub_stream: int
    profiles: list[ProfileLoad]
    compounds: list[CompoundLoad]
    """Biggest first."""
    total: Load
    moving_frames_per_s: float
    """Expected frames with motion the detector analyses a second, site-wide."""
    sub_resolution: str
    main_resolution: str

    @property
    def cores(self) -> float:
        return self.total.cpu

    @property
    def usable_cores(self) -> float:
        """What one node gives the cameras: its usable share, less what the worker itself needs."""
        return node_usable_cores(self.node_cores, self.costs)

    @property
    def nodes(self) -> int:
        return nodes_needed(self.cores, self.usable_cores)

    @property
    def processes_per_node(self) -> int:
        """Worker processes each node runs so that none has more than ``process_cameras`` cameras."""
        nodes = self.nodes
        if nodes == 0:
            return 0
        return math.ceil(round(self.cameras / nodes / self.costs.process_cameras, 9))

    @property
    def gpu_nodes(self) -> int:
        return math.ceil(self.moving_frames_per_s / self.costs.gpu_frames_per_s) if self.gpu else 0

    def as_json(self) -> dict[str, Any]:
        """The plan as one JSON-ready object (core figures are shares of one core)."""
        return {
            "nodes": self.nodes,
            "gpu_nodes": self.gpu_nodes if self.gpu else None,
            "cores": round(self.cores, 4),
            "node": {
                "cores": self.node_cores,
                "usable_share": self.costs.usable_share,
                "reserve_cores": self.costs.node_reserve_cores,
                "usable_cores": round(self.usable_cores, 4),
                "worker_processes": self.processes_per_node,
                "cameras_per_process": self.costs.process_cameras,
            },
            "cameras": {
                "enabled": self.cameras,
                "disabled": self.disabled,
                "with_sub_stream": self.with_sub_stream,
                "main_only": self.cameras - self.with_sub_stream,
            },
            "motion_share": self.costs.motion_share,
            "moving_frames_per_s": round(self.moving_frames_per_s, 3),
            "gpu": (
                {"frames_per_s_per_gpu": self.costs.gpu_frames_per_s, "gpu_inference_ms": self.costs.gpu_inference_ms}
                if self.gpu
                else None
            ),
            "total": self.total.as_dict(),
            "per_camera": [
                {
                    "cameras": p.cameras,
                    "resolution": p.profile.resolution,
                    "mode": p.profile.mode.value,
                    "decoded_fps_moving": p.profile.decoded_per_s,
                    "analysed_fps_moving": p.profile.analysed_per_s,
                    "moving": p.moving.as_dict(),
                    "quiet": p.quiet.as_dict(),
                    "expected": p.expected.as_dict(),
                }
                for p in self.profiles
            ],
            "compounds": [
                {"id": c.compound_id, "name": c.name, "cameras": c.cameras, "cores": round(c.cores, 4)}
                for c in self.compounds
            ],
            "assumed": self.costs.assumed(),
            "sources": {name: self.costs.source(name) for name in self.costs.figure_names() if name != "decode_ms"}
            | {f"decode_ms.{c}": self.costs.source(f"decode_ms.{c}") for c in self.costs.decode_ms},
            "stream_assumptions": {
                "sub_resolution": self.sub_resolution,
                "main_resolution": self.main_resolution,
                "keyframe_interval_s": KEYFRAME_INTERVAL_S,
                "input_fps": INPUT_FPS,
            },
        }


def node_usable_cores(node_cores: float, costs: CostModel) -> float:
    return node_cores * costs.usable_share - costs.node_reserve_cores


def nodes_needed(cores: float, usable_cores: float) -> int:
    """Nodes of ``usable_cores`` each that hold ``cores`` (at least one, for a site with any load)."""
    if usable_cores <= 0:
        raise InvalidInput(Issue("node", f"{usable_cores:.2f} usable cores per node: nothing left for cameras"))
    return math.ceil(round(cores / usable_cores, 9))


def plan_site(
    cameras: Iterable[Camera],
    costs: CostModel,
    *,
    node_cores: float,
    gpu: bool = False,
    compound_names: Mapping[str, str] | None = None,
    sub_resolution: str = SUB_RESOLUTION,
    main_resolution: str = MAIN_RESOLUTION,
) -> Plan:
    """The plan for the enabled ``cameras``; `InvalidInput` when a resolution class has no decode cost or a
    node has no usable cores."""
    issues = [
        Issue(option, f"no decode cost for {res!r} (known: {', '.join(costs.decode_ms)}; a costs file can add it)")
        for option, res in (("--sub-resolution", sub_resolution), ("--main-resolution", main_resolution))
        if res not in costs.decode_ms
    ]
    if node_usable_cores(node_cores, costs) <= 0:
        issues.append(
            Issue(
                "--node-cores",
                f"{node_cores:g} cores × {costs.usable_share:g} usable − {costs.node_reserve_cores:g} reserved "
                "leaves nothing for cameras",
            )
        )
    if issues:
        raise InvalidInput(issues)
    names = compound_names or {}
    everything = list(cameras)
    enabled = [c for c in everything if c.enabled]
    by_profile: dict[Profile, int] = {}
    by_compound: dict[str | None, tuple[int, float]] = {}
    loads: dict[Profile, ProfileLoad] = {}
    for camera in enabled:
        p = profile(camera, sub_resolution, main_resolution)
        by_profile[p] = by_profile.get(p, 0) + 1
        if p not in loads:
            moving, quiet = moving_load(p, costs, gpu=gpu), quiet_load(p, costs)
            loads[p] = ProfileLoad(p, 0, moving, quiet, moving.mix(quiet, costs.motion_share))
        n, cores = by_compound.get(camera.compound_id, (0, 0.0))
        by_compound[camera.compound_id] = (n + 1, cores + loads[p].expected.cpu)
    profiles = sorted(
        (replace(loads[p], cameras=n) for p, n in by_profile.items()),
        key=lambda pl: (-pl.cameras, pl.profile.resolution, pl.profile.analysed_per_s),
    )
    total = sum((pl.expected.times(pl.cameras) for pl in profiles), Load())
    compounds = sorted(
        (
            CompoundLoad(cid, names.get(cid, cid) if cid is not None else "(no compound)", n, cores)
            for cid, (n, cores) in by_compound.items()
        ),
        key=lambda c: (-c.cores, -c.cameras, c.compound_id or ""),
    )
    moving_frames = sum(pl.cameras * pl.profile.analysed_per_s for pl in profiles) * costs.motion_share
    return Plan(
        costs=costs,
        node_cores=node_cores,
        gpu=gpu,
        cameras=len(enabled),
        disabled=len(everything) - len(enabled),
        with_sub_stream=sum(1 for c in enabled if c.sub_url),
        profiles=profiles,
        compounds=compounds,
        total=total,
        moving_frames_per_s=moving_frames,
        sub_resolution=sub_resolution,
        main_resolution=main_resolution,
    )


def top(compounds: Sequence[CompoundLoad], n: int = 10) -> tuple[list[CompoundLoad], CompoundLoad | None]:
    """The ``n`` biggest compounds and one line for the rest (None when there is no rest)."""
    rest = compounds[n:]
    if not rest:
        return list(compounds), None
    return list(compounds[:n]), CompoundLoad(
        None, f"the other {len(rest)} compounds", sum(c.cameras for c in rest), sum(c.cores for c in rest)
    )

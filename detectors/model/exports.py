"""Loading weights, and their ONNX and OpenVINO exports (fp32 and INT8) in a cache.

Exports live in a cache directory keyed by the weights' hash, so an export made for other weights is never
used by mistake; a stamp file written last marks an export as complete. ultralytics does the exporting.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import InvalidInput, Unavailable
from detectors.labels import PERSON_LABELS
from detectors.model.config import EXPORTS, INT8_FROM, Backend
from detectors.model.int8 import MIN_INT8_AGREEMENT, calibration_frames, int8_agreement, quantize, split_frames

Progress = Callable[[str], None]


def file_sha256(path: Path) -> str:
    """Exports are keyed by this, so weights replaced under the same file name never reuse a stale export."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class WeightsInfo:
    """Loaded weights as far as exports and labels care: the file, its hash and its classes."""

    path: Path
    sha256: str
    names: Mapping[int, str]
    """Model class index → model class name."""


def load_yolo(path: Path) -> tuple[Any, WeightsInfo]:
    """Load ultralytics weights from a file, turning every failure into an error that names the file."""
    if not path.is_file():
        raise InvalidInput(f"{path}: no such weights file")
    from ultralytics.models.yolo.model import YOLO

    try:
        with _quiet():
            yolo = YOLO(str(path), task="detect")
            names = dict(yolo.names)
    except Exception as exc:  # ultralytics/torch raise many kinds for a bad file
        raise InvalidInput(f"{path}: not a loadable ultralytics weights file ({type(exc).__name__}: {exc})") from None
    if yolo.task != "detect":
        raise InvalidInput(f"{path}: a {yolo.task} model; gridwatch needs a detection model")
    return yolo, WeightsInfo(path=path, sha256=file_sha256(path), names={int(k): str(v) for k, v in names.items()})


def label_table(info: WeightsInfo, class_map: Mapping[str, str]) -> dict[int, str]:
    """Class index → gridwatch label, refusing weights that cannot see people."""
    table = {i: class_map[n] for i, n in info.names.items() if n in class_map}
    if not PERSON_LABELS & set(table.values()):
        raise InvalidInput(
            f"{info.path}: no class maps to a person (model classes: {', '.join(info.names.values())}); "
            'set detector.class_map, e.g. {"pedestrian": "person"}'
        )
    return table


def export_dir(cache_dir: Path, info: WeightsInfo, fmt: Backend) -> Path:
    """Where the ``fmt`` export of these weights lives, named so a person can tell which weights it is from."""
    return cache_dir / f"{info.path.stem}-{info.sha256[:16]}-{fmt.value}"


def _stamp(info: WeightsInfo, fmt: Backend) -> dict[str, str]:
    return {"weights_sha256": info.sha256, "format": fmt.value}


def _model_file(fmt: Backend) -> str:
    return "model.xml" if fmt in (Backend.OPENVINO, Backend.OPENVINO_INT8) else "model.onnx"


def read_stamp(cache_dir: Path, info: WeightsInfo, fmt: Backend) -> dict[str, Any] | None:
    """What an export recorded about itself (weights, format; for INT8 also calibration and agreement)."""
    try:
        stamp = json.loads((export_dir(cache_dir, info, fmt) / "gridwatch-export.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def fresh_export(cache_dir: Path, info: WeightsInfo, fmt: Backend) -> Path | None:
    """The cached export of these exact weights, or None when missing, incomplete or made from other weights."""
    stamp = read_stamp(cache_dir, info, fmt)
    if stamp is None or {k: stamp.get(k) for k in ("weights_sha256", "format")} != _stamp(info, fmt):
        return None
    model = export_dir(cache_dir, info, fmt) / _model_file(fmt)
    return model if model.is_file() else None


@contextmanager
def _quiet() -> Iterator[None]:
    """Exports print banners and torch.jit deprecation warnings that say nothing to an operator."""
    from ultralytics.utils import LOGGER

    level = LOGGER.level
    LOGGER.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        LOGGER.setLevel(level)


def export_model(
    weights: Path | WeightsInfo,
    fmt: Backend,
    cache_dir: Path,
    *,
    progress: Progress | None = None,
    force: bool = False,
    calibration: Path | None = None,
    imgsz: int = 640,
) -> Path:
    """Export weights to ONNX or OpenVINO (dynamic batch and size), fp32 or INT8 (calibrated on
    ``calibration`` frames at ``imgsz``), into the cache; reuse an up-to-date export. ``weights`` is a file,
    or weights already loaded (a `Detector` has them: no second load and hash)."""
    if fmt not in EXPORTS:
        raise InvalidInput(f'format: "{fmt}" cannot be exported; use {", ".join(f.value for f in EXPORTS)}')
    say = progress or _silent
    if isinstance(weights, WeightsInfo):
        info = weights
    else:
        say("loading weights")
        _, info = load_yolo(weights)
    if not force and (existing := fresh_export(cache_dir, info, fmt)) is not None:
        say("up to date")
        return existing
    if fmt in INT8_FROM and calibration is None:
        raise InvalidInput(
            "calibration: an INT8 export needs frames to calibrate on (a clip, an image or a folder of "
            "snapshots from the cameras)"
        )
    with _exporting(cache_dir):
        # another process sharing the cache (a second worker on the machine) may have made it meanwhile
        if not force and (existing := fresh_export(cache_dir, info, fmt)) is not None:
            say("up to date (exported by another process)")
            return existing
        if fmt not in INT8_FROM:
            return _export_fp32(info, fmt, cache_dir, say)
        assert calibration is not None
        if not force and (refused := _refused(cache_dir, info, fmt, calibration, imgsz)) is not None:
            raise Unavailable(refused)
        return _export_int8(info, fmt, cache_dir, say, calibration, imgsz)


def _refusal_file(cache_dir: Path, info: WeightsInfo, fmt: Backend) -> Path:
    return cache_dir / f".refused-{fmt.value}-{info.sha256[:16]}.json"


def _refused(cache_dir: Path, info: WeightsInfo, fmt: Backend, calibration: Path, imgsz: int) -> str | None:
    """Why an INT8 export of these weights on these frames was refused before, if it was: calibrating again
    would give the same answer, and costs every start of a worker about 20 s."""
    path = _refusal_file(cache_dir, info, fmt)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if doc.get("calibration") != str(calibration) or doc.get("imgsz") != imgsz:
        return None
    return f"{doc.get('reason', 'refused')} (refused before; export with force, or delete {path}, to try again)"


@contextmanager
def _exporting(cache_dir: Path) -> Iterator[None]:
    """One process at a time exports into a cache: two at once doubled the work, and the second one's install
    replaced the folder the first was loading from. The lock is on the cache folder itself, so nothing is
    left in it."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(cache_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _silent(_step: str) -> None:
    pass


def _export_fp32(info: WeightsInfo, fmt: Backend, cache_dir: Path, say: Progress) -> Path:
    with _staging(cache_dir) as (staged, work):
        # ultralytics writes next to the weights file: work on a copy so nothing lands beside the original.
        copy = work / "model.pt"
        shutil.copyfile(info.path, copy)
        yolo, _ = load_yolo(copy)
        say(f"exporting to {fmt.value}")
        try:
            with _quiet():
                produced = Path(yolo.export(format=fmt.value, dynamic=True, imgsz=640, verbose=False))
        except Exception as exc:
            raise Unavailable(f"{info.path}: {fmt.value} export failed ({type(exc).__name__}: {exc})") from None
        say("verifying")
        if fmt is Backend.ONNX:
            shutil.copyfile(produced, staged / "model.onnx")
        else:
            for src in produced.glob("*.xml"):
                shutil.copyfile(src, staged / "model.xml")
                shutil.copyfile(src.with_suffix(".bin"), staged / "model.bin")
        found = _install(staged, cache_dir, info, fmt, _stamp(info, fmt))
    say("done")
    return found


def _export_int8(
    info: WeightsInfo, fmt: Backend, cache_dir: Path, say: Progress, calibration: Path, imgsz: int
) -> Path:
    frames = calibration_frames(calibration)
    base = INT8_FROM[fmt]
    fp32 = fresh_export(cache_dir, info, base) or _export_fp32(info, base, cache_dir, say)
    inputs, held_out = split_frames(frames, imgsz)
    with _staging(cache_dir) as (staged, work):
        say(f"calibrating {fmt.value} on {len(inputs)} frames of {calibration.name}")
        try:
            int8 = quantize(fmt, fp32, staged, inputs, work)
        except Exception as exc:
            raise Unavailable(f"{info.path}: {fmt.value} quantization failed ({type(exc).__name__}: {exc})") from None
        say(f"verifying {fmt.value} against fp32 on {len(held_out)} held-out frames and ultralytics' sample images")
        agreement = int8_agreement(base, fp32, int8, held_out, imgsz)
        if agreement < MIN_INT8_AGREEMENT:
            reason = (
                f"{info.path}: the {fmt.value} export finds what fp32 finds only {agreement:.0%} of the time "
                f"(at least {MIN_INT8_AGREEMENT:.0%} needed); not used"
            )
            record = {"calibration": str(calibration), "imgsz": imgsz, "agreement": agreement, "reason": reason}
            _refusal_file(cache_dir, info, fmt).write_text(json.dumps(record), encoding="utf-8")
            raise Unavailable(reason)
        stamp = _stamp(info, fmt) | {
            "calibration": str(calibration),
            "calibration_frames": len(inputs),
            "agreement": round(agreement, 3),
        }
        found = _install(staged, cache_dir, info, fmt, stamp)
    say(f"done (agreement with fp32 {agreement:.0%})")
    return found


@contextmanager
def _staging(cache_dir: Path) -> Iterator[tuple[Path, Path]]:
    """(an empty folder to build an export in, a scratch folder), inside the cache so that `_install` is a
    rename on one file system; both are gone afterwards, so a failed export leaves nothing half-made."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".export-") as tmp:
        staged = Path(tmp) / "out"
        staged.mkdir()
        yield staged, Path(tmp)


def _install(staged: Path, cache_dir: Path, info: WeightsInfo, fmt: Backend, stamp: Mapping[str, object]) -> Path:
    """Stamp a finished export and move it into its place in the cache (replacing an outdated one)."""
    (staged / "gridwatch-export.json").write_text(json.dumps(stamp), encoding="utf-8")
    target = export_dir(cache_dir, info, fmt)
    if target.exists():
        shutil.rmtree(target)
    staged.rename(target)
    found = fresh_export(cache_dir, info, fmt)
    if found is None:  # pragma: no cover - the files were just written
        raise Unavailable(f"{target}: export did not produce a model")
    return found

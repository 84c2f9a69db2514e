"""Cameras from a CSV file: every problem reported by line and column, or (with skip-invalid) skipped."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from camera_config.cameras import CameraRecord, check_camera
from camera_config.issues import pydantic_message
from camera_config.schema import CameraSpec
from camera_config.site_index import SiteIndex
from core.errors import InvalidInput, Issue


@dataclass(slots=True)
class CameraBatch:
    """Cameras from a CSV file: what is valid, and (with skip-invalid) what was skipped and why."""

    records: list[CameraRecord]
    skipped: list[Issue]
    rows: int
    warnings: list[Issue] = field(default_factory=list)
    """Imported, but worth a look: cells a spreadsheet would run as formulas."""


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (OWASP, CSV injection)."""
FORMULA_COLUMNS = ("id", "name", "compound", "grid", "level", "rtsp_url", "sub_url", "username", "password")
"""The text columns; lat and lon are numbers, where a leading minus is only a sign."""


def spreadsheet_safe(cell: str) -> str:
    """OWASP's defence: a text cell a spreadsheet would run as a formula gets a leading apostrophe, which
    spreadsheets show as text and the import strips again."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def _unescaped(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_START) else cell


CSV_COLUMNS = (
    "id",
    "name",
    "compound",
    "grid",
    "level",
    "rtsp_url",
    "sub_url",
    "username",
    "password",
    "lat",
    "lon",
    "enabled",
)
REQUIRED_COLUMNS = ("id", "name", "rtsp_url")
_FIELD_TO_COLUMN = {
    "streams.main": "rtsp_url",
    "streams.sub": "sub_url",
    "credentials.username": "username",
    "credentials.password": "password",
    "location.lat": "lat",
    "location.lon": "lon",
    "location": "lat",
}
_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"0", "false", "no", "n", "off"}


def _row_to_spec_input(row: Mapping[str, str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    errors: list[tuple[str, str]] = []
    v = {k: _unescaped((row.get(k) or "").strip()) for k in CSV_COLUMNS}
    data: dict[str, Any] = {"id": v["id"], "name": v["name"], "streams": {"main": v["rtsp_url"]}}
    if v["sub_url"]:
        data["streams"]["sub"] = v["sub_url"]
    for key in ("compound", "grid", "level"):
        if v[key]:
            data[key] = v[key]
    creds = {k: v[k] for k in ("username", "password") if v[k]}
    if creds:
        data["credentials"] = creds
    if v["lat"] or v["lon"]:
        loc: dict[str, float] = {}
        for key in ("lat", "lon"):
            if not v[key]:
                errors.append((key, "lat and lon go together"))
                continue
            try:
                loc[key] = float(v[key])
            except ValueError:
                errors.append((key, f'"{v[key]}" is not a number'))
        if len(loc) == 2:
            data["location"] = loc
    if v["enabled"]:
        flag = v["enabled"].lower()
        if flag in _TRUE:
            data["enabled"] = True
        elif flag in _FALSE:
            data["enabled"] = False
        else:
            errors.append(("enabled", f'"{v["enabled"]}" is not true/false'))
    return data, errors


def read_camera_csv(
    text: str,
    *,
    source: str = "cameras.csv",
    allow_files: bool = False,
    existing: SiteIndex | None = None,
    skip_invalid: bool = False,
) -> CameraBatch:
    """Validate a camera CSV. Raises `InvalidInput` with every problem unless ``skip_invalid``."""
    idx = existing or SiteIndex()
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise InvalidInput(Issue(source, "the file is empty")) from None
    except csv.Error as exc:
        raise InvalidInput(Issue(f"{source} line 1", f"not valid CSV: {exc}")) from None
    head_issues = [
        Issue(f"{source} line 1", f'unknown column "{h}" (expected: {", ".join(CSV_COLUMNS)})')
        for h in header
        if h not in CSV_COLUMNS
    ]
    head_issues += [Issue(f"{source} line 1", f'missing column "{c}"') for c in REQUIRED_COLUMNS if c not in header]
    dup_cols = sorted({h for h in header if header.count(h) > 1})
    head_issues += [Issue(f"{source} line 1", f'column "{h}" appears twice') for h in dup_cols]
    if head_issues:
        raise InvalidInput(head_issues)

    records: list[CameraRecord] = []
    issues: list[Issue] = []
    warnings: list[Issue] = []
    first_line: dict[str, int] = {}
    rows = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            issues.append(Issue(f"{source} line {reader.line_num}", f"not valid CSV: {exc}"))
            break
        line = reader.line_num
        if not any(x.strip() for x in values):
            continue
        rows += 1
        where = f"{source} line {line}"
        if len(values) != len(header):
            issues.append(Issue(where, f"has {len(values)} fields, the header has {len(header)}"))
            continue
        row = dict(zip(header, values, strict=True))
        for col in FORMULA_COLUMNS:
            cell = _unescaped((row.get(col) or "").strip())
            if cell.startswith(FORMULA_START):
                warnings.append(
                    Issue(
                        where,
                        f"{col}: starts with {cell[0]!r}, which a spreadsheet runs as a formula; "
                        "exports write it as text, with a leading '",
                    )
                )
        data, row_errors = _row_to_spec_input(row)
        row_issues = [Issue(where, f"{col}: {msg}") for col, msg in row_errors]
        try:
            spec: CameraSpec | None = CameraSpec.model_validate(data, context={"allow_files": allow_files})
        except ValidationError as exc:
            spec = None
            for err in exc.errors(include_input=False):
                path = ".".join(str(p) for p in err["loc"])
                col = _FIELD_TO_COLUMN.get(path, path)
                row_issues.append(Issue(where, f"{col}: {pydantic_message(err)}"))
        record = None
        if spec is not None and not row_issues:
            if spec.id in first_line:
                row_issues.append(Issue(where, f'duplicate id "{spec.id}" (first on line {first_line[spec.id]})'))
            else:
                first_line[spec.id] = line
                record, problems = check_camera(spec, idx)
                for p in problems:
                    col = _FIELD_TO_COLUMN.get(p.field, p.field)
                    row_issues.append(Issue(where, p.message if p.names_field else f"{col}: {p.message}"))
        if row_issues or record is None:
            issues.extend(row_issues)
            continue
        records.append(CameraRecord(record.camera, record.password, line, keeps_settings=True))
    if issues and not skip_invalid:
        raise InvalidInput(issues)
    return CameraBatch(records=records, skipped=issues, rows=rows, warnings=warnings)

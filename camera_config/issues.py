"""Problems in site input as `Issue`s at exact places (``cameras[1].zones[0].points``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from core.errors import Issue

_S = TypeVar("_S", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Problem:
    """A problem with one field of a camera, before it is placed (site file, CSV line or API body)."""

    field: str
    message: str
    names_field: bool = False  # the message already says which field ("grid \"G-1\" does not exist")


def issue_path(prefix: str, loc: Sequence[int | str]) -> str:
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def pydantic_message(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown key"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def pydantic_issues(exc: ValidationError, prefix: str) -> list[Issue]:
    """Turn pydantic's errors into `Issue`s with ``a[1].b.c`` paths and messages free of input values."""
    return [Issue(issue_path(prefix, err["loc"]), pydantic_message(err)) for err in exc.errors(include_input=False)]


def parse_spec(spec: type[_S], item: Any, where: str, issues: list[Issue], **context: Any) -> _S | None:
    """``item`` as a ``spec``, or None with its problems added to ``issues``."""
    if not isinstance(item, Mapping):
        issues.append(Issue(where, f"expected a mapping, got {type(item).__name__}"))
        return None
    try:
        return spec.model_validate(item, context=context)
    except ValidationError as exc:
        issues.extend(pydantic_issues(exc, where))
        return None

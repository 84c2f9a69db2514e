"""What text, numbers and moments may reach the database: one rule, applied at every edge.

PostgreSQL refuses a NUL in text and any integer beyond 64 bits, and a moment before 1970 or after 2100
means a typo or a probe, never a camera's event; SQLite stores all of them, so without this rule the
same request passes on one backend and is a 500 on the other. Tab, newline and carriage return are text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, SecretStr, field_validator

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def text_problem(text: str) -> str | None:
    """Why ``text`` may not be stored, or None."""
    found = _NOT_TEXT.search(text)
    if found is None:
        return None
    char = found.group()
    if "\ud800" <= char <= "\udfff":
        return "contains a lone surrogate, which is not Unicode text"
    return f"contains the control character U+{ord(char):04X}"


def integer_problem(number: int) -> str | None:
    if INT64_MIN <= number <= INT64_MAX:
        return None
    return "is outside the 64-bit integer range"


def moment_problem(moment: datetime) -> str | None:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    if EARLIEST <= aware < LATEST:
        return None
    return "must lie between 1970 and 2100"


def value_problem(value: Any) -> str | None:
    """The first reason any text, integer or moment in ``value`` (searched through lists, tuples, sets
    and mappings, keys included) may not be stored; None when all may."""
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return integer_problem(value)
    if isinstance(value, datetime):
        return moment_problem(value)
    if isinstance(value, SecretStr):
        return text_problem(value.get_secret_value())
    if isinstance(value, Mapping):
        for key, item in value.items():
            problem = value_problem(key) or value_problem(item)
            if problem:
                return problem
        return None
    if isinstance(value, list | tuple | set | frozenset):
        for item in value:
            problem = value_problem(item)
            if problem:
                return problem
    return None


def checked_moment(moment: datetime) -> datetime:
    """For query parameters: a pydantic after-validator."""
    problem = moment_problem(moment)
    if problem:
        raise ValueError(problem)
    return moment


class CheckedModel(BaseModel):
    """The base of every model that takes input from outside: each field's value passes the rule above,
    and a refusal names the field."""

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        problem = value_problem(value)
        if problem:
            raise ValueError(problem)
        return value

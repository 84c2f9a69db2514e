"""The rule for what may be stored: text without control characters, 64-bit integers, 1970–2100."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import SecretStr, ValidationError

from core.text import CheckedModel, moment_problem, text_problem, value_problem


@pytest.mark.parametrize("text", ["plain", "tab\there", "two\nlines\r\n", "中文 名称", "emoji 📷", ""])
def test_text_people_write_is_accepted(text: str) -> None:
    assert text_problem(text) is None


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("a\x00b", "U+0000"),
        ("bell\x07", "U+0007"),
        ("esc\x1b[31m", "U+001B"),
        ("del\x7f", "U+007F"),
        ("half \ud800 pair", "lone surrogate"),
    ],
)
def test_control_characters_and_lone_surrogates_are_refused(text: str, said: str) -> None:
    problem = text_problem(text)
    assert problem is not None
    assert said in problem


def test_values_are_searched_through_containers_keys_included() -> None:
    assert value_problem({"people": 2, "ok": [1, "x"]}) is None
    assert value_problem({"a\x00": 1}) is not None
    assert value_problem([1, (2, {3: "x\x00"})]) is not None
    assert value_problem(2**63 - 1) is None
    assert value_problem(-(2**63)) is None
    assert value_problem(2**63) == "is outside the 64-bit integer range"
    assert value_problem(-(2**63) - 1) is not None
    assert value_problem(True) is None
    assert value_problem(SecretStr("pw\x00")) is not None


def test_moments_between_1970_and_2100() -> None:
    assert moment_problem(datetime(1970, 1, 1, tzinfo=UTC)) is None
    assert moment_problem(datetime(2099, 12, 31, 23, 59, tzinfo=UTC)) is None
    assert moment_problem(datetime(1, 1, 2, tzinfo=UTC)) == "must lie between 1970 and 2100"
    assert moment_problem(datetime(188, 9, 23, 8, 34, 12, tzinfo=timezone(timedelta(hours=9, minutes=3)))) is not None
    assert moment_problem(datetime(2100, 1, 1, tzinfo=UTC)) is not None


class Body(CheckedModel):
    name: str
    seq: int = 0
    tags: tuple[str, ...] = ()
    at: datetime | None = None


def test_a_checked_model_names_the_field_at_fault() -> None:
    Body(name="ok\tfine", tags=["a"], at=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ValidationError) as err:
        Body(name="a\x00b", seq=2**70, tags=["x", "y\x01"], at=datetime(1, 1, 1, tzinfo=UTC))
    fields = {e["loc"][0] for e in err.value.errors()}
    assert fields == {"name", "seq", "tags", "at"}

"""Reading the files people hand in: every failure names the file (and the line), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InvalidInput
from core.files import read_text_file, read_yaml_file


def test_a_yaml_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("street: {id: S-1, name: 和平街道}\n", encoding="utf-8")
    assert read_yaml_file(path) == {"street": {"id": "S-1", "name": "和平街道"}}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"\xff\xfe bad", "not UTF-8 text (byte offset 0)"),
        ("a: [1, 2\n", "site.yaml line 2: not valid YAML"),
    ],
)
def test_failures_name_the_file(tmp_path: Path, content: bytes | str | None, message: str) -> None:
    path = tmp_path / "site.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInput) as err:
        read_yaml_file(path)
    assert message in str(err.value)


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="is a directory"):
        read_text_file(tmp_path)

"""Reading the files people hand to gridwatch (site YAML, policies, camera CSVs, hotline exports).

A missing file, bad encoding or bad YAML is an `InvalidInput` naming the file (and the line), never
a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from core.errors import InvalidInput, Issue

_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_text_file(path: Path) -> str:
    """The file as UTF-8 text."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(Issue(str(path), "no such file")) from None
    except IsADirectoryError:
        raise InvalidInput(Issue(str(path), "is a directory, not a file")) from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(Issue(str(path), f"not UTF-8 text (byte offset {exc.start})")) from None


def parse_yaml(text: str, name: str) -> Any:
    """One YAML document; ``name`` says where it came from in the error."""
    try:
        return yaml.load(text, Loader=_YamlLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name} line {mark.line + 1}" if mark is not None else name
        raise InvalidInput(Issue(where, f"not valid YAML: {getattr(exc, 'problem', exc)}")) from None


def read_yaml_file(path: Path) -> Any:
    """A YAML file's document."""
    return parse_yaml(read_text_file(path), path.name)

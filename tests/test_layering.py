"""The layering contract in pyproject.toml is what `make lint` checks; these tests show that it bites."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "camera_config", "ingest", "detectors", "events", "api", "gridwatch")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the source packages and the contract, so that a test can break one import in it."""
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tree_keeps_the_layering(tree: Path) -> None:
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import"),
    [
        ("core/errors.py", "import camera_config.types"),
        ("camera_config/types.py", "import ingest.types"),
        ("ingest/types.py", "import detectors.types"),
        ("detectors/types.py", "import events.types"),
        ("events/types.py", "import api.schemas"),
        ("api/errors.py", "import gridwatch.wiring"),
    ],
)
def test_an_import_against_the_flow_breaks_the_contract(tree: Path, module: str, wrong_import: str) -> None:
    path = tree / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{wrong_import}  # against the flow\n", encoding="utf-8")
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "0 kept, 1 broken" in result.stdout
    importer = module.removesuffix(".py").replace("/", ".")
    assert importer in result.stdout, result.stdout

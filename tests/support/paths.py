"""Where the repository, its examples, the footage and the test database are."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
FOOTAGE = Path(os.environ.get("GRIDWATCH_FOOTAGE_DIR", REPO / ".cache" / "footage"))
PG_URL = os.environ.get("GRIDWATCH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

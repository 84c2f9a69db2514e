"""Time and peak memory to validate and import the full-size site (1,751 cameras), SQLite and PostgreSQL.

Target on a 2-core machine: under 5 s each. Two paths are measured per backend: the whole site from
one YAML file (site load), and the site skeleton followed by the integrators' CSV (import-cameras).

    .venv/bin/python bench/import_site.py [--pg-url URL]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ is first on sys.path and bench/events.py would hide the events package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from cryptography.fernet import Fernet
from sqlalchemy import Engine, text

from camera_config.generate import cameras_csv, generate_site
from camera_config.secrets import CredentialCipher
from camera_config.store import SiteStore
from core.db import make_engine, session_factory
from gridwatch.db import upgrade


@contextmanager
def backend(name: str, pg_url: str) -> Iterator[Engine]:
    if name == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/bench.db")
            upgrade(engine)
            yield engine
            engine.dispose()
        return
    schema = f"gwbench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = make_engine(pg_url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def peak_mib(fn: Callable[[], object]) -> float:
    """Peak Python heap during fn; a separate run, because tracing slows Python down about twofold."""
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def run_once(
    name: str, pg_url: str, path_name: str, files: tuple[Path, Path, str], probe: Callable[..., float]
) -> float:
    site_yaml, skeleton, csv_text = files
    with backend(name, pg_url) as engine:
        store = SiteStore(session_factory(engine), CredentialCipher(Fernet.generate_key()))
        if path_name.startswith("site YAML"):
            result = probe(lambda: store.load_site(site_yaml))
        else:
            store.load_site(skeleton)
            result = probe(lambda: store.import_cameras(csv_text))
        assert store.counts()["cameras"] == 1751
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp())
    doc = generate_site()
    site_yaml = work / "site.yaml"
    site_yaml.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    skeleton = work / "skeleton.yaml"
    skeleton.write_text(yaml.safe_dump({k: v for k, v in doc.items() if k != "cameras"}), encoding="utf-8")
    csv_text = cameras_csv(doc["cameras"])
    print(f"site: {len(doc['cameras'])} cameras, {len(doc['grids'])} grids, {len(doc['people'])} people")
    print(f"{'backend':<12}{'path':<28}{'seconds':>9}{'peak MiB':>10}  target < 5 s")
    ok = True
    for name in ("sqlite", "postgresql"):
        for path_name in ("site YAML (site load)", "skeleton + CSV import"):
            files = (site_yaml, skeleton, csv_text)
            seconds = run_once(name, args.pg_url, path_name, files, timed)
            peak = run_once(name, args.pg_url, path_name, files, peak_mib)
            verdict = "ok" if seconds < 5 else "MISSED"
            ok &= seconds < 5
            print(f"{name:<12}{path_name:<28}{seconds:>9.2f}{peak:>10.1f}  {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

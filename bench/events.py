"""Events on PostgreSQL: sustained alert ingestion, then the board and alert list on a big database.

Phase 1 feeds the full-size site (1,751 cameras) 200 alert episodes per second for 60 s through
`EventsService.apply_observation`, each with a real evidence snapshot, every one turned into a case or added
to its camera's open case. Latency is from the moment an alert is due to be sent (so a backlog
counts) to the moment its case message leaves the outbox on the bus. Target: p95 ≤ 100 ms.

Phase 2 seeds 1,000,000 alerts and 100,000 cases with COPY, then times the case board's and the
alert list's filtered, keyset-paginated queries (first page and a later page). Target: p95 ≤ 50 ms.
It prints the indexes and EXPLAIN ANALYZE of each query, and drops its schema at the end.

    .venv/bin/python bench/events.py [--pg-url URL] [--rate 200] [--seconds 60] [--alerts 1000000]
"""

# ruff: noqa: E402 - the path fix below must run before the project's imports

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and this file's name would hide the
# events package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import functools
import io
import json
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import cv2
import yaml
from cryptography.fernet import Fernet
from sqlalchemy import Engine, text

from camera_config.generate import generate_site
from camera_config.secrets import CredentialCipher
from camera_config.store import SiteStore
from core.db import make_engine, session_factory
from detectors.types import Box, Detection, EpisodeState, HazardType, Observation, Severity
from events.group_commit import GroupCommit
from events.lifecycle import OPEN
from events.messages import Delivery
from events.queries import AlertFilter, CaseFilter
from events.service import EventsService
from events.types import AlertStatus, CaseState, ObservationResult, TriageClass
from gridwatch.db import upgrade
from gridwatch.settings import REPO_ROOT

HAZARDS = [HazardType.FALLEN_PERSON, HazardType.CROWD, HazardType.STRUCTURE, HazardType.INTRUSION]


@contextmanager
def pg_schema(pg_url: str) -> Iterator[tuple[Engine, str]]:
    schema = f"gwbench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = make_engine(pg_url, connect_args={"options": f"-csearch_path={schema}"}, pool_size=8)
    try:
        upgrade(engine)
        yield engine, schema
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def evidence_jpeg() -> bytes:
    """A real vtest.avi frame at the sub-stream size detectors analyse."""
    cap = cv2.VideoCapture(str(REPO_ROOT / ".cache" / "footage" / "vtest.avi"))
    ok, frame = cap.read()
    cap.release()
    if not ok:
        raise SystemExit("footage missing: run scripts/setup.sh first")
    ok, buf = cv2.imencode(".jpg", cv2.resize(frame, (384, 288)), [cv2.IMWRITE_JPEG_QUALITY, 80])
    return bytes(buf)


# ----------------------------------------------------------------------------- phase 1


def sustained(
    service: EventsService, batcher: GroupCommit, cameras: list[str], rate: float, seconds: float
) -> tuple[bool, dict[str, float]]:
    """Open-loop load: observations are sent on schedule whether or not earlier ones are done. Returns the
    verdict and the alert → case latency figures (ms)."""
    jpeg = evidence_jpeg()
    total = int(rate * seconds)
    rng = random.Random(7)
    detections = (Detection("person", 0.8, Box(10, 20, 60, 140), 1),)
    due: dict[str, float] = {}
    latency_ms: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    all_seen = threading.Event()

    def on_alert(message: Delivery) -> None:
        """The alert's message leaves the outbox with its case id, in the batch that carries its case."""
        payload: Any = message.payload
        now = time.perf_counter()
        with lock:
            at = due.pop(payload["episode_id"], None)
            if at is not None and payload["case_id"] is not None:
                latency_ms.append((now - at) * 1000)
            if len(latency_ms) + len(errors) >= total:
                all_seen.set()

    committed_ms: list[float] = []

    def on_done(fut: Future[ObservationResult], *, at: float) -> None:
        committed_ms.append((time.perf_counter() - at) * 1000)
        exc = fut.exception()
        if exc is not None:
            with lock:
                errors.append(exc)
                if len(latency_ms) + len(errors) >= total:
                    all_seen.set()

    unsubscribe = service.bus.subscribe("alert.opened", on_alert)
    cpu0 = time.process_time()
    t0 = time.perf_counter() + 0.2
    for i in range(total):
        at = t0 + i / rate
        pause = at - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        hazard = HAZARDS[i % len(HAZARDS)]
        now = datetime.now(UTC)
        episode = f"bench-{i}"
        with lock:
            due[episode] = at
        ob = Observation(
            episode_id=episode,
            camera_id=rng.choice(cameras),
            hazard=hazard,
            state=EpisodeState.OPENED,
            severity=Severity.CRITICAL if hazard is not HazardType.FALLEN_PERSON else Severity.HIGH,
            started_at=now,
            observed_at=now,
            detections=detections,
            evidence_jpeg=jpeg,
        )
        batcher.submit_async(ob).add_done_callback(functools.partial(on_done, at=at))
    sent = time.perf_counter() - t0
    all_seen.wait(60)
    cpu_ms = (time.process_time() - cpu0) * 1000 / total
    unsubscribe()
    ok = len(latency_ms)
    print(f"\nphase 1: {ok} alerts became cases ({len(errors)} errors), sent over {sent:.1f} s = {total / sent:.0f}/s")
    if errors:
        print(f"  first error: {errors[0]!r}")
    if not latency_ms:
        return False, {}
    p50, p95, p99 = (pct(latency_ms, q) for q in (0.5, 0.95, 0.99))
    print(f"  {'alert → case latency':<28}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}   target")
    verdict = "ok" if p95 <= 100 and ok == total else "MISSED"
    print(f"  {'ms':<28}{p50:>8.1f}{p95:>8.1f}{p99:>8.1f}{max(latency_ms):>8.1f}   p95 ≤ 100 ms  {verdict}")
    c50, c95, c99 = (pct(committed_ms, q) for q in (0.5, 0.95, 0.99))
    print(f"  {'of which: due → committed':<28}{c50:>8.1f}{c95:>8.1f}{c99:>8.1f}{max(committed_ms):>8.1f}")
    print(f"  CPU of this process per alert (sender, service, relay, subscriber): {cpu_ms:.2f} ms")
    counts = service.case_counts()
    print(f"  cases: {sum(counts.values())} (alerts absorbed into open cases: {ok - sum(counts.values())})")
    figures = {
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
        "max_ms": max(latency_ms),
        "alerts": ok,
        "sent_per_s": total / sent,
    }
    return verdict == "ok", figures


# ----------------------------------------------------------------------------- phase 2


def _copy(engine: Engine, table: str, columns: list[str], rows: Iterator[list[Any]]) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            buf = io.StringIO()
            for n, row in enumerate(rows, 1):
                buf.write("\t".join("\\N" if v is None else str(v) for v in row))
                buf.write("\n")
                if n % 20000 == 0:
                    copy.write(buf.getvalue())
                    buf = io.StringIO()
            copy.write(buf.getvalue())
        raw.commit()
    finally:
        raw.close()


def seed(engine: Engine, site: dict[str, Any], n_alerts: int, n_cases: int) -> tuple[datetime, float]:
    rng = random.Random(11)
    grids = {g["id"]: g["community"] for g in site["grids"]}
    workers = {p["grid"]: p["id"] for p in site["people"] if p["role"] == "grid_worker"}
    cams = [(c["id"], c.get("grid") or "") for c in site["cameras"]]
    cam_grid = _camera_grids(engine)
    street = site["street"]["id"]
    end = datetime(2026, 6, 1, tzinfo=UTC)
    span_s = 180 * 86400
    t0 = time.perf_counter()
    states = [s.value for s in CaseState]
    open_states = [s.value for s in OPEN]

    def case_rows() -> Iterator[list[Any]]:
        for i in range(1, n_cases + 1):
            cam, _ = cams[rng.randrange(len(cams))]
            grid = cam_grid[cam]
            created = end - timedelta(seconds=rng.uniform(0, span_s))
            # Most old cases are closed; the last weeks hold the open ones, like a real board.
            recent = (end - created).days < 14
            state = rng.choice(open_states) if recent and rng.random() < 0.6 else rng.choice(["closed"] * 9 + states)
            is_open = state not in ("closed", "dismissed")
            deadline = created + timedelta(hours=rng.choice([2, 8, 24, 72]))
            closed = created + timedelta(hours=rng.uniform(1, 90)) if not is_open else None
            hazard = HAZARDS[i % len(HAZARDS)].value
            open_key = f"{cam}|{hazard}|{i}" if is_open else None
            yield [
                i, "camera", None, state, "t" if is_open else "f", open_key, f"Case {i}", "", "",
                rng.choice([t.value for t in TriageClass]), "high", rng.choice(["grid"] * 8 + ["community", "street"]),
                hazard, grid, grids[grid], street, cam, None, workers.get(grid), "[]", "gridwatch", 1,
                created.isoformat(), created.isoformat(), deadline.isoformat(), deadline.isoformat(),
                closed.isoformat() if closed and state == "closed" else None, closed.isoformat() if closed else None,
            ]  # fmt: skip

    _copy(
        engine,
        "cases",
        [
            "id",
            "source",
            "external_id",
            "state",
            "is_open",
            "open_key",
            "title",
            "description",
            "location",
            "triage",
            "severity",
            "level",
            "hazard",
            "grid_id",
            "community_id",
            "street_id",
            "camera_id",
            "zone_id",
            "assignee_id",
            "informed",
            "reporter_id",
            "alert_count",
            "created_at",
            "updated_at",
            "due_at",
            "deadline_at",
            "resolved_at",
            "closed_at",
        ],
        case_rows(),
    )
    statuses = [s.value for s in AlertStatus]

    def alert_rows() -> Iterator[list[Any]]:
        for i in range(1, n_alerts + 1):
            cam, _ = cams[rng.randrange(len(cams))]
            grid = cam_grid[cam]
            at = (end - timedelta(seconds=span_s * (1 - i / n_alerts))).isoformat()
            status = rng.choice(statuses)
            case_id = rng.randint(1, n_cases) if status == "in_case" else None
            yield [
                i, f"seed-{i}", cam, None, HAZARDS[i % len(HAZARDS)].value, "high", "closed", status, 2,
                grid, grids[grid], street, at, at, at, at, "", "{}", "[]", 3, None, None, case_id,
                None, None, "wrong class" if status == "dismissed" else None,
            ]  # fmt: skip

    _copy(
        engine,
        "alerts",
        [
            "id",
            "episode_id",
            "camera_id",
            "zone_id",
            "hazard",
            "severity",
            "episode_state",
            "status",
            "seq",
            "grid_id",
            "community_id",
            "street_id",
            "started_at",
            "last_seen_at",
            "received_at",
            "closed_at",
            "summary",
            "measurements",
            "detections",
            "updates",
            "evidence",
            "clip",
            "case_id",
            "handled_by",
            "handled_at",
            "dismiss_reason",
        ],
        alert_rows(),
    )
    with engine.begin() as conn:
        for table in ("cases", "alerts"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        conn.execute(text("ANALYZE"))
    return end, time.perf_counter() - t0


def _camera_grids(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {cid: grid for cid, grid in conn.execute(text("SELECT id, grid_id FROM cameras"))}


def timed_queries(service: EventsService, engine: Engine, site: dict[str, Any], end: datetime, reps: int) -> bool:
    rng = random.Random(3)
    grids = [g["id"] for g in site["grids"]]
    communities = [c["id"] for c in site["communities"]]
    workers = [p["id"] for p in site["people"] if p["role"] == "grid_worker"]
    cameras = [c["id"] for c in site["cameras"]]

    boards: list[tuple[str, Callable[[], CaseFilter]]] = [
        ("board: all open", lambda: CaseFilter(open=True)),
        ("board: open, one grid", lambda: CaseFilter(open=True, grid_id=rng.choice(grids))),
        ("board: open, one community", lambda: CaseFilter(open=True, community_id=rng.choice(communities))),
        ("board: open, one worker", lambda: CaseFilter(open=True, assignee_id=rng.choice(workers))),
        ("board: state dispatched", lambda: CaseFilter(states=(CaseState.DISPATCHED,))),
        ("board: overdue now", lambda: CaseFilter(overdue_at=end)),
    ]
    lists: list[tuple[str, Callable[[], AlertFilter]]] = [
        ("alerts: newest", lambda: AlertFilter()),
        ("alerts: one grid", lambda: AlertFilter(grid_id=rng.choice(grids))),
        ("alerts: one camera", lambda: AlertFilter(camera_id=rng.choice(cameras))),
        ("alerts: status new", lambda: AlertFilter(status=AlertStatus.NEW)),
        ("alerts: one community", lambda: AlertFilter(community_id=rng.choice(communities))),
    ]
    print(f"\n  {'query (50 per page)':<30}{'page':>6}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}   target p95 ≤ 50 ms")
    ok = True
    queries_: list[tuple[str, Callable[[], CaseFilter | AlertFilter]]] = [*boards, *lists]
    for name, make in queries_:
        for page in (1, 5):
            times: list[float] = []
            for _ in range(reps):
                f = make()
                cursor = None
                t0 = time.perf_counter()
                for _ in range(page):
                    if isinstance(f, CaseFilter):
                        cursor = service.cases(f, cursor=cursor, limit=50).next_cursor
                    else:
                        cursor = service.alerts(f, cursor=cursor, limit=50).next_cursor
                    if cursor is None:
                        break
                times.append((time.perf_counter() - t0) * 1000 / page)
            p95 = pct(times, 0.95)
            verdict = "ok" if p95 <= 50 else "MISSED"
            ok &= p95 <= 50
            print(f"  {name:<30}{page:>6}{pct(times, 0.5):>9.1f}{p95:>9.1f}{max(times):>9.1f}   {verdict}")
    return ok


def explain(engine: Engine, service: EventsService, site: dict[str, Any]) -> None:
    from events import queries

    grid = site["grids"][3]["id"]
    samples = [
        ("board: open, one grid", queries.case_query(CaseFilter(open=True, grid_id=grid), None, 50, "deadline")),
        ("board: all open", queries.case_query(CaseFilter(open=True), None, 50, "deadline")),
        ("alerts: one grid", queries.alert_query(AlertFilter(grid_id=grid), None, 50)),
        ("alerts: status new", queries.alert_query(AlertFilter(status=AlertStatus.NEW), None, 50)),
    ]
    with engine.connect() as conn:
        print("\nindexes:")
        for table, name, definition in conn.execute(
            text(
                "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename IN ('alerts', 'cases') ORDER BY tablename, indexname"
            )
        ):
            print(f"  {table:<7}{name:<36}{definition.split(' USING ')[1]}")
        for name, stmt in samples:
            compiled = stmt.compile(engine, compile_kwargs={"literal_binds": True})
            plan = conn.execute(text(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {compiled}")).scalars().all()
            print(f"\nEXPLAIN ANALYZE — {name}:")
            for line in plan:
                print(f"  {line}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--rate", type=float, default=200.0, help="alerts per second in phase 1")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of phase 1")
    ap.add_argument("--alerts", type=int, default=1_000_000, help="alerts seeded for phase 2")
    ap.add_argument("--cases", type=int, default=100_000, help="cases seeded for phase 2")
    ap.add_argument("--writers", type=int, default=1, help="concurrent ingest transactions (group commit writers)")
    ap.add_argument("--linger-ms", type=float, default=10.0, help="how long a batch waits for more observations")
    ap.add_argument("--reps", type=int, default=100, help="timed runs of each query")
    args = ap.parse_args()

    doc = generate_site()
    data_root = REPO_ROOT / "var"  # where the service keeps its files by default (not /tmp, often a slower fs)
    data_root.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data_root) as tmp, pg_schema(args.pg_url) as (engine, schema):
        site_file = Path(tmp) / "site.yaml"
        site_file.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        sessions = session_factory(engine)
        store = SiteStore(sessions, CredentialCipher(Fernet.generate_key()))
        store.load_site(site_file)
        cameras = [c["id"] for c in doc["cameras"]]
        print(f"site: {len(cameras)} cameras, {len(doc['grids'])} grids; PostgreSQL schema {schema}")

        service = EventsService(sessions, store, Path(tmp) / "data", publish="thread")
        batcher = GroupCommit(service, writers=args.writers, linger_s=args.linger_ms / 1000)
        service.start()
        batcher.start()
        ingest_ok, _ = sustained(service, batcher, cameras, args.rate, args.seconds)
        batcher.close()
        service.close()
        print(f"  group commit: {batcher.observations} observations in {batcher.batches} transactions")

        with engine.begin() as conn:
            conn.execute(text("TRUNCATE alerts, cases, case_audit, case_comments, case_attachments, outbox"))
        end, seconds = seed(engine, doc, args.alerts, args.cases)
        print(f"\nphase 2: seeded {args.alerts:,} alerts and {args.cases:,} cases with COPY in {seconds:.1f} s")
        ok = timed_queries(service, engine, doc, end, args.reps)
        explain(engine, service, doc)
    print("\n" + json.dumps({"ingest_within_target": ingest_ok, "queries_within_target": ok}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

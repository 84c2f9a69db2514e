"""Applying a batch of observations in one transaction: a handful of statements for the whole batch.

Alerts and cases are read once (``IN`` lists, locked), changed in memory in the order given, then
written with one multi-row statement per table. `EventsService.apply_observation` is a batch of one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from core.clock import Clock
from core.errors import Conflict, GridwatchError
from detectors.types import EpisodeState, HazardType, Observation, Severity
from events.case_plan import AuditStep, absorb_key, plan_absorb, plan_alert_case
from events.files import Staged, evidence_path
from events.messages import ALERT_STEPS, AlertOpened, AlertStep, BusMessage, CaseAlertAdded, CaseCreated
from events.notify.fatigue import Fatigue
from events.orm import ALERTS, CASE_AUDIT, CASES, bulk_insert
from events.policy import Policy
from events.types import SYSTEM, AlertStatus, Case, CaseState, ObservationResult, Route
from events.values import Values, alert_value, case_value, check_update, detection_json, max_severity

log = logging.getLogger(__name__)

# Statements of the hot path built once, so SQLAlchemy compiles each once and caches it.
# Multi-row INSERT ... RETURNING in pages of a fixed size: the SQL text then repeats, and the
# driver's parse cache (short statements only) keeps it; one page per batch size would not.
_PAGE = {"insertmanyvalues_page_size": 4}
_INSERT_ALERTS = insert(ALERTS).returning(ALERTS.c.id, sort_by_parameter_order=True).execution_options(**_PAGE)
_INSERT_CASES = insert(CASES).returning(CASES.c.id, sort_by_parameter_order=True).execution_options(**_PAGE)
_ALERT_STEP = (
    "seq episode_state severity last_seen_at updates summary measurements detections closed_at evidence "
    "evidence_removed_at evidence_removed_by"
)
_STEP_TYPES = {
    "id": "bigint",
    "seq": "integer",
    "updates": "integer",
    "last_seen_at": "timestamptz",
    "closed_at": "timestamptz",
    "evidence_removed_at": "timestamptz",
    "measurements": "json",
    "detections": "json",
}
_JSON_STEP = {"measurements", "detections"}
_UPDATE_ALERTS_PG = text(
    "UPDATE alerts AS a SET "
    + ", ".join(
        f"{name} = v.{name}::json" if name in _JSON_STEP else f"{name} = v.{name}" for name in _ALERT_STEP.split()
    )
    + " FROM unnest("
    + ", ".join(
        f"CAST(:{name} AS {'text' if name in _JSON_STEP else _STEP_TYPES.get(name, 'text')}[])"
        for name in ("id", *_ALERT_STEP.split())
    )
    + ") AS v(id, "
    + ", ".join(_ALERT_STEP.split())
    + ") WHERE a.id = v.id"
)
_NEXT_IDS = text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)")
_UPDATE_ALERTS = (
    update(ALERTS)
    .where(ALERTS.c.id == bindparam("b_id"))
    .values({name: bindparam(f"b_{name}") for name in _ALERT_STEP.split()})
)
_UPDATE_CASES = (
    update(CASES)
    .where(CASES.c.id == bindparam("b_id"))
    .values(alert_count=bindparam("b_alert_count"), severity=bindparam("b_severity"), updated_at=bindparam("b_at"))
)
_SET_EVIDENCE = update(ALERTS).where(ALERTS.c.id == bindparam("b_id")).values(evidence=bindparam("b_evidence"))
LINK_ALERT = (  # an alert joins a case
    update(ALERTS)
    .where(ALERTS.c.id == bindparam("alert_id"))
    .values(case_id=bindparam("case_id"), status=bindparam("status"))
)


class ObservationBatch:
    """One transaction's worth of observations: a handful of statements for the whole batch.

    Alerts and cases are read once (``IN`` lists, locked in id order so that concurrent batches
    queue rather than deadlock), changed in memory in the order given, then written with one
    multi-row statement per table.
    """

    def __init__(
        self,
        policy: Policy,
        clock: Clock,
        s: Session,
        staged: Staged,
        out: list[BusMessage],
        fatigue: Fatigue | None = None,
    ) -> None:
        self.policy = policy
        self.fatigue = fatigue
        self.s = s
        self.staged = staged
        self.out = out
        self.now: datetime = clock.now()

    def run(
        self,
        ready: Sequence[tuple[int, Observation, Route]],
        continue_only: Mapping[int, GridwatchError] | None = None,
    ) -> list[tuple[int, ObservationResult | GridwatchError]]:
        """Apply ``ready`` in order; an index in ``continue_only`` may only continue a stored episode,
        else it gets that error (a disabled camera's episodes close, none starts)."""
        s, now = self.s, self.now
        episodes = sorted({obs.episode_id for _, obs, _ in ready})
        alerts: dict[str, dict[str, Any]] = {
            r.episode_id: dict(r._mapping)
            for r in s.execute(
                select(ALERTS).where(ALERTS.c.episode_id.in_(episodes)).order_by(ALERTS.c.id).with_for_update()
            )
        }
        new: dict[str, dict[str, Any]] = {}
        changed: set[str] = set()
        applied: list[tuple[int, str, type[AlertStep]]] = []  # (index, episode, its message)
        dupes: list[tuple[int, str]] = []
        errors: list[tuple[int, ObservationResult | GridwatchError]] = []
        files: list[tuple[str, bytes]] = []
        snapshots: dict[str, list[str | None]] = {}  # per episode: its stored evidence, then each new one
        for i, obs, route in ready:
            cur = alerts.get(obs.episode_id)
            previous = cur["evidence"] if cur is not None else None
            evidence = None
            if obs.evidence_jpeg is not None:
                evidence = evidence_path(obs.episode_id, obs.seq, now)
            if cur is None:
                if continue_only and i in continue_only:
                    errors.append((i, continue_only[i]))
                    continue
                cur = alerts[obs.episode_id] = new[obs.episode_id] = self._new_alert(obs, route, evidence)
                kind: type[AlertStep] = AlertOpened
            else:
                try:
                    check_update(Values(cur), obs)
                except Conflict as exc:
                    errors.append((i, exc))
                    continue
                if obs.seq == cur["seq"]:
                    dupes.append((i, obs.episode_id))
                    continue
                self._apply(cur, obs, evidence)
                if obs.episode_id not in new:
                    changed.add(obs.episode_id)
                kind = ALERT_STEPS[obs.state]
            if evidence is not None and obs.evidence_jpeg is not None:
                files.append((evidence, obs.evidence_jpeg))
                snapshots.setdefault(obs.episode_id, [previous]).append(evidence)
            applied.append((i, obs.episode_id, kind))
        # Evidence is best effort: a full disk must not lose the alert (see `_without_unwritten`).
        self.staged.start_new(files, best_effort=True)

        if new:
            self._insert(ALERTS, _INSERT_ALERTS, list(new.values()))
        if changed:
            self._update_alerts([alerts[e] for e in sorted(changed)])
        cases = self._cases(alerts, [e for _, e, _ in applied], ready)
        self._without_unwritten(alerts, snapshots)

        results: list[tuple[int, ObservationResult | GridwatchError]] = list(errors)
        case_of = {e: cases.get(a["case_id"]) if a["case_id"] is not None else None for e, a in alerts.items()}
        for i, episode, kind in applied:
            alert = alert_value(Values(alerts[episode]))
            self.out.append(kind.of(alert))
            self.out.extend(
                CaseCreated.of(cases[c["id"]]) if absorbed is None else CaseAlertAdded(cases[c["id"]], absorbed)
                for c, absorbed in self.case_news.pop(episode, [])
            )
            case = case_of[episode]
            results.append((i, ObservationResult(alert, created=kind is AlertOpened and episode in new, case=case)))
        for i, episode in dupes:
            alert = alert_value(Values(alerts[episode]))
            results.append((i, ObservationResult(alert, created=False, duplicate=True, case=case_of[episode])))
        return results

    def _without_unwritten(self, alerts: dict[str, dict[str, Any]], snapshots: dict[str, list[str | None]]) -> None:
        """Wait for the evidence files; an alert whose snapshot could not be written (disk full, I/O
        error) is stored with its last snapshot that was written, or none, and the log says so."""
        failed = dict(self.staged.settle())
        if not failed:
            return
        fixes = []
        for episode, history in snapshots.items():
            alert = alerts[episode]
            for rel in history[1:]:
                if rel in failed:
                    log.warning(
                        "evidence of alert %s (camera %s, episode %s) not stored, the alert is stored all the same: %s",
                        alert["id"],
                        alert["camera_id"],
                        episode,
                        failed[rel],
                    )
            if alert["evidence"] in failed:
                alert["evidence"] = next((r for r in reversed(history) if r not in failed), None)
                fixes.append({"b_id": alert["id"], "b_evidence": alert["evidence"]})
        if fixes:
            self.s.execute(_SET_EVIDENCE, fixes)

    def _update_alerts(self, rows: list[dict[str, Any]]) -> None:
        """Write the alerts' changed columns. On PostgreSQL one statement over arrays (one plan, one
        round trip: an UPDATE per row cost the writer more waiting than all its own work), elsewhere
        one UPDATE per row."""
        if self.s.get_bind().dialect.name == "postgresql":
            columns: dict[str, list[Any]] = {name: [] for name in ("id", *_ALERT_STEP.split())}
            for row in rows:
                for name, values in columns.items():
                    value = row[name]
                    values.append(json.dumps(value) if name in _JSON_STEP else value)
            self.s.execute(_UPDATE_ALERTS_PG, columns)
            return
        self.s.execute(
            _UPDATE_ALERTS, [{"b_id": row["id"], **{f"b_{k}": row[k] for k in _ALERT_STEP.split()}} for row in rows]
        )

    def _insert(self, table: Table, returning: Any, rows: list[dict[str, Any]]) -> None:
        """Insert rows and put their new ids into them.

        On PostgreSQL the ids come from the table's sequence in one query and the rows go in with
        COPY: two round trips for any number of rows. Elsewhere, a multi-row INSERT ... RETURNING.
        """
        if self.s.get_bind().dialect.name == "postgresql":
            ids = self.s.scalars(_NEXT_IDS, {"table": table.name, "n": len(rows)}).all()
            for values, id_ in zip(rows, ids, strict=True):
                values["id"] = id_
            bulk_insert(self.s, table, rows)
            return
        for values, got in zip(rows, self.s.execute(returning, rows).all(), strict=True):
            values["id"] = got.id

    def _new_alert(self, obs: Observation, route: Route, evidence: str | None) -> dict[str, Any]:
        held = (
            self.fatigue.hold(
                obs.camera_id, obs.zone_id, obs.hazard, obs.severity, route.grid_id, self.now, obs.episode_id
            )
            if self.fatigue is not None
            else None
        )
        return {
            "episode_id": obs.episode_id,
            "camera_id": obs.camera_id,
            "zone_id": obs.zone_id,
            "hazard": obs.hazard.value,
            "severity": obs.severity.value,
            "episode_state": obs.state.value,
            "status": AlertStatus.NEW.value,
            "seq": obs.seq,
            "grid_id": route.grid_id,
            "community_id": route.community_id,
            "street_id": route.street_id,
            "started_at": obs.started_at,
            "last_seen_at": obs.observed_at,
            "received_at": self.now,
            "closed_at": obs.observed_at if obs.state is EpisodeState.CLOSED else None,
            "summary": obs.summary,
            "measurements": dict(obs.measurements),
            "detections": [detection_json(d) for d in obs.detections],
            "updates": 1,
            "evidence": evidence,
            "clip": None,
            "case_id": None,
            "handled_by": None,
            "handled_at": None,
            "dismiss_reason": None,
            "evidence_removed_at": None,
            "evidence_removed_by": None,
            "held_back": held.value if held is not None else None,
        }

    @staticmethod
    def _apply(cur: dict[str, Any], obs: Observation, evidence: str | None) -> None:
        cur["seq"] = obs.seq
        cur["episode_state"] = obs.state.value
        cur["severity"] = max_severity(cur["severity"], obs.severity)
        cur["last_seen_at"] = max(cur["last_seen_at"], obs.observed_at)
        cur["updates"] += 1
        if obs.summary:
            cur["summary"] = obs.summary
        if obs.measurements:
            cur["measurements"] = dict(obs.measurements)
        if obs.detections:
            cur["detections"] = [detection_json(d) for d in obs.detections]
        if obs.state is EpisodeState.CLOSED:
            cur["closed_at"] = obs.observed_at
        if evidence is not None:  # a new snapshot, also after retention or the disk watchdog removed the old ones
            cur["evidence"] = evidence
            cur["evidence_removed_at"] = cur["evidence_removed_by"] = None

    def _cases(
        self, alerts: dict[str, dict[str, Any]], episodes: list[str], ready: Sequence[tuple[int, Observation, Route]]
    ) -> dict[int, Case]:
        """Auto-cases and absorption for the applied alerts; returns every touched case by id."""
        s, now, policy = self.s, self.now, self.policy
        routes = {obs.episode_id: route for _, obs, route in ready}
        self.case_news: dict[str, list[tuple[dict[str, Any], int | None]]] = {}
        """Per episode: (case columns, the absorbed alert's id, or None for a new case)."""
        order = list(dict.fromkeys(episodes))
        wanted = [
            e
            for e in order
            if alerts[e]["case_id"] is None
            and alerts[e]["status"] == AlertStatus.NEW.value
            and alerts[e]["held_back"] is None
            and policy.auto_case(HazardType(alerts[e]["hazard"]), Severity(alerts[e]["severity"]))
        ]
        linked_ids = {alerts[e]["case_id"] for e in alerts if alerts[e]["case_id"] is not None}
        facts = {e: alert_value(Values(alerts[e])) for e in wanted}
        keys = {key for a in facts.values() if (key := absorb_key(policy, a.camera_id, a.hazard)) is not None}
        loaded: dict[int, dict[str, Any]] = {}
        if keys or linked_ids:
            cond: ColumnElement[bool] = CASES.c.id.in_(sorted(linked_ids))
            if keys:
                cond = cond | CASES.c.open_key.in_(sorted(keys))
            loaded = {
                r.id: dict(r._mapping)
                for r in s.execute(select(CASES).where(cond).order_by(CASES.c.id).with_for_update())
            }
        by_key = {c["open_key"]: c for c in loaded.values() if c["open_key"] is not None}
        touched: set[int] = set()
        fresh: list[dict[str, Any]] = []
        links: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (alert, case)
        trail: list[tuple[dict[str, Any], AuditStep]] = []
        # A linked alert whose severity rose raises its case's severity.
        for e in order:
            a = alerts[e]
            c = loaded.get(a["case_id"]) if a["case_id"] is not None else None
            if c is not None and max_severity(c["severity"], Severity(a["severity"])) != c["severity"]:
                c["severity"], c["updated_at"] = a["severity"], now
                touched.add(c["id"])
        for e in wanted:
            a, alert = alerts[e], facts[e]
            key = absorb_key(policy, alert.camera_id, alert.hazard)
            c = by_key.get(key) if key is not None else None
            if c is not None:
                c["alert_count"] += 1
                c["severity"] = max_severity(c["severity"], alert.severity)
                c["updated_at"] = now
                if "id" in c:
                    touched.add(c["id"])
                trail.append((c, plan_absorb(alert, CaseState(c["state"]), SYSTEM, now)))
                self.case_news.setdefault(e, []).append((c, a["id"]))
            else:
                plan = plan_alert_case(policy, alert, routes[e], SYSTEM, now)
                c = plan.draft.columns()
                fresh.append(c)
                if key is not None:
                    by_key[key] = c
                trail.extend((c, step) for step in plan.steps)
                self.case_news.setdefault(e, []).append((c, None))
            links.append((a, c))
        if fresh:
            self._insert(CASES, _INSERT_CASES, fresh)
            loaded.update((c["id"], c) for c in fresh)
        if touched:
            s.execute(
                _UPDATE_CASES,
                [
                    {"b_id": i, "b_alert_count": c["alert_count"], "b_severity": c["severity"], "b_at": c["updated_at"]}
                    for i, c in ((i, loaded[i]) for i in sorted(touched))
                ],
            )
        if links:
            s.execute(
                LINK_ALERT,
                [{"alert_id": a["id"], "case_id": c["id"], "status": AlertStatus.IN_CASE.value} for a, c in links],
            )
            for a, c in links:
                a["case_id"], a["status"] = c["id"], AlertStatus.IN_CASE.value
        if trail:
            bulk_insert(s, CASE_AUDIT, [step.columns(c["id"]) for c, step in trail])
        return {c["id"]: case_value(Values(c)) for c in loaded.values()}

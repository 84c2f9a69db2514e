"""`gridwatch events ...`: the policy check, the escalation tick, 12345 import and figures from the shell."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.table import Table

from core.errors import InvalidInput, Issue
from core.files import read_text_file
from events.policy import load_policy
from events.types import FigureLevel
from gridwatch.commands.common import Subparsers, add_command, add_group, out, service_from_args


def _day(value: str) -> datetime:
    try:
        day = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f'"{value}" is not a date like 2026-03-01') from None
    return day if day.tzinfo else day.replace(tzinfo=UTC)


def cmd_check_policy(args: argparse.Namespace) -> int:
    policy = load_policy(args.file)
    auto = sorted(h.value for h, p in policy.hazards.items() if p.auto_case_min_severity is not None)
    steps = " → ".join(["grid", *(s.to.value for s in policy.escalation)])
    out.print(f"{args.file}: valid — auto-cases for {', '.join(auto)}; escalation {steps}")
    r, disk = policy.retention, policy.disk
    quota = f", quota {disk.data_quota_mb} MiB" if disk.data_quota_mb is not None else ""
    out.print(
        f"retention: evidence {r.alert_evidence_days} days ({r.dismissed_evidence_days} when dismissed), case files "
        f"{r.case_files_days_after_close} days after close, audit {r.audit_days} days; disk floor "
        f"{disk.min_free_mb} MiB free{quota}"
    )
    return 0


def cmd_escalate(args: argparse.Namespace) -> int:

    cases = service_from_args(args).events.escalation_tick()
    for case in cases:
        due = f"{case.deadline_at:%Y-%m-%d %H:%M}"
        out.print(f"case {case.id} ({case.grid_id}) escalated to the {case.level.value}, due {due}")
    out.print(f"{len(cases)} overdue case(s) escalated")
    return 0


def cmd_import_hotline(args: argparse.Namespace) -> int:
    from events.schema import parse_hotline_tickets  # cv2 and numpy: only when needed

    path: Path = args.file
    try:
        doc = json.loads(read_text_file(path))
    except json.JSONDecodeError as exc:
        raise InvalidInput(Issue(f"{path.name} line {exc.lineno}", f"not valid JSON: {exc.msg}")) from None
    tickets = parse_hotline_tickets(doc, path.name)
    report = service_from_args(args).events.import_hotline(tickets)
    out.print(f"{path}: {len(report.created)} case(s) created, {len(report.duplicates)} ticket(s) already imported")
    return 0


def cmd_figures(args: argparse.Namespace) -> int:

    until = args.until or datetime.now(UTC)
    since = args.since or until - timedelta(days=30)
    rows = service_from_args(args).events.figures(FigureLevel(args.level), since, until)
    table = Table(title=f"{args.level} figures, cases created {since:%Y-%m-%d} to {until:%Y-%m-%d}")
    for col in ("unit", "received", "closed", "dismissed", "completion", "on time", "mean to close", "p90 to close"):
        table.add_column(col, justify="left" if col == "unit" else "right")

    def pct(v: float | None) -> str:
        return "—" if v is None else f"{v:.0%}"

    def hours(v: float | None) -> str:
        return "—" if v is None else f"{v / 3600:.1f} h"

    for f in rows:
        table.add_row(
            f.unit_id,
            str(f.received),
            str(f.closed),
            str(f.dismissed),
            pct(f.completion_rate),
            pct(f.on_time_rate),
            hours(f.mean_close_s),
            hours(f.p90_close_s),
        )
    out.print(table)
    return 0


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 1024:.1f} KiB" if n >= 1024 else f"{n} bytes"


def cmd_retention(args: argparse.Namespace) -> int:
    from events.retention import Retention  # the events service: only when needed

    service = service_from_args(args)
    summary = Retention(service.events, pruners=service.pruners()).run(dry_run=args.dry_run)
    verb = "would remove" if summary.dry_run else "removed"
    for item in summary.items:
        case = f" of case {item.case_id}" if item.case_id is not None and item.kind == "attachment" else ""
        missing = f", {item.missing} already missing" if item.missing else ""
        out.print(
            f"{verb} {item.kind} {item.id}{case}: {item.files} file(s), {_size(item.bytes)}{missing} ({item.reason})",
            soft_wrap=True,
        )
    head = "dry run, nothing removed: " if summary.dry_run else ""
    out.print(
        f"{head}{summary.alerts} alert(s) and {summary.attachments} attachment(s), {summary.files} file(s), "
        f"{_size(summary.bytes_freed)} {'to free' if summary.dry_run else 'freed'}"
    )
    for name, n in summary.pruned.items():
        out.print(f"{name}: {n} pruned")
    if summary.more:
        out.print("more is due than one run takes (retention.batch_size): run it again")
    return 0


def register(sub: Subparsers) -> None:
    es = add_group(
        sub,
        "events",
        "alerts and cases: policy check, escalation, 12345 import, figures",
        "Alerts and cases: check an events policy, escalate overdue cases, import 12345 hotline tickets as "
        "cases, report each unit's figures.",
    )
    cp = add_command(
        es,
        "check-policy",
        "validate an events policy YAML; list every error",
        "Checks an events policy YAML (triage, deadlines, auto-case, escalation) and lists every error; when "
        "it is valid, prints which hazards open cases by themselves and the escalation steps.",
        opens_database=False,
        func=cmd_check_policy,
    )
    cp.add_argument("file", type=Path, help="events policy YAML")
    add_command(
        es,
        "escalate",
        "escalate overdue cases one level now (run it every minute)",
        "Moves every overdue case one level up the policy's escalation steps, with a new deadline, and lists "
        "them. Run it every minute.",
        func=cmd_escalate,
    )
    ret = add_command(
        es,
        "retention",
        "delete evidence and case files past their keeping period",
        "Deletes the evidence snapshots and clips of alerts and the files of closed cases whose keeping period "
        "(the policy's retention section) has ended, and lists them with their sizes; the rows stay, marked "
        "removed by retention. Files of open cases are never removed. The service does this by itself every "
        "retention.run_every_min minutes.",
        func=cmd_retention,
    )
    ret.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    hot = add_command(
        es,
        "import-hotline",
        "12345 tickets (JSON list) as cases; repeats skipped",
        "Opens a case in its grid for each 12345 hotline ticket in a JSON list; tickets imported before are skipped.",
        func=cmd_import_hotline,
    )
    hot.add_argument("file", type=Path, help="JSON list of {external_id, grid, title, description, received_at, ...}")
    fig = add_command(
        es,
        "figures",
        "completion, on-time rate, time to close per unit",
        "A table, one row per grid, community or street, of the cases created in a period: received, "
        "closed, dismissed, completion and on-time rates, mean and 90th-percentile time to close.",
        func=cmd_figures,
    )
    fig.add_argument(
        "--level",
        choices=[lv.value for lv in FigureLevel],
        default="grid",
        help="grid, community or street; property_company or partner_unit: by who holds the cases",
    )
    fig.add_argument("--since", type=_day, help="first day (default: 30 days before --until)")
    fig.add_argument("--until", type=_day, help="day after the last (default: now)")

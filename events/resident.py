"""What residents can report through an app (the Open311 façade's service list), and how each becomes a case.

A kind is either a hazard gridwatch's cameras also detect (its code is the `HazardType`, its title and triage
the policy's) or one of the matters the 12345 hotline and patrol reports carry that no camera sees (litter,
broken facilities, noise, neighbour disputes). Camera faults and loitering are not listed: a resident cannot
tell them from the street.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Issue
from core.text import text_problem
from detectors.types import HazardType, Severity
from events.orm import CaseAuditRow, CaseRow, ResidentReportRow
from events.policy import Policy
from events.types import CaseAction, CaseSource, ResidentReport, ResidentRequest, TriageClass
from events.values import case_value


@dataclass(frozen=True, slots=True)
class ReportKind:
    code: str
    name: str
    """Chinese: what the app shows the resident."""
    name_en: str
    group: str
    """Chinese group heading (Open311 ``group``)."""
    description: str
    keywords: tuple[str, ...] = ()
    hazard: HazardType | None = None
    severity: Severity = Severity.MEDIUM
    triage: TriageClass | None = None
    """None: the hazard's triage in the policy, or the policy's hotline triage for a kind without a hazard."""

    def title(self, policy: Policy) -> str:
        base = policy.hazard(self.hazard).title if self.hazard is not None else self.name_en
        return f"{base}: resident report"

    def triage_in(self, policy: Policy) -> TriageClass:
        if self.triage is not None:
            return self.triage
        if self.hazard is not None:
            return policy.hazard(self.hazard).triage
        return policy.hotline_triage


_SAFETY = "安全隐患"
_ORDER = "公共秩序"
_CITY = "市容环境"
_NEIGHBOURS = "邻里事务"

KINDS: tuple[ReportKind, ...] = (
    ReportKind(
        HazardType.FIRE_LANE_BLOCKED.value,
        "消防通道占用",
        "Fire lane blocked",
        _SAFETY,
        "车辆或杂物堵塞消防通道、消防车登高面",
        ("消防", "堵塞", "停车"),
        hazard=HazardType.FIRE_LANE_BLOCKED,
        severity=Severity.HIGH,
    ),
    ReportKind(
        HazardType.EBIKE_INDOORS.value,
        "电动车进楼",
        "E-bike inside a building",
        _SAFETY,
        "电动自行车停放在楼道、电梯或室内充电",
        ("电动车", "充电", "楼道"),
        hazard=HazardType.EBIKE_INDOORS,
        severity=Severity.HIGH,
    ),
    ReportKind(
        HazardType.STRUCTURE.value,
        "墙体结构变化",
        "Structural change (wall)",
        _SAFETY,
        "墙体开裂、倾斜、外墙脱落等结构隐患",
        ("墙体", "开裂", "脱落"),
        hazard=HazardType.STRUCTURE,
        severity=Severity.HIGH,
    ),
    ReportKind(
        HazardType.FALLEN_PERSON.value,
        "人员倒地",
        "Person fallen",
        _SAFETY,
        "有人摔倒或倒地不起（危及生命请直接拨打 120）",
        ("摔倒", "老人"),
        hazard=HazardType.FALLEN_PERSON,
        severity=Severity.HIGH,
    ),
    ReportKind(
        HazardType.CROWD.value,
        "人员聚集",
        "Crowd gathering",
        _ORDER,
        "异常人员聚集、围观",
        ("聚集",),
        hazard=HazardType.CROWD,
    ),
    ReportKind(
        HazardType.INTRUSION.value,
        "闯入禁区",
        "Intrusion in a restricted area",
        _ORDER,
        "有人进入天台、配电房、施工区等禁止进入的区域",
        ("天台", "禁区"),
        hazard=HazardType.INTRUSION,
    ),
    ReportKind(
        "litter",
        "环境卫生",
        "Litter and sanitation",
        _CITY,
        "垃圾堆放、乱扔杂物、污水外溢",
        ("垃圾", "卫生"),
        triage=TriageClass.COLLECTIVE,
    ),
    ReportKind(
        "facility",
        "公共设施损坏",
        "Broken public facility",
        _CITY,
        "路灯、井盖、道路、健身器材等损坏",
        ("路灯", "井盖", "设施"),
        triage=TriageClass.PUBLIC,
    ),
    ReportKind(
        "noise",
        "噪音扰民",
        "Noise nuisance",
        _NEIGHBOURS,
        "装修、娱乐、商铺等噪音扰民",
        ("噪音",),
        severity=Severity.LOW,
        triage=TriageClass.PRIVATE,
    ),
    ReportKind(
        "dispute",
        "邻里纠纷",
        "Neighbour dispute",
        _NEIGHBOURS,
        "邻里之间的矛盾纠纷，需要调解",
        ("纠纷", "调解"),
        triage=TriageClass.PRIVATE,
    ),
    ReportKind(
        "other",
        "其他问题",
        "Other matter",
        _NEIGHBOURS,
        "以上都不是的其他问题",
        severity=Severity.LOW,
    ),
)

BY_CODE: dict[str, ReportKind] = {k.code: k for k in KINDS}


# ---------------------------------------------------------------------- checks and reads (the service calls these)

MAX_DESCRIPTION = 4000
"""Open311's own limit for ``description``."""


def report_issues(report: ResidentReport) -> list[Issue]:
    """Everything wrong with a report before it is placed; ``where`` names the report's own fields."""
    issues: list[Issue] = []
    if report.kind not in BY_CODE:
        issues.append(
            Issue("kind", f'"{report.kind[:40]}" is not a kind residents can report; known: {", ".join(BY_CODE)}')
        )
    for name, value, low, high in (("lat", report.lat, -90.0, 90.0), ("lon", report.lon, -180.0, 180.0)):
        if not math.isfinite(value) or not low <= value <= high:
            issues.append(Issue(name, f"must be a number from {low:g} to {high:g} (WGS84 degrees), got {value!r}"))
    limits = (
        ("client", report.client, 64),
        ("description", report.description, MAX_DESCRIPTION),
        ("address", report.address, 300),
        ("address_id", report.address_id, 64),
        ("media_url", report.media_url, 2000),
        ("email", report.email, 254),
        ("phone", report.phone, 32),
        ("first_name", report.first_name, 100),
        ("last_name", report.last_name, 100),
        ("device_id", report.device_id, 64),
        ("account_id", report.account_id, 64),
        ("idempotency_key", report.idempotency_key or "", 64),
    )
    for name, text, limit in limits:
        if len(text) > limit:
            issues.append(Issue(name, f"at most {limit} characters, got {len(text)}"))
        else:
            problem = text_problem(text)
            if problem:
                issues.append(Issue(name, problem))
    if not report.client.strip():
        issues.append(Issue("client", "required"))
    return issues


def report_row(case_id: int, report: ResidentReport) -> ResidentReportRow:
    return ResidentReportRow(
        case_id=case_id,
        client=report.client,
        kind=report.kind,
        lat=report.lat,
        lon=report.lon,
        address=report.address,
        address_id=report.address_id,
        media_url=report.media_url,
        email=report.email,
        phone=report.phone,
        first_name=report.first_name,
        last_name=report.last_name,
        device_id=report.device_id,
        account_id=report.account_id,
    )


@dataclass(frozen=True, slots=True)
class Reporter:
    """Who reported a resident case and how to reach them: for the people who handle the case only (the
    case API decides who); never on the bus, in a webhook or through the Open311 façade."""

    client: str
    """The app it came through."""
    first_name: str
    last_name: str
    phone: str
    email: str
    media_url: str
    device_id: str
    account_id: str

    @property
    def name(self) -> str:
        """The name as the resident would write it: family name first with no space in Chinese."""
        first, last = self.first_name.strip(), self.last_name.strip()
        if first and last and not (first.isascii() and last.isascii()):
            return f"{last}{first}"
        return " ".join(p for p in (first, last) if p)

    @property
    def has_contact(self) -> bool:
        return bool(self.name or self.phone or self.email)


def reporter(s: Session, case_id: int) -> Reporter | None:
    """The contact stored with a resident case (None: not a resident case)."""
    r = s.get(ResidentReportRow, case_id)
    if r is None:
        return None
    return Reporter(
        client=r.client,
        first_name=r.first_name,
        last_name=r.last_name,
        phone=r.phone,
        email=r.email,
        media_url=r.media_url,
        device_id=r.device_id,
        account_id=r.account_id,
    )


REPLY_ACTIONS = (CaseAction.CLOSE.value, CaseAction.DISMISS.value)
"""The steps whose note is the reply to the resident: the centre writes it when the case ends. Every other
note (the worker's feedback on resolving, comments, reasons for reopening) stays inside."""


@dataclass(frozen=True, slots=True)
class RequestFilter:
    """Which resident reports to list, newest first: ``ids`` alone, or the others together."""

    ids: Sequence[int] | None = None
    kinds: Sequence[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    is_open: bool | None = None
    limit: int = 1000
    offset: int = 0


def requests(s: Session, f: RequestFilter) -> list[ResidentRequest]:
    q = select(CaseRow, ResidentReportRow).join(ResidentReportRow, ResidentReportRow.case_id == CaseRow.id)
    q = q.where(CaseRow.source == CaseSource.RESIDENT.value)
    if f.ids is not None:
        q = q.where(CaseRow.id.in_(list(f.ids)))
    else:
        if f.kinds:
            q = q.where(ResidentReportRow.kind.in_(list(f.kinds)))
        if f.since is not None:
            q = q.where(CaseRow.created_at >= f.since)
        if f.until is not None:
            q = q.where(CaseRow.created_at <= f.until)
        if f.is_open is not None:
            q = q.where(CaseRow.is_open == f.is_open)
    q = q.order_by(CaseRow.created_at.desc(), CaseRow.id.desc()).limit(f.limit).offset(f.offset)
    rows = s.execute(q).all()
    replies: dict[int, str] = {}
    ended = [c.id for c, _ in rows if not c.is_open]
    if ended:
        trail = s.execute(
            select(CaseAuditRow.case_id, CaseAuditRow.note)
            .where(CaseAuditRow.case_id.in_(ended), CaseAuditRow.action.in_(REPLY_ACTIONS))
            .order_by(CaseAuditRow.id)
        )
        for case_id, note in trail:
            replies[case_id] = note  # the last one: a case ends once
    return [request_value(case, r, replies.get(case.id, "")) for case, r in rows]


def request_value(row: CaseRow, r: ResidentReportRow, reply: str = "", *, created: bool = True) -> ResidentRequest:
    return ResidentRequest(
        case=case_value(row),
        client=r.client,
        kind=r.kind,
        lat=r.lat,
        lon=r.lon,
        address=r.address,
        address_id=r.address_id,
        media_url=r.media_url,
        reply=reply,
        created=created,
    )

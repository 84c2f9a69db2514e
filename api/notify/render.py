"""What a notification says: the webhook body (the bus message plus names and links) and the group
robots' markdown card in Chinese (hazard, place, time, deadline, link)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from events.notify.store import Job

CHINA = timezone(timedelta(hours=8), "CST")
"""Times in cards are Beijing time: that is the clock of everyone reading them."""

HAZARD_ZH = {
    "crowd": "人员聚集",
    "fallen_person": "人员倒地",
    "structure": "墙体倒塌",
    "intrusion": "区域入侵",
    "loitering": "人员徘徊",
    "camera_offline": "摄像头离线",
    "camera_covered": "摄像头遮挡",
    "camera_defocused": "摄像头失焦",
    "camera_moved": "摄像头移位",
    "camera_frozen": "画面冻结",
    "fire_lane_blocked": "消防通道占用",
    "ebike_indoors": "电动车入户",
}
SEVERITY_ZH = {"low": "低", "medium": "中", "high": "高", "critical": "紧急"}
TOPIC_ZH = {
    "alert.opened": "新告警",
    "alert.updated": "告警更新",
    "alert.closed": "告警结束",
    "alert.clip": "告警视频",
    "alert.acknowledged": "告警已确认",
    "alert.dismissed": "告警已排除",
    "alert.in_case": "告警已立案",
    "alert.escalated": "告警已上报",
    "case.created": "新案件",
    "case.alert_added": "案件新增告警",
    "case.comment": "案件备注",
    "case.registered": "案件已登记",
    "case.dispatched": "案件已派发",
    "case.accepted": "案件已受理",
    "case.in_progress": "案件处置中",
    "case.resolved": "案件已处置",
    "case.verified": "案件已核查",
    "case.closed": "案件已办结",
    "case.dismissed": "案件已撤销",
    "case.escalated": "案件已升级",
    "case.reopened": "案件已重开",
    "system.disk_low": "存储空间不足",
}


@dataclass(frozen=True, slots=True)
class Context:
    """What rendering needs besides the message: names and the console's address for links."""

    public_url: str
    camera_name: Callable[[str | None], str | None]

    def link(self, payload: Mapping[str, Any]) -> str:
        base = self.public_url.rstrip("/") + "/"
        case = payload.get("case") if isinstance(payload.get("case"), Mapping) else None
        case_id = (
            (case or {}).get("id") or payload.get("case_id") or (payload.get("id") if "triage" in payload else None)
        )
        if case_id is not None:
            return f"{base}#/case/{case_id}"
        if payload.get("camera_id"):
            return f"{base}#/alerts"
        return base


def _body(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    case = payload.get("case")
    return case if isinstance(case, Mapping) else payload


def webhook_body(job: Job, ctx: Context) -> dict[str, Any]:
    """Standard Webhooks' envelope: ``type``, ``timestamp``, ``data`` (the message as published, with the
    camera's name and a link to the console). No images: receivers fetch evidence through the API."""
    data = dict(job.payload)
    camera_id = _body(job.payload).get("camera_id")
    data["camera_name"] = ctx.camera_name(camera_id) if camera_id else None
    data["link"] = ctx.link(job.payload)
    return {"type": job.topic, "timestamp": job.message_at.isoformat(), "data": data}


def _when(value: Any) -> str:
    if not isinstance(value, str):
        return "—"
    try:
        return datetime.fromisoformat(value).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return value


def card(job: Job, ctx: Context) -> tuple[str, str]:
    """(title, markdown text) of the robots' card, in Chinese."""
    body = _body(job.payload)
    hazard = HAZARD_ZH.get(str(body.get("hazard")), str(body.get("hazard") or body.get("title") or ""))
    severity = SEVERITY_ZH.get(str(body.get("severity")), "")
    title = f"{TOPIC_ZH.get(job.topic, job.topic)}：{hazard}" if hazard else TOPIC_ZH.get(job.topic, job.topic)
    camera_id = body.get("camera_id")
    place = " · ".join(
        p
        for p in (
            f"{ctx.camera_name(camera_id) or camera_id}（{camera_id}）"
            if camera_id
            else str(body.get("location") or ""),
            f"网格 {body['grid_id']}" if body.get("grid_id") else "",
        )
        if p
    )
    lines = [f"### {title}" + (f"（{severity}）" if severity else "")]
    if place:
        lines.append(f"> 地点：{place}")
    lines.append(f"> 时间：{_when(body.get('started_at') or body.get('created_at') or job.message_at.isoformat())}")
    if body.get("deadline_at"):
        lines.append(f"> 期限：{_when(body.get('deadline_at'))}")
    if body.get("summary") or body.get("description"):
        lines.append(f"> 说明：{body.get('summary') or body.get('description')}")
    lines.append(f"[查看详情]({ctx.link(job.payload)})")
    return title, "\n".join(lines)

"""Open311 GeoReport v2 at ``/open311/v2``: the door residents' apps (the sub-district's 连心桥) report through.

Resources, each as ``.json`` or ``.xml``: ``discovery``, ``services``, ``services/{service_code}``,
``requests`` (GET a list, POST a report) and ``requests/{service_request_id}``. A report needs ``lat`` and
``long``: it becomes a case of source ``resident`` in the grid that holds the point (`Router.locate` says the
tie rule); a point in no grid is refused naming it. ``service_request_id`` is the case's id; ``status`` is
``open`` until the case is closed or dismissed, then ``closed`` (``updated_datetime`` the close time), and
``status_notes`` the case's state in Chinese plus the centre's reply (the close or dismiss note, with the
site's people's names taken out); contact details and internal notes never leave.

Posting needs a client app's ``api_key`` (403 without a valid one) and keeps to its rate (429 with
Retry-After); the reads are public, as the spec has them, limited per caller address. The limits are per
process (`api.open311`). These routes answer in the spec's formats, not gridwatch's, and are left out of
gridwatch's OpenAPI document: the spec is their documentation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.open311 import FORMATS, Client, Gate, Open311Error, iso, render, render_error
from api.runtime import Runtime, get_runtime
from core.errors import GridwatchError, InvalidInput, Issue, NotFound
from core.text import text_problem
from events.resident import BY_CODE, KINDS, MAX_DESCRIPTION, RequestFilter
from events.service import EventsService
from events.types import CaseState, ResidentReport, ResidentRequest

PREFIX = "/open311/v2"
router = APIRouter(prefix=PREFIX, include_in_schema=False)

MAX_BODY_BYTES = 64 * 1024
DEFAULT_WINDOW = timedelta(days=90)
MAX_REQUESTS = 1000
"""The spec's default: "a span of 90 days or first 1000 requests returned, whichever is smallest"."""

PUBLIC_STATE = {
    CaseState.REPORTED: "已上报",
    CaseState.REGISTERED: "已立案",
    CaseState.DISPATCHED: "已派发至网格",
    CaseState.ACCEPTED: "网格员已签收",
    CaseState.IN_PROGRESS: "处置中",
    CaseState.RESOLVED: "已处置，待核查",
    CaseState.VERIFIED: "已核查，待办结",
    CaseState.CLOSED: "已办结",
    CaseState.ESCALATED: "已移交上级处置",
    CaseState.REOPENED: "退回重办",
    CaseState.DISMISSED: "未予受理",
}

WHERE = {
    "kind": "service_code",
    "lon": "long",
    "address": "address_string",
    "location": "lat/long",
    "idempotency_key": "Idempotency-Key",
}
"""The events service's names for a report's fields → GeoReport's."""

_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_URL = re.compile(r"https?://[^\s]+", re.IGNORECASE)
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


# ---------------------------------------------------------------------- plumbing


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(400, [f'format: "{fmt[:20]}" is not offered; add .json or .xml to the resource'])
    return fmt


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _limit(gate: Gate, key: str, per_min: int) -> None:
    wait = gate.limiter.allow(key, per_min)
    if wait:
        raise Open311Error(
            429, [f"too many requests: at most {per_min} a minute; try again in {wait} s"], {"Retry-After": str(wait)}
        )


def _events(runtime: Runtime) -> EventsService:
    if runtime.context.events is None:
        raise Open311Error(503, ["the case service is not running here"])
    return runtime.context.events


def _gate(runtime: Runtime) -> Gate:
    if runtime.open311 is None:
        raise Open311Error(503, ["the Open311 door is not open here"])
    return runtime.open311


async def _answer(fmt: str, make: Callable[[str], Awaitable[Response]]) -> Response:
    """Run ``make`` and turn every refusal into the spec's error format: never gridwatch's, never a 500."""
    shown = fmt if fmt in FORMATS else "xml"
    try:
        return await make(_format(fmt))
    except Open311Error as exc:
        return render_error(shown, exc)
    except InvalidInput as exc:
        issues = [Issue(WHERE.get(i.where, i.where), i.message) for i in exc.issues]
        return render_error(shown, Open311Error.invalid(issues))
    except NotFound as exc:
        return render_error(shown, Open311Error(404, [str(exc)]))
    except GridwatchError as exc:
        return render_error(shown, Open311Error(400, [str(exc)]))


async def _public(request: Request, runtime: Runtime) -> None:
    gate = _gate(runtime)
    _limit(gate, f"ip:{_address(request)}", gate.public_rate_per_min)


# ---------------------------------------------------------------------- discovery and services


@router.get("/discovery.{fmt}")
async def discovery(fmt: str, request: Request) -> Response:
    async def make(f: str) -> Response:
        runtime = await get_runtime(request)
        await _public(request, runtime)
        base = (runtime.context.public_url or str(request.base_url)).rstrip("/") + PREFIX + "/"
        doc = {
            "changeset": "2026-12-08T00:00:00Z",
            "contact": "the sub-district's grid management centre (网格化管理中心)",
            "key_service": "ask the centre for an api_key: `gridwatch open311 client add NAME`",
            "endpoints": [
                {
                    "specification": "http://wiki.open311.org/GeoReport_v2",
                    "url": base,
                    "changeset": "2026-12-08T00:00:00Z",
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        }
        return render(f, "discovery", doc)

    return await _answer(fmt, make)


def _service(kind: Any) -> dict[str, Any]:
    return {
        "service_code": kind.code,
        "service_name": kind.name,
        "description": kind.description,
        "metadata": False,
        "type": "realtime",
        "keywords": ", ".join(kind.keywords),
        "group": kind.group,
    }


@router.get("/services.{fmt}")
async def services(fmt: str, request: Request) -> Response:
    async def make(f: str) -> Response:
        await _public(request, await get_runtime(request))
        return render(f, "services", [_service(k) for k in KINDS])

    return await _answer(fmt, make)


@router.get("/services/{service_code}.{fmt}")
async def service_definition(service_code: str, fmt: str, request: Request) -> Response:
    async def make(f: str) -> Response:
        await _public(request, await get_runtime(request))
        if service_code not in BY_CODE:
            raise Open311Error(404, [f'service_code: no service "{service_code[:40]}"'])
        # metadata is false for every service: no attributes to ask for
        return render(f, "service_definition", {"service_code": service_code, "attributes": []})

    return await _answer(fmt, make)


# ---------------------------------------------------------------------- POST requests


async def _form(request: Request) -> dict[str, str]:
    """The form fields (URL-encoded, as the spec's examples post them; multipart without files is read too)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        try:
            form = await request.form(max_files=0, max_fields=200)
        except Exception:
            raise Open311Error(
                400, ["body: not a readable multipart form (files are not accepted: send media_url)"]
            ) from None
        fields = {}
        for name, value in form.multi_items():
            if not isinstance(value, str):
                raise Open311Error(400, [f"{name}: files are not accepted; send media_url"])
            fields[name] = value
        return fields
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise Open311Error(413, [f"body: larger than {MAX_BODY_BYTES // 1024} KiB"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Open311Error(400, ["body: not UTF-8 text"]) from None
    if content_type not in ("", "application/x-www-form-urlencoded"):
        raise Open311Error(400, [f'body: send application/x-www-form-urlencoded, not "{content_type[:60]}"'])
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=200)
    except ValueError:
        raise Open311Error(400, ["body: more than 200 fields"]) from None
    return dict(pairs)


def _coordinate(fields: dict[str, str], name: str, issues: list[Issue]) -> float | None:
    raw = fields.get(name, "").strip()
    if not raw:
        return None
    if len(raw) > 40 or not _NUMBER.fullmatch(raw):
        issues.append(Issue(name, f'not a number: "{raw[:40]}"'))
        return None
    value = float(raw)
    low, high = (-90.0, 90.0) if name == "lat" else (-180.0, 180.0)
    if not math.isfinite(value) or not low <= value <= high:
        issues.append(Issue(name, f"must be from {low:g} to {high:g} (WGS84 degrees), got {raw}"))
        return None
    return value


def _report(fields: dict[str, str], client: Client, key: str | None) -> ResidentReport:
    """The GeoReport fields as a report, or every field at fault."""
    issues: list[Issue] = []
    for name, value in fields.items():
        problem = text_problem(name) or text_problem(value)
        if problem:
            issues.append(Issue(name if not text_problem(name) else "?", problem))
    if issues:
        raise InvalidInput(issues)
    code = fields.get("service_code", "").strip()
    if not code:
        issues.append(Issue("service_code", "required"))
    elif code not in BY_CODE:
        issues.append(Issue("service_code", f'no service "{code[:40]}"; see services.json'))
    lat, lon = _coordinate(fields, "lat", issues), _coordinate(fields, "long", issues)
    given = {n for n in ("lat", "long") if fields.get(n, "").strip()}
    if given == {"lat"}:
        issues.append(Issue("long", "required with lat"))
    elif given == {"long"}:
        issues.append(Issue("lat", "required with long"))
    elif not given:
        by_address = [n for n in ("address_string", "address_id") if fields.get(n, "").strip()]
        if by_address:
            issues.append(
                Issue(
                    by_address[0],
                    "cannot be placed: gridwatch has no geocoder (it works offline); send lat and long as well",
                )
            )
        else:
            issues.append(Issue("lat/long", "required: a report needs lat and long (WGS84) to find its grid"))
    description = fields.get("description", "")
    if len(description) > MAX_DESCRIPTION:
        issues.append(Issue("description", f"at most {MAX_DESCRIPTION} characters, got {len(description)}"))
    email = fields.get("email", "").strip()
    if email and not _EMAIL.fullmatch(email):
        issues.append(Issue("email", f'not an e-mail address: "{email[:60]}"'))
    media_url = fields.get("media_url", "").strip()
    if media_url and not _URL.fullmatch(media_url):
        issues.append(Issue("media_url", "must be an http:// or https:// URL"))
    if issues or lat is None or lon is None:
        raise InvalidInput(issues)
    return ResidentReport(
        client=client.name,
        kind=code,
        lat=lat,
        lon=lon,
        description=description.strip(),
        address=fields.get("address_string", "").strip(),
        address_id=fields.get("address_id", "").strip(),
        media_url=media_url,
        email=email,
        phone=fields.get("phone", "").strip(),
        first_name=fields.get("first_name", "").strip(),
        last_name=fields.get("last_name", "").strip(),
        device_id=fields.get("device_id", "").strip(),
        account_id=fields.get("account_id", "").strip(),
        idempotency_key=key,
    )


@router.post("/requests.{fmt}")
async def post_request(fmt: str, request: Request) -> Response:
    async def make(f: str) -> Response:
        runtime = await get_runtime(request)
        gate, events = _gate(runtime), _events(runtime)
        fields = await _form(request)
        api_key = fields.get("api_key") or request.query_params.get("api_key") or ""
        client = await run_in_threadpool(gate.clients.check, api_key) if api_key else None
        if client is None:
            # failed keys count against the caller's address: guessing keys is a flood like any other
            _limit(gate, f"badkey:{_address(request)}", gate.public_rate_per_min)
            what = "api_key: required" if not api_key else "api_key: not a valid key of an enabled client app"
            raise Open311Error(403, [what])
        _limit(gate, f"client:{client.id}", client.rate_per_min)
        key = request.headers.get("idempotency-key")
        report = _report(fields, client, key.strip() if key else None)

        def work() -> ResidentRequest:
            done = events.resident_report(report)
            gate.clients.used(client)
            return done

        done = await run_in_threadpool(work)
        item = {
            "service_request_id": str(done.case.id),
            "service_notice": _notice(runtime, done),
            "account_id": report.account_id or None,
        }
        return render(f, "service_requests", [item])

    return await _answer(fmt, make)


def _notice(runtime: Runtime, done: ResidentRequest) -> str:
    expected = iso(done.case.deadline_at)
    return f"已受理，已转交网格 {done.case.grid_id} 处置，预计 {expected} 前处理完毕"


# ---------------------------------------------------------------------- GET requests


def _datetime(fields: dict[str, str], name: str, issues: list[Issue]) -> datetime | None:
    raw = fields.get(name, "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        issues.append(Issue(name, f'not an ISO 8601 date and time: "{raw[:40]}"'))
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        issues.append(Issue(name, f'needs a time zone (Z or ±HH:MM): "{raw[:40]}"'))
        return None
    return value


def _list(fields: dict[str, str], name: str) -> list[str]:
    return [v.strip() for v in fields.get(name, "").split(",") if v.strip()]


def _filter(fields: dict[str, str], now: datetime) -> RequestFilter:
    issues: list[Issue] = []
    ids_raw = _list(fields, "service_request_id")
    ids: list[int] = []
    for value in ids_raw[: MAX_REQUESTS + 1]:
        if not value.isdigit() or len(value) > 18:
            issues.append(Issue("service_request_id", f'not a service request id: "{value[:40]}"'))
        else:
            ids.append(int(value))
    if len(ids_raw) > MAX_REQUESTS:
        issues.append(Issue("service_request_id", f"at most {MAX_REQUESTS} ids"))
    codes = _list(fields, "service_code")
    issues += [Issue("service_code", f'no service "{c[:40]}"') for c in codes if c not in BY_CODE]
    statuses = _list(fields, "status")
    issues += [Issue("status", f'"{s[:20]}" is not open or closed') for s in statuses if s not in ("open", "closed")]
    since, until = _datetime(fields, "start_date", issues), _datetime(fields, "end_date", issues)
    if since is not None and until is not None and until < since:
        issues.append(Issue("end_date", "is before start_date"))
    page_size = _positive(fields, "page_size", MAX_REQUESTS, issues)
    page = _positive(fields, "page", 10_000, issues)
    if issues:
        raise InvalidInput(issues)
    if ids_raw:
        return RequestFilter(ids=ids, limit=MAX_REQUESTS)
    if since is None and until is None:
        until = now
    if since is None:
        since = (until or now) - DEFAULT_WINDOW
    if until is None:
        until = since + DEFAULT_WINDOW
    wanted = set(statuses)
    size = page_size or MAX_REQUESTS
    return RequestFilter(
        kinds=codes or None,
        since=since,
        until=until,
        is_open=None if len(wanted) != 1 else wanted == {"open"},
        limit=size,
        offset=((page or 1) - 1) * size,
    )


def _positive(fields: dict[str, str], name: str, limit: int, issues: list[Issue]) -> int | None:
    raw = fields.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw[:8]) <= limit or len(raw) > 8:
        issues.append(Issue(name, f"must be a whole number from 1 to {limit}"))
        return None
    return int(raw)


def _scrub(text: str, names: dict[str, str]) -> str:
    """The reply without the site's people's names or ids (a resident sees 工作人员, "staff")."""
    for ident, name in names.items():
        for word in (name, ident):
            if len(word) >= 2 and word in text:
                text = text.replace(word, "工作人员")
    return text


def _item(r: ResidentRequest, grid_names: dict[str, str], people: dict[str, str]) -> dict[str, Any]:
    case = r.case
    closed = case.state in (CaseState.CLOSED, CaseState.DISMISSED)
    notes = PUBLIC_STATE.get(case.state, case.state.value)
    reply = _scrub(r.reply.strip(), people) if r.reply.strip() else ""
    if reply:
        notes = f"{notes}：{reply}"
    kind = BY_CODE.get(r.kind)
    grid = grid_names.get(case.grid_id, case.grid_id)
    return {
        "service_request_id": str(case.id),
        "status": "closed" if closed else "open",
        "status_notes": notes,
        "service_name": kind.name if kind else r.kind,
        "service_code": r.kind,
        "description": case.description,
        "agency_responsible": f"{grid}（{case.grid_id}）",
        "service_notice": None,
        "requested_datetime": iso(case.created_at),
        "updated_datetime": iso(case.closed_at if closed and case.closed_at else case.updated_at),
        "expected_datetime": iso(case.deadline_at),
        "address": r.address or None,
        "address_id": r.address_id or None,
        "zipcode": None,
        "lat": r.lat,
        "long": r.lon,
        "media_url": r.media_url or None,
    }


def _items(runtime: Runtime, found: list[ResidentRequest]) -> list[dict[str, Any]]:
    site = runtime.context.site
    grid_names = {g.id: g.name for g in site.grids()} if found else {}
    people = site.person_names() if any(r.reply for r in found) else {}
    return [_item(r, grid_names, people) for r in found]


@router.get("/requests.{fmt}")
async def get_requests(fmt: str, request: Request) -> Response:
    async def make(f: str) -> Response:
        runtime = await get_runtime(request)
        await _public(request, runtime)
        events = _events(runtime)
        flt = _filter(dict(request.query_params), runtime.context.clock.now())  # a repeated name: its last value
        items = await run_in_threadpool(lambda: _items(runtime, events.resident_requests(flt)))
        return render(f, "service_requests", items)

    return await _answer(fmt, make)


@router.get("/requests/{service_request_id}.{fmt}")
async def get_request(service_request_id: str, fmt: str, request: Request) -> Response:
    async def make(f: str) -> Response:
        runtime = await get_runtime(request)
        await _public(request, runtime)
        events = _events(runtime)
        if not service_request_id.isdigit() or len(service_request_id) > 18:
            raise Open311Error(400, [f'service_request_id: not a service request id: "{service_request_id[:40]}"'])
        case_id = int(service_request_id)
        items = await run_in_threadpool(lambda: _items(runtime, [events.resident_request(case_id)]))
        return render(f, "service_requests", items)

    return await _answer(fmt, make)


# ---------------------------------------------------------------------- anything else under the prefix


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def elsewhere(rest: str, request: Request) -> Response:
    last = rest.rsplit("/", 1)[-1]
    stem, dot, fmt = last.rpartition(".")

    async def make(_f: str) -> Response:
        if not dot:
            raise Open311Error(400, [f'format: "{last[:40]}" has no .json or .xml suffix'])
        raise Open311Error(404, [f'no resource "{rest[:80]}" here, or not with {request.method}'])

    return await _answer(fmt if dot and stem else "xml", make)

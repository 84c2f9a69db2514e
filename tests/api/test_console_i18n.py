"""The console in Simplified Chinese and English.

The translation files agree with each other and with the code (every key the pages use is in both, with
the same placeholders); in Chromium every page reads in Chinese (no console word left in English) and in
English, the language switch in the top bar works and is remembered. Screenshots of every page in both
languages go to test-artifacts/console/ (i18n-zh-CN-*.png, i18n-en-*.png).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Page, Route, expect

from api.access import Role
from api.audit import AuditAction
from api.cluster_view import ShardState
from camera_config.camera_csv import CSV_COLUMNS
from camera_config.stream_settings import DecodeMode
from camera_config.types import CameraLevel, ZonePurpose
from core.errors import ENTITIES
from detectors.types import HazardType, Severity
from events.case_plan import ADD_ALERT, REPORT
from events.messages import Topic
from events.notify.config import ChannelKind
from events.notify.fatigue import Held
from events.types import ActorRole, AlertStatus, CaseAction, CaseSource, CaseState, Level, TriageClass
from ingest.types import HealthState, OfflineReason
from tests.api.conftest import Server, http_login, run_server
from tests.api.test_console import worker_delivery
from tests.support.browser import login, shot
from tests.support.paths import REPO
from tests.support.rtsp import RtspCamera

pytestmark = pytest.mark.slow

STATIC = REPO / "api" / "console" / "static"
I18N = STATIC / "i18n"
LANGUAGES: dict[str, str] = json.loads((I18N / "languages.json").read_text(encoding="utf-8"))
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def strings(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def values(*enums: type[StrEnum], extra: Iterable[str] = ()) -> set[str]:
    return {str(v) for e in enums for v in e} | set(extra)


# What each tv(kind, value) call may be given: the server's own enumerations where it has them, so a value
# added there without words in the console fails here. The rest are the browser's or the console's own sets.
KINDS: dict[str, set[str]] = {
    "action": values(CaseAction, extra=(REPORT, ADD_ALERT)),
    "state": values(CaseState),
    "hazard": values(HazardType),
    "severity": values(Severity),
    "alertStatus": values(AlertStatus),
    "health": values(HealthState, extra=("unknown",)),  # "unknown": a camera not read yet
    "role": values(Role, ActorRole),
    "source": values(CaseSource),
    "triage": values(TriageClass),
    "caseLevel": values(Level),
    "cameraLevel": values(CameraLevel),
    "kind": {"street", "community", "property_company", "compound"},  # the site tree's node kinds
    "entity": set(ENTITIES),  # what a server's not_found error names
    "purpose": values(ZonePurpose),
    "offline": values(OfflineReason),
    "decodeMode": values(DecodeMode),
    "auditAction": values(AuditAction),
    "shard": values(ShardState),
    "delivery": {"ok", "idle"},  # a worker's free-text delivery state: the two fixed ones
    "stream": {"connecting", "live", "reconnecting", "closed"},  # the event stream's state (api.js subscribe)
    "streamKind": {"main", "sub"},
    "connection": {"failed", "disconnected"},  # RTCPeerConnection states the camera page reports
    "held": values(Held),
    "channelKind": values(ChannelKind),
    "deliveryState": {"pending", "sent", "held", "dead", "discarded"},  # the delivery log's state filter
    "topic": values(Topic),
}


def key_of(kind: str, value: str) -> str:
    return f"{kind}.{value.replace(' ', '_')}"  # as i18n.js tv() makes it


@dataclass
class Usage:
    keys: set[str]
    kinds: set[str]
    problems: list[str]


def usage() -> Usage:
    """Keys the code uses: t("key") and tParts("key") in the scripts, data-i18n* attributes in the pages,
    tv("kind", …) kinds. Each call must name its key or kind literally (else this test could not see it)."""
    out = Usage(set(), set(), [])
    for js in sorted(STATIC.glob("js/**/*.js")):
        if js.name == "i18n.js":
            continue  # defines t() and tv(); its t(el.dataset.i18n) reads the data-i18n attributes below
        text = js.read_text(encoding="utf-8")
        for call in re.finditer(r"\b(tv|tParts|t)\(\s*", text):
            rest = text[call.end() :]
            literal = re.match(r'"([^"]+)"', rest)
            where = f"{js.relative_to(STATIC)}:{text.count(chr(10), 0, call.start()) + 1}"
            if literal:
                (out.kinds if call[1] == "tv" else out.keys).add(literal[1])
            elif not (call[1] == "t" and rest.startswith("`error.${")):  # a server error code (api.js)
                out.problems.append(f"{where}: {call[1]}() without a literal key: {rest[:40]!r}")
    for page in STATIC.glob("*.html"):
        out.keys |= set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', page.read_text(encoding="utf-8")))
    return out


def test_every_language_has_every_key_with_the_same_placeholders() -> None:
    assert {"en", "zh-CN"} <= set(LANGUAGES)
    en = strings("en")
    for lang in LANGUAGES:
        other = strings(lang)
        assert sorted(set(en) - set(other)) == [], f"missing in {lang}"
        assert sorted(set(other) - set(en)) == [], f"in {lang} but not in English"
        wrong = {
            k: (en[k], other[k]) for k in en if set(PLACEHOLDER.findall(en[k])) != set(PLACEHOLDER.findall(other[k]))
        }
        assert wrong == {}, f"placeholders differ in {lang}"
        assert [k for k, v in other.items() if not v.strip()] == [], f"empty strings in {lang}"


def test_every_key_the_console_uses_is_translated_and_every_string_is_used() -> None:
    used = usage()
    assert used.problems == []
    en, zh = strings("en"), strings("zh-CN")
    assert sorted(used.keys - set(en)) == []
    assert sorted(used.keys - set(zh)) == []
    assert sorted(used.kinds - set(KINDS)) == [], "a tv() kind this test does not know: add its values to KINDS"
    enumerated = {key_of(kind, v) for kind in used.kinds for v in KINDS[kind]}
    assert sorted(enumerated - set(en)) == []
    assert sorted(enumerated - set(zh)) == []
    # error.<code>: said for a server code when present (the server's text otherwise), so any is fine
    unused = {k for k in en if not k.startswith("error.")} - used.keys - enumerated
    assert sorted(unused) == [], "strings no page uses"
    assert len(used.keys) > 200  # the scan itself works


# ---------------------------------------------------------------------------- the pages in Chromium

# Latin-script words a Chinese page may show: the product's name, units, protocols and formats, the columns
# of the camera CSV (typed as they are), and the languages' own names in the picker.
ALLOWED = (
    {"gridwatch", "fps", "px", "km", "KiB", "MiB", "ms", "s", "h", "min", "d", "p90", "p95", "s/s", "%", "UTC", "GMT"}
    | {"RTSP", "rtsp", "WebRTC", "CSV", "HTTP", "JSON", "CPU", "h264", "H.264", "URL", "MQTT", "Webhook", "ONVIF"}
    | set(CSV_COLUMNS)
    | {word for name in LANGUAGES.values() for word in name.split()}
)
ALLOWED = {w.lower() for w in ALLOWED}  # compared in lower case: a table heading may be set in capitals
IDENTIFIER = re.compile(r"^[A-Z]{1,4}(?:-[A-Z0-9]+)*-\d+$")  # CAM-101, G-01, P-GW-01: ids
WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_./][A-Za-z0-9]+)*")
URL = re.compile(r"\b[a-z][a-z0-9+]*://\S+")  # an example address is a format, not words
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")

# The words of a page: its text as shown, the title, and the titles, placeholders, labels and alt texts of
# the elements on screen, with every option of the visible pickers. Text marked as in another language is
# left out: the server's own sentences (api.js serverText), which the console cannot translate.
PAGE_WORDS = """() => {
  let text = document.body.innerText;
  for (const el of document.body.querySelectorAll("[lang]:not(option)")) {
    if (el.lang !== document.documentElement.lang) text = text.replace(el.innerText, " ");
  }
  const out = [document.title, text];
  for (const el of document.querySelectorAll("[title], [placeholder], [aria-label], [alt], option")) {
    const option = el.tagName === "OPTION";
    if (!(option ? el.closest("select") : el).checkVisibility()) continue;
    if (option) out.push(el.textContent);
    for (const a of ["title", "placeholder", "aria-label", "alt"]) if (el.hasAttribute(a)) out.push(el.getAttribute(a));
  }
  return out.join("\\n");
}"""


def without(text: str, data: Iterable[str]) -> str:
    """``text`` without the site's and the records' own words (longest first, so a name goes whole)."""
    for item in sorted(data, key=len, reverse=True):
        text = text.replace(item, " ")
    return URL.sub(" ", text)


def latin_words(text: str, data: Iterable[str]) -> list[str]:
    """Latin-script words in ``text`` that are neither data nor allowed: console words left in English."""
    rest = without(text, data)
    return sorted({w for w in WORD.findall(rest) if w.lower() not in ALLOWED and not IDENTIFIER.match(w)})


@dataclass(frozen=True)
class Demo:
    """A server of this module's own (so that no other test's records show), an alert on the wall, one made
    into a case for the grid worker, and the texts the console shows without authoring them."""

    server: Server
    case_id: int
    data: frozenset[str]

    def records(self) -> set[str]:
        """The data, with what the access audit recorded so far (who, of what, its detail: stored text)."""
        with http_login(self.server, "admin") as admin:
            res = admin.get("/api/audit", params={"limit": 200})
            assert res.status_code == 200, res.text
            rows = res.json()["items"]
        return set(self.data) | {str(r.get(k) or "") for r in rows for k in ("actor", "target", "detail")} - {""}


def site_texts(node: Any) -> Iterator[str]:
    """Names and ids in the site file the server loaded (streets, communities, people, cameras, zones…)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("id", "name", "building") and isinstance(value, str):
                yield value
            yield from site_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from site_texts(item)


@pytest.fixture(scope="module")
def demo(
    demo_clip: Path, rtsp_camera: RtspCamera, footage: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Demo]:
    root = tmp_path_factory.mktemp("i18n-server")
    with run_server(demo_clip, rtsp_camera, root, detect=False) as server:
        delivery = worker_delivery(server, footage)
        note = "请网格员到场核查"
        channel = "市城运平台"
        reason = "东门施工"
        alert_id = delivery.observe(summary="东门广场有 7 人聚集，已持续 40 秒")
        delivery.observe(camera="CAM-04", hazard="camera_covered", summary="画面被遮挡", severity="low")
        with http_login(server, "operator") as op:
            res = op.post(f"/api/alerts/{alert_id}/case", json={"note": note})
            assert res.status_code == 200, res.text
            case_id = int(res.json()["id"])
        with http_login(server, "admin") as admin:  # a channel on the notifications page, a suspend in the tree
            res = admin.put(
                "/api/notifications/channels/CH-01",
                json={"kind": "webhook", "name": channel, "url": "https://city.example/gw"},
            )
            assert res.status_code == 200, res.text
        with http_login(server, "operator") as op:
            res = op.post(
                "/api/suspends", json={"kind": "camera", "target_id": "CAM-01", "minutes": 600, "reason": reason}
            )
            assert res.status_code == 201, res.text
        authored = {note, channel, reason}
        data = set(site_texts(yaml.safe_load((root / "site.yaml").read_text(encoding="utf-8")))) | authored
        with http_login(server, "admin") as admin:
            for user in admin.get("/api/users").json():
                data |= {user["username"], user.get("display_name") or ""}
            # the records' own words: the case's title comes from the site's policy ("Crowd gathering: camera …")
            for c in admin.get("/api/cases").json()["items"]:
                data |= {c["title"], c.get("description") or ""}
            data |= {a.get("summary") or "" for a in admin.get("/api/alerts").json()["items"]}
        yield Demo(server, case_id, frozenset(d for d in data if d))


# Every route of app.js ROUTES: its address, and what shows that the page has drawn its data.
ADMIN_PAGES = [
    ("alerts", "#/alerts", "#alert-wall > li"),
    ("wall", "#/wall", "#wall .wall-tile[data-state=live], #wall .wall-tile[data-state=failed]"),
    ("cases", "#/cases", "#case-board .board-col .case-card"),
    ("case", "#/case/{case}", "#case-timeline li"),
    ("figures", "#/figures", "#grid-figures tbody tr"),
    ("risk", "#/risk", "#risk-table tbody tr, #risk-not-enough"),
    ("map", "#/map", "#site-map .grid-shape"),
    ("tree", "#/tree", "#site-tree li.camera"),
    ("cameras", "#/cameras", "#cameras-table tbody tr"),
    ("camera-onvif", "#/cameras/onvif", "#onvif-form"),
    ("gateways", "#/gateways", "#gateway-form"),
    ("camera-new", "#/cameras/new", "#camera-form"),
    ("import", "#/cameras/import", "#import-form"),
    ("camera", "#/camera/CAM-01", "#stats [data-stat], #stats td.muted:not(:empty)"),
    ("audit", "#/audit", "#audit-table tbody tr"),
    ("notifications", "#/notifications", "#channels-table tbody tr"),
]
GRID_WORKER_PAGES = [
    ("tasks", "#/tasks", "#my-tasks .case-card"),
    ("phone-map", "#/map", "#site-map .grid-shape"),
    ("phone-case", "#/case/{case}", "#case-timeline li"),
]


def choose_language(page: Page, lang: str) -> None:
    """Every document of this page starts in ``lang``, as if chosen in the top bar before."""
    page.add_init_script(
        f"try {{ localStorage.setItem('gridwatch.lang', {json.dumps(lang)}); }} catch {{}}  // not on about:blank"
    )


def visit(page: Page, demo: Demo, name: str, address: str, ready: str) -> None:
    page.goto(demo.server.url + "/" + address.format(case=demo.case_id))
    expect(page.locator(ready).first).to_be_attached()
    expect(page.locator("#page .view")).to_be_attached()  # the page replaced "loading"
    if name == "camera":  # the live picture is part of the page
        page.wait_for_function("() => document.querySelector('#live video').videoWidth > 0", timeout=20_000)


def walk(page: Page, demo: Demo, lang: str, pages: list[tuple[str, str, str]]) -> dict[str, str]:
    """Visit ``pages``, screenshot each, and return each page's words."""
    seen = {}
    for name, address, ready in pages:
        visit(page, demo, name, address, ready)
        expect(page.locator("html")).to_have_attribute("lang", lang)
        if name == "tasks":
            page.click("#patrol summary")  # the patrol form's words too
        shot(page, f"i18n-{lang}-{name}")
        seen[name] = page.evaluate(PAGE_WORDS)
    return seen


def test_every_page_reads_in_chinese(page: Page, demo: Demo) -> None:
    choose_language(page, "zh-CN")
    page.goto(demo.server.url + "/login")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("button[type=submit]")).to_have_text("登录")
    shot(page, "i18n-zh-CN-login")
    found = {"login": latin_words(page.evaluate(PAGE_WORDS), demo.data)}
    login(page, demo.server, "admin")
    expect(page.locator("#nav a")).to_have_text(
        [
            "告警",
            "视频墙",
            "案件",
            "统计",
            "风险预测",
            "地图",
            "辖区",
            "摄像头",
            "添加摄像头",
            "导入 CSV",
            "访问审计",
            "通知渠道",
        ]
    )
    seen = walk(page, demo, "zh-CN", ADMIN_PAGES)
    data = demo.records()
    for name, text in seen.items():
        found[name] = latin_words(text, data)
    page.goto("about:blank")
    page.context.clear_cookies()
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, demo.server, "gridworker")
    for name, text in walk(page, demo, "zh-CN", GRID_WORKER_PAGES).items():
        found[name] = latin_words(text, demo.data)
    expect(page.locator("#step-buttons button")).to_have_text(["签收"])
    assert {name: words for name, words in found.items() if words} == {}
    assert set(found) == {"login"} | {name for name, _, _ in ADMIN_PAGES + GRID_WORKER_PAGES}


def test_every_page_reads_in_english(page: Page, demo: Demo) -> None:
    choose_language(page, "en")
    login(page, demo.server, "admin")
    expect(page.locator("#nav a").first).to_have_text("Alerts")
    chinese = {}
    data = demo.data | set(LANGUAGES.values())  # the picker names each language in its own
    for name, text in walk(page, demo, "en", ADMIN_PAGES).items():
        chinese[name] = CJK.findall(without(text, data))
    page.goto("about:blank")
    page.context.clear_cookies()
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, demo.server, "gridworker")
    for name, text in walk(page, demo, "en", GRID_WORKER_PAGES).items():
        chinese[name] = CJK.findall(without(text, data))
    expect(page.locator("#step-buttons button")).to_have_text(["Accept"])
    assert {name: chars for name, chars in chinese.items() if chars} == {}


def test_a_word_hard_coded_in_a_page_is_caught(page: Page, demo: Demo) -> None:
    """The check above can fail: the alert wall served with one button's words written into the script
    instead of asked of t() shows them in English on the Chinese page, and the check names them."""
    source = (STATIC / "js" / "pages" / "alerts.js").read_text(encoding="utf-8")
    assert 't("alerts.makeCase")' in source

    def hard_coded(route: Route) -> None:
        route.fulfill(body=source.replace('t("alerts.makeCase")', '"Make case"'), content_type="text/javascript")

    page.route("**/static/js/pages/alerts.js", hard_coded)
    choose_language(page, "zh-CN")
    login(page, demo.server, "admin")
    expect(page.locator("#alert-wall .act-case").first).to_have_text("Make case")
    assert latin_words(page.evaluate(PAGE_WORDS), demo.data) == ["Make", "case"]


def test_the_language_switch_changes_the_page_and_is_remembered(page: Page, demo: Demo) -> None:
    page.goto(demo.server.url + "/login")
    page.evaluate("() => localStorage.setItem('gridwatch.lang', 'en')")  # once: a reload must keep the switch
    login(page, demo.server, "operator")
    expect(page.locator("h1")).to_have_text("Alerts")
    expect(page.locator("#lang")).to_have_value("en")
    page.select_option("#lang", "zh-CN")
    expect(page.locator("h1")).to_have_text("告警")  # the page is drawn again in the new language
    expect(page.locator("#nav a").first).to_have_text("告警")
    expect(page.locator("#logout")).to_have_text("退出登录")
    expect(page.locator("#user-name")).to_have_text("He Ping · 值班员")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.reload()
    expect(page.locator("h1")).to_have_text("告警")
    expect(page.locator("#lang")).to_have_value("zh-CN")
    page.goto(demo.server.url + "/login")  # the login page follows the choice too
    expect(page.locator("button[type=submit]")).to_have_text("登录")
    page.select_option("#lang", "en")
    expect(page.locator("button[type=submit]")).to_have_text("Log in")
    page.goto(demo.server.url + "/")
    expect(page.locator("h1")).to_have_text("Alerts")


def test_without_a_choice_the_browser_language_decides(page: Page, demo: Demo) -> None:
    page.add_init_script(
        "localStorage.removeItem('gridwatch.lang');"
        "Object.defineProperty(navigator, 'languages', { get: () => ['zh-Hans-CN', 'en-US'] });"
    )
    page.goto(demo.server.url + "/login")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("button[type=submit]")).to_have_text("登录")
    picks = page.evaluate(
        """async () => {
          const { choose } = await import("/static/js/i18n.js");
          const offered = ["en", "zh-CN"];
          return [
            choose(offered, null, ["zh-CN"]), choose(offered, null, ["zh-TW", "en"]), choose(offered, null, ["zh"]),
            choose(offered, null, ["fr-FR", "de"]), choose(offered, "en", ["zh-CN"]), choose(offered, "xx", ["zh-CN"]),
          ];
        }"""
    )
    assert picks == ["zh-CN", "zh-CN", "zh-CN", "en", "en", "zh-CN"]


def test_a_server_error_with_a_code_is_said_in_chinese(page: Page, demo: Demo) -> None:
    """A refusal with a code (pydantic's ``greater_than_equal``, ``ge`` = 1), a thing that does not exist and a
    role that may not are said in Chinese, their values too (what, which role); an error without a code keeps
    the server's text."""
    choose_language(page, "zh-CN")
    login(page, demo.server, "admin")
    said = page.evaluate(
        """async () => {
          const { api } = await import("/static/js/api.js");
          const failed = (path, opts) => api(path, opts).then(() => "no error", (e) => e.message);
          return [
            await failed("/api/alerts?limit=0"),
            await failed("/api/cameras/NOPE"),
            await failed("/api/cameras/CAM-01/zones/NOPE", { method: "DELETE" }),
          ];
        }"""
    )
    assert said == ["query.limit: 不能小于 1", "摄像头“NOPE”不存在", 'zone "NOPE" of camera "CAM-01" does not exist']
    page.context.clear_cookies()
    login(page, demo.server, "viewer")
    refused = page.evaluate(
        """async () => {
          const { api } = await import("/static/js/api.js");
          return api("/api/cameras/CAM-01/test", { method: "POST" }).then(() => "no error", (e) => e.message);
        }"""
    )
    assert refused == "您的角色（只读用户）无权执行此操作"

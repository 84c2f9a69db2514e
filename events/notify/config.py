"""Notification channels as configured (site file ``notifications:`` section, or the API), and who
receives what: the rules matched against each bus message.

Robot webhooks go only to their vendor's host over https (a mistyped URL must not post a site's
alerts to a stranger); ``allow_hosts`` names extra hosts accepted over http, for local receivers in
tests and on an isolated network (setting ``GRIDWATCH_NOTIFY_ALLOW_HOSTS``).
"""

from __future__ import annotations

import enum
import fnmatch
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from camera_config.issues import pydantic_issues
from core.errors import InvalidInput, Issue
from core.text import CheckedModel
from detectors.types import HazardType, Severity
from events.messages import Topic
from events.notify.signing import webhook_secret
from events.policy import SEVERITY_RANK
from events.types import CaseState


class ChannelKind(enum.StrEnum):
    WEBHOOK = "webhook"
    """Standard Webhooks: signed JSON POSTs to an integrator's endpoint."""
    WECOM = "wecom"
    """A WeCom (企业微信) group robot."""
    DINGTALK = "dingtalk"
    """A DingTalk (钉钉) custom robot, optionally in signed-URL mode."""
    WEBPUSH = "webpush"
    """Web Push to the phones and browsers that subscribed in the console."""
    MQTT = "mqtt"
    """A broker: Frigate-style topics and Home Assistant discovery."""


VENDOR_HOSTS: Mapping[ChannelKind, str] = {
    ChannelKind.WECOM: "qyapi.weixin.qq.com",
    ChannelKind.DINGTALK: "oapi.dingtalk.com",
}

DEFAULT_TOPICS = ("alert.opened", "alert.escalated", "case.created", "case.dispatched", "case.escalated")
"""What a rule without ``topics`` sends: new alerts and cases, and whatever needs a person now."""

RETRY_S = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 50400.0, 72000.0, 86400.0)
"""Waits before each retry after the first attempt: the Standard Webhooks schedule (5 s … 24 h)."""

ESCALATIONS = frozenset({Topic.ALERT_ESCALATED.value, Topic.CASE_ESCALATED.value})
"""Never held back by a fatigue control."""

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class _Spec(CheckedModel):
    """No control characters, lone surrogates or other text a database refuses, in any field (named when refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleSpec(_Spec):
    topics: tuple[Annotated[str, Field(max_length=64)], ...] = Field(
        DEFAULT_TOPICS, max_length=100, description="Bus topics, shell patterns allowed: case.*"
    )
    places: tuple[Annotated[str, Field(max_length=64)], ...] = Field(
        (), max_length=1000, description="Grid, community or street ids; empty: everywhere."
    )
    hazards: tuple[HazardType, ...] = Field((), description="Hazard types; empty: all.")
    min_severity: Severity | None = Field(None, description="Only alerts and cases at or above this severity.")
    case_states: tuple[CaseState, ...] = Field((), description="Only case messages whose case is in these states.")
    roles: tuple[str, ...] = Field((), description="Web Push: the users' roles that receive; empty: every role.")

    @field_validator("topics")
    @classmethod
    def _known_topics(cls, topics: tuple[str, ...]) -> tuple[str, ...]:
        for t in topics:
            if not any(fnmatch.fnmatchcase(known.value, t) for known in Topic):
                raise ValueError(f'"{t}" matches no topic (topics: {", ".join(sorted(Topic))})')
        return topics

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        known: Collection[str] | None = (info.context or {}).get("roles")
        for r in roles:
            if known is not None and r not in known:
                raise ValueError(f'unknown role "{r}" (roles: {", ".join(sorted(known))})')
        return roles


class CapSpec(_Spec):
    count: int = Field(ge=1, le=1_000_000, description="Messages sent per period at most.")
    per_minutes: float = Field(60, gt=0, le=7 * 24 * 60, description="The period, in minutes.")


class ChannelSpec(_Spec):
    """A channel as written in a site file or sent to the API."""

    id: Annotated[str, Field(pattern=_ID.pattern, description="Letters, digits, '_', '.', '-'; at most 64.")]
    kind: ChannelKind
    name: str = Field("", max_length=200)
    url: str = Field("", max_length=2000, description="Endpoint, robot webhook or broker (mqtt://host:port).")
    secret: str | None = Field(
        None,
        max_length=500,
        description="Webhooks: the signing secret (whsec_…, generated when absent); DingTalk: the robot's SEC… "
        "secret for signed URLs; MQTT: the broker password. Stored encrypted, never shown again.",
    )
    enabled: bool = True
    rules: tuple[RuleSpec, ...] = Field((RuleSpec(),), description="Who receives what; a message matching any.")
    cap: CapSpec | None = Field(None, description="At most this many per period; critical and escalations pass.")
    retry_s: tuple[Annotated[float, Field(ge=0, le=7 * 86400)], ...] = Field(
        RETRY_S, max_length=20, description="Waits before each retry; after the last, the delivery is dead."
    )
    username: str | None = Field(None, max_length=200, description="MQTT: broker user.")
    topic_prefix: str = Field("gridwatch", pattern=r"^[A-Za-z0-9_/-]{1,64}$", description="MQTT: topic prefix.")
    discovery: bool = Field(True, description="MQTT: publish Home Assistant discovery configs.")

    @field_validator("secret")
    @classmethod
    def _secret(cls, secret: str | None, info: ValidationInfo) -> str | None:
        if secret is not None and info.data.get("kind") is ChannelKind.WEBHOOK:
            try:
                webhook_secret(secret)
            except InvalidInput as exc:
                raise ValueError(exc.issues[0].message) from None
        return secret

    @field_validator("url")
    @classmethod
    def _url(cls, url: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        allow: Collection[str] = (info.context or {}).get("allow_hosts", ())
        if kind is None:
            return url
        return check_url(ChannelKind(kind), url, allow)


def check_url(kind: ChannelKind, url: str, allow_hosts: Collection[str] = ()) -> str:
    """``url`` if ``kind`` may send there; ValueError saying why not."""
    if kind is ChannelKind.WEBPUSH:
        if url:
            raise ValueError("a Web Push channel has no URL: each subscribed browser brings its own")
        return url
    if not url:
        raise ValueError("required")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc})") from None
    allowed_here = host in allow_hosts
    if kind is ChannelKind.MQTT:
        if parts.scheme not in ("mqtt", "mqtts") or not host:
            raise ValueError("expected mqtt://host[:port] or mqtts://host[:port]")
        return url
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError("expected an http:// or https:// URL")
    vendor = VENDOR_HOSTS.get(kind)
    if vendor is not None and not allowed_here:
        if parts.scheme != "https":
            raise ValueError(f"a {kind.value} robot URL must be https://{vendor}/…")
        if host != vendor:
            raise ValueError(f'a {kind.value} robot URL must be on {vendor}, not on "{host}"')
    return url


def parse_channel(
    doc: Any, where: str = "", *, roles: Collection[str] | None = None, allow_hosts: Collection[str] = ()
) -> ChannelSpec:
    """A channel spec from parsed input; InvalidInput naming every field at fault."""
    if not isinstance(doc, Mapping):
        raise InvalidInput(Issue(where, f"expected a mapping, got {type(doc).__name__}"))
    try:
        return ChannelSpec.model_validate(doc, context={"roles": roles, "allow_hosts": allow_hosts})
    except ValidationError as exc:
        raise InvalidInput(pydantic_issues(exc, where)) from None


def parse_channels(
    doc: Any, *, roles: Collection[str] | None = None, allow_hosts: Collection[str] = ()
) -> list[ChannelSpec]:
    """A site file's ``notifications`` section: every channel valid, ids unique, or InvalidInput with all problems."""
    if doc is None:
        return []
    if not isinstance(doc, list):
        raise InvalidInput(Issue("notifications", f"expected a list, got {type(doc).__name__}"))
    issues: list[Issue] = []
    out: list[ChannelSpec] = []
    first: dict[str, int] = {}
    for i, item in enumerate(doc):
        where = f"notifications[{i}]"
        try:
            spec = parse_channel(item, where, roles=roles, allow_hosts=allow_hosts)
        except InvalidInput as exc:
            issues.extend(exc.issues)
            continue
        if spec.id in first:
            issues.append(Issue(f"{where}.id", f'duplicate id "{spec.id}" (first at notifications[{first[spec.id]}])'))
            continue
        first[spec.id] = i
        out.append(spec)
    if issues:
        raise InvalidInput(issues)
    return out


# ---------------------------------------------------------------------------- matching


@dataclass(frozen=True, slots=True)
class Facts:
    """What rules look at in a bus message's payload."""

    places: frozenset[str] = frozenset()
    hazard: str | None = None
    severity: str | None = None
    case_state: str | None = None
    held_back: str | None = None
    critical: bool = False


def facts_of(payload: Mapping[str, Any]) -> Facts:
    """Alerts and new cases carry their fields at the top; case moves carry ``case``; comments only a case id."""
    body: Mapping[str, Any] = payload.get("case") if isinstance(payload.get("case"), Mapping) else payload  # type: ignore[assignment]
    # A case's holder (company:PC-01, partner:PU-01) is a place too: a company's or unit's people are reached by it.
    places = frozenset(str(body[k]) for k in ("grid_id", "community_id", "street_id", "holder") if body.get(k))
    severity = body.get("severity")
    return Facts(
        places=places,
        hazard=body.get("hazard"),
        severity=severity,
        case_state=body.get("state") if "case" in payload or "triage" in body else None,
        held_back=payload.get("held_back"),
        critical=severity == Severity.CRITICAL.value,
    )


@dataclass(frozen=True, slots=True)
class Rule:
    topics: tuple[str, ...]
    places: frozenset[str] = frozenset()
    hazards: frozenset[str] = frozenset()
    min_rank: int | None = None
    case_states: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()

    @classmethod
    def of(cls, spec: RuleSpec) -> Rule:
        return cls(
            topics=spec.topics,
            places=frozenset(spec.places),
            hazards=frozenset(h.value for h in spec.hazards),
            min_rank=SEVERITY_RANK[spec.min_severity] if spec.min_severity is not None else None,
            case_states=frozenset(s.value for s in spec.case_states),
            roles=frozenset(spec.roles),
        )

    def matches(self, topic: str, facts: Facts) -> bool:
        if not any(fnmatch.fnmatchcase(topic, p) for p in self.topics):
            return False
        if self.places and not (self.places & facts.places):
            return False
        if self.hazards and facts.hazard not in self.hazards:
            return False
        if self.min_rank is not None and (
            facts.severity is None or SEVERITY_RANK[Severity(facts.severity)] < self.min_rank
        ):
            return False
        return not (self.case_states and facts.case_state not in self.case_states)


@dataclass(frozen=True, slots=True)
class Channel:
    """A stored channel as the sink and senders use it (the secret decrypted, the rules compiled)."""

    id: str
    kind: ChannelKind
    name: str
    url: str
    secret: str | None
    enabled: bool
    rules: tuple[Rule, ...]
    cap: CapSpec | None
    retry_s: tuple[float, ...]
    spec: ChannelSpec
    disabled_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.enabled and self.disabled_reason is None

    def matching(self, topic: str, facts: Facts) -> list[Rule]:
        return [r for r in self.rules if r.matches(topic, facts)]

    @staticmethod
    def of(spec: ChannelSpec, secret: str | None, disabled_reason: str | None = None) -> Channel:
        return Channel(
            id=spec.id,
            kind=spec.kind,
            name=spec.name or spec.id,
            url=spec.url,
            secret=secret,
            enabled=spec.enabled,
            rules=tuple(Rule.of(r) for r in spec.rules),
            cap=spec.cap,
            retry_s=spec.retry_s,
            spec=spec,
            disabled_reason=disabled_reason,
        )


def stored_spec(spec: ChannelSpec) -> dict[str, Any]:
    """What goes into the ``spec`` column: everything but the id, kind, URL, secret and switch."""
    return spec.model_dump(mode="json", exclude={"id", "kind", "name", "url", "secret", "enabled"})


def spec_from_row(id_: str, kind: str, name: str, url: str, enabled: bool, stored: Mapping[str, Any]) -> ChannelSpec:
    return ChannelSpec.model_validate(
        {"id": id_, "kind": kind, "name": name, "url": url, "enabled": enabled, **stored},
        context={"allow_hosts": (urlsplit(url).hostname or "",)},  # it was accepted when stored
    )

"""HTTP models: what callers send and get back. Routes never return ORM rows or internal values directly.

Input models forbid unknown keys. Output models never carry a password, a password hash, a token
hash or a stream URL with credentials in it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, SecretStr

from api.access import PERMISSIONS, Role, Scope, ScopeKind
from api.audit import AuditAction, AuditEntry
from api.errors import ErrorItem
from api.users import ApiToken, User
from camera_config.hazard_settings import HazardSettings, ZoneSettings
from camera_config.onvif_settings import OnvifSettings
from camera_config.store import ImportReport, TreeNode
from camera_config.stream_settings import DetectSettings
from camera_config.types import Camera, CameraLevel, Zone, ZonePurpose
from core.text import CheckedModel, checked_moment
from detectors.types import CameraFigures
from ingest.probe import ProbeResult
from ingest.types import CameraHealth, OfflineReason

Moment = Annotated[AwareDatetime, AfterValidator(checked_moment)]
"""A date-time from a query: with its time zone, between 1970 and 2100."""


class _In(CheckedModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# ---------------------------------------------------------------------------- service


class Health(BaseModel):
    status: str = Field(description="ok when every component answers.", examples=["ok"])
    database: str = Field(description="ok, or the error the database gave.", examples=["ok"])


# ---------------------------------------------------------------------------- site


class GridSummaryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str = Field(examples=["G-01"])
    name: str = Field(examples=["Willow Court grid"])
    cameras: int = Field(description="Cameras routed to this grid.", examples=[2])
    grid_worker: str | None = Field(description="Name of the grid's full-time grid worker.", examples=["Li Na"])
    building_leaders: int = Field(examples=[2])
    party_group_id: str | None = Field(examples=["PG-01"])


class TreeNodePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    kind: str = Field(description="street, community, property_company, compound or camera.", examples=["compound"])
    id: str = Field(examples=["K-01"])
    name: str = Field(examples=["Willow Court"])
    cameras: int = Field(description="Cameras at or below this node (in the caller's scope).", examples=[12])
    enabled_cameras: int = Field(description="Of those, the enabled ones.", examples=[11])
    children: list[TreeNodePublic] = Field(default_factory=list)
    grids: list[GridSummaryPublic] = Field(default_factory=list, description="Community nodes: their grids.")

    @classmethod
    def of(cls, node: TreeNode) -> TreeNodePublic:
        return cls.model_validate(node)


# ---------------------------------------------------------------------------- users and auth


class ScopeBody(_In):
    kind: ScopeKind = Field(description="site, street, community or grids.", examples=["community"])
    ids: list[str] = Field(
        default_factory=list,
        max_length=500,
        description="Ids of the streets, communities or grids.",
        examples=[["CM-01"]],
    )

    def value(self) -> Scope:
        return Scope(self.kind, tuple(self.ids))

    @classmethod
    def of(cls, scope: Scope) -> ScopeBody:
        return cls(kind=scope.kind, ids=list(scope.ids))


class LoginRequest(_In):
    username: str = Field(min_length=1, max_length=64, examples=["operator"])
    password: SecretStr = Field(min_length=1, max_length=256, examples=["correct horse battery"])


class UserPublic(BaseModel):
    username: str = Field(examples=["li.na"])
    display_name: str = Field(examples=["Li Na"])
    role: Role = Field(
        description="admin, operator, grid_worker, integrator, viewer or worker.", examples=["grid_worker"]
    )
    scope: ScopeBody = Field(description="Where the user may look.", examples=[{"kind": "grids", "ids": ["G-01"]}])
    person_id: str | None = Field(
        description="The person in the site model this login belongs to.", examples=["P-GW-01"]
    )
    disabled: bool = Field(examples=[False])
    has_password: bool = Field(description="False for token-only accounts (workers).", examples=[True])
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls(
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            scope=ScopeBody.of(user.scope),
            person_id=user.person_id,
            disabled=user.disabled,
            has_password=user.has_password,
            created_at=user.created_at,
        )


class MePublic(UserPublic):
    permissions: list[str] = Field(description="What the role allows.", examples=[["site:read", "live:view"]])
    grid_ids: list[str] | None = Field(
        description="Grids the scope covers now; null for the whole site.", examples=[["G-01"]]
    )
    via: Literal["session", "token"] = Field(description="How this request was authenticated.", examples=["session"])


class LoginResponse(BaseModel):
    user: MePublic
    csrf_token: str = Field(description="Send back as X-CSRF-Token on every change made with the session cookie.")
    expires_at: datetime = Field(description="The session ends then unless used (each use extends it).")


class UserCreate(_In):
    username: str = Field(min_length=2, max_length=64, examples=["li.na"])
    role: Role = Field(examples=["grid_worker"])
    scope: ScopeBody | None = Field(None, description="Required for operators and grid workers.")
    display_name: str | None = Field(None, max_length=200, examples=["Li Na"])
    password: SecretStr | None = Field(
        None, min_length=8, max_length=256, description="Omit to have one generated (returned once); workers get none."
    )
    person_id: str | None = Field(None, max_length=64, description="Link to a person of the site model.")


class UserCreated(BaseModel):
    user: UserPublic
    password: str | None = Field(description="The generated password, shown this once; null when one was given.")


class UserUpdate(_In):
    role: Role | None = None
    scope: ScopeBody | None = None
    display_name: str | None = Field(None, max_length=200)
    disabled: bool | None = Field(None, description="A disabled user cannot log in; their sessions end.")
    password: SecretStr | None = Field(None, min_length=8, max_length=256, description="Ends the user's sessions.")
    person_id: str | None = Field(None, max_length=64, description="Empty string removes the link.")


class TokenCreate(_In):
    name: str = Field(min_length=1, max_length=100, description="What the token is for.", examples=["detector shard 3"])
    expires_in_days: int | None = Field(None, ge=1, le=3650, description="Omit for a token that does not expire.")


class TokenPublic(BaseModel):
    id: int = Field(examples=[7])
    username: str = Field(examples=["worker-1"])
    name: str = Field(examples=["detector shard 3"])
    prefix: str = Field(description="The token's first characters, to recognise it.", examples=["gw_Q2x9aB"])
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenPublic:
        return cls(
            id=token.id,
            username=token.username,
            name=token.name,
            prefix=token.prefix,
            created_at=token.created_at,
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
        )


class TokenCreated(BaseModel):
    token: TokenPublic
    secret: str = Field(description="The bearer token, shown this once.", examples=["gw_Q2x9aB..."])


def me_of(user: User, grid_ids: list[str] | None, via: Literal["session", "token"]) -> MePublic:
    base = UserPublic.of(user).model_dump()
    return MePublic(**base, permissions=sorted(p.value for p in PERMISSIONS[user.role]), grid_ids=grid_ids, via=via)


# ---------------------------------------------------------------------------- cameras


class LocationPublic(BaseModel):
    lat: float = Field(examples=[31.2304])
    lon: float = Field(examples=[121.4737])


class StreamsPublic(BaseModel):
    main: str = Field(description="Main stream URL, without credentials.", examples=["rtsp://10.2.0.17:554/main"])
    sub: str | None = Field(description="Sub stream URL, without credentials.", examples=["rtsp://10.2.0.17:554/sub"])


class ZonePublic(BaseModel):
    id: str = Field(examples=["plaza"])
    name: str = Field(examples=["Gate plaza"])
    purpose: ZonePurpose = Field(examples=["crowd"])
    points: list[tuple[float, float]] = Field(
        description="Polygon, [x, y] normalised to 0..1 of the picture.",
        examples=[[[0, 0.35], [1, 0.35], [1, 1], [0, 1]]],
    )
    settings: ZoneSettings

    @classmethod
    def of(cls, zone: Zone) -> ZonePublic:
        return cls(
            id=zone.id,
            name=zone.name,
            purpose=zone.purpose,
            points=[tuple(p) for p in zone.points],
            settings=zone.settings,
        )


class CameraHealthPublic(BaseModel):
    state: Literal["online", "degraded", "offline", "unknown"] = Field(
        description="unknown until ingest has reported on the camera.", examples=["online"]
    )
    since: datetime | None = None
    reason: str | None = Field(None, description="Why a camera is offline.", examples=["timeout"])
    detail: str | None = None

    @classmethod
    def of(cls, health: CameraHealth | None) -> CameraHealthPublic:
        if health is None:
            return cls(state="unknown")
        return cls(
            state=health.state.value,
            since=health.since,
            reason=health.reason.value if health.reason else None,
            detail=health.detail,
        )


class CameraPublic(BaseModel):
    id: str = Field(examples=["CAM-01"])
    name: str = Field(examples=["Willow Court east gate plaza"])
    level: CameraLevel = Field(examples=["compound"])
    grid_id: str = Field(examples=["G-01"])
    compound_id: str | None = Field(examples=["K-01"])
    location: LocationPublic | None
    streams: StreamsPublic
    has_username: bool = Field(description="Credentials are never returned; only whether they are set.")
    has_password: bool
    enabled: bool
    zones: list[ZonePublic]
    detect: DetectSettings
    hazards: HazardSettings
    onvif: OnvifSettings | None = Field(None, description="Its ONVIF device service, when it has one.")
    revision: int = Field(description="Bumped on every change.", examples=[3])
    updated_at: datetime | None
    health: CameraHealthPublic

    @classmethod
    def of(cls, camera: Camera, health: CameraHealth | None) -> CameraPublic:
        return cls(
            id=camera.id,
            name=camera.name,
            level=camera.level,
            grid_id=camera.grid_id,
            compound_id=camera.compound_id,
            location=LocationPublic(lat=camera.lat, lon=camera.lon)
            if camera.lat is not None and camera.lon is not None
            else None,
            streams=StreamsPublic(main=camera.main_url, sub=camera.sub_url),
            has_username=camera.username is not None,
            has_password=camera.has_password,
            enabled=camera.enabled,
            zones=[ZonePublic.of(z) for z in camera.zones],
            detect=camera.detect,
            hazards=camera.hazards,
            onvif=camera.onvif,
            revision=camera.revision,
            updated_at=camera.updated_at,
            health=CameraHealthPublic.of(health),
        )


class CameraPage(BaseModel):
    items: list[CameraPublic]
    total: int = Field(description="Cameras matching the filters (in the caller's scope).", examples=[1751])
    limit: int = Field(examples=[100])
    offset: int = Field(examples=[0])


class CameraPatch(_In):
    name: str | None = Field(None, min_length=1, max_length=200, description="New display name.")
    enabled: bool | None = Field(None, description="Disabled cameras are kept but not watched.")


class ImportReportPublic(BaseModel):
    rows: int = Field(description="Data rows in the file.", examples=[120])
    created: int = Field(examples=[117])
    updated: int = Field(examples=[0])
    unchanged: int = Field(examples=[0])
    skipped: list[ErrorItem] = Field(
        description="Rows left out (with skip_invalid), each with its line and reason.",
        examples=[[{"where": "cameras.csv line 4", "message": 'grid "G-119" does not exist'}]],
    )
    warnings: list[ErrorItem] = Field(
        default_factory=list,
        description="Imported, but worth a look: e.g. a name a spreadsheet would run as a formula.",
    )

    @classmethod
    def of(cls, report: ImportReport) -> ImportReportPublic:
        return cls(
            rows=report.rows,
            created=report.created,
            updated=report.updated,
            unchanged=report.unchanged,
            skipped=[ErrorItem(where=i.where, message=i.message) for i in report.skipped],
            warnings=[ErrorItem(where=i.where, message=i.message) for i in report.warnings],
        )


class CameraStatsPublic(BaseModel):
    """A pulled camera's figures: rates over the last few seconds, counters since ingest started it."""

    input_fps: float = Field(description="Frames arriving from the stream (decoded or not).", examples=[25.0])
    analysed_fps: float = Field(description="Frames decoded and checked by motion gating.", examples=[5.0])
    decoded_fps: float = Field(description="Frames decoded, including reference-only ones.", examples=[25.0])
    dropped: int = Field(description="Frames replaced by a newer one before the detector took them.", examples=[3])
    motion_ratio: float = Field(description="Share of recent analysed frames that had motion (0..1).", examples=[0.4])
    decode_ms: float = Field(description="Mean time to decode one frame.", examples=[2.1])
    last_frame_age_s: float | None = Field(description="Seconds since the last decoded frame.", examples=[0.04])
    decode_mode: str | None = Field(
        description="The decode mode in use: full, sampled or keyframe (auto resolves to one of these).",
        examples=["sampled"],
    )
    keyframe_interval_s: float | None = Field(description="Measured on the stream.", examples=[1.0])
    stalls: int = Field(description="Reads that blocked past the stall threshold.", examples=[0])
    inference_ms: float | None = Field(
        None,
        description="Model time of the detector's last batch; null when the camera is not detected.",
        examples=[9.5],
    )
    detected_frames: int | None = Field(None, description="Frames the detector analysed.", examples=[1200])
    people: int | None = Field(None, description="People in the last analysed frame.", examples=[4])
    skipped_quiet: int = Field(
        0,
        description="Keyframes left undecoded while the camera was still (its packets showed no change).",
        examples=[9],
    )
    need: str | None = Field(
        None,
        description="Why the analysis scheduler last weighed the camera: episode, overdue, alerted, motion or quiet.",
        examples=["motion"],
    )
    deferred: int | None = Field(
        None, description="Frames the scheduler passed over for more urgent cameras.", examples=[0]
    )
    starved: int | None = Field(
        None, description="Analyses that came later than the guaranteed minimum cadence.", examples=[0]
    )
    health: CameraHealthPublic

    @classmethod
    def of(cls, figures: CameraFigures, health: CameraHealth | None) -> CameraStatsPublic:
        s = figures.ingest
        return cls(
            input_fps=s.input_fps,
            analysed_fps=s.analysed_fps,
            decoded_fps=s.decoded_fps,
            dropped=s.dropped,
            motion_ratio=s.motion_ratio,
            decode_ms=s.decode_ms,
            last_frame_age_s=s.last_frame_age_s,
            decode_mode=s.decode_mode,
            keyframe_interval_s=s.keyframe_interval_s,
            stalls=s.stalls,
            inference_ms=figures.inference_ms if figures.detecting else None,
            detected_frames=figures.detected_frames if figures.detecting else None,
            people=figures.people if figures.detecting else None,
            skipped_quiet=s.skipped_quiet,
            need=figures.need,
            deferred=figures.deferred if figures.detecting else None,
            starved=figures.starved if figures.detecting else None,
            health=CameraHealthPublic.of(health),
        )


class ConnectionTestPublic(BaseModel):
    """The outcome of opening the camera's detect stream once."""

    ok: bool = Field(description="A picture was decoded.", examples=[True])
    reason: OfflineReason | None = Field(description="Why not, as camera health names it.", examples=[None])
    detail: str | None = Field(
        description="One sentence on the outcome; never contains credentials.",
        examples=["rtsp://10.2.0.17:554/sub: h264 640×360 at 25 fps, a keyframe every 1 s; first picture after 412 ms"],
    )
    stream: Literal["main", "sub"] = Field(description="The stream tested: sub when there is one.", examples=["sub"])
    codec: str | None = Field(examples=["h264"])
    width: int | None = Field(examples=[640])
    height: int | None = Field(examples=[360])
    fps: float | None = Field(description="Declared by the stream, else measured.", examples=[25.0])
    keyframe_interval_s: float | None = Field(
        description="When enough keyframes arrived within the time allowed.", examples=[1.0]
    )
    first_frame_ms: float | None = Field(description="From connecting to the first decoded picture.", examples=[412.0])
    took_ms: float = Field(description="The whole test.", examples=[2450.0])

    @classmethod
    def of(cls, result: ProbeResult, stream: Literal["main", "sub"], took_ms: float) -> ConnectionTestPublic:
        return cls(
            ok=result.ok,
            reason=result.reason,
            detail=result.detail,
            stream=stream,
            codec=result.codec,
            width=result.width,
            height=result.height,
            fps=result.fps,
            keyframe_interval_s=result.keyframe_interval_s,
            first_frame_ms=result.first_frame_ms,
            took_ms=round(took_ms, 1),
        )


# ---------------------------------------------------------------------------- live view


class LiveOffer(_In):
    sdp: str = Field(min_length=1, max_length=64_000, description="The browser's SDP offer (ICE gathering complete).")
    type: Literal["offer"] = Field("offer", description="Always offer.")


class LiveAnswer(BaseModel):
    viewer_id: str = Field(description="Close the view with DELETE /api/live/{viewer_id}.", examples=["pX3k9Qd2aB1c"])
    sdp: str = Field(description="The server's SDP answer.")
    type: Literal["answer"] = "answer"
    stream: Literal["main", "sub"] = Field(description="The stream being sent.", examples=["sub"])


# ---------------------------------------------------------------------------- access audit


class AccessEntryPublic(BaseModel):
    id: int = Field(examples=[1207])
    at: datetime = Field(description="When (UTC).")
    actor: str = Field(description="Login name, or cli:<os user> for the command line.", examples=["operator"])
    actor_role: str = Field(description="The actor's role at the time.", examples=["operator"])
    action: AuditAction = Field(examples=["live_view"])
    target: str = Field(
        description="What it was about: a camera id, alert N, attachment N, a user name, a CSV file.",
        examples=["CAM-01"],
    )
    detail: str = Field(description="E.g. the stream, a duration, counts, old → new.", examples=["main stream"])
    address: str | None = Field(description="The client's address, when it came over HTTP.", examples=["10.0.0.7"])

    @classmethod
    def of(cls, entry: AuditEntry) -> AccessEntryPublic:
        return cls(
            id=entry.id,
            at=entry.at,
            actor=entry.actor,
            actor_role=entry.actor_role,
            action=entry.action,
            target=entry.target,
            detail=entry.detail,
            address=entry.address,
        )


class AccessAuditPage(BaseModel):
    items: list[AccessEntryPublic]
    next_cursor: str | None = Field(description="Pass back as ?cursor= for the next page; null at the end.")

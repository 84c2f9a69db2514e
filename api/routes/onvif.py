"""Adding cameras by ONVIF: ask a device for its profiles and stream URIs, test the stream, save the camera.

``POST /api/cameras/onvif/probe`` only asks (nothing is stored); ``POST /api/cameras/onvif`` probes, fills the
main and sub stream from the profiles (highest and lowest resolution, unless chosen), runs the connection test
on the stream detection will read, and saves the camera with its ONVIF settings, all or nothing: whatever
fails is answered naming its field (``address``, ``username``/``password``, ``main_profile``,
``streams.sub``, ``grid``...) and nothing is saved. The device's user name and password are the camera's
stream credentials too (stored encrypted, never returned).
"""

from __future__ import annotations

import threading
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from api.auth import SiteWriter
from api.errors import AUTH, responses
from api.routes.cameras import _write, checked_spec
from api.runtime import RuntimeDep
from api.schemas import CameraPublic, ConnectionTestPublic
from camera_config.cameras import validate_camera
from camera_config.issues import pydantic_issues
from camera_config.onvif_settings import OnvifSettings
from camera_config.schema import CameraSpec, LocationSpec
from camera_config.types import CameraLevel, StreamCredentials
from core.errors import Conflict, InvalidInput, Issue, Unavailable
from core.redact import redact
from core.text import CheckedModel
from ingest.onvif import OnvifDevice, OnvifProfile, probe_device
from ingest.probe import probe_stream
from ingest.sources import resolve_source

router = APIRouter(prefix="/api/cameras/onvif", tags=["cameras"])

MAX_CONCURRENT = 4
_running = threading.BoundedSemaphore(MAX_CONCURRENT)
"""Probes and connection tests reach out from the server; a few at once is plenty for an integrator."""


class _Body(CheckedModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OnvifDeviceBody(_Body):
    address: str = Field(min_length=1, max_length=253, description="The device's IP address or host name.")
    port: int = Field(80, ge=1, le=65535, description="Port of its ONVIF web service.")
    username: str = Field(min_length=1, max_length=128, description="ONVIF (and RTSP) user name.")
    password: SecretStr = Field(description="ONVIF (and RTSP) password; stored encrypted, never returned.")
    timeout_s: float = Field(10.0, ge=1, le=30, description="Give up on the device after this long (seconds).")


_CAMERA = CameraSpec.model_fields
"""The camera's own fields are CameraSpec's: the same checks and descriptions."""


class OnvifAddBody(OnvifDeviceBody):
    id: Annotated[str, _CAMERA["id"]]
    name: Annotated[str, _CAMERA["name"]]
    level: Annotated[CameraLevel, _CAMERA["level"]]
    compound: Annotated[str | None, _CAMERA["compound"]]
    grid: Annotated[str | None, _CAMERA["grid"]]
    location: Annotated[LocationSpec | None, _CAMERA["location"]]
    events: bool = Field(True, description="Subscribe to the device's own events (motion, tamper).")
    main_profile: str | None = Field(
        None, description="Profile token for the main stream (default: highest resolution)."
    )
    sub_profile: str | None = Field(
        None, description='Profile token for the sub stream (default: lowest resolution; "" for none).'
    )


class OnvifProfilePublic(BaseModel):
    token: str = Field(description="The profile's token (main_profile, sub_profile name it).", examples=["profile_1"])
    name: str = Field(examples=["MainStream"])
    width: int | None = Field(description="Its video encoder's picture width (px).", examples=[1920])
    height: int | None = Field(description="Picture height (px).", examples=[1080])
    encoding: str | None = Field(description="H264, H265, JPEG...", examples=["H264"])
    stream_uri: str | None = Field(description="RTSP URI the device gave (credentials in it are masked).")
    problem: str | None = Field(description="Why the device gave no URI for this profile.")

    @classmethod
    def of(cls, p: OnvifProfile) -> OnvifProfilePublic:
        return cls(
            token=p.token,
            name=p.name,
            width=p.width,
            height=p.height,
            encoding=p.encoding,
            stream_uri=redact(p.stream_uri) if p.stream_uri else None,
            problem=p.problem,
        )


class OnvifDevicePublic(BaseModel):
    address: str = Field(examples=["192.168.1.64"])
    port: int = Field(examples=[80])
    manufacturer: str = Field(description="From GetDeviceInformation, as are the next four.", examples=["Hikvision"])
    model: str = Field(examples=["DS-2CD2143G2-I"])
    firmware: str = Field(examples=["V5.7.3"])
    serial: str = Field(examples=["DS-2CD2143G2-I20230101AAWRK12345678"])
    hardware_id: str = Field(examples=["88"])
    events: bool = Field(description="The device offers PullPoint event subscriptions.")
    profiles: list[OnvifProfilePublic]
    main_profile: str = Field(description="Suggested main stream: the highest resolution.")
    sub_profile: str | None = Field(description="Suggested sub stream: the lowest resolution, when it differs.")

    @classmethod
    def of(cls, d: OnvifDevice) -> OnvifDevicePublic:
        return cls(
            address=d.host,
            port=d.port,
            manufacturer=d.manufacturer,
            model=d.model,
            firmware=d.firmware,
            serial=d.serial,
            hardware_id=d.hardware_id,
            events=d.events,
            profiles=[OnvifProfilePublic.of(p) for p in d.profiles],
            main_profile=d.main.token,
            sub_profile=d.sub.token if d.sub else None,
        )


class OnvifAddedPublic(BaseModel):
    camera: CameraPublic
    device: OnvifDevicePublic
    test: ConnectionTestPublic = Field(description="The connection test the camera passed before it was saved.")


def _settings(address: str, port: int) -> OnvifSettings:
    try:
        return OnvifSettings(host=address, port=port)
    except ValidationError as exc:
        issues = pydantic_issues(exc, "")
        raise InvalidInput([Issue("address" if i.where == "host" else i.where, i.message) for i in issues]) from None


async def _probe(body: OnvifDeviceBody) -> OnvifDevice:
    _settings(body.address, body.port)
    if not _running.acquire(blocking=False):
        raise Unavailable(f"{MAX_CONCURRENT} ONVIF probes are running; try again in a few seconds")
    try:
        return await probe_device(
            body.address, body.port, body.username, body.password.get_secret_value(), timeout_s=body.timeout_s
        )
    finally:
        _running.release()


@router.post("/probe", responses=responses(*AUTH, 422, 503))
async def probe_onvif_device(body: OnvifDeviceBody, principal: SiteWriter) -> OnvifDevicePublic:
    """Ask an ONVIF device who it is, for its media profiles and each profile's RTSP stream URI, with the
    suggested main (highest resolution) and sub (lowest) stream. Nothing is stored. A device that cannot be
    reached, refuses the credentials or answers with a SOAP fault is answered 422 naming the field."""
    return OnvifDevicePublic.of(await _probe(body))


def _chosen(device: OnvifDevice, token: str | None, default: OnvifProfile | None, where: str) -> OnvifProfile | None:
    if token is None:
        return default
    if token == "" and where == "sub_profile":
        return None
    found = next((p for p in device.profiles if p.token == token), None)
    if found is None:
        names = ", ".join(p.token for p in device.profiles)
        raise InvalidInput(Issue(where, f'the device has no profile "{token}" (it has {names})'))
    if not found.stream_uri:
        raise InvalidInput(Issue(where, f'the device gave no stream URI for profile "{token}": {found.problem}'))
    return found


def _spec(body: OnvifAddBody, main: str, sub: str | None, allow_files: bool) -> CameraSpec:
    data: dict[str, Any] = {
        "id": body.id,
        "name": body.name,
        "level": body.level.value,
        "compound": body.compound,
        "grid": body.grid,
        "location": body.location.model_dump() if body.location else None,
        "streams": {"main": main, **({"sub": sub} if sub else {})},
        "credentials": {"username": body.username, "password": body.password.get_secret_value()},
        "onvif": {"host": body.address, "port": body.port, "events": body.events},
    }
    return checked_spec(data, allow_files)


@router.post("", status_code=201, responses=responses(*AUTH, 409, 422, 503))
async def add_onvif_camera(
    body: Annotated[OnvifAddBody, Body()], principal: SiteWriter, runtime: RuntimeDep
) -> OnvifAddedPublic:
    """Add a camera by ONVIF: probe the device, fill the main and sub stream URIs from its profiles, open the
    stream detection will read (sub, else main) with the credentials, and only when a picture decodes save the
    camera with its ONVIF settings (``events``: subscribe to its motion and tamper events).

    All or nothing: a wrong address, refused credentials, a SOAP fault, an unknown profile, a failed connection
    test or a site problem (grid, compound) is answered 422 naming the field, and nothing is saved."""
    site = runtime.context.site
    _settings(body.address, body.port)

    def check(main: str, sub: str | None) -> CameraSpec:
        index = site.index()
        if body.id in index.cameras:
            raise Conflict(f'camera "{body.id}" already exists')
        spec = _spec(body, main, sub, False)
        validate_camera(spec, index, "")
        return spec

    # The site's own checks first (id, grid, compound, location), so a typo costs no device round trip.
    await run_in_threadpool(check, "rtsp://placeholder.invalid/", None)
    device = await _probe(body)
    main = _chosen(device, body.main_profile, device.main, "main_profile")
    sub = _chosen(device, body.sub_profile, device.sub, "sub_profile")
    if main is None or main.stream_uri is None:  # probe_device answers only devices with a main stream
        raise InvalidInput(Issue("main_profile", "the device gave no stream URI for the main stream"))
    sub_uri = sub.stream_uri if sub is not None and sub.stream_uri != main.stream_uri else None
    spec = await run_in_threadpool(check, main.stream_uri, sub_uri)
    stream: Literal["main", "sub"] = "sub" if sub_uri else "main"
    url = spec.streams.sub if sub_uri and spec.streams.sub else spec.streams.main
    credentials = StreamCredentials(body.username, body.password.get_secret_value())
    source = resolve_source(url, allow_files=False, credentials=credentials)
    started = time.monotonic()
    if not _running.acquire(blocking=False):
        raise Unavailable(f"{MAX_CONCURRENT} ONVIF probes are running; try again in a few seconds")
    try:
        result = await run_in_threadpool(probe_stream, source, body.timeout_s)
    finally:
        _running.release()
    test = ConnectionTestPublic.of(result, stream, (time.monotonic() - started) * 1000.0)
    if not result.ok:
        reason = result.reason.value if result.reason else "failed"
        raise InvalidInput(Issue(f"streams.{stream}", f"connection test failed ({reason}): {result.detail}"))
    camera = await run_in_threadpool(_write, runtime, principal, spec)
    return OnvifAddedPublic(
        camera=CameraPublic.of(camera, runtime.context.health(camera.id)),
        device=OnvifDevicePublic.of(device),
        test=test,
    )

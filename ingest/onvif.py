"""ONVIF devices from Python: profiles and stream URIs (Profile S), and a PullPoint subscription to the device's
own events. The SOAP client is onvif-zeep-async (``from onvif import ONVIFCamera``; it ships the WSDLs and
signs every request with a WS-UsernameToken digest).

What goes wrong is said in terms of what the integrator typed: the device refusing the user name or password
names ``username`` and ``password``; a device that cannot be reached, times out, is no ONVIF device or answers
with a SOAP fault names ``address`` (with the fault's own reason). Nothing here ever shows the password.

Two things the library does on import or construction that gridwatch does not want, and how they are kept out:
``onvif.client`` calls ``logging.basicConfig(level=INFO)`` when imported (`_onvif` undoes that when the root
logger had no handler before), and ``ONVIFCamera`` removes ``http_proxy``/``https_proxy`` from the environment
(cameras are on the local network; gridwatch itself reads no proxy setting, so that is harmless here).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import aiohttp
from lxml import etree
from zeep.exceptions import Fault, TransportError, XMLParseError, XMLSyntaxError

from core.clock import Clock, SystemClock
from core.errors import GridwatchError, InvalidInput, Issue
from core.redact import redact

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0
PULLPOINT_NS = "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription"
_onvif_modules: tuple[ModuleType, ModuleType] | None = None


def _onvif() -> tuple[ModuleType, ModuleType]:
    """``onvif`` and ``onvif.util``, imported once, without the root log handler the library's import adds."""
    global _onvif_modules
    if _onvif_modules is None:
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        import onvif
        import onvif.util

        if not handlers:
            for handler in list(root.handlers):
                root.removeHandler(handler)
            root.setLevel(level)
        _onvif_modules = (onvif, onvif.util)
    return _onvif_modules


# ---------------------------------------------------------------------------- errors


def credentials_refused(detail: str = "") -> InvalidInput:
    """The device refused the user name or password: both fields are named (the device does not say which)."""
    message = "the ONVIF device refused this user name or password (ONVIF 用户名或密码错误)"
    if detail:
        message += f": {detail}"
    return InvalidInput(
        [
            Issue("username", message, "onvif_credentials"),
            Issue("password", message, "onvif_credentials"),
        ]
    )


def _where(host: str, port: int) -> str:
    return f"http://{host}:{port}/onvif/device_service"


def fault_reason(fault: Fault) -> str:
    """A SOAP fault's reason, with its subcode when the device gave one (``ter:InvalidArgVal``)."""
    reason = (fault.message or "").strip() or "no reason given"
    codes = _onvif()[1].extract_subcodes_as_strings(fault.subcodes) if fault.subcodes is not None else []
    codes = [f"ter:{c.rsplit('}', 1)[1]}" if c.startswith("{http://www.onvif.org/ver10/error}") else c for c in codes]
    return f"{reason} ({', '.join(codes)})" if codes else reason


def explain(
    exc: BaseException, host: str, port: int, operation: str, secrets: tuple[str | None, ...] = ()
) -> GridwatchError:
    """What went wrong, for an integrator, as `InvalidInput` naming the field to fix."""
    where = _where(host, port)
    if isinstance(exc, GridwatchError):
        return exc
    util = _onvif()[1]
    onvif_exceptions = _onvif()[0].exceptions
    if isinstance(exc, Fault):
        if util.is_auth_error(exc):
            return credentials_refused()
        message = f"the ONVIF device at {where} answered {operation} with a SOAP fault: {fault_reason(exc)}"
        return InvalidInput(Issue("address", redact(message, secrets), "onvif_fault"))
    if isinstance(exc, onvif_exceptions.ONVIFAuthError):
        return credentials_refused()
    if isinstance(exc, TransportError):
        if exc.status_code == 401:
            return credentials_refused("HTTP 401")
        message = f"the device at {where} answered {operation} with HTTP {exc.status_code}: is it an ONVIF device?"
        return InvalidInput(Issue("address", message, "onvif_unreachable"))
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        message = f"no answer from an ONVIF device at {where} ({operation} timed out)"
        return InvalidInput(Issue("address", message, "onvif_unreachable"))
    if isinstance(exc, aiohttp.ClientError | OSError):
        message = f"no ONVIF device answers at {where} ({operation}: {type(exc).__name__}: {exc})"
        return InvalidInput(Issue("address", redact(message, secrets), "onvif_unreachable"))
    if isinstance(exc, XMLSyntaxError | XMLParseError):
        message = f"the device at {where} answered {operation} with something other than SOAP: is it an ONVIF device?"
        return InvalidInput(Issue("address", message, "onvif_unreachable"))
    cause = exc.__cause__ if isinstance(exc, onvif_exceptions.ONVIFError) and exc.__cause__ is not None else exc
    if cause is not exc:
        return explain(cause, host, port, operation, secrets)
    message = f"the ONVIF device at {where} failed {operation}: {type(exc).__name__}: {exc}"
    return InvalidInput(Issue("address", redact(message, secrets), "onvif_fault"))


# ---------------------------------------------------------------------------- device and profiles


@dataclass(frozen=True, slots=True)
class OnvifProfile:
    """A media profile: its video encoder's size and the RTSP stream URI the device gave for it."""

    token: str
    name: str
    width: int | None
    height: int | None
    encoding: str | None
    stream_uri: str | None
    problem: str | None = None
    """Why the device gave no stream URI for this profile (its SOAP fault), when it gave none."""

    @property
    def pixels(self) -> int:
        return (self.width or 0) * (self.height or 0)


@dataclass(frozen=True, slots=True)
class OnvifDevice:
    """What a probe found: the device's identity, its profiles, and the suggested main and sub profile."""

    host: str
    port: int
    manufacturer: str
    model: str
    firmware: str
    serial: str
    hardware_id: str
    profiles: tuple[OnvifProfile, ...]
    main: OnvifProfile
    """The profile with the highest resolution that has a stream URI."""
    sub: OnvifProfile | None
    """The one with the lowest resolution, when it differs from ``main``."""
    events: bool = False
    """The device offers an event service (PullPoint subscriptions)."""


def pick_streams(profiles: tuple[OnvifProfile, ...]) -> tuple[OnvifProfile | None, OnvifProfile | None]:
    """Main = the highest resolution with a stream URI, sub = the lowest (None when there is only one)."""
    usable = [p for p in profiles if p.stream_uri]
    if not usable:
        return None, None
    main = max(usable, key=lambda p: p.pixels)
    sub = min(usable, key=lambda p: p.pixels)
    if sub is main or sub.stream_uri == main.stream_uri:
        return main, None
    return main, sub


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _profile_size(profile: Any) -> tuple[int | None, int | None, str | None]:
    encoder = getattr(profile, "VideoEncoderConfiguration", None)
    resolution = getattr(encoder, "Resolution", None) if encoder is not None else None
    width = getattr(resolution, "Width", None) if resolution is not None else None
    height = getattr(resolution, "Height", None) if resolution is not None else None
    encoding = getattr(encoder, "Encoding", None) if encoder is not None else None
    return (int(width) if width else None, int(height) if height else None, _text(encoding) or None)


class OnvifClient:
    """One device's SOAP services, for one probe or one subscription; ``async with`` closes its connections."""

    def __init__(self, host: str, port: int, username: str | None, password: str | None) -> None:
        self.host, self.port = host, port
        self._secrets = (password,)
        # no_cache: the WSDLs are the package's own files; zeep's cache would only write a SQLite file in ~/.cache
        self.camera: Any = _onvif()[0].ONVIFCamera(host, port, username or "", password or "", no_cache=True)

    async def __aenter__(self) -> OnvifClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.camera.close()

    async def call(self, operation: str, run: Callable[[], Awaitable[Any]]) -> Any:
        """``run()``, with any failure turned into `explain`'s error for ``operation``."""
        try:
            return await run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise explain(exc, self.host, self.port, operation, self._secrets) from None

    async def connect(self) -> None:
        """Authenticated GetServices (GetCapabilities on older devices): the service addresses."""
        await self.call("GetServices", self.camera.update_xaddrs)
        if not self.camera.xaddrs:
            raise InvalidInput(Issue("address", f"the device at {_where(self.host, self.port)} lists no services"))

    async def device_information(self) -> Any:
        device = await self.call("GetDeviceInformation", self.camera.create_devicemgmt_service)
        return await self.call("GetDeviceInformation", device.GetDeviceInformation)

    async def profiles(self) -> tuple[OnvifProfile, ...]:
        """Every media profile with its RTSP (RTP-unicast) stream URI, or the fault that kept it back."""
        media = await self.call("GetProfiles", self.camera.create_media_service)
        found = await self.call("GetProfiles", media.GetProfiles)
        profiles: list[OnvifProfile] = []
        for profile in found or []:
            token = _text(getattr(profile, "token", None))
            width, height, encoding = _profile_size(profile)
            uri: str | None = None
            problem: str | None = None
            setup = {"StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}, "ProfileToken": token}
            try:
                answer = await self.call("GetStreamUri", lambda setup=setup: media.GetStreamUri(setup))  # type: ignore[misc]
                uri = _text(getattr(answer, "Uri", None)) or None
            except InvalidInput as exc:
                if any(i.where in ("username", "password") for i in exc.issues):
                    raise
                problem = exc.issues[0].message
            name = _text(getattr(profile, "Name", None)) or token
            profiles.append(OnvifProfile(token, name, width, height, encoding, uri, problem))
        return tuple(profiles)


async def probe_device(
    host: str, port: int, username: str | None, password: str | None, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> OnvifDevice:
    """Ask the device who it is and for its profiles' stream URIs; `InvalidInput` naming the field otherwise.

    Bounded by ``timeout_s`` as a whole."""
    where = _where(host, port)

    async def run() -> OnvifDevice:
        async with OnvifClient(host, port, username, password) as client:
            await client.connect()
            info = await client.device_information()
            profiles = await client.profiles()
            main, sub = pick_streams(profiles)
            if main is None:
                reasons = "; ".join(f"{p.token}: {p.problem}" for p in profiles if p.problem) or "no media profiles"
                raise InvalidInput(Issue("address", f"the ONVIF device at {where} gave no RTSP stream URI ({reasons})"))
            return OnvifDevice(
                host=host,
                port=port,
                manufacturer=_text(getattr(info, "Manufacturer", None)),
                model=_text(getattr(info, "Model", None)),
                firmware=_text(getattr(info, "FirmwareVersion", None)),
                serial=_text(getattr(info, "SerialNumber", None)),
                hardware_id=_text(getattr(info, "HardwareId", None)),
                profiles=profiles,
                main=main,
                sub=sub,
                events="http://www.onvif.org/ver10/events/wsdl" in client.camera.xaddrs,
            )

    try:
        return await asyncio.wait_for(run(), timeout_s)
    except TimeoutError:
        raise InvalidInput(
            Issue("address", f"no answer from an ONVIF device at {where} within {timeout_s:g} s", "onvif_unreachable")
        ) from None


# ---------------------------------------------------------------------------- events (PullPoint)


@dataclass(frozen=True, slots=True)
class OnvifEvent:
    """One notification from the device, as it sent it: topic, time, and its Source and Data items."""

    topic: str
    """The topic without its namespace prefix, e.g. ``VideoSource/MotionAlarm``."""
    utc_time: dt.datetime
    property_operation: str | None
    """Initialized, Changed or Deleted (property events); None for plain events."""
    source: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[str, str] = field(default_factory=dict)


_TT = "http://www.onvif.org/ver10/schema"


def _local_topic(text: str) -> str:
    """``tns1:VideoSource/MotionAlarm`` → ``VideoSource/MotionAlarm`` (prefixes differ from device to device)."""
    return "/".join(part.split(":", 1)[-1] for part in text.strip().split("/") if part)


def _items(node: Any) -> dict[str, str]:
    if node is None:
        return {}
    if isinstance(node, etree._Element):
        return {i.get("Name", ""): i.get("Value", "") for i in node.iter(f"{{{_TT}}}SimpleItem")}
    return {
        _text(getattr(i, "Name", "")): _text(getattr(i, "Value", "")) for i in getattr(node, "SimpleItem", None) or []
    }


def _topic_text(topic: Any) -> str:
    if topic is None:
        return ""
    value = getattr(topic, "_value_1", topic)
    if isinstance(value, etree._Element):
        return value.text or ""
    return _text(value)


def _parse_time(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def parse_notification(message: Any) -> OnvifEvent | None:
    """One wsnt:NotificationMessage from PullMessages as an `OnvifEvent`; None when it carries no tt:Message."""
    topic = _local_topic(_topic_text(getattr(message, "Topic", None)))
    body = getattr(getattr(message, "Message", None), "_value_1", None)
    if body is None or not topic:
        return None
    if isinstance(body, etree._Element):
        utc = body.get("UtcTime")
        operation = body.get("PropertyOperation")
        source = _items(body.find(f"{{{_TT}}}Source"))
        data = _items(body.find(f"{{{_TT}}}Data"))
    else:
        utc = getattr(body, "UtcTime", None)
        operation = getattr(body, "PropertyOperation", None)
        source = _items(getattr(body, "Source", None))
        data = _items(getattr(body, "Data", None))
    when = _parse_time(utc)
    if when is None:
        return None
    return OnvifEvent(topic, when, _text(operation) or None, source, data)


@dataclass(frozen=True, slots=True)
class SubscriptionTimings:
    """How long a subscription asks to live and when it is renewed: short, renewed at half its life (cameras
    hold few subscription slots, and one nobody released holds its slot until it expires)."""

    termination_s: float = 120.0
    renew_fraction: float = 0.5
    pull_timeout_s: float = 5.0
    """PullMessages waits at most this long for events on the device (bounds how quickly a stop is noticed)."""
    message_limit: int = 64
    retry_s: float = 5.0
    """After a failed renew, pull or subscribe, try again after this long."""
    call_timeout_s: float = 10.0
    """A single request other than PullMessages gives up after this long."""


class PullPointSubscription:
    """One PullPoint subscription on one device, kept alive until `run` ends; then released (Unsubscribe).

    `run` subscribes, pulls events and hands them on, renews the subscription when ``renew_fraction`` of its
    life (as the device states it: TerminationTime − CurrentTime) has passed on ``clock``, retries a failed
    renew every ``retry_s`` while the subscription can still be saved, and otherwise (or when the device says
    the subscription is gone) releases it and subscribes anew. Every subscription it made is unsubscribed
    before it makes another and when it ends, so a camera's slots are never leaked (a device that cannot be
    reached then frees the slot itself when the termination time passes).
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        *,
        clock: Clock | None = None,
        timings: SubscriptionTimings | None = None,
        name: str = "",
    ) -> None:
        self.host, self.port = host, port
        self._username, self._password = username, password
        self.clock = clock or SystemClock()
        self.timings = timings or SubscriptionTimings()
        self.name = name or f"{host}:{port}"
        self._client: OnvifClient | None = None
        self._subscription: Any = None
        self._pullpoint: Any = None
        self._renew_at = 0.0
        self._expires_at = 0.0
        self.subscribed = 0
        """Subscriptions made (a re-subscription after a lost one counts again)."""
        self.renewed = 0
        self.renew_failures = 0
        self.last_error: str | None = None

    @property
    def active(self) -> bool:
        return self._subscription is not None

    async def subscribe(self) -> None:
        """CreatePullPointSubscription; raises `explain`'s error when the device refuses or cannot be reached."""
        await self.release()
        client = OnvifClient(self.host, self.port, self._username, self._password)
        self._client = client
        camera = client.camera
        await client.call("GetServices", lambda: asyncio.wait_for(client.connect(), self.timings.call_timeout_s))
        events = await client.call("CreatePullPointSubscription", camera.create_events_service)
        request = {"InitialTerminationTime": f"PT{round(self.timings.termination_s)}S"}
        result = await client.call(
            "CreatePullPointSubscription",
            lambda: asyncio.wait_for(events.CreatePullPointSubscription(request), self.timings.call_timeout_s),
        )
        address = _onvif()[1].normalize_url(result.SubscriptionReference.Address._value_1)
        camera.xaddrs[PULLPOINT_NS] = address
        self._subscription = await client.call(
            "Renew", lambda: camera.create_subscription_service("PullPointSubscription")
        )
        self._pullpoint = await client.call("PullMessages", camera.create_pullpoint_service)
        self.subscribed += 1
        self._schedule(result)
        log.info("ONVIF %s: subscribed to events (%s)", self.name, address)

    def _schedule(self, result: Any) -> None:
        now = self.clock.monotonic()
        current = _parse_time(getattr(result, "CurrentTime", None))
        termination = _parse_time(getattr(result, "TerminationTime", None))
        life = (termination - current).total_seconds() if current and termination else self.timings.termination_s
        if life <= 0:
            life = self.timings.termination_s
        self._expires_at = now + life
        self._renew_at = now + life * self.timings.renew_fraction

    @property
    def renew_due(self) -> bool:
        return self.active and self.clock.monotonic() >= self._renew_at

    async def renew(self) -> None:
        """Renew: on success the next renewal is at ``renew_fraction`` of the new life; raises on failure."""
        client, subscription = self._client, self._subscription
        if client is None or subscription is None:
            raise GridwatchError("no subscription to renew")
        request = {"TerminationTime": f"PT{round(self.timings.termination_s)}S"}
        result = await client.call(
            "Renew", lambda: asyncio.wait_for(subscription.Renew(request), self.timings.call_timeout_s)
        )
        self.renewed += 1
        self._schedule(result)

    async def pull(self) -> list[OnvifEvent]:
        """PullMessages: waits on the device up to ``pull_timeout_s`` for events."""
        client, pullpoint = self._client, self._pullpoint
        if client is None or pullpoint is None:
            raise GridwatchError("no subscription to pull from")
        request = {
            "Timeout": dt.timedelta(seconds=self.timings.pull_timeout_s),
            "MessageLimit": self.timings.message_limit,
        }
        answer = await client.call(
            "PullMessages",
            lambda: asyncio.wait_for(
                pullpoint.PullMessages(request), self.timings.pull_timeout_s + self.timings.call_timeout_s
            ),
        )
        events = (parse_notification(m) for m in getattr(answer, "NotificationMessage", None) or [])
        return [e for e in events if e is not None]

    async def release(self) -> None:
        """Unsubscribe (best effort, bounded) and close the connections. Safe to call at any time."""
        client, subscription = self._client, self._subscription
        self._client = self._subscription = self._pullpoint = None
        if client is None:
            return
        try:
            if subscription is not None:
                await asyncio.wait_for(subscription.Unsubscribe(), self.timings.call_timeout_s)
                log.info("ONVIF %s: unsubscribed", self.name)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info("ONVIF %s: unsubscribe failed (%s); the device frees it at its termination time", self.name, exc)
        finally:
            await client.close()

    async def run(self, handle: Callable[[list[OnvifEvent]], Awaitable[None]], stopping: asyncio.Event) -> None:
        """Keep a subscription and hand its events to ``handle`` until ``stopping`` is set (or the task is
        cancelled); the subscription is released on the way out, whatever ended it."""
        try:
            while not stopping.is_set():
                try:
                    await self._step(handle)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # one camera's trouble, whatever it is, must not end its watch
                    self.last_error = str(exc)
                    if isinstance(exc, GridwatchError):
                        log.warning("ONVIF %s: %s; trying again in %g s", self.name, exc, self.timings.retry_s)
                    else:
                        log.exception(
                            "ONVIF %s: unexpected failure; trying again in %g s", self.name, self.timings.retry_s
                        )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stopping.wait(), self.timings.retry_s)
        finally:
            await asyncio.shield(self.release())

    async def _step(self, handle: Callable[[list[OnvifEvent]], Awaitable[None]]) -> None:
        if not self.active:
            await self.subscribe()
        if self.renew_due:
            try:
                await self.renew()
            except GridwatchError as exc:
                self.renew_failures += 1
                now = self.clock.monotonic()
                if now + self.timings.retry_s >= self._expires_at:
                    log.warning(
                        "ONVIF %s: renew failed (%s) and the subscription runs out; subscribing anew", self.name, exc
                    )
                    await self.release()
                    raise
                log.info("ONVIF %s: renew failed (%s); retrying in %g s", self.name, exc, self.timings.retry_s)
                self._renew_at = now + self.timings.retry_s
        try:
            events = await self.pull()
        except GridwatchError:
            # The device may have dropped the subscription (rebooted, or it expired): start again.
            await self.release()
            raise
        self.last_error = None
        if events:
            await handle(events)

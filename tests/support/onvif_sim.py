"""A small, honest ONVIF device for tests: SOAP over HTTP and a WS-Discovery responder over UDP, on 127.0.0.1.

It answers the operations gridwatch uses the way a Profile S camera does: GetSystemDateAndTime (without
authentication, as ONVIF allows), GetServices, GetCapabilities, GetDeviceInformation, GetProfiles,
GetStreamUri (pointing at a real RTSP server when given one), CreatePullPointSubscription, PullMessages,
Renew and Unsubscribe. Every other request must carry a WS-Security UsernameToken whose digest
(Base64(SHA-1(nonce + created + password))) matches, else it answers with a real ``ter:NotAuthorized`` SOAP
fault. `fail` makes it answer chosen operations with a SOAP fault; it counts live subscriptions, expiring
each at its termination time on the simulator's clock (a test may share a `FakeClock` with the code under
test), and `emit` sends an event to every live subscription. The discovery responder answers a unicast Probe
for ``dn:NetworkVideoTransmitter`` with a ProbeMatch naming the device's address.

Start it with `OnvifSimulator.start` (threads of this process) and stop it with `close`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import re
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSA = "http://www.w3.org/2005/08/addressing"
NAMESPACES = {
    "env": SOAP,
    "tt": "http://www.onvif.org/ver10/schema",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tev": "http://www.onvif.org/ver10/events/wsdl",
    "wsnt": "http://docs.oasis-open.org/wsn/b-2",
    "wsa": WSA,
    "ter": "http://www.onvif.org/ver10/error",
    "tns1": "http://www.onvif.org/ver10/topics",
}
DISCOVERY_NS = {
    "s": SOAP,
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "d": "http://schemas.xmlsoap.org/ws/2005/04/discovery",
    "dn": "http://www.onvif.org/ver10/network/wsdl",
}
UNAUTHENTICATED = {"GetSystemDateAndTime"}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration_s(text: str) -> float | None:
    m = re.fullmatch(r"P(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", text.strip())
    if m is None:
        return None
    h, mi, s = m.groups()
    return int(h or 0) * 3600 + int(mi or 0) * 60 + float(s or 0)


@dataclass(frozen=True)
class SimProfile:
    token: str
    name: str
    width: int
    height: int
    uri: str


@dataclass
class _Subscription:
    id: int
    termination: dt.datetime
    queue: list[str] = field(default_factory=list)


@dataclass
class _Fault:
    operation: str
    times: int | None
    reason: str


class SoapFault(Exception):
    def __init__(self, code: str, subcode: str, reason: str, status: int = 500) -> None:
        super().__init__(reason)
        self.code, self.subcode, self.reason, self.status = code, subcode, reason, status


class OnvifSimulator:
    """One ONVIF device on 127.0.0.1: `url`, `port`, `discovery_port`; `live_subscriptions` counts."""

    def __init__(
        self,
        username: str,
        password: str,
        profiles: list[SimProfile],
        *,
        now: Callable[[], dt.datetime] | None = None,
        model: str = "GW-SIM-1",
        serial: str = "SIM-0001",
    ) -> None:
        self.username, self.password = username, password
        self.profiles = profiles
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
        self.model, self.serial = model, serial
        self.endpoint = f"urn:uuid:{uuid.uuid4()}"
        self.lock = threading.Condition()
        self.subscriptions: dict[int, _Subscription] = {}
        self.faults: list[_Fault] = []
        self.calls: dict[str, int] = {}
        self.created = self.renewed = self.unsubscribed = self.expired = 0
        self._next_id = 1
        self._http: ThreadingHTTPServer | None = None
        self._udp: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._closing = threading.Event()

    # ------------------------------------------------------------------ lifetime

    @classmethod
    def start(cls, username: str, password: str, profiles: list[SimProfile], **kwargs: object) -> OnvifSimulator:
        sim = cls(username, password, profiles, **kwargs)  # type: ignore[arg-type]
        sim._serve()
        return sim

    def _serve(self) -> None:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = sim.handle(self.path, body)
                data = answer.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                return

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                # A client that gave up on a long PullMessages (its task cancelled) closed the connection: as a
                # camera does, carry on quietly. Anything else is printed as usual.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)  # type: ignore[arg-type]

        self._http = Server(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind(("127.0.0.1", 0))
        self._udp.settimeout(0.2)
        self._threads = [
            threading.Thread(target=self._http.serve_forever, args=(0.05,), name="onvif-sim-http", daemon=True),
            threading.Thread(target=self._discovery, name="onvif-sim-wsd", daemon=True),
        ]
        for t in self._threads:
            t.start()

    def close(self) -> None:
        self._closing.set()
        with self.lock:
            self.lock.notify_all()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        for t in self._threads:
            t.join(5)
        if self._udp is not None:
            self._udp.close()

    @property
    def port(self) -> int:
        assert self._http is not None
        return int(self._http.server_address[1])

    @property
    def discovery_port(self) -> int:
        assert self._udp is not None
        return int(self._udp.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ test controls

    def fail(self, operation: str = "*", *, times: int | None = None, reason: str = "simulated device fault") -> None:
        """Answer ``operation`` ("*": every one) with a SOAP fault, ``times`` times (None: until `heal`)."""
        with self.lock:
            self.faults.append(_Fault(operation, times, reason))

    def heal(self) -> None:
        with self.lock:
            self.faults.clear()

    def emit(
        self,
        topic: str,
        data: dict[str, str],
        source: dict[str, str] | None = None,
        *,
        utc: dt.datetime | None = None,
        operation: str = "Changed",
    ) -> None:
        """Send an event (``tns1:`` topic) to every live subscription."""
        when = _iso(utc or self.now())
        items = "".join(f"<tt:SimpleItem Name={quoteattr(k)} Value={quoteattr(v)}/>" for k, v in (source or {}).items())
        values = "".join(f"<tt:SimpleItem Name={quoteattr(k)} Value={quoteattr(v)}/>" for k, v in data.items())
        message = (
            '<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">'
            f"{escape(topic)}</wsnt:Topic><wsnt:Message>"
            f'<tt:Message UtcTime="{when}" PropertyOperation={quoteattr(operation)}>'
            f"<tt:Source>{items}</tt:Source><tt:Data>{values}</tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>"
        )
        with self.lock:
            self._expire()
            for sub in self.subscriptions.values():
                sub.queue.append(message)
            self.lock.notify_all()

    @property
    def live_subscriptions(self) -> int:
        with self.lock:
            self._expire()
            return len(self.subscriptions)

    def _expire(self) -> None:
        now = self.now()
        for sid in [s.id for s in self.subscriptions.values() if s.termination <= now]:
            del self.subscriptions[sid]
            self.expired += 1

    # ------------------------------------------------------------------ SOAP

    def handle(self, path: str, body: bytes) -> tuple[int, str]:
        try:
            doc = etree.fromstring(body, _PARSER)
            request = doc.find(f"{{{SOAP}}}Body")
            if request is None or len(request) == 0:
                raise SoapFault("env:Sender", "ter:WellFormed", "no SOAP body")
            operation = etree.QName(request[0]).localname
            with self.lock:
                self.calls[operation] = self.calls.get(operation, 0) + 1
            if operation not in UNAUTHENTICATED:
                self._authenticate(doc)
            self._injected_fault(operation)
            return 200, self._envelope(self._answer(path, operation, request[0]))
        except SoapFault as fault:
            return fault.status, self._envelope(
                f"<env:Fault><env:Code><env:Value>{fault.code}</env:Value><env:Subcode><env:Value>{fault.subcode}"
                f'</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">{escape(fault.reason)}'
                "</env:Text></env:Reason></env:Fault>"
            )
        except etree.XMLSyntaxError:
            return 400, self._envelope(
                "<env:Fault><env:Code><env:Value>env:Sender</env:Value></env:Code><env:Reason>"
                '<env:Text xml:lang="en">not XML</env:Text></env:Reason></env:Fault>'
            )

    def _authenticate(self, doc: etree._Element) -> None:
        token = doc.find(f"{{{SOAP}}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
        refused = SoapFault("env:Sender", "ter:NotAuthorized", "Sender not Authorized", 400)
        if token is None:
            raise refused
        user = token.findtext(f"{{{WSSE}}}Username") or ""
        password = token.find(f"{{{WSSE}}}Password")
        nonce = token.findtext(f"{{{WSSE}}}Nonce") or ""
        created = token.findtext(f"{{{WSU}}}Created") or ""
        if password is None or user != self.username:
            raise refused
        if (password.get("Type") or "").endswith("#PasswordDigest"):
            expected = base64.b64encode(
                hashlib.sha1(base64.b64decode(nonce) + created.encode() + self.password.encode()).digest()
            ).decode()
        else:
            expected = self.password
        if (password.text or "") != expected:
            raise refused

    def _injected_fault(self, operation: str) -> None:
        with self.lock:
            for fault in self.faults:
                if fault.operation in ("*", operation) and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    raise SoapFault("env:Receiver", "ter:Action", fault.reason)

    def _envelope(self, body: str) -> str:
        ns = " ".join(f'xmlns:{p}="{u}"' for p, u in NAMESPACES.items())
        return f'<?xml version="1.0" encoding="UTF-8"?><env:Envelope {ns}><env:Body>{body}</env:Body></env:Envelope>'

    def _answer(self, path: str, operation: str, request: etree._Element) -> str:
        handler = getattr(self, f"_op_{operation}", None)
        if handler is None:
            raise SoapFault("env:Receiver", "ter:ActionNotSupported", f"{operation} is not supported", 400)
        return str(handler(path, request))

    # device service
    def _op_GetSystemDateAndTime(self, path: str, request: etree._Element) -> str:  # noqa: N802 - named as the SOAP operation
        now = dt.datetime.now(dt.UTC)
        return (
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType>"
            "<tt:DaylightSavings>false</tt:DaylightSavings><tt:UTCDateTime>"
            f"<tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute><tt:Second>{now.second}</tt:Second></tt:Time>"
            f"<tt:Date><tt:Year>{now.year}</tt:Year><tt:Month>{now.month}</tt:Month><tt:Day>{now.day}</tt:Day></tt:Date>"
            "</tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        )

    def _services(self) -> list[tuple[str, str, str]]:
        return [
            ("device", NAMESPACES["tds"], f"{self.url}/onvif/device_service"),
            ("media", NAMESPACES["trt"], f"{self.url}/onvif/media_service"),
            ("events", NAMESPACES["tev"], f"{self.url}/onvif/event_service"),
        ]

    def _op_GetServices(self, path: str, request: etree._Element) -> str:  # noqa: N802 - named as the SOAP operation
        services = "".join(
            f"<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{xaddr}</tds:XAddr>"
            "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
            for _, ns, xaddr in self._services()
        )
        return f"<tds:GetServicesResponse>{services}</tds:GetServicesResponse>"

    def _op_GetCapabilities(self, path: str, request: etree._Element) -> str:  # noqa: N802 - named as the SOAP operation
        x = {name: xaddr for name, _, xaddr in self._services()}
        return (
            "<tds:GetCapabilitiesResponse><tds:Capabilities>"
            f"<tt:Device><tt:XAddr>{x['device']}</tt:XAddr></tt:Device>"
            f"<tt:Events><tt:XAddr>{x['events']}</tt:XAddr><tt:WSSubscriptionPolicySupport>false</tt:WSSubscriptionPolicySupport>"
            "<tt:WSPullPointSupport>true</tt:WSPullPointSupport>"
            "<tt:WSPausableSubscriptionManagerInterfaceSupport>false</tt:WSPausableSubscriptionManagerInterfaceSupport>"
            "</tt:Events>"
            f"<tt:Media><tt:XAddr>{x['media']}</tt:XAddr><tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast>"
            "<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>"
            "</tds:Capabilities></tds:GetCapabilitiesResponse>"
        )

    def _op_GetDeviceInformation(self, path: str, request: etree._Element) -> str:  # noqa: N802 - named as the SOAP operation
        return (
            "<tds:GetDeviceInformationResponse><tds:Manufacturer>gridwatch tests</tds:Manufacturer>"
            f"<tds:Model>{escape(self.model)}</tds:Model><tds:FirmwareVersion>1.0</tds:FirmwareVersion>"
            f"<tds:SerialNumber>{escape(self.serial)}</tds:SerialNumber><tds:HardwareId>sim</tds:HardwareId>"
            "</tds:GetDeviceInformationResponse>"
        )

    # media service
    def _op_GetProfiles(self, path: str, request: etree._Element) -> str:  # noqa: N802 - named as the SOAP operation
        profiles = "".join(
            f'<trt:Profiles token={quoteattr(p.token)} fixed="true"><tt:Name>{escape(p.name)}</tt:Name>'
            f'<tt:VideoEncoderConfiguration token="enc-{escape(p.token)}">'
            "<tt:Name>enc</tt:Name><tt:UseCount>1</tt:UseCount>"
            f"<tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>{p.width}</tt:Width><tt:Height>{p.height}</tt:Height>"
            "</tt:Resolution><tt:Quality>5</tt:Quality><tt:SessionTimeout>PT60S</tt:SessionTimeout>"
            "</tt:VideoEncoderConfiguration></trt:Profiles>"
            for p in self.profiles
        )
        return f"<trt:GetProfilesResponse>{profiles}</trt:GetProfilesResponse>"

    def _op_GetStreamUri(self, path: str, request: etree._Element) -> str:  # noqa: N802 - named as the SOAP operation
        token = request.findtext(f"{{{NAMESPACES['trt']}}}ProfileToken") or ""
        protocol = request.findtext(f".//{{{NAMESPACES['tt']}}}Protocol") or ""
        profile = next((p for p in self.profiles if p.token == token), None)
        if profile is None:
            raise SoapFault("env:Sender", "ter:InvalidArgVal", f"no profile {token}", 400)
        if protocol not in ("RTSP", "UDP", "TCP"):
            raise SoapFault("env:Sender", "ter:InvalidArgVal", f"transport {protocol} not supported", 400)
        return (
            f"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{escape(profile.uri)}</tt:Uri>"
            "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>"
            "<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>"
        )

    # events
    def _termination(self, text: str | None) -> dt.datetime:
        now = self.now()
        if not text:
            return now + dt.timedelta(seconds=60)
        seconds = _duration_s(text)
        if seconds is not None:
            return now + dt.timedelta(seconds=seconds)
        try:
            return dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise SoapFault("env:Sender", "wsnt:UnacceptableTerminationTimeFault", f"bad time {text}", 400) from None

    def _op_CreatePullPointSubscription(self, path: str, request: etree._Element) -> str:  # noqa: N802 - named as the SOAP operation
        termination = self._termination(request.findtext(f"{{{NAMESPACES['tev']}}}InitialTerminationTime"))
        with self.lock:
            self._expire()
            sid = self._next_id
            self._next_id += 1
            self.subscriptions[sid] = _Subscription(sid, termination)
            self.created += 1
        return (
            "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference>"
            f"<wsa:Address>{self.url}/onvif/subscription/{sid}</wsa:Address></tev:SubscriptionReference>"
            f"<wsnt:CurrentTime>{_iso(self.now())}</wsnt:CurrentTime><wsnt:TerminationTime>{_iso(termination)}"
            "</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse>"
        )

    def _subscription(self, path: str) -> _Subscription:
        m = re.fullmatch(r"/onvif/subscription/(\d+)", path)
        self._expire()
        sub = self.subscriptions.get(int(m.group(1))) if m else None
        if sub is None:
            raise SoapFault("env:Receiver", "ter:InvalidArgVal", "no such subscription (expired or unsubscribed)")
        return sub

    def _op_PullMessages(self, path: str, request: etree._Element) -> str:  # noqa: N802 - named as the SOAP operation
        wait_s = min(_duration_s(request.findtext(f"{{{NAMESPACES['tev']}}}Timeout") or "PT1S") or 0.0, 10.0)
        limit = int(request.findtext(f"{{{NAMESPACES['tev']}}}MessageLimit") or 100)
        with self.lock:
            sub = self._subscription(path)
            self.lock.wait_for(
                lambda: bool(sub.queue) or self._closing.is_set() or sub.id not in self.subscriptions, wait_s
            )
            sub = self._subscription(path)
            messages, sub.queue[:] = sub.queue[:limit], sub.queue[limit:]
            termination = sub.termination
        return (
            f"<tev:PullMessagesResponse><tev:CurrentTime>{_iso(self.now())}</tev:CurrentTime>"
            f"<tev:TerminationTime>{_iso(termination)}</tev:TerminationTime>{''.join(messages)}</tev:PullMessagesResponse>"
        )

    def _op_Renew(self, path: str, request: etree._Element) -> str:  # noqa: N802 - named as the SOAP operation
        termination = self._termination(request.findtext(f"{{{NAMESPACES['wsnt']}}}TerminationTime"))
        with self.lock:
            sub = self._subscription(path)
            sub.termination = termination
            self.renewed += 1
        return (
            f"<wsnt:RenewResponse><wsnt:TerminationTime>{_iso(termination)}</wsnt:TerminationTime>"
            f"<wsnt:CurrentTime>{_iso(self.now())}</wsnt:CurrentTime></wsnt:RenewResponse>"
        )

    def _op_Unsubscribe(self, path: str, request: etree._Element) -> str:  # noqa: N802 - named as the SOAP operation
        with self.lock:
            sub = self._subscription(path)
            del self.subscriptions[sub.id]
            self.unsubscribed += 1
            self.lock.notify_all()
        return "<wsnt:UnsubscribeResponse/>"

    # ------------------------------------------------------------------ WS-Discovery

    def _discovery(self) -> None:
        assert self._udp is not None
        while not self._closing.is_set():
            try:
                data, peer = self._udp.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            answer = self._probe_match(data)
            if answer is not None:
                with contextlib.suppress(OSError):
                    self._udp.sendto(answer, peer)

    def _probe_match(self, data: bytes) -> bytes | None:
        try:
            doc = etree.fromstring(data, _PARSER)
        except etree.XMLSyntaxError:
            return None
        ns = DISCOVERY_NS
        action = doc.findtext(f"{{{SOAP}}}Header/{{{ns['a']}}}Action") or ""
        probe = doc.find(f"{{{SOAP}}}Body/{{{ns['d']}}}Probe")
        if not action.endswith("/discovery/Probe") or probe is None:
            return None
        types = (probe.findtext(f"{{{ns['d']}}}Types") or "").split()
        if types and not any(t.endswith(":NetworkVideoTransmitter") or t == "NetworkVideoTransmitter" for t in types):
            return None
        message_id = doc.findtext(f"{{{SOAP}}}Header/{{{ns['a']}}}MessageID") or ""
        scopes = " ".join(
            f"onvif://www.onvif.org/{scope}"
            for scope in ("type/video_encoder", f"hardware/{self.model}", "name/gridwatch-sim")
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<s:Envelope xmlns:s="{SOAP}" xmlns:a="{ns["a"]}" xmlns:d="{ns["d"]}" '
            f'xmlns:dn="{ns["dn"]}"><s:Header><a:MessageID>urn:uuid:{uuid.uuid4()}</a:MessageID>'
            f"<a:RelatesTo>{escape(message_id)}</a:RelatesTo>"
            "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
            "<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</a:Action></s:Header>"
            f"<s:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>{self.endpoint}</a:Address>"
            "</a:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types>"
            f"<d:Scopes>{escape(scopes)}</d:Scopes><d:XAddrs>{self.url}/onvif/device_service</d:XAddrs>"
            "<d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>"
        ).encode()


USERNAME = "onvif-admin"


@contextlib.contextmanager
def running_device(
    main_uri: str,
    sub_uri: str | None = None,
    *,
    username: str = USERNAME,
    password: str | None = None,
    now: Callable[[], dt.datetime] | None = None,
) -> Iterator[OnvifSimulator]:
    """A simulated camera with a main profile (1920×1080) and, when given, a sub profile (640×360), stopped
    afterwards. Its password is ``password`` or a fresh one (``sim.password``)."""
    profiles = [SimProfile("profile_main", "MainStream", 1920, 1080, main_uri)]
    if sub_uri is not None:
        profiles.append(SimProfile("profile_sub", "SubStream", 640, 360, sub_uri))
    sim = OnvifSimulator.start(username, password or f"pw-{uuid.uuid4().hex[:10]}", profiles, now=now)
    try:
        yield sim
    finally:
        sim.close()

"""Finding ONVIF devices on a subnet the integrator names: a WS-Discovery Probe for ``dn:NetworkVideoTransmitter``.

Why not the ``wsdiscovery`` package: its `ThreadedWSDiscovery` runs its own multicast threads and sends the
Probe only to 239.255.255.250:3702, with no clean way to send it unicast to one chosen address and port (which
both tests, and subnets where multicast does not reach, need). A Probe and its ProbeMatches are two small
SOAP-over-UDP documents, so they are written and read here with lxml (no entity expansion, no network
access while parsing).

`discover` sends one Probe to the multicast group (when ``multicast``; only on the standard port) and one to
every host of the subnet (at most `MAX_HOSTS`), then gathers answers until the timeout; only devices whose
address lies in the subnet are kept, one per endpoint reference.
"""

from __future__ import annotations

import ipaddress
import socket
import time
import uuid
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from lxml import etree

from core.errors import InvalidInput, Issue

WSD_PORT = 3702
MULTICAST_GROUP = "239.255.255.250"
MAX_HOSTS = 1024
SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
DN = "http://www.onvif.org/ver10/network/wsdl"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


@dataclass(frozen=True, slots=True)
class DiscoveredDevice:
    """One device that answered: where it is and what it says about itself in its scopes."""

    address: str
    """The IP address the answer came from."""
    endpoint: str
    """Its endpoint reference (``urn:uuid:…``): the same device, whatever its address."""
    xaddrs: tuple[str, ...]
    """Device service URLs."""
    scopes: tuple[str, ...]
    hardware: str | None
    """From the ``onvif://www.onvif.org/hardware/…`` scope: usually the model."""
    name: str | None

    @property
    def port(self) -> int:
        """The device service's port from the first XAddr on the answering address (80 when none says)."""
        for xaddr in self.xaddrs:
            parts = urlsplit(xaddr)
            if parts.hostname == self.address:
                return parts.port or 80
        return urlsplit(self.xaddrs[0]).port or 80 if self.xaddrs else 80


def probe_message(message_id: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP}" xmlns:a="{WSA}" xmlns:d="{WSD}" '
        f'xmlns:dn="{DN}"><s:Header><a:Action s:mustUnderstand="1">{WSD}/Probe</a:Action>'
        f"<a:MessageID>{message_id}</a:MessageID><a:ReplyTo><a:Address>{WSA}/role/anonymous</a:Address></a:ReplyTo>"
        '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header>'
        "<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>"
    ).encode()


def _scope(scopes: tuple[str, ...], kind: str) -> str | None:
    prefix = f"onvif://www.onvif.org/{kind}/"
    found = next((s[len(prefix) :] for s in scopes if s.startswith(prefix)), None)
    return unquote(found) if found else None


def parse_probe_matches(data: bytes, address: str, message_id: str) -> list[DiscoveredDevice]:
    """The devices in a ProbeMatches answer to ``message_id``; [] for anything else (never raises)."""
    try:
        doc = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError:
        return []
    relates = doc.findtext(f"{{{SOAP}}}Header/{{{WSA}}}RelatesTo")
    if relates is not None and relates.strip() != message_id:
        return []
    found: list[DiscoveredDevice] = []
    for match in doc.iterfind(f"{{{SOAP}}}Body/{{{WSD}}}ProbeMatches/{{{WSD}}}ProbeMatch"):
        endpoint = (match.findtext(f"{{{WSA}}}EndpointReference/{{{WSA}}}Address") or "").strip()
        xaddrs = tuple((match.findtext(f"{{{WSD}}}XAddrs") or "").split())
        scopes = tuple((match.findtext(f"{{{WSD}}}Scopes") or "").split())
        if not xaddrs:
            continue
        found.append(
            DiscoveredDevice(
                address=address,
                endpoint=endpoint or xaddrs[0],
                xaddrs=xaddrs,
                scopes=scopes,
                hardware=_scope(scopes, "hardware"),
                name=_scope(scopes, "name"),
            )
        )
    return found


def parse_subnet(text: str, max_hosts: int = MAX_HOSTS) -> ipaddress.IPv4Network:
    """``10.0.0.0/24`` (or one address) as a network; InvalidInput naming ``subnet`` otherwise."""
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise InvalidInput(Issue("subnet", f'"{text}" is not a subnet such as 10.0.0.0/24 ({exc})')) from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise InvalidInput(Issue("subnet", "WS-Discovery here is IPv4 only; give an IPv4 subnet"))
    if net.num_addresses > max_hosts + 2:
        raise InvalidInput(
            Issue("subnet", f"{net} has {net.num_addresses} addresses; probe at most {max_hosts} at once")
        )
    return net


def discover(
    subnet: str,
    *,
    port: int = WSD_PORT,
    timeout_s: float = 3.0,
    multicast: bool = True,
    max_hosts: int = MAX_HOSTS,
) -> list[DiscoveredDevice]:
    """The ONVIF devices in ``subnet`` that answer a Probe within ``timeout_s``, by address."""
    net = parse_subnet(subnet, max_hosts)
    hosts = list(net.hosts()) or [net.network_address]
    message_id = f"urn:uuid:{uuid.uuid4()}"
    probe = probe_message(message_id)
    found: dict[str, DiscoveredDevice] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.bind(("", 0))
        targets = [(MULTICAST_GROUP, port)] if multicast else []
        targets += [(str(h), port) for h in hosts]
        for target in targets:
            try:
                sock.sendto(probe, target)
            except OSError:
                continue  # no route to that host or to the multicast group: the others still count
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data, (address, _) = sock.recvfrom(65535)
            except TimeoutError:
                break
            except OSError:
                continue
            if ipaddress.ip_address(address) not in net:
                continue
            for device in parse_probe_matches(data, address, message_id):
                found.setdefault(device.endpoint, device)
    return sorted(found.values(), key=lambda d: (ipaddress.ip_address(d.address), d.endpoint))

"""The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2), sans-I/O.

A load balancer in front of an SMTP server prepends one header to the connection saying who
the real client is. :func:`parse_proxy_header` reads it from the first bytes received:
``None`` means "not all here yet", otherwise ``(info, consumed)``. Anything malformed raises
:class:`ProxyProtocolError`; the server then closes the connection without a greeting.
Only accept the header from trusted peers: anyone could send one.
"""

from __future__ import annotations

import ipaddress
import re
import struct
from dataclasses import dataclass
from typing import Final

from ._errors import RemoteProtocolError

__all__ = ["ProxyInfo", "ProxyProtocolError", "parse_proxy_header", "V2_SIGNATURE"]

V2_SIGNATURE: Final = b"\r\n\r\n\x00\r\nQUIT\n"
_V1_MAX: Final = 107  # "a receiver ... must not need more than 107 bytes" (section 2.1)
_V1_RE: Final = re.compile(
    rb"PROXY (?:(TCP4|TCP6) (\S+) (\S+) ([0-9]{1,5}) ([0-9]{1,5})|UNKNOWN[^\r\n]*)\r\n"
)


class ProxyProtocolError(RemoteProtocolError):
    """A PROXY protocol header that is malformed, or missing where one is required."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyInfo:
    """What the header said. ``source``/``destination`` are (address, port), or None for
    ``UNKNOWN`` (v1) and ``LOCAL``/unspecified (v2): then the socket's own addresses apply."""

    version: int
    source: tuple[str, int] | None
    destination: tuple[str, int] | None


def _port(text: bytes) -> int:
    port = int(text)
    if not 0 <= port <= 65535 or (len(text) > 1 and text.startswith(b"0")):
        raise ProxyProtocolError(f"bad port in PROXY header: {text!r}")
    return port


def _v1(data: bytes) -> tuple[ProxyInfo, int] | None:
    end = data.find(b"\r\n")
    if end < 0:
        if len(data) >= _V1_MAX:
            raise ProxyProtocolError("PROXY v1 header longer than 107 bytes")
        return None
    m = _V1_RE.fullmatch(data[: end + 2])
    if m is None or end + 2 > _V1_MAX:
        raise ProxyProtocolError("malformed PROXY v1 header")
    if m[1] is None:
        return ProxyInfo(version=1, source=None, destination=None), end + 2
    family = 4 if m[1] == b"TCP4" else 6
    try:
        src = ipaddress.ip_address(m[2].decode("ascii"))
        dst = ipaddress.ip_address(m[3].decode("ascii"))
    except ValueError:
        raise ProxyProtocolError("bad address in PROXY v1 header") from None
    if src.version != family or dst.version != family:
        raise ProxyProtocolError("PROXY v1 address does not match its family")
    return (
        ProxyInfo(version=1, source=(str(src), _port(m[4])), destination=(str(dst), _port(m[5]))),
        end + 2,
    )


def _v2(data: bytes) -> tuple[ProxyInfo, int] | None:
    if len(data) < 16:
        return None
    ver_cmd, family, length = data[12], data[13], struct.unpack("!H", data[14:16])[0]
    if ver_cmd >> 4 != 2 or ver_cmd & 0x0F not in (0, 1):
        raise ProxyProtocolError("unsupported PROXY v2 version or command")
    total = 16 + length
    if len(data) < total:
        return None
    body = data[16:total]
    if ver_cmd & 0x0F == 0:  # LOCAL: a health check from the proxy itself
        return ProxyInfo(version=2, source=None, destination=None), total
    if family in (0x11, 0x12):  # TCP/UDP over IPv4
        if length < 12:
            raise ProxyProtocolError("short PROXY v2 IPv4 block")
        src4, dst4, sp, dp = struct.unpack("!4s4sHH", body[:12])
        return (
            ProxyInfo(
                version=2,
                source=(str(ipaddress.IPv4Address(src4)), sp),
                destination=(str(ipaddress.IPv4Address(dst4)), dp),
            ),
            total,
        )
    if family in (0x21, 0x22):  # TCP/UDP over IPv6
        if length < 36:
            raise ProxyProtocolError("short PROXY v2 IPv6 block")
        src6, dst6, sp, dp = struct.unpack("!16s16sHH", body[:36])
        return (
            ProxyInfo(
                version=2,
                source=(str(ipaddress.IPv6Address(src6)), sp),
                destination=(str(ipaddress.IPv6Address(dst6)), dp),
            ),
            total,
        )
    return ProxyInfo(version=2, source=None, destination=None), total  # UNSPEC / UNIX


def parse_proxy_header(data: bytes) -> tuple[ProxyInfo, int] | None:
    """The header at the start of ``data``: ``(info, octets consumed)``, or None for more."""
    if data.startswith(V2_SIGNATURE):
        return _v2(data)
    if V2_SIGNATURE.startswith(data[: len(V2_SIGNATURE)]) and len(data) < len(V2_SIGNATURE):
        return None
    if data.startswith(b"PROXY "):
        return _v1(data)
    if b"PROXY ".startswith(data[:6]) and len(data) < 6:
        return None
    raise ProxyProtocolError("expected a PROXY protocol header")

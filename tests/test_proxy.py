"""The PROXY protocol header parser (HAProxy proxy-protocol.txt, v1 and v2)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings, strategies as st

from smtpcore._proxy import V2_SIGNATURE, ProxyProtocolError, parse_proxy_header


def test_v1_examples_from_the_spec() -> None:
    line = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
    info, used = parse_proxy_header(line + b"EHLO x\r\n")  # type: ignore[misc]
    assert used == len(line)
    assert info.source == ("192.168.0.1", 56324) and info.destination == ("192.168.0.11", 443)
    info, _ = parse_proxy_header(b"PROXY TCP6 2001:db8::1 2001:db8::2 1 25\r\n")  # type: ignore[misc]
    assert info.source == ("2001:db8::1", 1)
    info, _ = parse_proxy_header(b"PROXY UNKNOWN\r\n")  # type: ignore[misc]
    assert info.source is None


@pytest.mark.parametrize(
    "bad",
    [
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
        b"PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n",
        b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
        b"PROXY " + b"x" * 200,
        b"EHLO client.example\r\n",
        V2_SIGNATURE + b"\x31\x11\x00\x00",
    ],
)
def test_malformed_headers_raise(bad: bytes) -> None:
    with pytest.raises(ProxyProtocolError):
        parse_proxy_header(bad)


def test_v2_ipv4_and_ipv6_and_local() -> None:
    body = struct.pack("!4s4sHH", bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), 1234, 25)
    tlv = b"\x01\x00\x02h2"  # an ALPN TLV: skipped
    data = V2_SIGNATURE + b"\x21\x11" + struct.pack("!H", len(body) + len(tlv)) + body + tlv
    info, used = parse_proxy_header(data + b"rest")  # type: ignore[misc]
    assert used == len(data) and info.source == ("10.0.0.1", 1234) and info.version == 2
    body6 = struct.pack("!16s16sHH", b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\1", b"\0" * 16, 9, 25)
    info, _ = parse_proxy_header(V2_SIGNATURE + b"\x21\x21\x00\x24" + body6)  # type: ignore[misc]
    assert info.source == ("2001:db8::1", 9)
    info, _ = parse_proxy_header(V2_SIGNATURE + b"\x20\x00\x00\x00")  # type: ignore[misc]
    assert info.source is None


def test_partial_headers_ask_for_more() -> None:
    full = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
    for i in range(len(full)):
        assert parse_proxy_header(full[:i]) is None
    v2 = V2_SIGNATURE + b"\x21\x11\x00\x0c" + b"\x01" * 12
    for i in range(len(v2)):
        assert parse_proxy_header(v2[:i]) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    try:
        parse_proxy_header(data)
    except ProxyProtocolError:
        pass


def _serve_with_proxy(script: list[bytes]) -> tuple[bytes, list[object]]:
    import asyncio
    from typing import Any

    from smtpcore._async.server import AsyncServerSession
    from smtpcore._listen import ServerOptions
    from smtpcore.aio import AsyncHandler
    from smtpcore.testing import AsyncMockStream

    peers: list[object] = []

    class H(AsyncHandler):
        async def handle_message(self, session: Any, envelope: Any, data: bytes) -> Any:
            peers.append(session.peer)

    stream = AsyncMockStream(script)
    session = AsyncServerSession(stream, H(), ServerOptions().connection(), proxy_protocol=True)
    asyncio.run(session.run())
    return bytes(stream.written), peers


def test_the_session_takes_the_client_address_from_the_header() -> None:
    out, peers = _serve_with_proxy(
        [
            b"PROXY TCP4 203.0.113.7 192.0.2.1 40000 25\r\nEHLO c.example\r\n",
            b"MAIL FROM:<a@example.org>\r\n",
            b"RCPT TO:<b@example.net>\r\n",
            b"DATA\r\n",
            b"hi\r\n.\r\n",
            b"QUIT\r\n",
        ]
    )
    assert out.startswith(b"220 ") and out.endswith(b"221 2.0.0 Bye\r\n")
    assert peers == [("203.0.113.7", 40000)]


def test_no_greeting_without_a_valid_header() -> None:
    out, _ = _serve_with_proxy([b"EHLO c.example\r\n"])
    assert out == b""


@pytest.mark.parametrize("flavour", ["aio", "sync"])
def test_listeners_take_the_header_over_a_socket(flavour: str) -> None:
    import socket

    from tests.servers import async_server_thread, sync_server

    make = async_server_thread if flavour == "aio" else sync_server
    with make(proxy_protocol=True) as (server, rec):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(b"PROXY TCP6 2001:db8::7 2001:db8::1 50000 25\r\n")
            f = s.makefile("rb")
            assert f.readline().startswith(b"220 ")
            for line in (
                b"HELO c.example",
                b"MAIL FROM:<a@example.org>",
                b"RCPT TO:<b@example.net>",
                b"DATA",
            ):
                s.sendall(line + b"\r\n")
                assert f.readline()[:1] in (b"2", b"3")
            s.sendall(b"hi\r\n.\r\nQUIT\r\n")
            assert f.readline().startswith(b"250 ")
            f.close()
        assert rec.got.wait(5)
    assert rec.messages[0].session.peer == ("2001:db8::7", 50000)

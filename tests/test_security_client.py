"""Our clients against hostile servers, over real sockets on 127.0.0.1 (issue 9).

A scripted fake server plays the attacker (or the man in the middle) and records every
byte the client sent, so each test can say what never left the client: no MAIL and no
credentials in plaintext, no injected command line.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from smtpcore import (
    NEED_DATA,
    Address,
    ClientConnection,
    LocalProtocolError,
    MailParams,
    OriginalRecipient,
    RcptParams,
    RemoteProtocolError,
    SMTPCoreError,
    Timeouts,
    TLSError,
)
from smtpcore.aio import AsyncSMTPClient
from smtpcore.sync import SMTPClient
from tests.servers import sync_server, tls_contexts

BODY = b"Subject: x\r\n\r\nhi\r\n"
PASSWORD = "Pa55-w0rd-s3cret"
SECRETS = (
    PASSWORD.encode(),
    base64.b64encode(PASSWORD.encode()),
    base64.b64encode(b"\x00user\x00" + PASSWORD.encode()),
)


class FakeConn:
    """The server end of one connection: raw bytes out, lines in, everything recorded."""

    def __init__(self, sock: socket.socket, received: bytearray) -> None:
        self.sock = sock
        self.received = received
        self.buf = b""
        self.eof = False
        self.hung_up = False

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            self.eof = True
            raise EOFError("the client closed the connection")
        self.received += chunk
        self.buf += chunk

    def line(self) -> bytes:
        for _ in range(100_000):
            if b"\r\n" in self.buf:
                line, self.buf = self.buf.split(b"\r\n", 1)
                return line
            self._fill()
        raise AssertionError("endless line")

    def until(self, marker: bytes) -> bytes:
        for _ in range(100_000):
            if marker in self.buf:
                data, self.buf = self.buf.split(marker, 1)
                return data
            self._fill()
        raise AssertionError("no end marker")

    def drain(self) -> None:
        """Read (and record) until the client closes."""
        self.buf = b""
        for _ in range(100_000):
            self._fill()

    def hang_up(self) -> None:
        """End the script without waiting for the client to close first."""
        self.hung_up = True

    def wait_client_hello(self) -> None:
        """Block until the client's TLS ClientHello has arrived (without consuming it)."""
        assert self.sock.recv(1, socket.MSG_PEEK)

    def greet(self, *keywords: str) -> None:
        self.send(b"220 fake.example ESMTP\r\n")
        hello = self.line()
        assert hello.upper().startswith((b"EHLO", b"HELO")), hello
        lines = ["fake.example", *keywords]
        out = [f"250-{k}" for k in lines[:-1]] + [f"250 {lines[-1]}"]
        self.send(("\r\n".join(out) + "\r\n").encode())

    def starttls(self, ctx: ssl.SSLContext) -> None:
        assert not self.buf
        # keep the SSL socket before the handshake, so a failed one is still closed; a
        # client that reset the connection fails before wrap_socket, which would leak its
        # SSLSocket on CPython before 3.11.8/3.12.2 (gh-113280)
        self.sock.getpeername()
        self.sock = ctx.wrap_socket(self.sock, server_side=True, do_handshake_on_connect=False)
        self.sock.do_handshake()


class Fake:
    """A scripted server for one connection on 127.0.0.1:0, in a thread."""

    def __init__(self, script: Callable[[FakeConn], None]) -> None:
        self.script = script
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(10)
        self.port: int = self.listener.getsockname()[1]
        self.received = bytearray()
        self.errors: list[BaseException] = []
        self.client_closed = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except OSError as exc:
            self.errors.append(exc)
            return
        sock.settimeout(10)
        conn = FakeConn(sock, self.received)
        try:
            self.script(conn)
            if not conn.hung_up:
                conn.drain()
        except (EOFError, ConnectionError):
            self.client_closed = True  # the client hung up: what a hostile-server test expects
        except ssl.SSLError:
            pass  # the client gave up on the handshake
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            self.client_closed = conn.eof or self.client_closed
            conn.sock.close()

    def sent_nothing_sensitive(self) -> None:
        data = bytes(self.received)
        for forbidden in (b"MAIL FROM", b"AUTH", b"RCPT TO", *SECRETS):
            assert forbidden not in data, (forbidden, data)


@contextlib.contextmanager
def fake(script: Callable[[FakeConn], None]) -> Iterator[Fake]:
    server = Fake(script)
    server.thread.start()
    try:
        yield server
    finally:
        server.thread.join(15)
        server.listener.close()
    assert not server.thread.is_alive()
    if server.errors:
        raise server.errors[0]


def connect_sync(port: int, **kw: Any) -> None:
    client = SMTPClient("127.0.0.1", port, **kw)
    try:
        client.connect()
        client.send_message(b"Subject: x\r\n\r\nhi\r\n", "a@example.org", ["b@example.net"])
    finally:
        client.close()


def connect_async(port: int, **kw: Any) -> None:
    async def go() -> None:
        client = AsyncSMTPClient("127.0.0.1", port, **kw)
        try:
            await client.connect()
            await client.send_message(
                b"Subject: x\r\n\r\nhi\r\n", "a@example.org", ["b@example.net"]
            )
        finally:
            await client.close()

    asyncio.run(go())


clients = pytest.mark.parametrize("run", [connect_sync, connect_async], ids=["sync", "aio"])
both_policies = pytest.mark.parametrize("policy", ["required", "opportunistic"])


def tls_kw(policy: str) -> dict[str, Any]:
    _, client_ctx = tls_contexts()
    return {
        "ssl_context": client_ctx,
        "server_hostname": "localhost",
        "tls_policy": policy,
        "username": "user",
        "password": PASSWORD,
        "timeouts": Timeouts(connect=5, greeting=5, command=5),
    }


# --- response injection (Poddebniak et al., USENIX Security 2021) ------------------------


@clients
@both_policies
def test_reply_injected_behind_the_starttls_220_is_refused(run: Any, policy: str) -> None:
    # RFC 3207 §5 and "Why TLS is better without STARTTLS" (2021): bytes the server sent
    # with its 220 before the handshake are never taken as replies inside TLS.
    server_ctx, _ = tls_contexts()

    def script(c: FakeConn) -> None:
        c.greet("PIPELINING", "STARTTLS", "AUTH PLAIN LOGIN")
        assert c.line() == b"STARTTLS"
        c.send(b"220 go ahead\r\n250 injected\r\n")  # one packet
        c.starttls(server_ctx)
        c.drain()

    with fake(script) as server, pytest.raises(SMTPCoreError):
        run(server.port, **tls_kw(policy))
    server.sent_nothing_sensitive()


@clients
def test_plaintext_sent_after_the_220_in_a_later_packet_breaks_the_handshake(run: Any) -> None:
    # The same attack when the injected bytes come after the client started its handshake:
    # they are not TLS records, so the handshake fails; nothing is taken as a reply.
    server_ctx, _ = tls_contexts()

    def script(c: FakeConn) -> None:
        c.greet("STARTTLS", "AUTH PLAIN")
        assert c.line() == b"STARTTLS"
        c.send(b"220 go ahead\r\n")
        c.wait_client_hello()
        c.send(b"250 injected\r\n")
        c.starttls(server_ctx)
        c.drain()

    with fake(script) as server, pytest.raises(SMTPCoreError):
        run(server.port, **tls_kw("opportunistic"))
    server.sent_nothing_sensitive()


# --- STARTTLS stripping ------------------------------------------------------------------


@clients
def test_required_tls_and_no_starttls_offered_stops_before_mail(run: Any) -> None:
    # RFC 3207 §4 / RFC 8314 §5: with TLS required, a server (or a man in the middle) that
    # hides STARTTLS gets no MAIL and no credentials.
    def script(c: FakeConn) -> None:
        c.greet("PIPELINING", "AUTH PLAIN LOGIN")
        c.drain()

    with fake(script) as server, pytest.raises(TLSError):
        run(server.port, **tls_kw("required"))
    server.sent_nothing_sensitive()
    assert server.client_closed


@clients
def test_required_tls_and_starttls_refused_stops_before_mail(run: Any) -> None:
    # RFC 3207 §4: a 454 to STARTTLS under required TLS ends the delivery.
    def script(c: FakeConn) -> None:
        c.greet("STARTTLS", "AUTH PLAIN LOGIN")
        assert c.line() == b"STARTTLS"
        c.send(b"454 4.7.0 TLS not available\r\n")
        c.drain()

    with fake(script) as server, pytest.raises(TLSError):
        run(server.port, **tls_kw("required"))
    server.sent_nothing_sensitive()


@clients
@both_policies
def test_fake_220_without_tls_never_leads_to_plaintext_credentials(run: Any, policy: str) -> None:
    # "Why TLS is better without STARTTLS" (2021): a server that answers 220 to STARTTLS but
    # then goes on in plaintext. The handshake fails; under any policy the client stops there
    # and never falls back to sending AUTH or MAIL in the clear.
    def script(c: FakeConn) -> None:
        c.greet("STARTTLS", "AUTH PLAIN LOGIN")
        assert c.line() == b"STARTTLS"
        c.send(b"220 go ahead\r\n")
        c.wait_client_hello()
        c.send(b"250 fake.example plaintext forever\r\n")
        c.drain()

    with fake(script) as server, pytest.raises(SMTPCoreError):
        run(server.port, **tls_kw(policy))
    server.sent_nothing_sensitive()


@clients
def test_plaintext_auth_is_refused_without_tls(run: Any) -> None:
    # RFC 4954 §4 / RFC 8314: credentials never go out in plaintext unless the user says so
    # (allow_plaintext_auth), even with STARTTLS switched off.
    def script(c: FakeConn) -> None:
        c.greet("AUTH PLAIN LOGIN")
        c.drain()

    kw = tls_kw("none")
    with fake(script) as server, pytest.raises(TLSError):
        run(server.port, **kw)
    server.sent_nothing_sensitive()


def test_requiretls_message_never_leaves_over_plaintext() -> None:
    # RFC 8689 §4.2.1: a message marked REQUIRETLS is only sent over TLS with a verified
    # certificate; a plaintext server advertising REQUIRETLS (RFC 8689 §4.1 forbids that: a
    # man in the middle) gets no MAIL.
    with fake(lambda c: _responder(c, "REQUIRETLS")) as server:
        client = SMTPClient("127.0.0.1", server.port, tls_policy="opportunistic")
        try:
            client.connect()
            with pytest.raises(SMTPCoreError):
                client.send_message(
                    b"Subject: x\r\n\r\nhi\r\n",
                    "a@example.org",
                    ["b@example.net"],
                    mail_params=MailParams(requiretls=True),
                )
        finally:
            client.close()
    assert b"MAIL FROM" not in bytes(server.received)


# --- hostile replies ---------------------------------------------------------------------


def _endless(unit: bytes, total: int = 8 * 1024 * 1024) -> Callable[[FakeConn], None]:
    def script(c: FakeConn) -> None:
        block = unit * max(1, 65536 // len(unit))
        for _ in range(total // len(block)):  # bounded: stops when the client hangs up
            c.send(block)

    return script


HOSTILE_GREETINGS = {
    "endless-multiline": _endless(b"220-more\r\n"),
    "mixed-codes": lambda c: c.send(b"220-fake.example\r\n250 ok\r\n"),
    "non-numeric": lambda c: c.send(b"2x0 fake.example\r\n"),
    "no-separator": lambda c: c.send(b"220fake.example\r\n"),
    "code-out-of-range": lambda c: c.send(b"290 fake.example\r\n"),
    "nul-in-text": lambda c: c.send(b"220 fake\x00.example\r\n"),
}


@clients
@pytest.mark.parametrize("name", list(HOSTILE_GREETINGS), ids=list(HOSTILE_GREETINGS))
def test_hostile_replies_give_a_typed_error_and_a_closed_connection(run: Any, name: str) -> None:
    # RFC 5321 §4.2: reply lines are a code, a separator and text ending in CRLF, 512 octets
    # at most (§4.5.3.1.5); anything else is the server's protocol error. The client stops
    # with a typed error, bounded memory, and closes the connection.
    with fake(HOSTILE_GREETINGS[name]) as server:
        with pytest.raises((RemoteProtocolError, SMTPCoreError)) as info:
            run(server.port, tls_policy="none", timeouts=Timeouts(connect=5, greeting=2))
        assert isinstance(info.value, SMTPCoreError)
    assert server.client_closed
    assert b"MAIL FROM" not in bytes(server.received)


def _endless_line(seconds: float) -> Callable[[FakeConn], None]:
    def script(c: FakeConn) -> None:
        c.send(b"220 ")
        block = b"x" * 65536
        start = time.monotonic()
        for _ in range(100_000):  # bounded by time: the test has failed if we get there
            if time.monotonic() - start > seconds:
                c.hang_up()
                return
            c.send(block)

    return script


ENDLESS_UNITS = {"no-line-end": b"x", "bare-cr": b"\r", "cr-x": b"\rx"}


@pytest.mark.parametrize("unit", list(ENDLESS_UNITS.values()), ids=list(ENDLESS_UNITS))
def test_endless_reply_line_never_grows_the_client_buffer(unit: bytes) -> None:
    # RFC 5321 §4.5.3.1.5: memory stays bounded by Limits.reply_line however long the line.
    conn = ClientConnection()
    limit = conn.config.limits.reply_line
    block = unit * (65536 // len(unit))
    with contextlib.suppress(RemoteProtocolError):
        for _ in range(256):  # 16 MiB
            conn.receive_data(block)
            assert conn.next_event() is NEED_DATA
            assert len(conn.trailing_data[0]) <= limit


@pytest.mark.parametrize("unit", list(ENDLESS_UNITS.values()), ids=list(ENDLESS_UNITS))
def test_endless_reply_line_is_refused_once_past_the_limit(unit: bytes) -> None:
    # RFC 5321 §4.5.3.1.5: once Limits.reply_line octets came without a CRLF the reply is
    # broken whatever follows: a RemoteProtocolError then, not when the server stops.
    conn = ClientConnection()
    block = unit * (65536 // len(unit))
    with pytest.raises(RemoteProtocolError):
        for _ in range(16):  # 1 MiB, 500 times the limit
            conn.receive_data(block)
            conn.next_event()


def test_endless_reply_line_over_a_socket_ends_the_session_at_once() -> None:
    # The same over a socket: the client gives up within a second, with the greeting timeout
    # far away (30 s), and closes the connection.
    with fake(_endless_line(1.5)) as server:
        start = time.monotonic()
        with pytest.raises(RemoteProtocolError):
            connect_sync(server.port, tls_policy="none", timeouts=Timeouts(connect=5, greeting=30))
        assert time.monotonic() - start < 1.0


def test_invalid_utf8_in_replies_is_read_with_replacement() -> None:
    # RFC 5321 §4.2 (textstring is ASCII): invalid octets in reply text must not crash the
    # client; they are shown as U+FFFD and the session goes on.
    def script(c: FakeConn) -> None:
        c.send(b"220 fake.example \xff\xfe\xc3 ESMTP\r\n")
        assert c.line().startswith(b"EHLO")
        c.send(b"250-fake.example \xff\r\n250 8BITMIME\r\n")
        for _ in range(3):  # MAIL, RCPT, DATA one at a time (no PIPELINING)
            line = c.line()
            c.send(b"354 go \xfe\r\n" if line == b"DATA" else b"250 ok \xc3\x28\r\n")
        c.until(b"\r\n.\r\n")
        c.send(b"250 queued \xff\r\n")
        assert c.line() == b"QUIT"
        c.send(b"221 bye\r\n")

    with (
        fake(script) as server,
        SMTPClient("127.0.0.1", server.port, tls_policy="none") as client,
    ):
        assert client.greeting is not None and "\ufffd" in client.greeting.lines[0]
        result = client.send_message(BODY, "a@example.org", ["b@example.net"])
        assert result.delivered == (Address.parse("b@example.net"),)


@clients
def test_server_trickling_a_reply_is_cut_off(run: Any) -> None:
    # RFC 5321 §4.5.3.2: the timeouts bound the wait for a whole reply (the greeting: 5
    # minutes by default), not for each octet of it.
    def script(c: FakeConn) -> None:
        c.send(b"220")
        start = time.monotonic()
        for _ in range(100):  # bounded: 3 s at most, then the test has failed anyway
            if time.monotonic() - start > 3.0:
                return
            c.send(b"-")
            with contextlib.suppress(TimeoutError):
                c.sock.settimeout(0.1)
                c._fill()  # EOF here once the client gives up
            c.sock.settimeout(10)

    with fake(script) as server:
        start = time.monotonic()
        with pytest.raises(SMTPCoreError):
            run(server.port, tls_policy="none", timeouts=Timeouts(connect=5, greeting=0.5))
        assert time.monotonic() - start < 2.0


# --- CRLF / NUL injection through the client API (python/cpython#87290) ------------------


def _responder(c: FakeConn, *extra: str) -> None:
    """Answers any command sensibly, records everything, until QUIT or EOF."""
    c.greet("PIPELINING", "SIZE 1000000", "8BITMIME", "SMTPUTF8", "DSN", "AUTH PLAIN LOGIN", *extra)
    _answer_all(c)


def _answer_all(c: FakeConn) -> None:
    for _ in range(1000):
        line = c.line()
        verb = line.split(b" ", 1)[0].upper()
        if verb == b"QUIT":
            c.send(b"221 bye\r\n")
            return
        if verb == b"DATA":
            c.send(b"354 go\r\n")
            c.until(b"\r\n.\r\n")
        if verb == b"AUTH":
            c.send(b"535 5.7.8 no\r\n")
            continue
        c.send(b"250 ok\r\n")


INJECTIONS: dict[str, Callable[[SMTPClient], object]] = {
    "mail_from": lambda s: s.send_message(BODY, "a@example.org\r\nINJECTED", ["b@example.net"]),
    "mail_from-lf": lambda s: s.send_message(BODY, "a@example.org\nINJECTED", ["b@example.net"]),
    "rcpt_to": lambda s: s.send_message(BODY, "a@example.org", ["b@example.net\r\nINJECTED"]),
    "rcpt_to-nul": lambda s: s.send_message(BODY, "a@example.org", ["b@example.net\x00INJECTED"]),
    "ehlo": lambda s: s.ehlo("client.example\r\nINJECTED"),
    "vrfy": lambda s: s.vrfy("user\r\nINJECTED"),
    "expn": lambda s: s.expn("list\nINJECTED"),
    "help": lambda s: s.help("topic\rINJECTED"),
    "envid": lambda s: s.send_message(
        BODY, "a@example.org", ["b@example.net"], mail_params=MailParams(envid="x\r\nINJECTED")
    ),
    "mail-extra": lambda s: s.send_message(
        BODY,
        "a@example.org",
        ["b@example.net"],
        mail_params=MailParams(extra=(("X-P", "v\r\nINJECTED"),)),
    ),
    "orcpt": lambda s: s.send_message(
        BODY,
        "a@example.org",
        ["b@example.net"],
        rcpt_params=[
            RcptParams(orcpt=OriginalRecipient(addr_type="rfc822", address="b@x\r\nINJECTED"))
        ],
    ),
    "rcpt-extra": lambda s: s.send_message(
        BODY,
        "a@example.org",
        ["b@example.net"],
        rcpt_params=[RcptParams(extra=(("X\r\nINJECTED", None),))],
    ),
    "auth-user-nul": lambda s: s.login("user\x00INJECTED", "pw", mechanism="PLAIN"),
    "auth-password-nul": lambda s: s.login("user", "pw\x00INJECTED", mechanism="PLAIN"),
    "auth-mechanism": lambda s: s.login("user", "pw", mechanism="PLAIN\r\nINJECTED"),
}


@pytest.mark.parametrize("name", list(INJECTIONS), ids=list(INJECTIONS))
def test_crlf_and_nul_injection_raises_before_anything_is_sent(name: str) -> None:
    # python/cpython#87290 (smtplib CRLF injection) and RFC 4616 §2 (NUL separates the PLAIN
    # fields): a CR, LF or NUL in any argument raises a LocalProtocolError (a ValueError) or
    # SASLError, and the injected line never reaches the wire.
    with (
        fake(_responder) as server,
        SMTPClient(
            "127.0.0.1", server.port, tls_policy="none", allow_plaintext_auth=True
        ) as client,
    ):
        with pytest.raises((LocalProtocolError, SMTPCoreError, ValueError)) as info:
            INJECTIONS[name](client)
        assert isinstance(info.value, (SMTPCoreError, ValueError))
        assert client.noop().code == 250  # the session is still usable
    assert b"INJECTED" not in bytes(server.received)
    for b64 in (base64.b64encode(b"\x00user\x00INJECTED\x00pw"), b"INJECTED"):
        assert b64 not in bytes(server.received)


def test_injection_through_the_ehlo_name_of_the_constructor() -> None:
    with fake(lambda c: c.send(b"220 fake.example\r\n")) as server:
        client = SMTPClient(
            "127.0.0.1", server.port, local_hostname="client\r\nINJECTED", tls_policy="none"
        )
        try:
            with pytest.raises(LocalProtocolError):
                client.connect()
        finally:
            client.close()
    assert b"INJECTED" not in bytes(server.received)


# --- message bodies: a client never emits a smuggling sequence ---------------------------

BODY_VECTORS = [
    b"\n.\n",
    b"\n.\r\n",
    b"\r.\r",
    b"\r.\r\n",
    b"\r\n.\r",
    b"\r\n.\n",
    b"\n.\r",
    b"\r\n.\r\r\n",
]


def _wire_body_ok(wire: bytes) -> None:
    """Only CRLF line ends, and CRLF "." CRLF nowhere but at the very end."""
    assert wire.endswith(b"\r\n.\r\n")
    assert wire.count(b"\r") == wire.count(b"\n") == wire.count(b"\r\n")
    assert wire.find(b"\r\n.\r\n") == len(wire) - 5


@pytest.mark.parametrize("vector", BODY_VECTORS, ids=[repr(v) for v in BODY_VECTORS])
def test_raw_bytes_with_smuggling_sequences_are_normalised_then_dot_stuffed(
    vector: bytes,
) -> None:
    # The client side of SMTP smuggling (SEC Consult 2023): handed raw bytes with bare CR
    # or LF, the client turns them into CRLF before dot-stuffing (RFC 5321 §2.3.8, §4.5.2),
    # so what it writes holds no end-of-data look-alike and no bare line end.
    body = b"Subject: x\r\n\r\nfirst" + vector + b"MAIL FROM:<ceo@bank.example>\r\n.\r\nlast"
    got: list[bytes] = []

    def script(c: FakeConn) -> None:
        c.greet("PIPELINING", "8BITMIME")
        c.line(), c.line(), c.line()  # MAIL, RCPT, DATA pipelined
        c.send(b"250 ok\r\n250 ok\r\n354 go\r\n")
        got.append(c.until(b"\r\n.\r\n") + b"\r\n.\r\n")
        c.send(b"250 queued\r\n")
        assert c.line() == b"QUIT"
        c.send(b"221 bye\r\n")

    with (
        fake(script) as server,
        SMTPClient("127.0.0.1", server.port, tls_policy="none") as client,
    ):
        client.send_message(body, "a@example.org", ["b@example.net"])
    [wire] = got
    _wire_body_ok(wire)


@pytest.mark.parametrize("vector", BODY_VECTORS, ids=[repr(v) for v in BODY_VECTORS])
def test_our_client_to_our_strict_server_delivers_one_whole_message(vector: bytes) -> None:
    # End to end: the strict server (bare_line_endings="reject") accepts what the client
    # sends for any body, as exactly one message holding all of it.
    body = b"Subject: x\r\n\r\nfirst" + vector + b"MAIL FROM:<ceo@bank.example>\r\nlast\r\n"
    with sync_server() as (server, rec):
        with SMTPClient("127.0.0.1", server.port, tls_policy="none") as client:
            client.send_message(body, "a@example.org", ["b@example.net"])

        async def go() -> None:
            async with AsyncSMTPClient("127.0.0.1", server.port, tls_policy="none") as client:
                await client.send_message(body, "a@example.org", ["b@example.net"], use_bdat=True)

        asyncio.run(go())
    assert len(rec.messages) == 2
    for got in rec.messages:
        assert b"first" in got.data and b"MAIL FROM:<ceo@bank.example>" in got.data
        assert b"last" in got.data
        assert got.data.count(b"\r") == got.data.count(b"\n") == got.data.count(b"\r\n")


def test_client_never_logs_credentials(caplog: pytest.LogCaptureFixture) -> None:
    # Whatever the log level, the client's command log shows AUTH lines as "***".
    import logging

    from smtpcore.sasl import DictCredentials

    caplog.set_level(logging.DEBUG)
    server_ctx, client_ctx = tls_contexts()
    creds = DictCredentials({"user": PASSWORD})
    with sync_server(tls_context=server_ctx, credentials=creds) as (server, rec):
        for mech in ("PLAIN", "LOGIN"):
            with SMTPClient(
                "127.0.0.1",
                server.port,
                ssl_context=client_ctx,
                server_hostname="localhost",
                tls_policy="required",
                username="user",
                password=PASSWORD,
                auth_mechanisms=[mech],
            ) as client:
                client.send_message(BODY, "a@example.org", ["b@example.net"])
    assert len(rec.messages) == 2
    assert any(r.name.startswith("smtpcore.client") for r in caplog.records)
    for secret in SECRETS:
        assert secret.decode() not in caplog.text


@pytest.mark.parametrize("verified", [True, False], ids=["verified", "unverified"])
def test_requiretls_message_needs_verified_tls(verified: bool) -> None:
    # RFC 8689 §4.2.1: over TLS whose certificate was not verified, a REQUIRETLS message
    # does not leave (no MAIL); with a verified certificate it goes, with REQUIRETLS.
    server_ctx, trusting_ctx = tls_contexts()
    blind_ctx = ssl.create_default_context()
    blind_ctx.check_hostname = False
    blind_ctx.verify_mode = ssl.CERT_NONE

    def script(c: FakeConn) -> None:
        c.greet("STARTTLS", "PIPELINING")
        assert c.line() == b"STARTTLS"
        c.send(b"220 go ahead\r\n")
        c.starttls(server_ctx)
        assert c.line().startswith(b"EHLO")
        c.send(b"250-fake.example\r\n250-PIPELINING\r\n250 REQUIRETLS\r\n")
        _answer_all(c)

    with fake(script) as server:
        client = SMTPClient(
            "127.0.0.1",
            server.port,
            ssl_context=trusting_ctx if verified else blind_ctx,
            server_hostname="localhost",
            tls_policy="required",
        )
        try:
            client.connect()
            assert client.tls is not None
            mail_params = MailParams(requiretls=True)

            def send() -> Any:
                return client.send_message(
                    BODY, "a@example.org", ["b@example.net"], mail_params=mail_params
                )

            if verified:
                assert send().delivered
            else:
                with pytest.raises(SMTPCoreError):
                    send()
        finally:
            client.close()
    sent = bytes(server.received)
    assert (b"MAIL FROM:<a@example.org> REQUIRETLS" in sent) is verified

"""Hostile clients against both our servers, over real sockets on 127.0.0.1 (issue 9).

Each test states the rule it checks (RFC section or the CVE it is a regression test for).
A raw socket client plays the attacker: it sends exactly the bytes of the attack, in one
packet where the attack needs that, and reads the replies one by one.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import socket
import ssl
import time
from collections.abc import Iterator
from typing import Any

import pytest

from smtpcore import Limits, ServerConfig, Timeouts
from smtpcore.sasl import DictCredentials
from tests.servers import async_server_thread, sync_server, tls_contexts

servers = pytest.mark.parametrize(
    "make_server", [async_server_thread, sync_server], ids=["aio", "sync"]
)


class Raw:
    """A hostile client: raw bytes out, replies (code, lines) in; never more than it asks."""

    def __init__(self, port: int, *, timeout: float = 10.0) -> None:
        self.sock: socket.socket = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError(f"the server closed the connection; unread: {self.buf!r}")
        self.buf += chunk

    def reply(self) -> tuple[int, list[str]]:
        lines: list[str] = []
        for _ in range(10_000):
            while b"\r\n" not in self.buf:
                self._fill()
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line[4:].decode("utf-8", "replace"))  # the text after "250-"
            if line[3:4] != b"-":
                return int(line[:3]), lines
        raise AssertionError("endless reply")

    def code(self) -> int:
        return self.reply()[0]

    def command(self, line: bytes) -> tuple[int, list[str]]:
        self.send(line + b"\r\n")
        return self.reply()

    def closed(self) -> bool:
        """True when the server closed the connection with nothing more to say."""
        if self.buf:
            return False
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def starttls(self, ctx: ssl.SSLContext) -> None:
        assert not self.buf, f"bytes behind the 220: {self.buf!r}"
        # The SSL socket takes the connection over at once: keep it before the handshake
        # so that a failed handshake still closes it (no ResourceWarning). A connection the
        # server has reset already fails here, before wrap_socket, which would leak its
        # SSLSocket on CPython before 3.11.8/3.12.2 (gh-113280).
        self.sock.getpeername()
        self.sock = ctx.wrap_socket(
            self.sock, server_hostname="localhost", do_handshake_on_connect=False
        )
        self.sock.do_handshake()

    def close(self) -> None:
        self.sock.close()


@contextlib.contextmanager
def raw(port: int, *, greeting: int | None = 220, timeout: float = 10.0) -> Iterator[Raw]:
    client = Raw(port, timeout=timeout)
    try:
        if greeting is not None:
            assert client.code() == greeting
        yield client
    finally:
        client.close()


def ehlo(c: Raw) -> list[str]:
    code, lines = c.command(b"EHLO attacker.example")
    assert code == 250
    return lines


def keywords(lines: list[str]) -> set[str]:
    return {line.split(" ")[0].upper() for line in lines[1:]}


# --- SMTP smuggling (SEC Consult, December 2023; CVE-2023-51764/51765/51766, CVE-2024-27305) --

SMUGGLING_VECTORS = {
    # hannob/smtpsmug and The-Login/SMTP-Smuggling-Tools: end-of-data look-alikes
    "LF.LF": b"\n.\n",
    "LF.CRLF": b"\n.\r\n",
    "CR.CR": b"\r.\r",
    "CR.CRLF": b"\r.\r\n",
    "CRLF.CR": b"\r\n.\r",
    "CRLF.LF": b"\r\n.\n",
    "LF.CR": b"\n.\r",
    "CR.LF": b"\r.\n",
    "CRLF.CRCRLF": b"\r\n.\r\r\n",
    "CRLF.NUL.CRLF": b"\r\n.\x00\r\n",
    "CRLF.NUL-before-dot": b"\r\n\x00.\r\n",
}
SMUGGLED = (
    b"MAIL FROM:<ceo@bank.example>\r\n"
    b"RCPT TO:<victim@example.net>\r\n"
    b"DATA\r\n"
    b"From: ceo@bank.example\r\n\r\nsmuggled\r\n"
)


@servers
@pytest.mark.parametrize("policy", ["reject", "normalize", "allow"])
@pytest.mark.parametrize("vector", list(SMUGGLING_VECTORS), ids=list(SMUGGLING_VECTORS))
def test_smuggling_never_ends_data_nor_starts_a_second_transaction(
    make_server: Any, policy: str, vector: str
) -> None:
    # RFC 5321 §4.1.1.4: only CRLF "." CRLF ends the data. Whatever the bare_line_endings
    # switch, a smuggled second transaction is never accepted; by default (reject) a message
    # with a bare CR or LF is refused after end of data (554 5.6.0), RFC 5321 §2.3.8.
    seq = SMUGGLING_VECTORS[vector]
    body = b"From: a@example.org\r\nSubject: hi\r\n\r\nfirst" + seq + SMUGGLED
    config = ServerConfig(bare_line_endings=policy)  # type: ignore[arg-type]
    with make_server(config=config) as (server, rec):
        with raw(server.port) as c:
            ehlo(c)
            assert c.command(b"MAIL FROM:<alice@example.org>")[0] == 250
            assert c.command(b"RCPT TO:<bob@example.net>")[0] == 250
            assert c.command(b"DATA")[0] == 354
            c.send(body + b".\r\n")  # one packet: the attack and the real end of data
            code, lines = c.reply()
            bare = b"\r" in seq.replace(b"\r\n", b"") or b"\n" in seq.replace(b"\r\n", b"")
            if policy == "reject" and bare:
                assert code in (550, 554) and lines[0].startswith("5.6."), (code, lines)
            else:
                assert code == 250, (code, lines)
            # Nothing else is queued: the smuggled MAIL/RCPT/DATA got no replies of their own.
            assert c.command(b"NOOP")[0] == 250
            assert c.command(b"QUIT")[0] == 221
        expected = 0 if (policy == "reject" and bare) else 1
        assert len(rec.messages) == expected
        for got in rec.messages:
            assert str(got.envelope.mail_from) == "alice@example.org"
            assert [str(r) for r in got.envelope.recipients] == ["bob@example.net"]
            assert b"first" in got.data and b"smuggled" in got.data
            if policy == "normalize":
                # no bare CR or LF left: every CR is followed by LF and every LF preceded by CR
                assert got.data.count(b"\r") == got.data.count(b"\n") == got.data.count(b"\r\n")


@servers
@pytest.mark.parametrize("policy", ["reject", "normalize"])
def test_smuggling_through_bdat_is_data(make_server: Any, policy: str) -> None:
    # RFC 3030 §2: a BDAT chunk is exactly its announced octets; an end-of-data look-alike
    # inside it is data, and what follows the chunk is the next command.
    chunk = b"Subject: x\r\n\r\nbody\r\n.\r\n" + SMUGGLED + b".\r\n"
    config = ServerConfig(bare_line_endings=policy)  # type: ignore[arg-type]
    with make_server(config=config) as (server, rec):
        with raw(server.port) as c:
            ehlo(c)
            c.send(
                b"MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\n"
                + b"BDAT %d LAST\r\n" % len(chunk)
                + chunk
            )
            assert [c.code(), c.code(), c.code()] == [250, 250, 250]
            assert c.command(b"NOOP")[0] == 250
        assert len(rec.messages) == 1
        assert rec.messages[0].data == chunk
        assert str(rec.messages[0].envelope.mail_from) == "alice@example.org"


# --- pipelining abuse (RFC 2920, RFC 3030) -----------------------------------------------


@servers
def test_refused_bdat_chunk_is_read_and_discarded(make_server: Any) -> None:
    # RFC 3030 §2 / go-smtp#315: a chunk whose BDAT is refused (503: no MAIL) is still read to
    # its announced length and thrown away, never parsed as commands.
    chunk = b"MAIL FROM:<ceo@bank.example>\r\nRCPT TO:<victim@example.net>\r\n"
    with make_server() as (server, rec):
        with raw(server.port) as c:
            ehlo(c)
            c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk + b"NOOP\r\n")
            assert c.code() == 503
            assert c.code() == 250  # the NOOP: the chunk's "commands" got no replies
            assert c.command(b"RCPT TO:<victim@example.net>")[0] == 503  # no MAIL happened
        assert rec.messages == []


@servers
def test_bdat_length_shorter_than_the_data(make_server: Any) -> None:
    # RFC 3030 §2: the count decides; octets after it are the next command line (and a
    # garbage line is a 500, not a crash).
    with make_server() as (server, rec):
        with raw(server.port) as c:
            ehlo(c)
            c.send(
                b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
                b"BDAT 5 LAST\r\nhello world\r\n"
            )
            assert [c.code(), c.code(), c.code()] == [250, 250, 250]
            assert c.code() == 500  # " world"
            assert c.command(b"NOOP")[0] == 250
        assert [m.data for m in rec.messages] == [b"hello"]


@servers
def test_bdat_length_longer_than_the_data_then_eof_delivers_nothing(make_server: Any) -> None:
    # RFC 3030 §2: a chunk cut short by the end of the connection is no message.
    with make_server() as (server, rec):
        with raw(server.port) as c:
            ehlo(c)
            c.send(
                b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
                b"BDAT 1000 LAST\r\nshort\r\nQUIT\r\n"
            )
            assert [c.code(), c.code()] == [250, 250]
            c.sock.shutdown(socket.SHUT_WR)
            assert c.closed()
        assert rec.messages == []


@servers
def test_bdat_size_that_overflows_is_refused(make_server: Any) -> None:
    # RFC 3030 §2: bdat-cmd = "BDAT" SP chunk-size ... chunk-size = 1*DIGIT; a count past any
    # sane range must be a syntax or size refusal, not a huge allocation or a crash.
    with make_server() as (server, _rec), raw(server.port) as c:
        ehlo(c)
        assert c.command(b"MAIL FROM:<a@example.org>")[0] == 250
        assert c.command(b"RCPT TO:<b@example.net>")[0] == 250
        assert c.command(b"BDAT 99999999999999999999999999 LAST")[0] in (501, 552, 554)


@servers
def test_bytes_pipelined_behind_data_are_never_message_data(make_server: Any) -> None:
    # RFC 2920 §3.1: "the client SMTP must not send any commands after DATA" before the 354
    # (DATA ends a group). Bytes already waiting when the server would send 354 cannot have
    # been written after the client saw it: like the plaintext behind STARTTLS, they are not
    # taken as message content (Postfix: "improper command pipelining after DATA").
    with make_server() as (server, rec):
        with raw(server.port) as c:
            ehlo(c)
            c.send(
                b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"
                b"Subject: jumped the gun\r\n\r\nbody\r\n.\r\n"
            )
            assert [c.code(), c.code()] == [250, 250]
            assert c.code() >= 400
            assert c.closed()
        assert rec.messages == []


@servers
def test_commands_after_a_refused_data_are_not_executed_out_of_order(make_server: Any) -> None:
    # RFC 2920 §3.1: with every RCPT refused, DATA gets 554 and the session goes on in order:
    # each pipelined command is answered in turn and nothing is delivered.
    from smtpcore import Reply
    from tests.servers import Recorder

    rec = Recorder(refuse={"*": Reply.of(550, "no such user", "5.1.1")})
    with make_server(recorder=rec) as (server, _):
        with raw(server.port) as c:
            ehlo(c)
            c.send(
                b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nRSET\r\nNOOP\r\n"
            )
            assert [c.code() for _ in range(5)] == [250, 550, 554, 250, 250]
        assert rec.messages == []


# --- STARTTLS command injection (CVE-2011-0411 and relatives) ----------------------------


@servers
def test_plaintext_pipelined_behind_starttls_is_never_executed(make_server: Any) -> None:
    # RFC 3207 §4.2 / CVE-2011-0411: commands sent in the same packet as STARTTLS are
    # discarded, never executed inside the TLS session; the session restarts at EHLO.
    server_ctx, client_ctx = tls_contexts()
    with make_server(tls_context=server_ctx) as (server, rec):
        with raw(server.port) as c:
            assert "STARTTLS" in keywords(ehlo(c))
            c.send(
                b"STARTTLS\r\nMAIL FROM:<ceo@bank.example>\r\n"
                b"RCPT TO:<victim@example.net>\r\nDATA\r\n"
            )
            assert c.code() == 220
            c.starttls(client_ctx)
            # The first reply inside TLS answers our EHLO, not an injected command.
            code, lines = c.command(b"EHLO attacker.example")
            assert code == 250 and len(lines) > 1
            assert "STARTTLS" not in keywords(lines)  # RFC 3207 §4.2: not offered again
            assert c.command(b"RCPT TO:<victim@example.net>")[0] == 503  # no MAIL survived
            assert c.command(b"NOOP")[0] == 250
        assert rec.messages == []


@servers
def test_starttls_resets_ehlo(make_server: Any) -> None:
    # RFC 3207 §4.2: "the server MUST discard any knowledge obtained from the client, such
    # as the argument to the EHLO command"; MAIL before a new EHLO is out of sequence.
    server_ctx, client_ctx = tls_contexts()
    with make_server(tls_context=server_ctx) as (server, _rec), raw(server.port) as c:
        ehlo(c)
        assert c.command(b"STARTTLS")[0] == 220
        c.starttls(client_ctx)
        assert c.command(b"MAIL FROM:<a@example.org>")[0] == 503


@servers
def test_starttls_resets_auth(make_server: Any) -> None:
    # RFC 3207 §4.2 and RFC 4954 §4: AUTH done in plaintext is forgotten after STARTTLS.
    server_ctx, client_ctx = tls_contexts()
    creds = DictCredentials({"user": "s3cret"})
    with (
        make_server(
            tls_context=server_ctx, credentials=creds, auth_requires_tls=False, require_auth=True
        ) as (server, _rec),
        raw(server.port) as c,
    ):
        assert "AUTH" in keywords(ehlo(c))
        token = base64.b64encode(b"\x00user\x00s3cret")
        assert c.command(b"AUTH PLAIN " + token)[0] == 235
        assert c.command(b"STARTTLS")[0] == 220
        c.starttls(client_ctx)
        assert "AUTH" in keywords(ehlo(c))  # offered again: nobody is logged in
        assert c.command(b"MAIL FROM:<a@example.org>")[0] == 530  # RFC 4954 §6


@servers
def test_starttls_inside_tls_is_refused(make_server: Any) -> None:
    # RFC 3207 §4.2: STARTTLS is not advertised again, and a second one is out of sequence.
    server_ctx, client_ctx = tls_contexts()
    with make_server(tls_context=server_ctx) as (server, _rec), raw(server.port) as c:
        ehlo(c)
        assert c.command(b"STARTTLS")[0] == 220
        c.starttls(client_ctx)
        ehlo(c)
        assert c.command(b"STARTTLS")[0] == 503


# --- line length -------------------------------------------------------------------------


@servers
def test_endless_command_line_gets_500_5_5_6_and_the_session_survives(make_server: Any) -> None:
    # RFC 5321 §4.5.3.1.4 (512 octets) and §4.5.3.1.10: "500 Line too long"; the server keeps
    # going and does not buffer the line (see the bounded-memory check in test_fuzz).
    with make_server() as (server, _rec), raw(server.port) as c:
        ehlo(c)
        piece = b"A" * 65536
        for _ in range(64):  # 4 MiB without a line end
            c.send(piece)
        code, lines = c.command(b"")
        assert code == 500 and lines[0].startswith("5.5.6")
        assert c.command(b"NOOP")[0] == 250


@servers
def test_over_long_auth_response_is_refused(make_server: Any) -> None:
    # RFC 4954 §4: 12288 octets of AUTH data must be accepted; past the limit the line is
    # refused (500 5.5.6) and the exchange ends, with no crash.
    creds = DictCredentials({"user": "pw"})
    with (
        make_server(credentials=creds, auth_requires_tls=False) as (server, _rec),
        raw(server.port) as c,
    ):
        ehlo(c)
        assert c.command(b"AUTH LOGIN")[0] == 334
        code, _ = c.command(b"A" * 20000)
        assert code == 500
        assert c.command(b"NOOP")[0] == 250


# --- resource limits ---------------------------------------------------------------------


@servers
def test_recipient_limit_gets_452(make_server: Any) -> None:
    # RFC 5321 §4.5.3.1.10: "452 Too many recipients" past the server's limit.
    config = ServerConfig(limits=Limits(recipients=2))
    with make_server(config=config) as (server, _rec), raw(server.port) as c:
        ehlo(c)
        assert c.command(b"MAIL FROM:<a@example.org>")[0] == 250
        assert c.command(b"RCPT TO:<b1@example.net>")[0] == 250
        assert c.command(b"RCPT TO:<b2@example.net>")[0] == 250
        code, lines = c.command(b"RCPT TO:<b3@example.net>")
        assert code == 452 and lines[0].startswith("4.5.3")


@servers
def test_messages_per_connection_limit(make_server: Any) -> None:
    # RFC 5321 §3.8: a server may close with 421 when it will not go on; after the limit the
    # next MAIL gets 421 and the connection is closed.
    config = ServerConfig(limits=Limits(messages=1))
    with make_server(config=config) as (server, rec):
        with raw(server.port) as c:
            ehlo(c)
            c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
            assert [c.code(), c.code(), c.code()] == [250, 250, 354]
            assert c.command(b"hi\r\n.")[0] == 250
            assert c.command(b"MAIL FROM:<a@example.org>")[0] == 421
            assert c.closed()
        assert len(rec.messages) == 1


@servers
def test_error_budget_ends_with_421_and_close(make_server: Any) -> None:
    # A client that only sends bad commands is disconnected (421) after Limits.errors errors
    # (RFC 5321 §3.8 lets a server close with 421 when it will not go on).
    config = ServerConfig(limits=Limits(errors=3))
    bad = [b"MAIL", b"RCPT TO:<b@example.net>", b"HELO", b"DATA\x00"]
    with make_server(config=config) as (server, _rec), raw(server.port) as c:
        codes = [c.command(line)[0] for line in bad]
        assert codes[:3] == [501, 503, 501] and codes[3] == 421, codes
        assert c.closed()


@servers
def test_unknown_commands_count_against_the_error_budget(make_server: Any) -> None:
    # RFC 5321 §4.2.4: an unrecognised command gets 500; a client that sends nothing else
    # spends its error budget like any other bad command and is disconnected with 421.
    config = ServerConfig(limits=Limits(errors=3))
    with make_server(config=config) as (server, _rec), raw(server.port) as c:
        codes = [c.command(b"XYZZY %d" % i)[0] for i in range(4)]
        assert codes == [500, 500, 500, 421]
        assert c.closed()


@servers
def test_connections_beyond_max_connections_get_a_421_greeting(make_server: Any) -> None:
    # RFC 5321 §3.1: a server that will not serve answers the connection with 421.
    with (
        make_server(max_connections=2) as (server, _rec),
        raw(server.port) as a,
        raw(server.port) as b,
    ):
        ehlo(a)
        ehlo(b)
        with raw(server.port, greeting=None) as c:
            code, lines = c.reply()
            assert code == 421 and lines[0].startswith("4.7.0")
            assert c.closed()
        assert a.command(b"NOOP")[0] == 250  # the sessions in flight go on
        assert b.command(b"NOOP")[0] == 250


@servers
def test_connections_beyond_max_connections_per_ip_get_a_421_greeting(make_server: Any) -> None:
    # One address may not take every slot: past max_connections_per_ip its connections get a
    # 421 greeting (RFC 5321 §3.1), while the server has room for others.
    with (
        make_server(max_connections=10, max_connections_per_ip=2) as (server, _rec),
        raw(server.port) as a,
        raw(server.port) as b,
    ):
        with raw(server.port, greeting=None) as c:
            code, lines = c.reply()
            assert code == 421 and lines[0].startswith("4.7.0")
            assert "address" in lines[0]
            assert c.closed()
        assert a.command(b"QUIT")[0] == 221
        assert a.closed()
        assert b.command(b"NOOP")[0] == 250


@servers
def test_a_flood_of_turned_away_connections_leaks_no_slot(make_server: Any) -> None:
    # 50 connections beyond max_connections all get their 421 and are closed; once the
    # flood is over, the server serves again (no slot is lost to a turned-away client).
    with make_server(max_connections=1) as (server, _rec):
        with raw(server.port) as a:
            for _ in range(50):
                with raw(server.port, greeting=421) as c:
                    assert c.closed()
            assert a.command(b"QUIT")[0] == 221
            assert a.closed()
        codes = []
        for _ in range(200):  # bounded: the slot comes back as soon as the session ends
            with raw(server.port, greeting=None) as c:
                codes.append(c.code())
                if codes[-1] == 220:
                    break
        assert codes[-1] == 220, codes[-5:]


def test_turned_away_under_implicit_tls() -> None:
    # RFC 8314 §3.3: under implicit TLS nothing is sent before the handshake. The asyncio
    # listener completes it and says 421 inside TLS; the blocking listener, which answers
    # turned-away clients from its accepting thread, closes them without a handshake.
    server_ctx, client_ctx = tls_contexts()
    with (
        async_server_thread(tls_context=server_ctx, implicit_tls=True, max_connections=1) as (
            server,
            _rec,
        ),
        raw(server.port, greeting=None) as a,
    ):
        a.starttls(client_ctx)
        assert a.code() == 220
        with raw(server.port, greeting=None) as b:
            b.starttls(client_ctx)
            assert b.code() == 421
    with (
        sync_server(tls_context=server_ctx, implicit_tls=True, max_connections=1) as (
            server,
            _rec,
        ),
        raw(server.port, greeting=None) as a,
    ):
        a.starttls(client_ctx)
        assert a.code() == 220
        with raw(server.port, greeting=None) as b, pytest.raises((ssl.SSLError, OSError)):
            b.starttls(client_ctx)
            b.code()


@servers
def test_a_closed_connection_gives_its_per_ip_slot_back(make_server: Any) -> None:
    # The count per address must not leak: once a client's session is over, that address
    # may connect again (else max_connections_per_ip would lock clients out for good).
    with make_server(max_connections_per_ip=1) as (server, _rec):
        with raw(server.port) as a:
            assert a.command(b"QUIT")[0] == 221
            assert a.closed()
        codes = []
        for _ in range(200):  # bounded: the slot comes back as soon as the session ends
            with raw(server.port, greeting=None) as c:
                codes.append(c.code())
                if codes[-1] == 220:
                    assert c.command(b"NOOP")[0] == 250
                    break
        assert codes[-1] == 220, codes[-5:]


@servers
def test_slowloris_trickling_a_command_is_cut_off(make_server: Any) -> None:
    # RFC 5321 §4.5.3.2.7: the server times out a client that does not complete a command;
    # a client trickling one byte per interval shorter than the idle timeout must still be
    # cut off once a whole command has taken longer than the timeout.
    timeouts = Timeouts(server_idle=0.5, data_block=0.5)
    with make_server(timeouts=timeouts) as (server, _rec), raw(server.port) as c:
        ehlo(c)
        start = time.monotonic()
        line = b"NOOP" + b" x" * 200
        sent_all = True
        for byte in line:  # bounded: 404 bytes at most, 0.05 s apart
            try:
                c.send(bytes([byte]))
            except OSError:
                sent_all = False
                break
            if time.monotonic() - start > 3.0:
                break
            with contextlib.suppress(TimeoutError):
                c.sock.settimeout(0.05)
                c._fill()  # a 421 arrives here when the server cuts us off
            c.sock.settimeout(10.0)
            if c.buf:
                break
        assert not sent_all or c.buf, "still connected after 3 s of trickling"
        code, _ = c.reply()
        assert code == 421
        assert time.monotonic() - start < 2.0


@servers
def test_idle_client_gets_421_on_timeout(make_server: Any) -> None:
    # RFC 5321 §4.5.3.2.7: an idle client is disconnected with 421 4.4.2.
    with (
        make_server(timeouts=Timeouts(server_idle=0.3)) as (server, _rec),
        raw(server.port) as c,
    ):
        code, lines = c.reply()
        assert code == 421 and lines[0].startswith("4.4.2")
        assert c.closed()


# --- AUTH (RFC 4954) ---------------------------------------------------------------------


@servers
def test_auth_over_plaintext_is_refused_by_default(make_server: Any) -> None:
    # RFC 4954 §4 / RFC 3207 §4.2: AUTH is not offered, nor accepted, before TLS unless
    # configured; the refusal is 538 5.7.11 "Encryption required" (RFC 4954 §6).
    server_ctx, _ = tls_contexts()
    creds = DictCredentials({"user": "s3cret"})
    with (
        make_server(tls_context=server_ctx, credentials=creds, require_auth=True) as (
            server,
            _rec,
        ),
        raw(server.port) as c,
    ):
        assert "AUTH" not in keywords(ehlo(c))
        code, lines = c.command(b"AUTH PLAIN " + base64.b64encode(b"\x00user\x00s3cret"))
        assert code == 538 and lines[0].startswith("5.7.11")
        assert c.command(b"MAIL FROM:<a@example.org>")[0] == 530


@servers
@pytest.mark.parametrize(
    "line",
    [b"AUTH PLAIN !!!!", b"AUTH PLAIN AGJvYgBwdw", b"AUTH PLAIN A=BC", b"AUTH PLAIN AG\tJv"],
    ids=["alphabet", "unpadded", "pad-inside", "tab"],
)
def test_bad_base64_initial_response_gets_501(make_server: Any, line: bytes) -> None:
    # RFC 4954 §4: "If the client's response is not valid base64, the server MUST reject it
    # with 501"; the session goes on.
    creds = DictCredentials({"user": "pw"})
    with (
        make_server(credentials=creds, auth_requires_tls=False) as (server, _rec),
        raw(server.port) as c,
    ):
        ehlo(c)
        assert c.command(line)[0] == 501
        assert c.command(b"NOOP")[0] == 250


@servers
def test_bad_base64_continuation_and_cancel_get_501(make_server: Any) -> None:
    # RFC 4954 §4: a bad base64 response and the "*" cancellation both end the exchange 501.
    creds = DictCredentials({"user": "pw"})
    with (
        make_server(credentials=creds, auth_requires_tls=False, require_auth=True) as (
            server,
            _rec,
        ),
        raw(server.port) as c,
    ):
        ehlo(c)
        assert c.command(b"AUTH LOGIN")[0] == 334
        assert c.command(b"not base64!")[0] == 501
        assert c.command(b"AUTH LOGIN")[0] == 334
        assert c.command(b"*")[0] == 501
        assert c.command(b"MAIL FROM:<a@example.org>")[0] == 530  # still nobody
        assert c.command(b"AUTH LOGIN")[0] == 334
        assert c.command(base64.b64encode(b"user"))[0] == 334
        assert c.command(base64.b64encode(b"pw"))[0] == 235


@servers
def test_auth_attempts_are_limited(make_server: Any) -> None:
    # RFC 4954 §4 / RFC 5321 §3.8: password guessing is bounded; after Limits.auth_attempts
    # failures the server closes the connection with 421.
    creds = DictCredentials({"user": "pw"})
    config = ServerConfig(limits=Limits(auth_attempts=2))
    with (
        make_server(config=config, credentials=creds, auth_requires_tls=False) as (server, _),
        raw(server.port) as c,
    ):
        ehlo(c)
        wrong = b"AUTH PLAIN " + base64.b64encode(b"\x00user\x00guess")
        codes = [c.command(wrong)[0] for _ in range(2)]
        assert codes == [535, 535]
        assert c.command(wrong)[0] == 421
        assert c.closed()


@servers
def test_credentials_never_logged(make_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    # Whatever the log level, neither the password nor its base64 forms reach the logs.
    caplog.set_level(logging.DEBUG)
    password = "Pa55-w0rd-s3cret"
    plain = base64.b64encode(b"\x00user\x00" + password.encode())
    login = base64.b64encode(password.encode())
    creds = DictCredentials({"user": password})
    with make_server(credentials=creds, auth_requires_tls=False) as (server, _rec):
        with raw(server.port) as c:
            ehlo(c)
            assert c.command(b"AUTH PLAIN " + plain)[0] == 235
        with raw(server.port) as c:
            ehlo(c)
            assert c.command(b"AUTH LOGIN")[0] == 334
            assert c.command(base64.b64encode(b"user"))[0] == 334
            assert c.command(login)[0] == 235
        with raw(server.port) as c:  # a failure is logged; its password must not be
            ehlo(c)
            wrong = base64.b64encode(b"\x00user\x00" + password.encode() + b"X")
            assert c.command(b"AUTH PLAIN " + wrong)[0] == 535
    text = caplog.text
    assert caplog.records, "nothing was logged at all: the check proves nothing"
    for secret in (password, plain.decode(), login.decode()):
        assert secret not in text


def test_password_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # Timing must not tell a wrong password from a right one, nor a known user from an
    # unknown one: every check goes through hmac.compare_digest, once, whatever the user.
    import hmac

    from smtpcore import _sasl_base

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(_sasl_base.hmac, "compare_digest", spy)
    store = DictCredentials({"user": "s3cret"})
    assert store.verify_password("user", "s3cret")
    assert not store.verify_password("user", "s3creX")
    assert not store.verify_password("nobody", "s3cret")
    assert len(calls) == 3


# --- bad input of every kind -------------------------------------------------------------

BAD_INPUT = [
    # (line, reply code, enhanced code prefix, the rule)
    (b"MAIL FROM:<a@example.org>\x00", 500, "5.5.2", "RFC 5321 §4.1.1: no NUL in a command"),
    (b"MAIL FROM:<\xff@example.org>", 500, "5.5.2", "invalid UTF-8 is no command"),
    (b"MAIL FROM:<a@example.org>\xe9", 500, "5.5.2", "8-bit octets outside SMTPUTF8"),
    (b"MAIL FROM:<\xc3\xa9@example.org>", 553, "5.6.7", "RFC 6531 §3.5: needs SMTPUTF8"),
    (b"MAIL FROM:<a@example.org> SIZE=1 SIZE=2", 501, "5.5.4", "duplicated parameter"),
    (b"MAIL FROM:<a@example.org> SIZE=abc", 501, "5.5.4", "RFC 1870 §3: SIZE is digits"),
    (b"MAIL FROM:<a@example.org> BODY=9BIT", 501, "5.5.4", "RFC 6152 §2: 7BIT or 8BITMIME"),
    (b"MAIL FROM:<a@example.org> XFOO=1", 555, "5.5.4", "RFC 5321 §4.1.1.11: unknown"),
    (b"MAIL FROM:<a@example.org> SIZE=99999999999", 552, "5.3.4", "RFC 1870 §6.1: too big"),
    (b"MAIL FROM:<a@example.org> SIZE=" + b"9" * 30, 501, "5.5.4", "RFC 1870 §3: 20 digits"),
    (b"MAIL FROM:<" + b"l" * 65 + b"@example.org>", 501, "5.1.7", "§4.5.3.1.1: 64 octets"),
    (b"MAIL FROM:<a@" + b"d" * 64 + b".example>", 501, "5.1.7", "RFC 1035: 63-octet labels"),
    (b"MAIL FROM:<a@" + (b"d" * 60 + b".") * 5 + b"example>", 501, "5.1.7", "255-octet domain"),
    (b"EHLO", 501, "5.5.4", "RFC 5321 §4.1.1.1: EHLO needs a domain"),
    (b"RCPT TO:<b@example.net>", 503, "5.5.1", "RFC 5321 §4.1.4: RCPT needs MAIL"),
    (b"DATA", 503, "5.5.1", "RFC 5321 §4.1.4: DATA needs MAIL and RCPT"),
    (b"BDAT 10", 503, "5.5.1", "RFC 3030 §2: BDAT needs MAIL (the 10 octets are skipped)"),
]


@servers
def test_bad_input_gets_the_right_reply_and_the_session_goes_on(make_server: Any) -> None:
    # Every kind of bad command gets its refusal (code and RFC 3463 enhanced code) and never
    # an unhandled exception; the session stays usable after each one.
    config = ServerConfig(limits=Limits(errors=100))
    with make_server(config=config) as (server, rec), raw(server.port) as c:
        ehlo(c)
        for line, code, enhanced, rule in BAD_INPUT:
            tail = b"0123456789" if line.startswith(b"BDAT") else b""
            c.send(line + b"\r\n" + tail)
            got, lines = c.reply()
            assert (got, lines[0][: len(enhanced)]) == (code, enhanced), (line, rule, lines)
            assert c.command(b"RSET")[0] == 250, line
        assert rec.messages == []


@servers
def test_source_routes_are_accepted_and_ignored(make_server: Any) -> None:
    # RFC 5321 §4.1.1.3 and Appendix C: a server MUST accept a source route in RCPT TO and
    # SHOULD ignore it: the mail goes to the mailbox at its end, not to the relay named.
    with make_server() as (server, rec), raw(server.port) as c:
        ehlo(c)
        c.send(
            b"MAIL FROM:<@relay.example:a@example.org>\r\n"
            b"RCPT TO:<@hosta.example,@jkl.example:userc@d.bar.example>\r\nDATA\r\n"
        )
        assert [c.code(), c.code(), c.code()] == [250, 250, 354]
        assert c.command(b"hi\r\n.")[0] == 250
        assert [str(r) for r in rec.messages[0].envelope.recipients] == ["userc@d.bar.example"]
        assert str(rec.messages[0].envelope.mail_from) == "a@example.org"


@servers
def test_eight_bit_data_without_8bitmime_is_flagged_not_mangled(make_server: Any) -> None:
    # RFC 6152 §3 leaves 8-bit data without BODY=8BITMIME to the server; smtpcore accepts it
    # unchanged (never strips the high bit, RFC 5321 §2.4) and tells the handler: the
    # EndOfMessage event carries eight_bit=True.
    with make_server() as (server, rec), raw(server.port) as c:
        ehlo(c)
        c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
        assert [c.code(), c.code(), c.code()] == [250, 250, 354]
        assert c.command(b"caf\xc3\xa9 \xff\r\n.")[0] == 250
        assert rec.messages[0].data == b"caf\xc3\xa9 \xff\r\n"
        assert rec.messages[0].envelope.mail_params.body is None


def test_empty_sender_path_gets_the_sender_syntax_code() -> None:
    # RFC 3463 §3.2: X.1.7 is "Bad sender's mailbox address syntax", X.1.3 the destination's;
    # RFC 5321 §4.1.1.2: "MAIL FROM:" needs a Reverse-path ("<>" at least).
    from fuzz.targets import drive_server
    from smtpcore import ServerConnection
    from smtpcore._events import InvalidCommand

    events = drive_server(ServerConnection(), [b"EHLO c.example\r\nMAIL FROM:\r\n"])
    [bad] = [e for e in events if isinstance(e, InvalidCommand)]
    assert (bad.hint.code, str(bad.hint.enhanced)) == (501, "5.1.7")


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"])
@pytest.mark.parametrize("good", [True, False], ids=["right", "wrong"])
def test_every_mechanism_checks_secrets_in_constant_time(
    monkeypatch: pytest.MonkeyPatch, mech: str, good: bool
) -> None:
    # Each server mechanism decides through hmac.compare_digest, for a right password and a
    # wrong one alike (no early "==" that would leak how much of a secret matched).
    import hmac

    from smtpcore import sasl

    real = hmac.compare_digest
    calls: list[int] = []

    def spy(a: Any, b: Any) -> bool:
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    store = DictCredentials({"user": "s3cret"})
    server = sasl.server_mechanism(
        mech, store, nonce="server-nonce-xyz", challenge=b"<1.2@mx.example>", iterations=4096
    )
    client = sasl.client_mechanism(
        mech, username="user", password="s3cret" if good else "s3creX", nonce="client-nonce"
    )
    response: bytes | None = client.initial_response()
    outcome: object = None
    for _ in range(8):  # bounded: these mechanisms take at most three steps
        outcome = server.step(response)
        if not isinstance(outcome, sasl.Challenge):
            break
        try:
            response = client.respond(outcome.data)
        except sasl.SASLError:
            break
    assert isinstance(outcome, sasl.Success) is good, outcome
    assert calls, f"{mech}: no constant-time comparison"


def test_ipv4_mapped_ipv6_peers_count_as_their_ipv4_address() -> None:
    # One client must not get two per-IP budgets by arriving over IPv4 and over a
    # dual-stack socket (::ffff:a.b.c.d, RFC 4291 §2.5.5.2).
    from smtpcore._listen import peer_ip as _peer_ip

    assert _peer_ip(("::ffff:192.0.2.7", 25, 0, 0)) == "192.0.2.7"
    assert _peer_ip(("192.0.2.7", 25)) == "192.0.2.7"
    assert _peer_ip(("2001:db8::1", 25, 0, 0)) == "2001:db8::1"
    assert _peer_ip(None) is None
    assert _peer_ip("/run/smtp.sock") is None


@servers
def test_plaintext_sent_after_the_220_to_starttls_is_never_executed(make_server: Any) -> None:
    # CVE-2011-0411, second form: the plaintext comes after the 220, before the ClientHello.
    # It is not a TLS record: the handshake fails and the command is never executed, never
    # answered in plaintext.
    server_ctx, client_ctx = tls_contexts()
    # strict_pipelining off, so that a vulnerable server would deliver the injected message
    config = ServerConfig(strict_pipelining=False)
    with (
        make_server(tls_context=server_ctx, config=config) as (server, rec),
        raw(server.port) as c,
    ):
        ehlo(c)
        assert c.command(b"STARTTLS")[0] == 220
        c.send(
            b"EHLO attacker.example\r\nMAIL FROM:<ceo@bank.example>\r\n"
            b"RCPT TO:<victim@example.net>\r\nDATA\r\nSubject: injected\r\n\r\nhi\r\n.\r\n"
        )
        with pytest.raises((ssl.SSLError, OSError)):
            c.starttls(client_ctx)
            c.command(b"NOOP")
    # the server has finished every session here: an executed injection would show
    assert rec.messages == []


@servers
def test_implicit_tls_client_that_never_says_hello_is_cut_off(make_server: Any) -> None:
    # RFC 8314 §3.3 ports start with the TLS handshake; a client that connects and sends
    # nothing is dropped after Timeouts.connect, not held forever.
    server_ctx, _ = tls_contexts()
    timeouts = Timeouts(connect=0.3)
    with make_server(tls_context=server_ctx, implicit_tls=True, timeouts=timeouts) as (
        server,
        _rec,
    ):
        start = time.monotonic()
        with raw(server.port, greeting=None) as c:
            assert c.closed()
        assert time.monotonic() - start < 5.0

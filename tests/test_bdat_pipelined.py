"""A small message in one round trip: MAIL, RCPT and BDAT LAST with the message in one write
(RFC 3030 §4.2), against a scripted server that answers nothing until all of it is there."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from smtpcore import Address, Timeouts
from smtpcore.aio import AsyncSMTPClient
from smtpcore.sync import SMTPClient
from tests.servers import async_server_thread, sync_server
from tests.test_security_client import FakeConn, fake

A = Address.parse
BODY = b"Subject: one trip\r\n\r\n.a dot, no stuffing with BDAT\r\n"
QUICK = Timeouts(connect=5, command=5, mail=5, rcpt=5, data_init=5, data_block=5, data_term=5)


def send_sync(port: int, body: bytes, rcpts: list[str]) -> Any:
    with SMTPClient("127.0.0.1", port, tls_policy="none", timeouts=QUICK) as client:
        return client.send_message(body, "a@example.org", rcpts, raise_on_failure=False)


def send_async(port: int, body: bytes, rcpts: list[str]) -> Any:
    async def go() -> Any:
        async with AsyncSMTPClient("127.0.0.1", port, tls_policy="none", timeouts=QUICK) as client:
            return await client.send_message(body, "a@example.org", rcpts, raise_on_failure=False)

    return asyncio.run(go())


clients = pytest.mark.parametrize("send", [send_sync, send_async], ids=["sync", "aio"])


def envelope_and_chunk(conn: FakeConn, rcpts: int) -> bytes:
    """Read MAIL, the RCPTs and BDAT LAST with its chunk, having answered none of them."""
    assert conn.line().startswith(b"MAIL FROM:<a@example.org>")
    for _ in range(rcpts):
        assert conn.line().startswith(b"RCPT TO:")
    verb, size, last = conn.line().split(b" ")
    assert (verb, last) == (b"BDAT", b"LAST")
    chunk = read_chunk(conn, int(size))
    assert not conn.buf  # nothing behind the chunk: the client waits for the replies now
    return chunk


def read_chunk(conn: FakeConn, size: int) -> bytes:
    """The ``size`` octets of a BDAT chunk (RFC 3030 §2: counted, never read as lines)."""
    for _ in range(10_000):
        if len(conn.buf) >= size:
            break
        conn._fill()
    chunk, conn.buf = conn.buf[:size], conn.buf[size:]
    assert len(chunk) == size
    return chunk


def end_session(conn: FakeConn, *, rset: bool) -> None:
    """The client's RSET (when expected, before anything else) and then its QUIT."""
    if rset:
        assert conn.line() == b"RSET"
        conn.send(b"250 2.0.0 reset\r\n")
    assert conn.line() == b"QUIT"
    conn.send(b"221 bye\r\n")


@clients
def test_envelope_and_message_in_one_round_trip(send: Any) -> None:
    chunks: list[bytes] = []

    def script(conn: FakeConn) -> None:
        conn.greet("PIPELINING", "CHUNKING", "8BITMIME")
        chunks.append(envelope_and_chunk(conn, 2))
        conn.send(b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no such user\r\n")
        conn.send(b"250 2.0.0 queued\r\n")
        end_session(conn, rset=False)  # the transaction is over: no RSET

    with fake(script) as server:
        result = send(server.port, BODY, ["b@example.net", "c@example.net"])
    assert chunks == [BODY]  # as it is: no dot-stuffing, no end-of-data line
    assert result.delivered == (A("b@example.net"),)
    assert result.outcome(A("c@example.net")).reply.code == 550
    assert result.data_reply.code == 250 and result.data_reply.command == "BDAT LAST"


@clients
@pytest.mark.parametrize(
    ("replies", "rset", "deciding", "status"),
    [
        # nobody accepted: the server still holds the MAIL, and RFC 3030 §2 leaves a refused
        # chunk's state in doubt: RSET before anything else
        (b"250 ok\r\n550 5.1.1 no\r\n554 5.5.1 no valid recipients\r\n", True, 550, "failed"),
        (b"250 ok\r\n250 ok\r\n452 4.3.1 out of space\r\n", True, 452, "deferred"),
        # no MAIL, no transaction to clear; the MAIL reply is the cause (RFC 2920 §3.1)
        (
            b"550 5.7.1 not you\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n",
            False,
            550,
            "failed",
        ),
    ],
    ids=["no-recipient", "refused-chunk", "refused-mail"],
)
def test_refused_chunk_is_followed_by_rset(
    send: Any, replies: bytes, rset: bool, deciding: int, status: str
) -> None:
    def script(conn: FakeConn) -> None:
        conn.greet("PIPELINING", "CHUNKING")
        envelope_and_chunk(conn, 1)
        conn.send(replies)
        end_session(conn, rset=rset)

    with fake(script) as server:
        result = send(server.port, BODY, ["b@example.net"])
    [outcome] = result.recipients
    assert (outcome.reply.code, outcome.status) == (deciding, status)


@clients
@pytest.mark.parametrize(
    "body",
    [
        # over the limit, the message must not go before the RCPT replies
        (b"Subject: big\r\n\r\n" + b"x" * 998 + b"\r\n") * 300,
        # a server that took a refused chunk for commands (go-smtp#315) would run this line
        b"Subject: x\r\n\r\nRCPT TO:<victim@example.com>\r\n",
    ],
    ids=["300KiB", "envelope-line"],
)
def test_message_that_may_not_precede_the_replies_goes_with_data(send: Any, body: bytes) -> None:

    def script(conn: FakeConn) -> None:
        conn.greet("PIPELINING", "CHUNKING")
        assert conn.line().startswith(b"MAIL")
        assert conn.line().startswith(b"RCPT")
        assert conn.line() == b"DATA"
        conn.send(b"250 ok\r\n250 ok\r\n354 go\r\n")
        conn.until(b"\r\n.\r\n")
        conn.send(b"250 queued\r\n")
        end_session(conn, rset=False)

    with fake(script) as server:
        result = send(server.port, body, ["b@example.net"])
    assert result.delivered == (A("b@example.net"),)


servers = pytest.mark.parametrize(
    "make_server", [async_server_thread, sync_server], ids=["aio-server", "sync-server"]
)


@clients
@servers
def test_binary_message_arrives_octet_for_octet(send: Any, make_server: Any) -> None:
    # BODY=BINARYMIME (RFC 3030 §3): a bare CR or LF is data, never a line end to repair.
    body = b"Content-Type: application/octet-stream\r\n\r\n\x00\n\x01\r\x02\r\n\xff\n"

    async def go(port: int) -> Any:
        async with AsyncSMTPClient("127.0.0.1", port, tls_policy="none") as client:
            return await client.send_message(body, "a@example.org", ["b@example.net"], binary=True)

    with make_server() as (server, rec):
        if send is send_sync:
            with SMTPClient("127.0.0.1", server.port, tls_policy="none") as client:
                client.send_message(body, "a@example.org", ["b@example.net"], binary=True)
        else:
            asyncio.run(go(server.port))
    [message] = rec.messages
    assert message.data == body
    assert message.envelope.mail_params.body == "BINARYMIME"


@clients
def test_refused_chunk_of_a_large_message_ends_it_with_rset(send: Any) -> None:
    # RFC 3030 §2: after a 4xx/5xx to a chunk the client MUST NOT send another; the state is
    # in doubt, so RSET comes before anything else.
    body = (b"Subject: large\r\n\r\n" + b"y" * 1022 + b"\r\n") * 2500  # about 2.5 MiB

    def script(conn: FakeConn) -> None:
        conn.greet("PIPELINING", "CHUNKING")
        assert conn.line().startswith(b"MAIL")
        assert conn.line().startswith(b"RCPT")
        conn.send(b"250 ok\r\n250 ok\r\n")
        verb, size = conn.line().split(b" ")
        assert verb == b"BDAT" and int(size) < len(body)  # a first chunk, not LAST
        read_chunk(conn, int(size))
        conn.send(b"552 5.3.4 message too big for system\r\n")
        end_session(conn, rset=True)  # RSET next: no further chunk

    with fake(script) as server:
        result = send(server.port, body, ["b@example.net"])
    [outcome] = result.recipients
    assert outcome.status == "failed" and outcome.reply.code == 552


@clients
@servers
@pytest.mark.parametrize("use_bdat", [None, True, False], ids=["auto", "BDAT", "DATA"])
def test_empty_message_is_delivered_empty(
    send: Any, make_server: Any, use_bdat: bool | None
) -> None:
    # RFC 3030 §2: "BDAT 0 LAST" carries no chunk (and no MessageData may follow it); with
    # DATA the terminator alone (RFC 5321 §4.1.1.4).
    async def go(port: int) -> Any:
        async with AsyncSMTPClient("127.0.0.1", port, tls_policy="none") as client:
            return await client.send_message(
                b"", "a@example.org", ["b@example.net"], use_bdat=use_bdat
            )

    with make_server() as (server, rec):
        if send is send_sync:
            with SMTPClient("127.0.0.1", server.port, tls_policy="none") as client:
                result = client.send_message(
                    b"", "a@example.org", ["b@example.net"], use_bdat=use_bdat
                )
        else:
            result = asyncio.run(go(server.port))
    assert result.delivered == (A("b@example.net"),)
    assert result.data_reply is not None
    assert result.data_reply.command == ("." if use_bdat is False else "BDAT LAST")
    assert [m.data for m in rec.messages] == [b""]

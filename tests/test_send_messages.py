"""send_messages: several messages over one connection, the next envelope pipelined behind the
end of the previous message's data (RFC 2920 §3.1), over real sockets to our two servers.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from smtpcore import Address, LocalProtocolError, Reply
from smtpcore.aio import AsyncSMTPClient
from smtpcore.sync import SMTPClient
from tests.servers import async_server_thread, sync_server

A = Address.parse
servers = pytest.mark.parametrize(
    "make_server", [async_server_thread, sync_server], ids=["aio", "sync"]
)


def body(i: int) -> bytes:
    return f"Subject: message {i}\r\n\r\n.dot line\r\nbody {i}\r\n".encode()


def batch(n: int) -> list[tuple[bytes, str, list[str]]]:
    return [(body(i), f"s{i}@example.org", [f"r{i}@example.net"]) for i in range(n)]


def send_batch(client_kind: str, port: int, items: list[tuple[Any, str, list[str]]]) -> list[Any]:
    """``send_messages(items)`` over one connection of the sync or the asyncio client."""
    if client_kind == "sync":
        with SMTPClient("127.0.0.1", port, tls_policy="none") as client:
            return client.send_messages(items)

    async def run() -> list[Any]:
        async with AsyncSMTPClient("127.0.0.1", port, tls_policy="none") as client:
            return await client.send_messages(items)

    return asyncio.run(run())


@servers
@pytest.mark.parametrize("use_bdat", [False, None], ids=["DATA", "BDAT"])
def test_sync_batch_is_delivered_in_order_one_write_per_message(
    make_server: Any, use_bdat: bool | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with make_server() as (server, rec):
        with SMTPClient("127.0.0.1", server.port, tls_policy="none") as client:
            assert client.capabilities is not None and client.capabilities.chunking
            writes: list[bytes] = []
            original = client._write

            def recording(data: bytes, timeout: float) -> None:
                writes.append(data)
                original(data, timeout)

            monkeypatch.setattr(client, "_write", recording)
            results = client.send_messages(batch(4), use_bdat=use_bdat)
            sent = list(writes)  # what send_messages wrote (QUIT comes after)
        assert [r.delivered for r in results] == [(A(f"r{i}@example.net"),) for i in range(4)]
        assert [m.envelope.mail_from for m in rec.messages] == [
            A(f"s{i}@example.org") for i in range(4)
        ]
        assert [m.data for m in rec.messages] == [body(i) for i in range(4)]
    if use_bdat is None:
        # CHUNKING: each message whole in one BDAT LAST behind its own envelope, one write
        # and one round trip each (RFC 3030 §4.2); BDAT LAST ends its group.
        assert len(sent) == 4
        for i, write in enumerate(sent):
            size = len(body(i))
            assert write == (
                b"MAIL FROM:<s%d@example.org> SIZE=%d\r\nRCPT TO:<r%d@example.net>\r\n"
                b"BDAT %d LAST\r\n" % (i, size, i, size) + body(i)
            )
        return
    # One write for the first envelope, then one per message: its data, its end, and the
    # next envelope together (RFC 2920 §3.1); the last data goes out alone.
    assert len(sent) == 5
    assert sent[0].startswith(b"MAIL FROM:<s0@example.org>")
    for i in (1, 2, 3):
        assert b"\r\n.\r\nMAIL FROM:<s%d@example.org>" % i in sent[i]
        assert sent[i].endswith(b"DATA\r\n")  # DATA stays last in its group
    assert sent[4].endswith(b"body 3\r\n.\r\n")


@servers
def test_async_batch_with_a_refused_recipient_and_a_refused_message(make_server: Any) -> None:
    with make_server() as (server, rec):
        rec.refuse["r1@example.net"] = Reply.of(550, "no such user", "5.1.1")

        async def go() -> list[Any]:
            async with AsyncSMTPClient("127.0.0.1", server.port, tls_policy="none") as client:
                return await client.send_messages(batch(4))

        results = asyncio.run(go())
    assert [bool(r.delivered) for r in results] == [True, False, True, True]
    assert results[1].recipients[0].reply is not None
    assert results[1].recipients[0].reply.code == 550
    assert [m.data for m in rec.messages] == [body(0), body(2), body(3)]


@servers
def test_a_bad_message_ends_the_batch_after_the_one_before_it(make_server: Any) -> None:
    with make_server() as (server, rec):
        with SMTPClient("127.0.0.1", server.port, tls_policy="none") as client:
            items = batch(3)
            items[2] = (body(2), "s2@example.org", ["not an address"])
            with pytest.raises(LocalProtocolError) as info:
                client.send_messages(items)
            assert info.value.results is not None
            assert [bool(r.delivered) for r in info.value.results] == [True, True]
            # The connection is still in step: the held end of data was written first.
            again = client.send_message(body(9), "s9@example.org", ["r9@example.net"])
            assert again.delivered
        assert [m.data for m in rec.messages] == [body(0), body(1), body(9)]


@servers
def test_lmtp_batch_goes_one_message_at_a_time_with_a_reply_per_recipient(
    make_server: Any,
) -> None:
    # LMTP answers the end of data once per accepted recipient (RFC 2033 §4.2): the batch
    # does not ride the next envelope behind it, and every recipient gets its own outcome.
    from smtpcore.sync import LMTPClient
    from tests.servers import Recorder

    rec = Recorder(
        message_reply=[Reply.of(250, "delivered", "2.0.0"), Reply.of(452, "full", "4.2.2")]
    )
    rcpts = ["one@example.net", "two@example.net"]
    with (
        make_server(lmtp=True, recorder=rec) as (server, _),
        LMTPClient("127.0.0.1", server.port, tls_policy="none") as client,
    ):
        results = client.send_messages([(body(i), "a@example.org", rcpts) for i in range(3)])
    assert [[o.status for o in r.recipients] for r in results] == [["delivered", "deferred"]] * 3
    assert [m.data for m in rec.messages] == [body(i) for i in range(3)]


@servers
@pytest.mark.parametrize("client_kind", ["sync", "aio"])
def test_batch_of_bytes_a_file_and_a_message_over_a_chunk(
    make_server: Any, client_kind: str
) -> None:
    # The usual message (bytes in one piece) is encoded in place; a file, or a message over
    # the client's 1 MiB piece, goes through the streaming path: all arrive whole, in order.
    import io

    big = b"Subject: big\r\n\r\n" + (b"y" * 78 + b"\r\n") * 20_000  # 1.6 MB
    items: list[tuple[Any, str, list[str]]] = [
        (body(0), "s0@example.org", ["r0@example.net"]),
        (io.BytesIO(body(1)), "s1@example.org", ["r1@example.net"]),
        (big, "s2@example.org", ["r2@example.net"]),
        (body(3), "s3@example.org", ["r3@example.net"]),
    ]
    with make_server() as (server, rec):
        results = send_batch(client_kind, server.port, items)
    assert all(r.delivered for r in results) and len(results) == 4
    assert [m.data for m in rec.messages] == [body(0), body(1), big, body(3)]


@servers
@pytest.mark.parametrize("client_kind", ["sync", "aio"])
def test_batch_mixing_data_and_bdat_with_the_envelope(make_server: Any, client_kind: str) -> None:
    # A server with CHUNKING: small messages go as BDAT LAST with their envelope; one over
    # 256 KiB and one with a line that reads as MAIL go with DATA, their end of data held
    # for the next envelope (whose BDAT then rides in the same write). All arrive whole.
    messages = [
        b"Subject: a\r\n\r\nsmall\r\n",
        (b"Subject: b\r\n\r\n" + b"x" * 998 + b"\r\n") * 300,
        b"Subject: c\r\n\r\nMAIL FROM:<x@example.com>\r\n",
        b"Subject: d\r\n\r\nsmall again\r\n",
        b"Subject: e\r\n\r\n.dot\r\n",
    ]
    items = [(m, "a@example.org", [f"r{i}@example.net"]) for i, m in enumerate(messages)]
    with make_server() as (server, rec):
        results = send_batch(client_kind, server.port, items)
    assert [r.delivered for r in results] == [(A(f"r{i}@example.net"),) for i in range(5)]
    assert [r.data_reply and r.data_reply.command for r in results] == [
        "BDAT LAST",
        ".",
        ".",
        "BDAT LAST",
        "BDAT LAST",
    ]
    assert [m.data for m in rec.messages] == messages

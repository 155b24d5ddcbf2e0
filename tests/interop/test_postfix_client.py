"""Our clients (blocking and asyncio) against a real Postfix smtpd on 127.0.0.1.

Postfix relays whatever it accepts for a remote domain to our own server on its relayhost
port, so each message is checked byte for byte where it finally arrives: Postfix may only
have prepended its Received: header.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from smtpcore import (
    Address,
    LocalProtocolError,
    MailParams,
    OriginalRecipient,
    PermanentReplyError,
    RcptParams,
    Timeouts,
)
from smtpcore.aio import AsyncSMTPClient
from smtpcore.sync import SMTPClient
from tests.servers import Received, Recorder

from .conftest import ServerFactory
from .postfix import Postfix, TraceProxy, free_port

pytestmark = pytest.mark.interop

A = Address.parse
DEADLINE = 20.0  # seconds for Postfix to relay a message to our server
# A stuck exchange fails in seconds, not after RFC 5321's minutes.
TIMEOUTS = Timeouts(
    connect=10,
    greeting=30,
    mail=30,
    rcpt=30,
    data_init=30,
    data_block=30,
    data_term=30,
    command=30,
)


class _Blocking:
    """Our blocking client behind the asyncio client's spelling, so one test body runs both."""

    def __init__(self, client: SMTPClient) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        async def call(*args: Any, **kw: Any) -> Any:
            return attr(*args, **kw)

        return call


@contextlib.asynccontextmanager
async def open_client(flavour: str, port: int, **kw: Any) -> AsyncIterator[Any]:
    kw.setdefault("tls_policy", "none")
    kw.setdefault("timeouts", TIMEOUTS)
    kw.setdefault("local_hostname", "client.test")
    if flavour == "aio":
        async with AsyncSMTPClient("127.0.0.1", port, **kw) as client:
            yield client
    else:
        with SMTPClient("127.0.0.1", port, **kw) as client:
            yield _Blocking(client)


flavours = pytest.mark.parametrize("flavour", ["aio", "sync"])


def arrived(rec: Recorder, marker: bytes) -> Received:
    """Poll (bounded) for the message carrying ``marker`` at our relay server."""
    end = time.monotonic() + DEADLINE
    while True:
        for msg in list(rec.messages):
            if marker in msg.data:
                return msg
        if time.monotonic() > end:
            raise TimeoutError(f"{marker!r} never reached our server")
        rec.got.wait(0.1)
        rec.got.clear()


def assert_relayed_whole(data: bytes, original: bytes) -> None:
    """What Postfix relayed is our message with only its own trace header(s) in front."""
    assert data.endswith(original), data[:400]
    prefix = data[: len(data) - len(original)]
    assert prefix.startswith(b"Received: from client.test (localhost [127.0.0.1])\r\n")
    assert prefix.endswith(b"\r\n") and b"\r\n\r\n" not in prefix
    # every line of the prefix is a header line or its continuation (RFC 5322 §2.2.3)
    assert all(line[:1] in (b" ", b"\t") for line in prefix.split(b"\r\n")[1:-1])


def message(marker: str, body: bytes = b"Hello.\r\n") -> bytes:
    return (
        f"From: alice@client.test\r\nTo: bob@plain.test\r\nSubject: {marker}\r\n"
        f"Message-ID: <{marker}@client.test>\r\n\r\n"
    ).encode() + body


@flavours
def test_ehlo_capabilities(flavour: str, pf: Postfix) -> None:
    async def go() -> None:
        async with open_client(flavour, pf.smtpd_port) as client:
            caps = client.capabilities
            assert client.greeting.code == 220
            assert caps.domain == "postfix.test"
            assert caps.pipelining and caps.eightbitmime and caps.smtputf8
            assert caps.dsn and caps.chunking and caps.starttls and caps.enhancedstatuscodes
            assert caps.vrfy
            assert caps.size == 10240000
            noop = await client.noop()
            assert noop.code == 250 and str(noop.enhanced) == "2.0.0"

    asyncio.run(go())
    pf.wait_log(r"disconnect from localhost\[127\.0\.0\.1\] ehlo=1 noop=1 quit=1 commands=3$")


@flavours
@pytest.mark.parametrize("use_bdat", [False, True], ids=["DATA", "BDAT"])
def test_message_relayed_whole(
    flavour: str, use_bdat: bool, pf: Postfix, server_flavour: ServerFactory
) -> None:
    # Dots at line starts (RFC 5321 §4.5.2), a long line and 8-bit text (RFC 6152).
    marker = f"whole-{flavour}-{int(use_bdat)}-{time.monotonic_ns()}"
    body = b".leading dot\r\n..two dots\r\n" + b"x" * 990 + b"\r\ncaf\xc3\xa9\r\n.\r\nend\r\n"
    original = message(marker, body)

    async def go() -> None:
        async with open_client(flavour, pf.smtpd_port) as client:
            result = await client.send_message(
                original, "alice@client.test", ["bob@plain.test"], use_bdat=use_bdat
            )
            assert result.delivered == (A("bob@plain.test"),)
            assert result.data_reply.code == 250

    with server_flavour(port=pf.relay_port) as (_server, rec):
        asyncio.run(go())
        got = arrived(rec, marker.encode())
    assert_relayed_whole(got.data, original)
    assert got.envelope.mail_from == A("alice@client.test")
    assert got.envelope.recipients == (A("bob@plain.test"),)
    assert got.envelope.mail_params.body == "8BITMIME"  # RFC 6152: Postfix kept it 8-bit
    verb = "BDAT" if use_bdat else "DATA"
    pf.wait_log(rf"disconnect from .* ehlo=1 mail=1 rcpt=1 {verb.lower()}=\d+ quit=1")


@flavours
def test_pipelined_transaction(flavour: str, pf: Postfix) -> None:
    # RFC 2920 §3.1: MAIL, the RCPTs and DATA go in one group; Postfix (which logs
    # "improper command pipelining" for a client that pipelines without the extension)
    # answers them all.
    port = free_port()
    original = message("pipelined")
    proxy = TraceProxy(port, pf.smtpd_port)
    try:

        async def go() -> None:
            async with open_client(flavour, port) as client:
                result = await client.send_message(
                    message("pipelined"),
                    "alice@client.test",
                    ["root@postfix.test", "root@localhost", "postmaster@postfix.test"],
                    use_bdat=False,
                )
                assert len(result.delivered) == 3

        asyncio.run(go())
    finally:
        proxy.close()
    group = next(r for r in proxy.client_reads if r.startswith(b"MAIL FROM:"))
    mail = b"MAIL FROM:<alice@client.test> SIZE=%d\r\n" % len(original)
    assert group == mail + (
        b"RCPT TO:<root@postfix.test>\r\n"
        b"RCPT TO:<root@localhost>\r\n"
        b"RCPT TO:<postmaster@postfix.test>\r\n"
        b"DATA\r\n"
    )
    assert "improper command pipelining" not in pf.new_log()


@flavours
def test_smtputf8_and_dsn_parameters(
    flavour: str, pf: Postfix, server_flavour: ServerFactory
) -> None:
    # RFC 6531 (a UTF-8 mailbox and header) and RFC 3461 (RET, ENVID, NOTIFY, ORCPT): Postfix
    # takes them from us and hands them on to the next hop, which supports both.
    marker = f"utf8-{flavour}-{time.monotonic_ns()}"
    rcpt = "jörg@plain.test"
    original = (
        f"From: jürgen@client.test\r\nTo: {rcpt}\r\nSubject: {marker} grüße\r\n\r\nÄpfel\r\n"
    ).encode()
    orcpt = OriginalRecipient(addr_type="utf-8", address="jörg@plain.test")

    async def go() -> None:
        async with open_client(flavour, pf.smtpd_port) as client:
            result = await client.send_message(
                original,
                "jürgen@client.test",
                [rcpt],
                mail_params=MailParams(ret="HDRS", envid=f"env {marker}"),
                rcpt_params=[RcptParams(notify=("SUCCESS", "FAILURE"), orcpt=orcpt)],
            )
            assert result.delivered == (A(rcpt),)

    with server_flavour(port=pf.relay_port) as (_server, rec):
        asyncio.run(go())
        got = arrived(rec, marker.encode())
    assert_relayed_whole(got.data, original)
    env = got.envelope
    assert env.smtputf8
    assert env.mail_from == A("jürgen@client.test")
    assert env.recipients == (A(rcpt),)
    assert env.mail_params.ret == "HDRS"
    assert env.mail_params.envid == f"env {marker}"
    assert env.rcpt_params[0].notify == ("SUCCESS", "FAILURE")
    assert env.rcpt_params[0].orcpt == orcpt


@flavours
def test_starttls_with_trustme_certificate(
    flavour: str, pf: Postfix, server_flavour: ServerFactory
) -> None:
    ctx = ssl.create_default_context(cafile=str(pf.ca_pem))
    marker = f"tls-{flavour}-{time.monotonic_ns()}"
    original = message(marker)

    async def go() -> None:
        async with open_client(
            flavour,
            pf.smtpd_port,
            tls_policy="required",
            ssl_context=ctx,
            server_hostname="localhost",
        ) as client:
            assert client.tls is not None and client.tls["version"].startswith("TLSv1.")
            assert client.connection.tls_active
            assert not client.capabilities.starttls  # RFC 3207 §4.2: not offered twice
            await client.send_message(original, "alice@client.test", ["bob@plain.test"])

    with server_flavour(port=pf.relay_port) as (_server, rec):
        asyncio.run(go())
        got = arrived(rec, marker.encode())
    assert_relayed_whole(got.data, original)
    assert b"with ESMTPS id" in got.data  # RFC 3848: Postfix saw the message over TLS
    pf.wait_log(r"Anonymous TLS connection established from localhost\[127\.0\.0\.1\]")


@flavours
def test_unknown_local_user_refused(flavour: str, pf: Postfix) -> None:
    # RFC 5321 §3.3: the refused recipient does not stop the accepted one.
    async def go() -> None:
        async with open_client(flavour, pf.smtpd_port) as client:
            result = await client.send_message(
                message("refusal"), "alice@client.test", ["nosuch@postfix.test", "root@localhost"]
            )
            assert result.delivered == (A("root@localhost"),)
            refusal = result.refused[A("nosuch@postfix.test")]
            assert refusal.code == 550 and str(refusal.enhanced) == "5.1.1"
            assert "User unknown in local recipient table" in refusal.text
            with pytest.raises(PermanentReplyError) as info:
                await client.send_message(
                    message("refusal-2"), "alice@client.test", ["nosuch@localhost"]
                )
            assert info.value.code == 550
            # the session goes on: RSET was sent, a new transaction works
            again = await client.send_message(
                message("refusal-3"), "alice@client.test", ["root@postfix.test"]
            )
            assert again.delivered == (A("root@postfix.test"),)

    asyncio.run(go())
    pf.wait_log(r"reject: RCPT from .*: 550 5\.1\.1 <nosuch@postfix\.test>")
    pf.wait_log(r"discard\[\d+\]: \w+: to=<root@postfix\.test>, relay=none, .*status=sent")


@flavours
def test_size_limit_refused_at_mail(flavour: str, pf: Postfix) -> None:
    # RFC 1870 §6.1: a declared SIZE above the server's limit is refused with 552 at MAIL;
    # our client does not even try with a message it knows is too big. (The small message
    # itself went along with its envelope as BDAT LAST, refused with a 503 that is not the
    # message's answer.)
    big = message("big", b"y" * 998 + b"\r\n") * (10240000 // 1000 + 1)

    async def go() -> None:
        async with open_client(flavour, pf.smtpd_port) as client:
            result = await client.send_message(
                message("declared"),
                "alice@client.test",
                ["root@localhost"],
                mail_params=MailParams(size=10240001),
                raise_on_failure=False,
            )
            assert not result.delivered
            assert result.mail_reply.code == 552
            assert str(result.mail_reply.enhanced) == "5.3.4"
            assert result.data_reply is None
            with pytest.raises(LocalProtocolError, match="SIZE 10240000"):
                await client.send_message(big, "alice@client.test", ["root@localhost"])
            assert (await client.noop()).code == 250

    asyncio.run(go())
    pf.wait_log(r"disconnect from .* ehlo=1 mail=0/1 rcpt=0/1 bdat=0/1 noop=1 quit=1")


@flavours
def test_refused_mail_is_the_error_raised(flavour: str, pf: Postfix) -> None:
    # RFC 2920 §3.1: with MAIL refused, the RCPT and DATA that followed it in the same group
    # fail only because of it (Postfix: "503 5.5.1 Error: need MAIL command"). The error
    # raised must carry the cause, the 552 to MAIL, not the 503 that followed.
    async def go() -> None:
        async with open_client(flavour, pf.smtpd_port) as client:
            with pytest.raises(PermanentReplyError) as info:
                await client.send_message(
                    message("declared"),
                    "alice@client.test",
                    ["root@localhost"],
                    mail_params=MailParams(size=10240001),
                )
            assert info.value.code == 552

    asyncio.run(go())


@flavours
def test_vrfy(flavour: str, pf: Postfix) -> None:
    async def go() -> None:
        async with open_client(flavour, pf.smtpd_port) as client:
            known = await client.vrfy("root@localhost")
            assert known.code == 252 and known.text.endswith("root@localhost")
            unknown = await client.vrfy("nosuch@localhost")
            assert unknown.code == 550 and str(unknown.enhanced) == "5.1.1"
            garbage = await client.vrfy("<>")
            assert garbage.is_permanent

    asyncio.run(go())


@flavours
def test_send_messages_pipelines_the_next_envelope_behind_the_end_of_data(
    flavour: str, pf: Postfix, server_flavour: ServerFactory
) -> None:
    # RFC 2920 §4 sends "." and the next command together; Postfix answers the end of data
    # and the next MAIL/RCPT/DATA group from one read and takes every message whole.
    port = free_port()
    stamp = time.monotonic_ns()
    originals = [message(f"batch-{flavour}-{i}-{stamp}") for i in range(3)]
    proxy = TraceProxy(port, pf.smtpd_port)
    try:

        async def go() -> None:
            async with open_client(flavour, port) as client:
                results = await client.send_messages(
                    [(m, "alice@client.test", ["bob@plain.test"]) for m in originals],
                    use_bdat=False,  # Postfix offers CHUNKING: see the test below for BDAT
                )
                assert [r.delivered for r in results] == [(A("bob@plain.test"),)] * 3

        with server_flavour(port=pf.relay_port) as (_server, rec):
            asyncio.run(go())
            for i, original in enumerate(originals):
                got = arrived(rec, f"batch-{flavour}-{i}-{stamp}".encode())
                assert_relayed_whole(got.data, original)
    finally:
        proxy.close()
    joined = [r for r in proxy.client_reads if b"\r\n.\r\nMAIL FROM:<alice@client.test>" in r]
    assert len(joined) == 2  # messages 1 and 2 rode behind the ends of 0 and 1
    assert "improper command pipelining" not in pf.new_log()


@flavours
def test_small_messages_go_with_their_envelope_as_bdat_last(
    flavour: str, pf: Postfix, server_flavour: ServerFactory
) -> None:
    # RFC 3030 §4.2: MAIL, RCPT and BDAT LAST with the message in one write; Postfix (CHUNKING
    # and PIPELINING) reads the chunk behind the unanswered RCPT and relays it whole. A
    # refused recipient's BDAT is refused too and read as such, then RSET clears the
    # transaction; the next message goes through on the same connection.
    port = free_port()
    stamp = time.monotonic_ns()
    originals = [message(f"bdat-{flavour}-{i}-{stamp}", b".dot\r\nbody\r\n") for i in range(3)]
    proxy = TraceProxy(port, pf.smtpd_port)
    try:

        async def go() -> None:
            async with open_client(flavour, port) as client:
                first = await client.send_message(
                    originals[0], "alice@client.test", ["bob@plain.test"]
                )
                assert first.data_reply.command == "BDAT LAST" and first.data_reply.code == 250
                refused = await client.send_message(
                    originals[1],
                    "alice@client.test",
                    ["nosuch@postfix.test"],
                    raise_on_failure=False,
                )
                assert not refused.delivered and refused.data_reply is None
                results = await client.send_messages(
                    [(originals[2], "alice@client.test", ["bob@plain.test"])]
                )
                assert results[0].delivered == (A("bob@plain.test"),)

        with server_flavour(port=pf.relay_port) as (_server, rec):
            asyncio.run(go())
            for i in (0, 2):
                got = arrived(rec, f"bdat-{flavour}-{i}-{stamp}".encode())
                assert_relayed_whole(got.data, originals[i])
    finally:
        proxy.close()
    trace = b"".join(proxy.client_reads)
    assert b"\r\nDATA\r\n" not in trace
    assert trace.count(b" LAST\r\n") == 3
    assert b"RSET\r\n" in trace  # after the refused recipient's BDAT, before the next MAIL
    assert "improper command pipelining" not in pf.new_log()

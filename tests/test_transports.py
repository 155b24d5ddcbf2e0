"""The sync and asyncio adapters over real sockets on 127.0.0.1, with real TLS (trustme).

Our clients against our servers in both flavours, smtplib and aiosmtplib against our
servers, our clients against aiosmtpd.
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
import threading
from email.message import EmailMessage

import pytest

from smtpcore import (
    Address,
    MailParams,
    PermanentReplyError,
    RcptParams,
    ReadTimeout,
    Reply,
    Timeouts,
    TLSError,
)
from smtpcore.aio import AsyncSMTPClient
from smtpcore.sasl import DictCredentials
from smtpcore.sync import LMTPClient, SMTPClient
from tests.servers import async_server_thread, sync_server, tls_contexts

A = Address.parse
BODY = b"Subject: test\r\n\r\n.a dot line\r\nbody\r\n"

servers = pytest.mark.parametrize(
    "make_server", [async_server_thread, sync_server], ids=["aio", "sync"]
)


def message(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.get("From", "alice@example.org")
    msg["To"] = headers.get("To", "bob@example.net, carol@example.net")
    msg["Subject"] = headers.get("Subject", "hello")
    msg.set_content(headers.get("body", "Hi there.\n.dot line\n"))
    return msg


@servers
def test_sync_client_pipelines_and_delivers(make_server) -> None:  # type: ignore[no-untyped-def]
    with make_server() as (server, rec):
        with SMTPClient("127.0.0.1", server.port, tls_policy="none") as client:
            assert client.capabilities is not None and client.capabilities.pipelining
            result = client.send_message(message())
            assert result.delivered == (A("bob@example.net"), A("carol@example.net"))
            result2 = client.send_message(BODY, "a@example.org", ["x@example.net"])
            assert result2.delivered == (A("x@example.net"),)
        assert rec.got.wait(5)
        assert len(rec.messages) == 2
        first = rec.messages[0]
        assert first.envelope.mail_from == A("alice@example.org")
        assert b"\r\n.dot line\r\n" in first.data
        assert b"Bcc" not in first.data
        assert rec.messages[1].data == BODY


@servers
def test_async_client_partial_success(make_server) -> None:  # type: ignore[no-untyped-def]
    # RFC 5321 §3.3: a refused recipient does not stop the others.
    async def go(port: int) -> None:
        async with AsyncSMTPClient("127.0.0.1", port, tls_policy="none") as client:
            result = await client.send_message(
                BODY, "a@example.org", ["ok@example.net", "no@example.net"]
            )
            assert result.delivered == (A("ok@example.net"),)
            refused = result.refused[A("no@example.net")]
            assert refused.code == 550 and str(refused.enhanced) == "5.1.1"
            with pytest.raises(PermanentReplyError) as info:
                await client.send_message(BODY, "a@example.org", ["no@example.net"])
            assert info.value.result is not None
            assert info.value.code == 550
            # the session goes on after a failed transaction
            ok = await client.send_message(BODY, "a@example.org", ["ok@example.net"])
            assert ok.delivered

    refuse = {"no@example.net": Reply.of(550, "no such user", "5.1.1")}
    from tests.servers import Recorder

    with make_server(recorder=Recorder(refuse=refuse)) as (server, rec):
        asyncio.run(go(server.port))
        assert [m.envelope.recipients for m in rec.messages] == [
            (A("ok@example.net"),),
            (A("ok@example.net"),),
        ]


@servers
def test_starttls_and_auth(make_server) -> None:  # type: ignore[no-untyped-def]
    server_ctx, client_ctx = tls_contexts()
    creds = DictCredentials({"user": "s3cret"})
    with make_server(tls_context=server_ctx, credentials=creds) as (server, rec):
        with SMTPClient(
            "127.0.0.1",
            server.port,
            ssl_context=client_ctx,
            server_hostname="localhost",
            tls_policy="required",
            username="user",
            password="s3cret",
        ) as client:
            assert client.tls is not None and client.tls["version"].startswith("TLS")
            assert client.connection.authenticated
            client.send_message(BODY, "a@example.org", ["b@example.net"])
        assert rec.messages[0].session.authenticated_as == "user"
        assert rec.messages[0].session.tls is not None
        for mech in ("PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"):
            with SMTPClient(
                "127.0.0.1",
                server.port,
                ssl_context=client_ctx,
                server_hostname="localhost",
                auth_mechanisms=[mech],
                username="user",
                password="s3cret",
            ) as client:
                assert client.connection.authenticated, mech
        bad = SMTPClient(
            "127.0.0.1",
            server.port,
            ssl_context=client_ctx,
            server_hostname="localhost",
            username="user",
            password="wrong",
        )
        with pytest.raises(PermanentReplyError) as info:
            bad.connect()
        assert info.value.code == 535
        bad.close()


def test_tls_required_refuses_a_server_without_starttls() -> None:
    with sync_server() as (server, _rec):
        client = SMTPClient("127.0.0.1", server.port, tls_policy="required")
        with pytest.raises(TLSError, match="STARTTLS"):
            client.connect()
        client.close()


def test_verification_failure_is_a_tls_error() -> None:
    server_ctx, _ = tls_contexts()
    with sync_server(tls_context=server_ctx) as (server, _rec):
        client = SMTPClient("127.0.0.1", server.port, tls_policy="required")  # default CAs
        with pytest.raises(TLSError):
            client.connect()
        client.close()


@servers
def test_implicit_tls(make_server) -> None:  # type: ignore[no-untyped-def]
    server_ctx, client_ctx = tls_contexts()
    with make_server(tls_context=server_ctx, implicit_tls=True) as (server, rec):

        async def go() -> None:
            async with AsyncSMTPClient(
                "127.0.0.1",
                server.port,
                implicit_tls=True,
                ssl_context=client_ctx,
                server_hostname="localhost",
            ) as client:
                assert client.capabilities is not None and not client.capabilities.starttls
                await client.send_message(BODY, "a@example.org", ["b@example.net"])

        asyncio.run(go())
        assert rec.messages[0].session.tls is not None


def test_implicit_tls_against_a_plain_port_gives_a_clear_error() -> None:
    _, client_ctx = tls_contexts()
    with sync_server() as (server, _rec):
        client = SMTPClient(
            "127.0.0.1",
            server.port,
            implicit_tls=True,
            ssl_context=client_ctx,
            timeouts=Timeouts(connect=5, greeting=5),
        )
        with pytest.raises(TLSError):
            client.connect()
        client.close()


@servers
def test_bdat_and_dsn_parameters(make_server) -> None:  # type: ignore[no-untyped-def]
    with make_server() as (server, rec):
        with SMTPClient("127.0.0.1", server.port, tls_policy="none") as client:
            big = b"Subject: big\n\n" + b"line of text\n" * 200_000
            result = client.send_message(
                big,
                "a@example.org",
                ["b@example.net"],
                use_bdat=True,
                mail_params=MailParams(ret="HDRS", envid="QQ314159"),
                rcpt_params=[RcptParams(notify=("FAILURE", "DELAY"))],
            )
            assert result.delivered
        got = rec.messages[0]
        assert got.data == big.replace(b"\n", b"\r\n")
        assert got.envelope.mail_params.ret == "HDRS"
        assert got.envelope.mail_params.envid == "QQ314159"
        assert got.envelope.rcpt_params[0].notify == ("FAILURE", "DELAY")
        assert got.envelope.mail_params.size == len(got.data)


@servers
def test_smtputf8_message(make_server) -> None:  # type: ignore[no-untyped-def]
    with make_server() as (server, rec):
        msg = message(To="δοκιμή@παράδειγμα.δοκιμή", Subject="Grüße")
        with SMTPClient("127.0.0.1", server.port, tls_policy="none") as client:
            client.send_message(msg)
        got = rec.messages[0]
        assert got.envelope.mail_params.smtputf8
        assert got.envelope.recipients == (A("δοκιμή@παράδειγμα.δοκιμή"),)


@servers
def test_lmtp_replies_per_recipient(make_server) -> None:  # type: ignore[no-untyped-def]
    from tests.servers import Recorder

    rec = Recorder(
        message_reply=[Reply.of(250, "delivered", "2.0.0"), Reply.of(452, "full", "4.2.2")]
    )
    with make_server(lmtp=True, recorder=rec) as (server, _):
        with LMTPClient("127.0.0.1", server.port, tls_policy="none") as client:
            result = client.send_message(
                BODY, "a@example.org", ["one@example.net", "two@example.net"]
            )
        assert [r.status for r in result.recipients] == ["delivered", "deferred"]
        # python/cpython#76984: smtplib's LMTP reads only one reply; ours reads one each.
        assert result.recipients[1].reply is not None and result.recipients[1].reply.code == 452


@servers
def test_smtplib_against_our_server(make_server) -> None:  # type: ignore[no-untyped-def]
    with make_server() as (server, rec):
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as s:
            code, _ = s.ehlo("smtplib.example")
            assert code == 250 and s.has_extn("pipelining") and s.has_extn("smtputf8")
            refused = s.sendmail("a@example.org", ["b@example.net"], BODY)
            assert refused == {}
            s.send_message(message(To="δ@παράδειγμα.δοκιμή"))
        assert rec.messages[0].data == BODY
        assert rec.messages[1].envelope.mail_params.smtputf8


def test_smtplib_auth_over_starttls() -> None:
    server_ctx, client_ctx = tls_contexts()
    creds = DictCredentials({"user": "pw"})
    with sync_server(tls_context=server_ctx, credentials=creds) as (server, rec):
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as s:
            s.starttls(context=client_ctx)
            s.login("user", "pw")
            s.sendmail("a@example.org", ["b@example.net"], BODY)
        assert rec.messages[0].session.authenticated_as == "user"


def test_aiosmtplib_against_our_server() -> None:
    aiosmtplib = pytest.importorskip("aiosmtplib")
    with async_server_thread() as (server, rec):

        async def go() -> None:
            await aiosmtplib.send(
                message(), hostname="127.0.0.1", port=server.port, start_tls=False
            )

        asyncio.run(go())
        assert rec.messages[0].envelope.recipients == (A("bob@example.net"), A("carol@example.net"))


def test_our_clients_against_aiosmtpd() -> None:
    pytest.importorskip("aiosmtpd")
    got: list[tuple[str, list[str], bytes]] = []

    class H:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            got.append((envelope.mail_from, envelope.rcpt_tos, envelope.original_content))
            return "250 OK"

    # aiosmtpd's Controller cannot use port 0 (its readiness probe connects to the port it
    # was given), so its SMTP protocol runs on our own loop thread, bound to port 0.
    from aiosmtpd.smtp import SMTP as AiosmtpdSMTP

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(lambda: AiosmtpdSMTP(H(), hostname="aiosmtpd.test"), "127.0.0.1", 0)
    )
    port = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        with SMTPClient("127.0.0.1", port, tls_policy="none") as client:
            # aiosmtpd offers neither PIPELINING nor CHUNKING: one command at a time
            assert client.capabilities is not None and not client.capabilities.pipelining
            client.send_message(BODY, "a@example.org", ["b@example.net", "c@example.net"])

        async def go() -> None:
            async with AsyncSMTPClient("127.0.0.1", port, tls_policy="none") as client:
                await client.send_message(message())

        asyncio.run(go())
    finally:

        async def stop() -> None:
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
    assert got[0] == ("a@example.org", ["b@example.net", "c@example.net"], BODY)
    assert got[1][1] == ["bob@example.net", "carol@example.net"]


def test_read_timeout_from_a_silent_server() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        conn, _ = listener.accept()
        accepted.append(conn)

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    client = SMTPClient(
        "127.0.0.1", listener.getsockname()[1], timeouts=Timeouts(greeting=0.3, connect=5)
    )
    try:
        with pytest.raises(ReadTimeout):
            client.connect()
    finally:
        client.close()
        t.join(5)
        for c in accepted:
            c.close()
        listener.close()


def test_graceful_shutdown_lets_a_transaction_finish() -> None:
    with async_server_thread() as (server, rec):
        client = SMTPClient("127.0.0.1", server.port, tls_policy="none")
        client.connect()
        client.send_message(BODY, "a@example.org", ["b@example.net"])
        client.close()
    assert len(rec.messages) == 1


def test_client_refuses_crlf_injection_before_sending() -> None:
    from smtpcore import LocalProtocolError

    with sync_server() as (server, rec):
        with SMTPClient("127.0.0.1", server.port, tls_policy="none") as client:
            with pytest.raises(LocalProtocolError):
                client.send_message(BODY, "a@example.org\r\nRCPT TO:<x@y.z>", ["b@example.net"])
            with pytest.raises(LocalProtocolError):
                client.vrfy("x\r\nQUIT")
        assert rec.messages == []


def test_clients_over_a_socket_the_caller_connected() -> None:
    # The route for SOCKS proxies and UNIX sockets (aiosmtplib#19, cpython#73873).
    with async_server_thread() as (server, rec):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        with SMTPClient(sock=sock, tls_policy="none") as client:
            client.send_message(BODY, "a@example.org", ["b@example.net"])

        async def go() -> None:
            sock2 = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock2.setblocking(False)
            async with AsyncSMTPClient(sock=sock2, tls_policy="none") as client:
                await client.send_message(BODY, "a@example.org", ["c@example.net"])

        asyncio.run(go())
    assert [m.envelope.recipients for m in rec.messages] == [
        (A("b@example.net"),),
        (A("c@example.net"),),
    ]


def test_long_xoauth2_token_goes_after_the_first_challenge() -> None:
    # RFC 4954 §4: the initial response is left out when it would push AUTH past 512 octets.
    class Tokens:
        def password_for(self, username: str) -> str | None:
            return None

        def verify_password(self, username: str, password: str) -> bool:
            return False

        def verify_token(self, username: str, token: str) -> bool:
            return username == "me" and token == "t" * 600

    with (
        sync_server(
            credentials=Tokens(), auth_mechanisms=("XOAUTH2",), auth_requires_tls=False
        ) as (
            server,
            _rec,
        ),
        SMTPClient(
            "127.0.0.1",
            server.port,
            tls_policy="none",
            username="me",
            oauth_token=lambda: "t" * 600,
            allow_plaintext_auth=True,
        ) as client,
    ):
        assert client.connection.authenticated


def test_the_conversation_is_logged_at_debug_without_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server_ctx, client_ctx = tls_contexts()
    creds = DictCredentials({"user": "hunter2-secret"})
    with (
        sync_server(tls_context=server_ctx, credentials=creds) as (server, _rec),
        caplog.at_level("DEBUG", logger="smtpcore"),
    ):
        for mech in ("PLAIN", "LOGIN"):
            with SMTPClient(
                "127.0.0.1",
                server.port,
                ssl_context=client_ctx,
                server_hostname="localhost",
                username="user",
                password="hunter2-secret",
                auth_mechanisms=[mech],
            ) as client:
                client.send_message(BODY, "a@example.org", ["b@example.net"])
    text = caplog.text
    assert "C: MAIL FROM:<a@example.org>" in text and "C: AUTH PLAIN ***" in text
    import base64

    for secret in ("hunter2-secret", base64.b64encode(b"hunter2-secret").decode()):
        assert secret not in text
    assert base64.b64encode(b"\0user\0hunter2-secret").decode() not in text


def test_cancelling_the_async_client_closes_its_connection() -> None:
    # asyncio cancellation never leaves a half-written command on a live connection: the
    # client closes it, and a later call fails cleanly instead of desynchronising.
    from smtpcore import LocalProtocolError
    from smtpcore.aio import AsyncHandler

    arrived = threading.Event()

    class Slow(AsyncHandler):
        async def handle_message(self, session, envelope, data):  # type: ignore[no-untyped-def]
            arrived.set()
            await asyncio.sleep(30)  # cut short when the test stops the server

    with async_server_thread(handler=Slow()) as (server, _rec):

        async def go() -> None:
            client = AsyncSMTPClient("127.0.0.1", server.port, tls_policy="none")
            await client.connect()
            task = asyncio.ensure_future(
                client.send_message(BODY, "a@example.org", ["b@example.net"])
            )
            while not arrived.is_set():  # bounded by the test timeout below
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            with pytest.raises(LocalProtocolError, match="not connected"):
                await client.noop()

        asyncio.run(asyncio.wait_for(go(), 20))


def test_starttls_client_on_an_implicit_tls_port_gets_a_clear_error() -> None:
    # aiosmtplib#180: the 465-versus-STARTTLS mix-up should say so, not just time out.
    server_ctx, _ = tls_contexts()
    with sync_server(tls_context=server_ctx, implicit_tls=True) as (server, _rec):
        client = SMTPClient("127.0.0.1", server.port, timeouts=Timeouts(connect=5, greeting=0.5))
        with pytest.raises(ReadTimeout, match="implicit_tls=True"):
            client.connect()
        client.close()

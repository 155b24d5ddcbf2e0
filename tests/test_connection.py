"""Whole sessions through a client and a server engine joined in memory.

Each test follows an RFC passage: RFC 5321 (sessions, sequencing, replies), RFC 2920
(pipelining), RFC 3030 (BDAT), RFC 3207 (STARTTLS), RFC 4954 (AUTH), RFC 2033 (LMTP).
"""

from __future__ import annotations

import pytest

from smtpcore import (
    NEED_DATA,
    PAUSED,
    Address,
    Auth,
    AuthResponse,
    Bdat,
    Capabilities,
    ClientConfig,
    ClientConnection,
    ConnectionClosed,
    Data,
    Ehlo,
    EndOfChunk,
    EndOfMessage,
    Helo,
    InvalidCommand,
    Lhlo,
    LocalProtocolError,
    Mail,
    MailParams,
    MessageData,
    Noop,
    Quit,
    Rcpt,
    RcptParams,
    RemoteProtocolError,
    Reply,
    Rset,
    ServerConfig,
    ServerConnection,
    StartTLS,
    State,
)
from tests.helpers import ConnectionPair, drain

A = Address.parse


def caps(**kw: object) -> Capabilities:
    base: dict[str, object] = {
        "domain": "mx.example",
        "pipelining": True,
        "size": 10_000_000,
        "eightbitmime": True,
        "smtputf8": True,
        "dsn": True,
        "chunking": True,
        "enhancedstatuscodes": True,
        "starttls": True,
        "auth": ("PLAIN", "LOGIN"),
    }
    base.update(kw)
    return Capabilities.build(**base)  # type: ignore[arg-type]


def make_pair(
    *, server_caps: Capabilities | None = None, lmtp: bool = False, **server_kw: object
) -> ConnectionPair:
    server = ServerConnection(
        capabilities=server_caps or caps(),
        config=ServerConfig(hostname="mx.example", lmtp=lmtp),
        **server_kw,  # type: ignore[arg-type]
    )
    client = ClientConnection(config=ClientConfig(lmtp=lmtp))
    return ConnectionPair(client, server)


def greet(pair: ConnectionPair) -> None:
    assert pair.server.next_event() is PAUSED  # the greeting is owed first
    [reply] = pair.server_send(pair.server.greeting())
    assert isinstance(reply, Reply) and reply.code == 220 and reply.command == "GREETING"


def ehlo(pair: ConnectionPair) -> Reply:
    hello = Lhlo(hostname="client.example") if pair.client.lmtp else Ehlo(hostname="client.example")
    assert pair.client_send(hello) == [hello]
    [reply] = pair.server_send(pair.server.ehlo_reply())
    assert isinstance(reply, Reply)
    return reply


def session(**kw: object) -> ConnectionPair:
    pair = make_pair(**kw)  # type: ignore[arg-type]
    greet(pair)
    ehlo(pair)
    return pair


def test_plain_session_delivers_a_message() -> None:
    pair = session()
    assert pair.client.capabilities is not None and pair.client.capabilities.pipelining
    mail = Mail(reverse_path=A("alice@client.example"), params=MailParams(size=42))
    assert pair.client_send(mail) == [mail]
    assert pair.server_send(Reply.of(250, "OK", "2.1.0"))[0].command == "MAIL"  # type: ignore[attr-defined]
    rcpt = Rcpt(forward_path=A("bob@mx.example"))
    assert pair.client_send(rcpt) == [rcpt]
    pair.server_send(Reply.of(250, "OK", "2.1.5"))
    assert pair.client_send(Data()) == [Data()]
    [go] = pair.server_send(Reply.of(354, "End data with <CR><LF>.<CR><LF>"))
    assert isinstance(go, Reply) and go.code == 354
    body = b"Subject: hi\r\n\r\n.leading dot\r\nbare\nLF\r\n"
    events = pair.client_send(MessageData(data=body), EndOfMessage())
    data = b"".join(e.data for e in events if isinstance(e, MessageData))
    # RFC 5321 §4.5.2: dot-stuffing undone; the client normalised the bare LF to CRLF
    assert data == b"Subject: hi\r\n\r\n.leading dot\r\nbare\r\nLF\r\n"
    end = events[-1]
    assert isinstance(end, EndOfMessage) and not end.bare_line_endings
    assert b"\r\n..leading dot\r\n" in b"".join(pair.to_server)
    [done] = pair.server_send(Reply.of(250, "queued", "2.0.0"))
    assert isinstance(done, Reply) and done.command == "." and done.enhanced is not None
    assert pair.client.state is State.READY and pair.server.state is State.READY
    assert pair.server.messages == 1
    pair.client_send(Quit())
    bye, closed = pair.server_send(Reply.of(221, "bye"))
    assert pair.client.state is State.CLOSED and pair.server.state is State.CLOSED
    assert isinstance(bye, Reply) and bye.code == 221
    assert isinstance(closed, ConnectionClosed)


def test_pipelined_group_gets_every_reply_matched_in_order() -> None:
    # RFC 2920 §3.1: MAIL, RCPTs and DATA go in one group; DATA ends it.
    pair = session()
    cmds = [
        Mail(reverse_path=A("a@c.example")),
        Rcpt(forward_path=A("one@mx.example")),
        Rcpt(forward_path=A("two@mx.example")),
        Rcpt(forward_path=A("three@mx.example")),
        Data(),
    ]
    wire = b"".join(pair.client.send(c) for c in cmds)
    assert pair.client.pending == ("MAIL", "RCPT", "RCPT", "RCPT", "DATA")
    with pytest.raises(LocalProtocolError, match="RFC 2920"):
        ClientConnection()  # a fresh engine is fine; the old one must refuse after DATA:
        pair.client.send(Noop())
    # the refused send moved that client to ERROR; build the exchange again on a new pair
    pair = session()
    wire = b"".join(pair.client.send(c) for c in cmds)
    pair.server.receive_data(wire)
    answers = {
        "one@mx.example": Reply.of(250, "ok"),
        "two@mx.example": Reply.of(550, "no such user", "5.1.1"),
        "three@mx.example": Reply.of(250, "ok"),
    }
    seen = []
    for _ in range(len(cmds)):
        ev = pair.server.next_event()
        seen.append(ev)
        if isinstance(ev, Mail):
            reply = Reply.of(250, "ok")
        elif isinstance(ev, Rcpt):
            reply = answers[str(ev.forward_path)]
        else:
            reply = Reply.of(354, "go")
        pair.client.receive_data(pair.server.send(reply))
    assert seen == cmds
    replies = drain(pair.client)
    assert [r.command for r in replies] == ["MAIL", "RCPT", "RCPT", "RCPT", "DATA"]  # type: ignore[attr-defined]
    assert [r.code for r in replies] == [250, 250, 550, 250, 354]  # type: ignore[attr-defined]
    assert pair.client.accepted_recipients == 2
    assert pair.client.state is State.DATA


def test_next_transaction_pipelined_behind_the_end_of_data() -> None:
    # RFC 2920 §4 sends "." and QUIT together: the end of data ends no group, so the next
    # MAIL/RCPT/DATA may follow it in the same write; the replies come back in order.
    pair = session()
    first = [Mail(reverse_path=A("a@c.example")), Rcpt(forward_path=A("one@mx.example")), Data()]
    pair.server.receive_data(b"".join(pair.client.send(c) for c in first))
    for code in (250, 250, 354):
        pair.server.next_event()
        pair.client.receive_data(pair.server.send(Reply.of(code, "ok")))
    assert [r.code for r in drain(pair.client)] == [250, 250, 354]  # type: ignore[attr-defined]
    second = [Mail(reverse_path=A("b@c.example")), Rcpt(forward_path=A("two@mx.example")), Data()]
    wire = pair.client.send(MessageData(data=b"Subject: 1\r\n\r\nbody\r\n"))
    wire += pair.client.send(EndOfMessage())
    wire += b"".join(pair.client.send(c) for c in second)
    assert pair.client.pending == (".", "MAIL", "RCPT", "DATA")
    pair.server.receive_data(wire)
    events = []
    for _ in range(10):
        ev = pair.server.next_event()
        if ev is NEED_DATA:
            break
        events.append(ev)
        if not isinstance(ev, MessageData):
            code = 354 if isinstance(ev, Data) else 250
            pair.client.receive_data(pair.server.send(Reply.of(code, "ok")))
    assert [type(e).__name__ for e in events if not isinstance(e, MessageData)] == [
        "EndOfMessage",
        "Mail",
        "Rcpt",
        "Data",
    ]
    replies = drain(pair.client)
    assert [r.command for r in replies] == [".", "MAIL", "RCPT", "DATA"]  # type: ignore[attr-defined]
    assert pair.client.state is State.DATA


def test_no_pipelining_without_the_extension() -> None:
    pair = session(server_caps=caps(pipelining=False))
    pair.client.send(Mail(reverse_path=A("a@c.example")))
    with pytest.raises(LocalProtocolError, match="PIPELINING"):
        pair.client.send(Rcpt(forward_path=A("b@mx.example")))
    assert pair.client.state is State.ERROR


def test_client_refuses_misuse() -> None:
    pair = session()
    with pytest.raises(LocalProtocolError, match="RCPT"):
        pair.client.send(Rcpt(forward_path=A("b@mx.example")))
    pair = session()
    pair.client_send(Mail(reverse_path=None))
    pair.server_send(Reply.of(250, "ok"))
    pair.client_send(Rcpt(forward_path=A("b@mx.example")))
    pair.server_send(Reply.of(550, "no"))
    with pytest.raises(LocalProtocolError, match="accepted recipient"):
        pair.client.send(Data())
    pair = make_pair()
    with pytest.raises(LocalProtocolError, match="greeting"):
        pair.client.send(Ehlo(hostname="x.example"))
    pair = session()
    with pytest.raises(LocalProtocolError, match="354"):
        pair.client.send(MessageData(data=b"x"))


def test_client_refuses_parameters_the_server_did_not_offer() -> None:
    pair = session(server_caps=caps(dsn=False, size=None))
    with pytest.raises(LocalProtocolError, match="SIZE"):
        pair.client.send(Mail(reverse_path=None, params=MailParams(size=1)))
    pair = session(server_caps=caps(dsn=False))
    pair.client_send(Mail(reverse_path=None))
    pair.server_send(Reply.of(250, "ok"))
    with pytest.raises(LocalProtocolError, match="NOTIFY"):
        pair.client.send(
            Rcpt(forward_path=A("b@mx.example"), params=RcptParams(notify=("FAILURE",)))
        )


def test_server_sequencing_answers_503_and_goes_on() -> None:
    # RFC 5321 §4.1.4: MAIL before EHLO, RCPT before MAIL, DATA before RCPT get 503.
    server = ServerConnection(capabilities=caps())
    server.send(server.greeting())
    server.receive_data(b"MAIL FROM:<a@b.example>\r\n")
    [ev] = drain(server)
    assert isinstance(ev, InvalidCommand) and ev.hint.code == 503
    server.send(Reply.from_hint(ev.hint))
    server.receive_data(b"EHLO c.example\r\nRCPT TO:<x@y.example>\r\n")
    [hello] = drain(server)
    assert isinstance(hello, Ehlo)
    assert server.next_event() is PAUSED  # the EHLO reply is owed before the next command
    server.send(server.ehlo_reply())
    [ev] = drain(server)
    assert isinstance(ev, InvalidCommand) and ev.hint.code == 503
    with pytest.raises(LocalProtocolError):
        server.send(Reply.of(250, "ok"))  # a positive reply to a refused command
    assert server.state is State.ERROR


def test_server_syntax_errors_and_unknown_parameters() -> None:
    server = ServerConnection(capabilities=caps(dsn=False))
    server.send(server.greeting())
    server.receive_data(b"EHLO c.example\r\n")
    drain(server)
    server.send(server.ehlo_reply())
    cases = [
        (b"MAIL FROM:<a@b.example> RET=FULL\r\n", 555),  # DSN not advertised
        (b"MAIL FROM:<a@@b.example>\r\n", 501),
        (b"MAIL FROM:<a@b.example> SIZE=99999999999\r\n", 552),  # RFC 1870 §6.1
        (b"MAIL FROM:<a@b.example> SIZE=1 SIZE=2\r\n", 501),
        (b"XYZZY\x01\r\n", 500),
        (b"DATA extra\r\n", 501),
        (b"MAIL FROM:<\xc3\xa9@b.example>\r\n", 553),  # no SMTPUTF8 parameter
    ]
    for line, code in cases:
        server.receive_data(line)
        [ev] = drain(server)
        assert isinstance(ev, InvalidCommand), line
        assert ev.hint.code == code, (line, ev)
        server.send(Reply.from_hint(ev.hint))
    assert server.state is State.READY
    assert server.errors == len(cases)


def test_error_budget_ends_with_421() -> None:
    from smtpcore import Limits

    server = ServerConnection(config=ServerConfig(limits=Limits(errors=2)))
    server.send(server.greeting())
    server.receive_data(b"BAD1\x01\r\nBAD2\x01\r\nBAD3\x01\r\n")
    codes = []
    for _ in range(3):
        ev = server.next_event()
        assert isinstance(ev, InvalidCommand)
        codes.append(ev.hint.code)
        server.send(Reply.from_hint(ev.hint))
    assert codes == [500, 500, 421]
    assert server.state is State.CLOSED


def test_over_long_command_line_gets_500_and_the_session_survives() -> None:
    server = ServerConnection(capabilities=caps())
    server.send(server.greeting())
    server.receive_data(b"NOOP " + b"x" * 100_000 + b"\r\nNOOP\r\n")
    [ev, noop] = [server.next_event(), None]
    assert isinstance(ev, InvalidCommand) and ev.hint.code == 500
    assert str(ev.hint.enhanced) == "5.5.6"
    server.send(Reply.from_hint(ev.hint))
    noop = server.next_event()
    assert isinstance(noop, Noop)
    assert len(server.trailing_data[0]) == 0


def test_size_limit_refuses_the_message_after_end_of_data() -> None:
    from smtpcore import Limits

    pair = session(server_caps=caps(size=0))
    pair.server.config = ServerConfig(limits=Limits(message_size=10))
    pair.client_send(Mail(reverse_path=None))
    pair.server_send(Reply.of(250, "ok"))
    pair.client_send(Rcpt(forward_path=A("b@mx.example")))
    pair.server_send(Reply.of(250, "ok"))
    pair.client_send(Data())
    pair.server_send(Reply.of(354, "go"))
    events = pair.client_send(MessageData(data=b"x" * 100), EndOfMessage())
    end = events[-1]
    assert isinstance(end, EndOfMessage) and end.exceeded
    assert not any(isinstance(e, MessageData) for e in events[1:])
    with pytest.raises(LocalProtocolError, match="refused"):
        pair.server.send(Reply.of(250, "ok"))


def test_bare_line_endings_in_data_are_refused_by_default() -> None:
    server = ServerConnection(capabilities=caps())
    server.send(server.greeting())
    for line, reply in [
        (b"EHLO c.example\r\n", server.ehlo_reply()),
        (b"MAIL FROM:<>\r\n", Reply.of(250, "ok")),
        (b"RCPT TO:<b@mx.example>\r\n", Reply.of(250, "ok")),
        (b"DATA\r\n", Reply.of(354, "go")),
    ]:
        server.receive_data(line)
        drain(server)
        server.send(reply)
    # a smuggling attempt: "\n.\n" must not end the data, and the second "MAIL" is message text
    server.receive_data(b"a\n.\nMAIL FROM:<evil@x.example>\r\nRCPT TO:<v@mx.example>\r\n.\r\n")
    events = drain(server)
    end = events[-1]
    assert isinstance(end, EndOfMessage) and end.bare_line_endings
    body = b"".join(e.data for e in events if isinstance(e, MessageData))
    assert b"MAIL FROM:<evil@x.example>" in body
    assert server.refusal is not None and server.refusal.code == 554
    server.send(Reply.from_hint(server.refusal))
    assert server.messages == 0 and server.state is State.READY


def test_starttls_discards_pipelined_plaintext_and_resets() -> None:
    # RFC 3207 §4.2, CVE-2011-0411: commands behind STARTTLS are never executed.
    server = ServerConnection(capabilities=caps())
    server.send(server.greeting())
    server.receive_data(b"EHLO c.example\r\n")
    drain(server)
    server.send(server.ehlo_reply())
    server.receive_data(b"STARTTLS\r\nMAIL FROM:<evil@x.example>\r\n")
    assert drain(server) == [StartTLS()]
    server.send(Reply.of(220, "go ahead"))
    assert server.next_event() is PAUSED and server.state is State.TLS
    assert server.discarded_after_starttls == len(b"MAIL FROM:<evil@x.example>\r\n")
    server.tls_established()
    assert server.state is State.HELLO and server.tls_active
    assert "STARTTLS" not in server.ehlo_reply().text
    server.receive_data(b"MAIL FROM:<a@b.example>\r\n")
    [ev] = drain(server)
    assert isinstance(ev, InvalidCommand) and ev.hint.code == 503  # EHLO again first


def test_client_refuses_bytes_behind_the_starttls_220() -> None:
    # The response-injection defence: a reply smuggled behind 220 is never taken as a reply.
    pair = session()
    pair.client.send(StartTLS())
    pair.client.receive_data(b"220 go ahead\r\n250 injected\r\n")
    with pytest.raises(RemoteProtocolError, match="behind its 220"):
        pair.client.next_event()
    pair = session()
    pair.client_send(StartTLS())
    pair.server_send(Reply.of(220, "go"))
    assert pair.client.next_event() is PAUSED
    pair.client.tls_established()
    assert pair.client.capabilities is None and pair.client.state is State.HELLO


def test_auth_plain_and_continuation() -> None:
    pair = session(auth_requires_tls=False)
    events = pair.client_send(Auth(mechanism="PLAIN"))
    assert events == [Auth(mechanism="PLAIN")]
    [challenge] = pair.server_send(Reply.of(334, ""))
    assert isinstance(challenge, Reply) and challenge.code == 334
    [resp] = pair.client_send(AuthResponse(data=b"\0user\0pass"))
    assert resp == AuthResponse(data=b"\0user\0pass")
    pair.server_send(Reply.of(235, "Authentication successful", "2.7.0"))
    assert pair.client.authenticated and pair.server.authenticated
    # RFC 4954 §4: no second AUTH once authenticated
    pair.server.receive_data(b"AUTH PLAIN\r\n")
    [ev] = drain(pair.server)
    assert isinstance(ev, InvalidCommand) and ev.hint.code == 503


def test_auth_needs_tls_by_default() -> None:
    server = ServerConnection(capabilities=caps())
    server.send(server.greeting())
    server.receive_data(b"EHLO c.example\r\n")
    drain(server)
    assert "AUTH" not in server.ehlo_reply().text
    server.send(server.ehlo_reply())
    server.receive_data(b"AUTH PLAIN AHVzZXIAcGFzcw==\r\n")
    [ev] = drain(server)
    assert isinstance(ev, InvalidCommand) and ev.hint.code == 538


def test_auth_cancel_and_bad_base64_get_501() -> None:
    server = ServerConnection(capabilities=caps(), auth_requires_tls=False)
    server.send(server.greeting())
    server.receive_data(b"EHLO c.example\r\n")
    drain(server)
    server.send(server.ehlo_reply())
    server.receive_data(b"AUTH LOGIN\r\n")
    drain(server)
    server.send(Reply.of(334, "VXNlcm5hbWU6"))
    server.receive_data(b"*\r\n")
    [cancel] = drain(server)
    assert type(cancel).__name__ == "AuthCancel"
    server.send(Reply.of(501, "cancelled", "5.0.0"))
    assert server.state is State.READY
    server.receive_data(b"AUTH LOGIN\r\n")
    drain(server)
    server.send(Reply.of(334, "VXNlcm5hbWU6"))
    server.receive_data(b"not base64!\r\n")
    [bad] = drain(server)
    assert isinstance(bad, InvalidCommand) and bad.hint.code == 501
    server.send(Reply.from_hint(bad.hint))
    assert server.state is State.READY


def test_bdat_session_and_refused_chunk_is_discarded() -> None:
    pair = session()
    pair.client_send(Mail(reverse_path=None))
    pair.server_send(Reply.of(250, "ok"))
    pair.client_send(Rcpt(forward_path=A("b@mx.example")))
    pair.server_send(Reply.of(250, "ok"))
    events = pair.client_send(Bdat(size=5), MessageData(data=b"hello"))
    assert events[0] == Bdat(size=5)
    assert isinstance(events[-1], EndOfChunk)
    pair.server_send(Reply.of(250, "5 octets"))
    # "." CRLF inside a chunk is data, not an end marker (RFC 3030 §2: no dot-stuffing)
    events = pair.client_send(Bdat(size=5, last=True), MessageData(data=b"\r\n.\r\n"))
    assert isinstance(events[-1], EndOfMessage) and events[-1].size == 10
    assert b"".join(e.data for e in events if isinstance(e, MessageData)) == b"\r\n.\r\n"
    pair.server_send(Reply.of(250, "queued"))
    assert pair.server.messages == 1
    # RFC 3030 §2 (go-smtp#315): BDAT with no transaction is refused, its chunk discarded,
    # never read as commands.
    pair.server.receive_data(b"BDAT 20 LAST\r\nRSET\r\nQUIT\r\nQUIT\r\n\r\nNOOP\r\n")
    events = drain(pair.server)
    assert len(events) == 1 and isinstance(events[0], InvalidCommand)
    assert events[0].hint.code == 503
    assert events[0].line == "BDAT 20 LAST"  # the command as it came, for the log
    pair.server.send(Reply.from_hint(events[0].hint))
    assert drain(pair.server) == [Noop()]


def test_bdat_overflow_is_refused_by_the_client() -> None:
    pair = session()
    pair.client_send(Mail(reverse_path=None))
    pair.server_send(Reply.of(250, "ok"))
    pair.client_send(Rcpt(forward_path=A("b@mx.example")))
    pair.server_send(Reply.of(250, "ok"))
    pair.client.send(Bdat(size=3, last=True))
    with pytest.raises(LocalProtocolError, match="overflow"):
        pair.client.send(MessageData(data=b"toolong"))


def test_lmtp_one_reply_per_accepted_recipient() -> None:
    # RFC 2033 §4.2: after the final ".", one reply per successful RCPT, in order.
    pair = session(lmtp=True)
    for cmd, reply in [
        (Mail(reverse_path=A("a@c.example")), Reply.of(250, "ok")),
        (Rcpt(forward_path=A("one@mx.example")), Reply.of(250, "ok")),
        (Rcpt(forward_path=A("two@mx.example")), Reply.of(550, "unknown")),
        (Rcpt(forward_path=A("three@mx.example")), Reply.of(250, "ok")),
        (Data(), Reply.of(354, "go")),
    ]:
        pair.client_send(cmd)
        pair.server_send(reply)
    events = pair.client_send(MessageData(data=b"hi\r\n"), EndOfMessage())
    assert isinstance(events[-1], EndOfMessage)
    assert pair.server.replies_owed == 2
    first = pair.server_send(Reply.of(250, "delivered to one"))
    assert pair.server.state is State.DATA or pair.server.replies_owed == 1
    second = pair.server_send(Reply.of(452, "mailbox of three is full"))
    assert [r.code for r in first + second] == [250, 452]  # type: ignore[attr-defined]
    assert pair.client.state is State.READY and pair.server.state is State.READY


def test_lmtp_server_refuses_ehlo() -> None:
    server = ServerConnection(config=ServerConfig(lmtp=True))
    server.send(server.greeting())
    server.receive_data(b"EHLO c.example\r\nLHLO c.example\r\n")
    [ev] = drain(server)
    assert isinstance(ev, InvalidCommand) and ev.hint.code == 500
    server.send(Reply.from_hint(ev.hint))
    assert drain(server) == [Lhlo(hostname="c.example")]


def test_helo_fallback_when_ehlo_is_refused() -> None:
    pair = make_pair()
    greet(pair)
    pair.client_send(Ehlo(hostname="c.example"))
    pair.server_send(Reply.of(502, "no ESMTP"))
    pair.client_send(Helo(hostname="c.example"))
    pair.server_send(Reply.of(250, "mx.example"))
    assert pair.client.capabilities is not None and not pair.client.capabilities.pipelining
    assert pair.server.esmtp is False and pair.server.helo_name == "c.example"


def test_rset_clears_the_transaction() -> None:
    pair = session()
    pair.client_send(Mail(reverse_path=None))
    pair.server_send(Reply.of(250, "ok"))
    pair.client_send(Rset())
    pair.server_send(Reply.of(250, "flushed"))
    assert pair.server.mail is None and pair.server.state is State.READY
    assert pair.client.state is State.READY


def test_server_refuses_illegal_reply_codes() -> None:
    server = ServerConnection(capabilities=caps())
    with pytest.raises(LocalProtocolError):
        server.send(Reply.of(250, "not a greeting"))
    server = ServerConnection(capabilities=caps())
    server.send(server.greeting())
    server.receive_data(b"EHLO c.example\r\nMAIL FROM:<>\r\n")
    drain(server)
    server.send(server.ehlo_reply())
    drain(server)
    with pytest.raises(LocalProtocolError, match="354"):
        server.send(Reply.of(354, "go"))  # 354 answers DATA only


def test_client_rejects_broken_replies() -> None:
    for wire in [b"2x0 nope\r\n", b"250-a\r\n251 b\r\n", b"hello\r\n"]:
        client = ClientConnection()
        client.receive_data(wire)
        with pytest.raises(RemoteProtocolError):
            drain(client)
        assert client.state is State.ERROR
    client = ClientConnection()
    client.receive_data(b"220 hi\r\n250 unsolicited\r\n")
    client.next_event()
    with pytest.raises(RemoteProtocolError, match="unsolicited"):
        client.next_event()


def test_endless_multiline_reply_is_bounded() -> None:
    from smtpcore import Limits

    client = ClientConnection(config=ClientConfig(limits=Limits(reply_lines=50)))
    with pytest.raises(RemoteProtocolError, match="longer than"):
        for _ in range(100):
            client.receive_data(b"220-more\r\n")
            assert client.next_event() is NEED_DATA


def test_unsolicited_421_closes() -> None:
    pair = session()
    bye, _ = pair.server_send(Reply.of(421, "shutting down", "4.3.2"))
    assert isinstance(bye, Reply) and bye.code == 421
    assert pair.client.state is State.CLOSED and pair.server.state is State.CLOSED


def test_eof_in_the_middle_of_data_is_not_a_message() -> None:
    server = ServerConnection(capabilities=caps())
    server.send(server.greeting())
    for line, reply in [
        (b"EHLO c.example\r\n", server.ehlo_reply()),
        (b"MAIL FROM:<>\r\n", Reply.of(250, "ok")),
        (b"RCPT TO:<b@mx.example>\r\n", Reply.of(250, "ok")),
        (b"DATA\r\n", Reply.of(354, "go")),
    ]:
        server.receive_data(line)
        drain(server)
        server.send(reply)
    server.receive_data(b"half a message\r\n")
    server.receive_data(b"")
    events = drain(server)
    assert not any(isinstance(e, EndOfMessage) for e in events)
    assert isinstance(events[-1], ConnectionClosed)
    assert server.messages == 0


def test_554_greeting_allows_only_quit() -> None:
    # RFC 5321 §3.1: after "554 No SMTP service here" only QUIT; anything else gets 503.
    refused = make_pair()
    refused.server_send(Reply.of(554, "No SMTP service here"))
    with pytest.raises(LocalProtocolError, match="554"):
        refused.client.send(Ehlo(hostname="c.example"))
    pair = make_pair()
    pair.server_send(Reply.of(554, "No SMTP service here"))
    assert pair.client.greeting_refused
    server = ServerConnection()
    server.send(Reply.of(554, "No SMTP service here"))
    server.receive_data(b"EHLO c.example\r\nQUIT\r\n")
    [ev] = drain(server)
    assert isinstance(ev, InvalidCommand) and ev.hint.code == 503
    server.send(Reply.from_hint(ev.hint))
    assert drain(server) == [Quit()]
    pair.client_send(Quit())
    assert pair.server_send(Reply.of(221, "bye"))[0].code == 221  # type: ignore[attr-defined]


def test_what_is_advertised_follows_the_session_and_is_shared_by_connections() -> None:
    from smtpcore import Limits

    # The advertised capabilities, their EHLO reply and the command line limit are worked
    # out once per (capabilities, config, TLS, AUTH hidden) and shared; each connection still
    # sees its own: RFC 3207 §4.2 (no STARTTLS under TLS), AUTH hidden before TLS when it
    # requires TLS, and RFC 5321 §4.5.3.1.4's 512 plus the extensions' allowances.
    caps = Capabilities.build(domain="mx.example", starttls=True, auth=["PLAIN"], size=1000)
    config = ServerConfig()  # a server's connections share its config and capabilities
    plain = ServerConnection(capabilities=caps, config=config)
    tls = ServerConnection(capabilities=caps, config=config, tls=True)
    assert plain.ehlo_reply() is ServerConnection(capabilities=caps, config=config).ehlo_reply()
    assert "STARTTLS" in plain.ehlo_reply().lines and "AUTH PLAIN" not in plain.ehlo_reply().lines
    assert "STARTTLS" not in tls.ehlo_reply().lines and "AUTH PLAIN" in tls.ehlo_reply().lines
    assert plain.max_command_line == 512 + 26  # SIZE's allowance (RFC 1870 §3)
    # Another capabilities value on a live connection, or another config, is seen at once.
    plain.capabilities = Capabilities.build(domain="other.example")
    assert plain.ehlo_reply().lines == ("other.example",)
    assert plain.max_command_line == 512
    plain.config = ServerConfig(limits=Limits(command_line=1000))
    assert plain.max_command_line == 1000
    # A different server in the same process is not confused with the first.
    other = ServerConnection(capabilities=Capabilities.build(domain="mx2.example", size=5))
    assert other.ehlo_reply().lines[0] == "mx2.example" and "SIZE 5" in other.ehlo_reply().lines


def test_helo_is_answered_with_the_server_name_only() -> None:
    # RFC 5321 §4.1.1.1: HELO's 250 names the server and lists no extensions (those are
    # EHLO's); the reply is built once per name and shared by a server's connections.
    config = ServerConfig(hostname="mx.example")
    server = ServerConnection(config=config)
    assert server.helo_reply() == Reply(code=250, lines=("mx.example",))
    assert server.helo_reply() is ServerConnection(config=config).helo_reply()
    assert ServerConnection(config=ServerConfig(hostname="mx2.example")).helo_reply().lines == (
        "mx2.example",
    )
    server.send(server.greeting())
    server.receive_data(b"HELO client.example\r\n")
    [helo] = drain(server)
    assert server.send(server.helo_reply()) == b"250 mx.example\r\n"
    assert server.state is State.READY and not server.esmtp
    assert helo == Helo(hostname="client.example")


@pytest.mark.parametrize(
    "ender",
    [
        Noop(),
        Ehlo(hostname="again.example"),
        Quit(),
        StartTLS(),
        Auth(mechanism="PLAIN"),
        Data(),
    ],
    ids=lambda c: type(c).__name__,
)
def test_nothing_is_pipelined_behind_a_group_ender(ender: object) -> None:
    # RFC 2920 §3.1 ("can only appear as the last command in a group"), RFC 3207 §4.2 and
    # RFC 4954 §4: until its reply comes, nothing may follow, whatever else is pending.
    pair = session(server_caps=caps(starttls=True, auth=["PLAIN"]))
    client = pair.client
    if isinstance(ender, Data):  # DATA needs a recipient; MAIL and RCPT pending before it
        client.send(Mail(reverse_path=A("a@c.example")))
        client.send(Rcpt(forward_path=A("b@mx.example")))
    else:
        client.send(Rset())  # something pending before it
    assert isinstance(ender, (Noop, Ehlo, Quit, StartTLS, Auth, Data))
    client.send(ender)
    with pytest.raises(LocalProtocolError, match=rf"cannot follow {client.pending[-1]}"):
        client.send(Rset())
    assert client.state is State.ERROR

"""The same events however the input bytes are split (h11's habit; DESIGN.md "the events are
the same however the input bytes are split").

Short sessions are fed whole, one byte at a time and cut in two at every position
(``helpers.feed_all_splits``); long ones are cut at random points by hypothesis. Both
directions: the server's events from the client's bytes, the client's replies from the
server's bytes. The sessions cover pipelining (RFC 2920), DATA with dots and the end marker
across boundaries (RFC 5321 §4.5.2, §4.1.1.4), bare CR/LF smuggling, BDAT (RFC 3030), AUTH
(RFC 4954) and STARTTLS (RFC 3207).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings, strategies as st

from smtpcore import (
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
    Event,
    InvalidCommand,
    Lhlo,
    Mail,
    MessageData,
    Quit,
    Rcpt,
    RemoteProtocolError,
    Reply,
    ServerConfig,
    ServerConnection,
    StartTLS,
    State,
)
from smtpcore._data import DataEncoder
from smtpcore._replies import format_reply
from tests.helpers import drain_auto, feed_all_splits
from tests.strategies import message_bodies, replies

CAPS = Capabilities.build(
    domain="mx.example",
    pipelining=True,
    chunking=True,
    starttls=True,
    size=100_000,
    eightbitmime=True,
    dsn=True,
    auth=("PLAIN",),
)


def make_server(*, lmtp: bool = False, bare: str = "reject") -> Callable[[], ServerConnection]:
    def make() -> ServerConnection:
        return ServerConnection(
            capabilities=CAPS,
            # A whole recorded stream has lost its timing: bytes behind DATA cannot be told
            # from improper pipelining, so that check (RFC 2920 §3.1) is off here.
            config=ServerConfig(
                hostname="mx.example",
                lmtp=lmtp,
                bare_line_endings=bare,  # type: ignore[arg-type]
                strict_pipelining=False,
            ),
            auth_requires_tls=False,
        )

    return make


def merged(events: list[Event]) -> list[Event]:
    out: list[Event] = []
    for ev in events:
        if isinstance(ev, MessageData) and out and isinstance(out[-1], MessageData):
            out[-1] = MessageData(data=out[-1].data + ev.data)
        else:
            out.append(ev)
    return out


def assert_split_invariant(runs: list[list[Event]]) -> list[Event]:
    whole = runs[0]
    for i, run in enumerate(runs[1:], 1):
        assert run == whole, f"split #{i} differs"
    return whole


def body_of(events: list[Event]) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, MessageData))


# --- server side: every split of short sessions ---------------------------------------------

PIPELINED = (
    # RFC 2920 §3.2 example, in one group up to DATA, then the message and QUIT
    b"EHLO dbc.mtview.ca.us\r\n"
    b"MAIL FROM:<mrose@dbc.mtview.ca.us>\r\n"
    b"RCPT TO:<ned@innosoft.com>\r\n"
    b"RCPT TO:<dan@innosoft.com>\r\n"
    b"RCPT TO:<kvc@innosoft.com>\r\n"
    b"DATA\r\n"
    b".dot\r\n..\r\n.\r\n"
    b"QUIT\r\n"
)


def test_pipelined_session_events_do_not_depend_on_the_split() -> None:
    events = assert_split_invariant(feed_all_splits(make_server(), PIPELINED))
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "Ehlo",
        "Mail",
        "Rcpt",
        "Rcpt",
        "Rcpt",
        "Data",
        "MessageData",
        "EndOfMessage",
        "Quit",
        "ConnectionClosed",
    ]
    # RFC 5321 §4.5.2: the first dot of a line is removed; ".\r\n" alone ends the data
    assert body_of(events) == b"dot\r\n.\r\n"


@pytest.mark.parametrize(
    "body",
    [
        b"\r\n.\r\n",  # the data starts with the end marker's tail: empty message
        b"a\r\n.\r\n",
        b"a\r\n..\r\n.\r\n",  # a stuffed lone dot, then the end
        b"..\r\n...\r\n.\r\n",
        b"a\r\n.b\r\n.\r\n",  # a dot at a line start without stuffing is taken away too
        b"\r\n\r\n.\r\n",
    ],
)
def test_data_end_marker_found_at_every_split(body: bytes) -> None:
    head = b"EHLO c.example\r\nMAIL FROM:<>\r\nRCPT TO:<b@mx.example>\r\nDATA\r\n"
    tail = b"NOOP\r\n"
    events = assert_split_invariant(feed_all_splits(make_server(), head + body + tail))
    assert [type(e).__name__ for e in events][-2:] == ["EndOfMessage", "Noop"]


@pytest.mark.parametrize("smuggle", [b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n", b"\r\n.\r"])
def test_bare_line_end_never_ends_data_at_any_split(smuggle: bytes) -> None:
    # The SMTP smuggling defence: only CRLF.CRLF ends the data, wherever the cut falls.
    wire = (
        b"EHLO c.example\r\nMAIL FROM:<>\r\nRCPT TO:<b@mx.example>\r\nDATA\r\n"
        b"x" + smuggle + b"RSET\r\n.\r\nNOOP\r\n"
    )
    events = assert_split_invariant(feed_all_splits(make_server(bare="allow"), wire))
    assert [type(e).__name__ for e in events][-2:] == ["EndOfMessage", "Noop"]
    assert b"RSET" in body_of(events)


def test_bdat_chunks_are_split_invariant() -> None:
    # RFC 3030 §2: exactly size octets follow; "\r\n.\r\n" and command words inside are data.
    wire = (
        b"EHLO c.example\r\nMAIL FROM:<>\r\nRCPT TO:<b@mx.example>\r\n"
        b"BDAT 9\r\nQUIT\r\n.\r\n"
        b"BDAT 0\r\n"
        b"BDAT 6 LAST\r\nRSET\r\n"
        b"NOOP\r\n"
    )
    events = assert_split_invariant(feed_all_splits(make_server(), wire))
    assert [type(e).__name__ for e in events] == [
        "Ehlo",
        "Mail",
        "Rcpt",
        "Bdat",
        "MessageData",
        "EndOfChunk",
        "Bdat",
        "EndOfChunk",
        "Bdat",
        "MessageData",
        "EndOfMessage",
        "Noop",
    ]
    assert body_of(events) == b"QUIT\r\n.\r\nRSET\r\n"


def test_refused_bdat_chunk_is_discarded_at_every_split() -> None:
    # RFC 3030 §2: a refused BDAT's octets are read and thrown away, never taken as commands.
    wire = b"EHLO c.example\r\nBDAT 12 LAST\r\nQUIT\r\nQUIT\r\nNOOP\r\n"
    events = assert_split_invariant(feed_all_splits(make_server(), wire))
    assert [type(e).__name__ for e in events] == ["Ehlo", "InvalidCommand", "Noop"]
    assert isinstance(events[1], InvalidCommand) and events[1].hint.code == 503


def test_lmtp_session_is_split_invariant() -> None:
    wire = (
        b"LHLO c.example\r\nMAIL FROM:<>\r\nRCPT TO:<a@mx.example>\r\nRCPT TO:<b@mx.example>\r\n"
        b"DATA\r\nhi\r\n.\r\nQUIT\r\n"
    )
    events = assert_split_invariant(feed_all_splits(make_server(lmtp=True), wire, eof=True))
    assert isinstance(events[-1], ConnectionClosed)
    assert [type(e).__name__ for e in events].count("EndOfMessage") == 1


def test_auth_exchange_is_split_invariant() -> None:
    # RFC 4954 §4: AUTH, a 334 challenge, a base64 line; "*" cancels
    wire = b"EHLO c.example\r\nAUTH PLAIN\r\nAHVzZXIAcGFzcw==\r\nNOOP\r\n"
    events = assert_split_invariant(feed_all_splits(make_server(), wire))
    assert events[1:3] == [Auth(mechanism="PLAIN"), AuthResponse(data=b"\0user\0pass")]


def test_starttls_pause_and_discard_do_not_depend_on_the_split() -> None:
    # RFC 3207 §4.2: what follows STARTTLS in plaintext is never executed, however it arrives
    wire = b"EHLO c.example\r\nSTARTTLS\r\nMAIL FROM:<evil@x.example>\r\n"
    for pieces in [[wire], [wire[:30], wire[30:]], [wire[:-5], wire[-5:]]]:
        server = make_server()()
        events: list[Event] = []
        for piece in pieces:
            server.receive_data(piece)
            events.extend(drain_auto(server))
        assert events == [Ehlo(hostname="c.example"), StartTLS()]
        assert server.state is State.TLS
        server.tls_established()
        assert drain_auto(server) == []
        assert server.discarded_after_starttls == len(b"MAIL FROM:<evil@x.example>\r\n")


def test_over_long_line_is_refused_the_same_at_every_split() -> None:
    wire = b"EHLO c.example\r\nNOOP " + b"x" * 5000 + b"\r\nNOOP\r\n"
    runs = feed_all_splits(make_server(), wire)
    events = assert_split_invariant(runs[:50] + runs[-50:])  # the ends cover the line limit
    assert [type(e).__name__ for e in events] == ["Ehlo", "InvalidCommand", "Noop"]


# --- client side ---------------------------------------------------------------------------


def client_after(*sent: object, lmtp: bool = False, ehlo: bytes | None = None) -> ClientConnection:
    client = ClientConnection(config=ClientConfig(lmtp=lmtp))
    client.receive_data(b"220 mx.example ESMTP\r\n")
    assert isinstance(client.next_event(), Reply)
    hello = Lhlo if lmtp else Ehlo
    client.send(hello(hostname="c.example"))
    client.receive_data(ehlo or b"250-mx.example\r\n250-PIPELINING\r\n250 CHUNKING\r\n")
    assert isinstance(client.next_event(), Reply)
    for event in sent:
        client.send(event)  # type: ignore[arg-type]
    return client


def test_multiline_ehlo_reply_at_every_split() -> None:
    def make() -> ClientConnection:
        client = ClientConnection()
        client.receive_data(b"220 mx.example ESMTP\r\n")
        client.next_event()
        client.send(Ehlo(hostname="c.example"))
        return client

    wire = b"250-mx.example greets you\r\n250-SIZE 1000\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
    [reply] = assert_split_invariant(feed_all_splits(make, wire))
    assert isinstance(reply, Reply) and reply.lines[1:] == ("SIZE 1000", "PIPELINING", "8BITMIME")


def test_pipelined_replies_at_every_split() -> None:
    # RFC 2920 §3.2 second example: one recipient refused with a multi-line reply
    cmds = [
        Mail(reverse_path=Address.parse("mrose@dbc.mtview.ca.us")),
        Rcpt(forward_path=Address.parse("ned@innosoft.com")),
        Rcpt(forward_path=Address.parse("dan@innosoft.com")),
        Data(),
    ]
    wire = (
        b"250 2.1.0 Sender ok\r\n"
        b"550-5.1.1 <ned@innosoft.com>... No such user\r\n550 5.1.1 try again later\r\n"
        b"250 2.1.5 Recipient ok\r\n"
        b"354 Enter mail, end with line containing only .\r\n"
    )
    replies = assert_split_invariant(feed_all_splits(lambda: client_after(*cmds), wire))
    assert [(r.code, r.command) for r in replies] == [  # type: ignore[attr-defined]
        (250, "MAIL"),
        (550, "RCPT"),
        (250, "RCPT"),
        (354, "DATA"),
    ]


def test_lmtp_replies_after_data_at_every_split() -> None:
    # RFC 2033 §4.2: one reply per accepted recipient after the final dot
    def make() -> ClientConnection:
        client = client_after(lmtp=True)
        for cmd, wire in [
            (Mail(reverse_path=None), b"250 ok\r\n"),
            (Rcpt(forward_path=Address.parse("a@mx.example")), b"250 ok\r\n"),
            (Rcpt(forward_path=Address.parse("b@mx.example")), b"250 ok\r\n"),
            (Data(), b"354 go\r\n"),
        ]:
            client.send(cmd)
            client.receive_data(wire)
            client.next_event()
        client.send(MessageData(data=b"hi\r\n"))
        client.send(EndOfMessage())
        return client

    wire = b"250 2.0.0 delivered to a\r\n452-4.2.2 b is\r\n452 4.2.2 over quota\r\n"
    replies = assert_split_invariant(feed_all_splits(make, wire))
    assert [r.code for r in replies] == [250, 452]  # type: ignore[attr-defined]


def test_lmtp_bdat_last_pipelined_behind_rcpts_at_every_split() -> None:
    """RFC 2033 §4.2 with RFC 3030 §4.2: BDAT LAST sent before the RCPT replies came; the
    client must still expect one reply per recipient accepted."""

    def make() -> ClientConnection:
        client = client_after(lmtp=True)
        for event in [
            Mail(reverse_path=None),
            Rcpt(forward_path=Address.parse("a@mx.example")),
            Rcpt(forward_path=Address.parse("b@mx.example")),
            Rcpt(forward_path=Address.parse("c@mx.example")),
            Bdat(size=3, last=True),
            MessageData(data=b"abc"),
        ]:
            client.send(event)
        return client

    wire = b"250 ok\r\n250 ok\r\n550 no\r\n250 ok\r\n250 to a\r\n452 c is full\r\n"
    replies = assert_split_invariant(feed_all_splits(make, wire))
    assert [(r.code, r.command) for r in replies] == [  # type: ignore[attr-defined]
        (250, "MAIL"),
        (250, "RCPT"),
        (550, "RCPT"),
        (250, "RCPT"),
        (250, "BDAT LAST"),
        (452, "BDAT LAST"),
    ]


def test_injected_reply_behind_starttls_220_is_refused_at_every_split() -> None:
    # RFC 3207 §5: a reply smuggled behind the 220 must never be read as a reply, whether it
    # arrives with the 220 or in a later read before the handshake.
    wire = b"220 2.0.0 go ahead\r\n250-mx.example\r\n250 AUTH PLAIN\r\n"
    for i in range(1, len(wire)):
        client = client_after(StartTLS())
        client.receive_data(wire[:i])
        with pytest.raises(RemoteProtocolError):
            for _ in range(10):
                client.next_event()
            client.receive_data(wire[i:])
            for _ in range(10):
                client.next_event()
            client.tls_established()
        assert client.state is State.ERROR


# --- random splits of long sessions ----------------------------------------------------------


@st.composite
def long_sessions(draw: st.DrawFn) -> bytes:
    """A pipelined client byte stream: several transactions by DATA or BDAT, bodies full of
    dots, CR and LF (encoded as a client would), RSETs and NOOPs between them."""
    parts = [b"EHLO c.example\r\n"]
    for i in range(draw(st.integers(1, 4))):
        parts.append(b"MAIL FROM:<a@c.example>\r\nRCPT TO:<b%d@mx.example>\r\n" % i)
        body = draw(message_bodies())
        if draw(st.booleans()):
            enc = DataEncoder()
            parts.append(b"DATA\r\n" + enc.encode(body) + enc.finish())
        else:
            cut = draw(st.integers(0, len(body)))
            parts.append(b"BDAT %d\r\n%s" % (cut, body[:cut]))
            parts.append(b"BDAT %d LAST\r\n%s" % (len(body) - cut, body[cut:]))
        parts.append(draw(st.sampled_from([b"", b"RSET\r\n", b"NOOP\r\n"])))
    parts.append(b"QUIT\r\n")
    return b"".join(parts)


def cut(data: bytes, points: list[int]) -> list[bytes]:
    """``data`` cut at ``points`` (taken modulo its length, sorted, deduplicated)."""
    at = sorted({p % (len(data) + 1) for p in points})
    pieces = [data[a:b] for a, b in zip([0, *at], [*at, len(data)], strict=True)]
    return [p for p in pieces if p]  # b"" would mean end of file


def _feed(make: Callable[[], ServerConnection], pieces: list[bytes]) -> list[Event]:
    conn = make()
    events: list[Event] = []
    for piece in pieces:
        conn.receive_data(piece)
        events.extend(drain_auto(conn))
    return merged(events)


@settings(max_examples=60, deadline=None)
@given(long_sessions(), st.lists(st.integers(0, 10_000), max_size=30), st.booleans())
def test_long_sessions_random_splits(wire: bytes, cuts: list[int], normalize: bool) -> None:
    make = make_server(bare="normalize" if normalize else "allow")
    pieces = cut(wire, cuts)
    whole = _feed(make, [wire])
    assert _feed(make, pieces) == whole
    assert isinstance(whole[-2], Quit) and isinstance(whole[-1], ConnectionClosed)
    assert not any(isinstance(e, InvalidCommand) for e in whole), whole
    assert sum(isinstance(e, EndOfMessage) for e in whole) == wire.count(b"RCPT")


@settings(max_examples=60, deadline=None)
@given(message_bodies(), st.lists(st.integers(0, 10_000), max_size=20))
def test_client_encoded_body_comes_out_whole_at_any_split(body: bytes, cuts: list[int]) -> None:
    """The client's DATA encoding, decoded by the server, gives the body with every line
    ending as CRLF, however the encoder's input and the server's input are cut."""
    enc = DataEncoder()
    wire = b"".join(enc.encode(piece) for piece in cut(body, cuts)) + enc.finish()
    head = b"EHLO c.example\r\nMAIL FROM:<>\r\nRCPT TO:<b@mx.example>\r\nDATA\r\n"
    stream = head + wire + b"NOOP\r\n"
    pieces = cut(stream, [c * 7 for c in cuts])
    events = _feed(make_server(), pieces)
    assert _feed(make_server(), [stream]) == events
    assert type(events[-1]).__name__ == "Noop"
    end = events[-2]
    assert isinstance(end, EndOfMessage) and not end.bare_line_endings
    normal = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    if normal and not normal.endswith(b"\r\n"):
        normal += b"\r\n"
    assert body_of(events) == normal


def test_quit_then_eof() -> None:
    # after the 221 the server is CLOSED and says so at once (RFC 5321 §4.1.1.10)
    events = assert_split_invariant(
        feed_all_splits(make_server(), b"EHLO c.example\r\nQUIT\r\n", eof=True)
    )
    assert events[:3] == [Ehlo(hostname="c.example"), Quit(), ConnectionClosed()]


def test_greeting_and_eof_only() -> None:
    server = make_server()()
    server.receive_data(b"")
    assert drain_auto(server) == [ConnectionClosed()]


def test_end_of_chunk_size_counts_octets() -> None:
    head = b"EHLO c.example\r\nMAIL FROM:<>\r\nRCPT TO:<b@mx.example>\r\n"
    wire = head + b"BDAT 3\r\n\r\n.BDAT 0 LAST\r\n"
    events = assert_split_invariant(feed_all_splits(make_server(), wire))
    assert EndOfChunk(size=3) in events and isinstance(events[-1], EndOfMessage)
    assert events[-1].size == 3


@settings(max_examples=40, deadline=None)
@given(st.lists(replies(), min_size=1, max_size=8), st.lists(st.integers(0, 100_000), max_size=30))
def test_client_replies_random_splits(answers: list[Reply], cuts: list[int]) -> None:
    """Long pipelined reply streams (multi-line, wrapped, enhanced codes) give the same
    replies, matched to the same commands, however they are cut."""
    # 3yz cannot answer RCPT; 421 would close the session (RFC 5321 §3.8) and end the stream
    answers = [
        r
        if r.code // 100 in (2, 5) or (r.code // 100 == 4 and r.code != 421)
        else Reply(code=450 if r.code == 421 else 250, lines=r.lines)
        for r in answers
    ]
    rcpts = [Rcpt(forward_path=Address.parse(f"r{i}@mx.example")) for i in range(len(answers))]

    def make() -> ClientConnection:
        return client_after(Mail(reverse_path=None), *rcpts)

    wire = b"250 ok\r\n" + b"".join(format_reply(r) for r in answers)
    runs = []
    for pieces in ([wire], cut(wire, cuts)):
        client = make()
        got: list[Event] = []
        for piece in pieces:
            client.receive_data(piece)
            got.extend(drain_auto(client))
        runs.append(got)
    assert runs[0] == runs[1]
    assert [r.command for r in runs[0]] == ["MAIL"] + ["RCPT"] * len(answers)  # type: ignore[attr-defined]
    assert [r.code for r in runs[0][1:]] == [r.code for r in answers]  # type: ignore[attr-defined]

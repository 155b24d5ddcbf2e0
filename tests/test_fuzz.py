"""The fuzz targets (fuzz/targets.py) run briefly in CI, on inputs built from SMTP tokens so
that they reach deep states, plus a replay of the seed corpus (fuzz/corpus/) and the
properties that the smuggling rule gives (issue 9). ``fuzz/run.py`` runs the same targets for
as long as you like."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from fuzz.targets import (
    TARGETS,
    chunks,
    client_target,
    command_target,
    data_target,
    drive_server,
    dsn_target,
    reply_target,
    server_target,
)
from smtpcore import NEED_DATA, Limits, ServerConfig, ServerConnection
from smtpcore._events import EndOfMessage, InvalidCommand, Mail, MessageData, Quit

CORPUS = Path(__file__).resolve().parent.parent / "fuzz" / "corpus"

fuzz_settings = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

COMMAND_TOKENS = [
    b"EHLO client.example\r\n",
    b"HELO client.example\r\n",
    b"LHLO client.example\r\n",
    b"MAIL FROM:<a@example.org>\r\n",
    b"MAIL FROM:<a@example.org> SIZE=100 BODY=8BITMIME\r\n",
    b"MAIL FROM:<> BODY=BINARYMIME\r\n",
    b"MAIL FROM:<a@example.org> SIZE=1 SIZE=2\r\n",
    b"MAIL FROM:<a@example.org> SIZE=99999999999999999999999\r\n",
    b"MAIL FROM:<a@example.org> RET=FULL ENVID=QQ+2B1 AUTH=<> REQUIRETLS\r\n",
    b"MAIL FROM:<\xc3\xa9@example.org> SMTPUTF8\r\n",
    b"MAIL FROM:<\xff@example.org>\r\n",
    b"MAIL FROM: <a@example.org>\r\n",
    b"MAIL FROM:a@example.org\r\n",
    b"RCPT TO:<b@example.net>\r\n",
    b"RCPT TO:<b@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.net\r\n",
    b"RCPT TO:<@relay.example,@r2.example:b@example.net>\r\n",
    b"RCPT TO:<" + b"x" * 300 + b"@example.net>\r\n",
    b"RCPT TO:<postmaster>\r\n",
    b"DATA\r\n",
    b"BDAT 5\r\nhello",
    b"BDAT 3 LAST\r\nabc",
    b"BDAT 0 LAST\r\n",
    b"BDAT 10 LAST\r\nshort",
    b"BDAT -1\r\n",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"QUIT\r\n",
    b"STARTTLS\r\n",
    b"AUTH PLAIN\r\n",
    b"AUTH PLAIN AHVzZXIAcHc=\r\n",
    b"AUTH LOGIN\r\n",
    b"AUTH CRAM-MD5 =\r\n",
    b"dXNlcg==\r\n",
    b"!!notbase64\r\n",
    b"*\r\n",
    b"VRFY someone\r\n",
    b"EXPN list\r\n",
    b"HELP\r\n",
    b"XYZZY\r\n",
    b"\r\n",
    b".\r\n",
    b"\r\n.\r\n",
    b"\n.\n",
    b"\r.\r",
    b"\n.\r\n",
    b"\x00",
    b"\r",
    b"\n",
    b"Subject: x\r\n",
    b".",
    b"\xe9t\xe9",
    b"A" * 700 + b"\r\n",
]

REPLY_TOKENS = [
    b"220 mx.example ESMTP\r\n",
    b"220-mx.example\r\n",
    b"250-mx.example\r\n",
    b"250-PIPELINING\r\n",
    b"250-CHUNKING\r\n",
    b"250-STARTTLS\r\n",
    b"250-AUTH PLAIN LOGIN\r\n",
    b"250 SIZE 1000\r\n",
    b"250 2.0.0 ok\r\n",
    b"250 ok\r\n",
    b"251 forwarded\r\n",
    b"354 go ahead\r\n",
    b"334 \r\n",
    b"421 4.7.0 bye\r\n",
    b"450 try later\r\n",
    b"550 5.1.1 no such user\r\n",
    b"554 no\r\n",
    b"220 go\r\n250 injected\r\n",
    b"250-x\r\n251 y\r\n",
    b"2x0 bad\r\n",
    b"999 bad\r\n",
    b"250",
    b"\r\n",
    b"\n",
    b"\r",
    b"\x00",
    b"\xff\xfe",
    b"250-" + b"y" * 3000 + b"\r\n",
]

BODY_TOKENS = [b"\r", b"\n", b".", b"\r\n", b"a", b"\x00", b"\xe9", b"MAIL FROM:<x@y.example>"]


def _stream(tokens: list[bytes], max_size: int = 40) -> st.SearchStrategy[bytes]:
    return st.lists(
        st.one_of(st.sampled_from(tokens), st.binary(max_size=8)), max_size=max_size
    ).map(b"".join)


def _with_options(stream: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    return st.tuples(st.integers(0, 255), st.integers(0, 255), stream).map(
        lambda t: bytes([t[0], t[1]]) + t[2]
    )


# --- the targets, on token streams --------------------------------------------------------


@fuzz_settings
@given(_with_options(_stream(COMMAND_TOKENS)))
def test_server_connection_survives_any_session(data: bytes) -> None:
    # Bad input of every kind gets a refusal (a reply from the engine's hint), never an
    # unhandled exception; memory stays bounded; STARTTLS discards what came behind it.
    server_target(data)


@fuzz_settings
@given(_with_options(_stream(REPLY_TOKENS)))
def test_client_connection_survives_any_server(data: bytes) -> None:
    # A broken server gives a RemoteProtocolError and the ERROR state, nothing else.
    client_target(data)


@fuzz_settings
@given(st.integers(0, 3), st.lists(st.sampled_from(COMMAND_TOKENS), min_size=1, max_size=3))
def test_command_lines_parse_or_refuse_and_round_trip(opts: int, tokens: list[bytes]) -> None:
    line = b"".join(tokens).split(b"\r\n")[0]
    command_target(bytes([opts]) + line)


@fuzz_settings
@given(_stream(REPLY_TOKENS))
def test_reply_lines_assemble_or_refuse_and_round_trip(data: bytes) -> None:
    reply_target(data)


@fuzz_settings
@given(_with_options(_stream(BODY_TOKENS, max_size=60)))
def test_data_decoder_ends_only_at_crlf_dot_crlf(data: bytes) -> None:
    data_target(data)


def _corpus(name: str) -> list[bytes]:
    folder = CORPUS / name
    return [p.read_bytes() for p in sorted(folder.iterdir())] if folder.is_dir() else []


@fuzz_settings
@given(
    st.sampled_from(_corpus("dsn") or [b""]),
    st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 64), st.binary(max_size=16))),
)
def test_dsn_parse_never_raises_on_mangled_reports(seed: bytes, edits: list) -> None:  # type: ignore[type-arg]
    # dsn.parse's contract: None or a Report for any input; here real reports with
    # pieces cut out and garbage put in.
    data = bytearray(seed)
    for pos, cut, junk in edits:
        at = pos % (len(data) + 1)
        data[at : at + cut] = junk
    dsn_target(bytes(data))


@pytest.mark.parametrize(
    "path",
    sorted(p for p in CORPUS.glob("*/*") if p.is_file()),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_corpus_replays_cleanly(path: Path) -> None:
    # Every seed (and every crash turned into a seed) goes through its target again.
    TARGETS[path.parent.name](path.read_bytes())


def test_corpus_covers_every_target_and_stays_small() -> None:
    files = [p for p in CORPUS.glob("*/*") if p.is_file()]
    assert {p.parent.name for p in files} == set(TARGETS)
    assert sum(p.stat().st_size for p in files) < 256 * 1024


# --- properties of the smuggling rule -----------------------------------------------------

_SESSION = b"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"


@fuzz_settings
@given(
    st.sampled_from(["reject", "normalize", "allow"]),
    st.integers(1, 40),
    st.lists(st.sampled_from(BODY_TOKENS), max_size=60).map(b"".join),
)
def test_a_smuggled_second_transaction_is_never_accepted(
    policy: str, size: int, body: bytes
) -> None:
    # RFC 5321 §4.1.1.4 and the 2023 smuggling disclosures: whatever the body holds (bare
    # CR, LF, dots, NUL, command look-alikes) and however it is split, one DATA gives one
    # EndOfMessage; no MAIL inside the body is ever taken as a command.
    framed = b"\r\n" + body + b"\r\n.\r\n"
    if framed.find(b"\r\n.\r\n") != len(framed) - 5:
        return  # the body holds a real end of data: not a smuggling attempt
    wire = _SESSION + body + b"\r\n.\r\nQUIT\r\n"
    conn = ServerConnection(config=ServerConfig(bare_line_endings=policy))  # type: ignore[arg-type]
    # the client waits for the 354 (RFC 2920 §3.1): the body comes in later reads
    split = len(_SESSION)
    events = drive_server(conn, [*chunks(wire[:split], size), *chunks(wire[split:], size)])
    kinds = [type(e) for e in events if not isinstance(e, MessageData)]
    assert kinds.count(Mail) == 1
    assert kinds.count(EndOfMessage) == 1
    assert Quit in kinds and InvalidCommand not in kinds
    data = b"".join(e.data for e in events if isinstance(e, MessageData))
    [end] = [e for e in events if isinstance(e, EndOfMessage)]
    if policy == "normalize":
        assert data.count(b"\r") == data.count(b"\n") == data.count(b"\r\n")
    if policy == "reject" and end.bare_line_endings:
        assert conn.messages == 0  # refused: 554 5.6.0 was the only allowed answer
    else:
        assert conn.messages == 1


def test_endless_command_line_never_grows_the_server_buffer() -> None:
    # RFC 5321 §4.5.3.1.4: the engine holds at most a line's worth while it discards an
    # over-long line (16 MiB fed here), then answers 500 5.5.6 once and goes on.
    conn = ServerConnection(config=ServerConfig(limits=Limits()))
    conn.send(conn.greeting())
    block = b"A" * 65536
    for _ in range(256):
        conn.receive_data(block)
        assert conn.next_event() is NEED_DATA
        assert len(conn.trailing_data[0]) <= conn.max_command_line
    conn.receive_data(b"\r\nNOOP\r\n")
    event = conn.next_event()
    assert isinstance(event, InvalidCommand) and event.hint.code == 500
    assert str(event.hint.enhanced) == "5.5.6"


@pytest.mark.parametrize(
    "line",
    [
        "MAIL FROM:<a@example.org> XFOO=H\u016dS".encode(),
        "RCPT TO:<b@example.net> XFOO=\u00e9".encode(),
    ],
    ids=["mail", "rcpt"],
)
@pytest.mark.parametrize("strict", [True, False])
def test_non_ascii_parameter_value_needs_smtputf8(line: bytes, strict: bool) -> None:
    # RFC 5321 §4.1.2: esmtp-value = 1*(%d33-60 / %d62-126), ASCII only; RFC 6531 §3.3 allows
    # UTF-8 there only in a transaction that gave SMTPUTF8. Without it: 501 5.5.4.
    from smtpcore import LocalProtocolError
    from smtpcore._commands import parse_command

    with pytest.raises(LocalProtocolError) as info:
        parse_command(line, strict=strict, utf8=False)
    assert info.value.reply_hint.code == 501
    command_target(bytes([int(strict)]) + line)  # the fuzz crash itself


@fuzz_settings
@given(
    st.lists(st.one_of(st.sampled_from(BODY_TOKENS), st.binary(max_size=6)), max_size=40).map(
        b"".join
    ),
    st.integers(1, 16),
)
def test_our_client_never_emits_a_smuggling_sequence(body: bytes, size: int) -> None:
    # The client side of the smuggling rule, for any body: the client's data goes through
    # the strict server (bare_line_endings="reject") as exactly one message, with no bare
    # CR or LF, holding the body with every CR, LF and CRLF read as one line end.
    from smtpcore import Address, ClientConnection, Reply
    from smtpcore._events import Data, Ehlo, Rcpt
    from tests.helpers import ConnectionPair, drain

    pair = ConnectionPair(ClientConnection(), ServerConnection())
    pair.server_send(pair.server.greeting())
    pair.client_send(Ehlo(hostname="c.example"))
    pair.server_send(pair.server.ehlo_reply())
    pair.client_send(Mail(reverse_path=Address.parse("a@example.org")))
    pair.server_send(Reply.of(250, "OK"))
    pair.client_send(Rcpt(forward_path=Address.parse("b@example.net")))
    pair.server_send(Reply.of(250, "OK"))
    pair.client_send(Data())
    pair.server_send(Reply.of(354, "go"))
    events = []
    for piece in [*chunks(body, size), None]:
        wire = pair.client.send(EndOfMessage() if piece is None else MessageData(data=piece))
        if wire:  # the encoder may hold back a CR: b"" here is no end of file
            pair.server.receive_data(wire)
        events += drain(pair.server)
    ends = [e for e in events if isinstance(e, EndOfMessage)]
    assert len(ends) == 1 and not ends[0].bare_line_endings
    assert pair.server.refusal is None
    data = b"".join(e.data for e in events if isinstance(e, MessageData))
    assert data.count(b"\r") == data.count(b"\n") == data.count(b"\r\n")
    expected = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if expected and not expected.endswith(b"\n"):
        expected += b"\n"
    assert data.replace(b"\r\n", b"\n") == expected

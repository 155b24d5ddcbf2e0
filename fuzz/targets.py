"""Fuzz targets: one function per attack surface, each taking arbitrary bytes.

A target returns normally for any input the library handles as documented (including the
documented errors: a server turns bad input into refusals, a client raises
``RemoteProtocolError`` for a broken server, ``dsn.parse`` never raises). Anything else, an
unexpected exception or a failed invariant, is a bug: the harness (``fuzz/run.py``, atheris
or hypothesis) reports the input, and ``tests/test_fuzz.py`` runs the same targets briefly in
CI and replays ``fuzz/corpus/``.

Input layout: the first octet or two select options (policies, chunk sizes) so that one
byte string describes a whole run; the rest is what the peer sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from smtpcore import (
    NEED_DATA,
    PAUSED,
    Address,
    ClientConnection,
    Limits,
    LocalProtocolError,
    RemoteProtocolError,
    ServerConfig,
    ServerConnection,
    dsn,
)
from smtpcore._commands import format_command, parse_command
from smtpcore._config import ClientConfig
from smtpcore._data import DataDecoder, DataEncoder
from smtpcore._events import (
    Auth,
    AuthCancel,
    AuthResponse,
    Bdat,
    ConnectionClosed,
    Data,
    Ehlo,
    EndOfChunk,
    EndOfMessage,
    Event,
    Expn,
    Helo,
    Help,
    InvalidCommand,
    Lhlo,
    Mail,
    MessageData,
    Quit,
    Rcpt,
    Reply,
    StartTLS,
    UnknownCommand,
    Vrfy,
)
from smtpcore._extensions import Capabilities
from smtpcore._receivebuffer import ReceiveBuffer
from smtpcore._replies import ReplyAssembler, format_reply
from smtpcore._state import State

__all__ = ["TARGETS", "chunks", "drive_server", "server_answers"]

POLICIES = ("reject", "normalize", "allow")
_MAX_EVENTS = 200_000


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    """``data`` in pieces of ``size`` octets (1 gives every byte split)."""
    for i in range(0, len(data), max(1, size)):
        yield data[i : i + size]


def _bare(data: bytes) -> bool:
    return not (data.count(b"\r") == data.count(b"\n") == data.count(b"\r\n"))


# --- the server ---------------------------------------------------------------------------


def server_answers(conn: ServerConnection, event: Event, auth_ok: bool) -> list[Reply]:
    """What a plain accept-everything server replies to ``event`` (our sessions' defaults)."""
    if isinstance(event, InvalidCommand):
        return [Reply.from_hint(event.hint)]
    if isinstance(event, (MessageData, Bdat)):
        return []  # a chunk is answered after its data
    if isinstance(event, (Ehlo, Lhlo)):
        return [conn.ehlo_reply()]
    if isinstance(event, Helo):
        return [Reply.of(250, conn.config.hostname)]
    if isinstance(event, Data):
        return [Reply.of(354, "go ahead")]
    if isinstance(event, (EndOfMessage, EndOfChunk)):
        refusal = conn.refusal
        reply = Reply.from_hint(refusal) if refusal else Reply.of(250, "OK", "2.0.0")
        return [reply] * max(1, conn.replies_owed)
    if isinstance(event, StartTLS):
        return [Reply.of(220, "go ahead", "2.0.0")]
    if isinstance(event, Auth):
        if event.initial_response is None:
            return [Reply.of(334, "")]
        return [Reply.of(235, "OK", "2.7.0") if auth_ok else Reply.of(535, "no", "5.7.8")]
    if isinstance(event, AuthResponse):
        return [Reply.of(235, "OK", "2.7.0") if auth_ok else Reply.of(535, "no", "5.7.8")]
    if isinstance(event, AuthCancel):
        return [Reply.of(501, "cancelled", "5.0.0")]
    if isinstance(event, Quit):
        return [Reply.of(221, "bye", "2.0.0")]
    if isinstance(event, UnknownCommand):
        return [Reply.of(500, "unrecognized", "5.5.2")]
    if isinstance(event, Vrfy):
        return [Reply.of(252, "cannot VRFY", "2.5.2")]
    if isinstance(event, Expn):
        return [Reply.of(502, "no", "5.5.1")]
    if isinstance(event, Help):
        return [Reply.of(214, "see RFC 5321", "2.0.0")]
    return [Reply.of(250, "OK", "2.0.0")]


def drive_server(
    conn: ServerConnection, pieces: Iterator[bytes] | list[bytes], *, auth_ok: bool = True
) -> list[Event]:
    """Feed ``pieces`` (then EOF) to ``conn``, answering every event; the events seen.

    Checks the invariants every input must keep: the engine never asks for a reply it
    then refuses, never buffers more than a line's worth of unprocessed input while it waits
    for more, and STARTTLS discards whatever came behind it.
    """
    seen: list[Event] = []
    conn.send(conn.greeting())
    limit = max(conn.config.limits.auth_line, conn.max_command_line) + 8
    try:
        for piece in [*pieces, b""]:
            conn.receive_data(piece)
            for _ in range(_MAX_EVENTS):
                event = conn.next_event()
                if event is NEED_DATA:
                    held = len(conn.trailing_data[0])
                    assert held <= limit, f"{held} octets buffered while waiting for more"
                    break
                if event is PAUSED:
                    assert conn.state is State.TLS, f"paused in {conn.state} with nothing owed"
                    conn.tls_established()
                    assert conn.trailing_data[0] == b""  # CVE-2011-0411
                    continue
                assert isinstance(event, Event)
                seen.append(event)
                if isinstance(event, ConnectionClosed):
                    return seen
                for reply in server_answers(conn, event, auth_ok):
                    conn.send(reply)
                if conn.state is State.CLOSED:
                    return seen
            else:
                raise AssertionError("next_event() never asked for more data")
    except RemoteProtocolError:
        assert conn.state is State.ERROR
    return seen


def server_target(data: bytes) -> None:
    """ServerConnection fed arbitrary bytes: options from the first two octets."""
    if len(data) < 2:
        return
    opts, size = data[0], data[1] % 64 + 1
    caps = Capabilities.build(
        domain="mx.example",
        pipelining=True,
        size=1_000_000 if opts & 0x40 else 0,
        starttls=bool(opts & 0x08),
        auth=("PLAIN", "LOGIN") if opts & 0x10 else (),
        eightbitmime=True,
        chunking=True,
        binarymime=True,
        dsn=True,
        smtputf8=True,
        enhancedstatuscodes=True,
    )
    config = ServerConfig(
        hostname="mx.example",
        bare_line_endings=POLICIES[opts % 3],  # type: ignore[arg-type]
        lmtp=bool(opts & 0x04) and not opts & 0x08,
        strict=bool(opts & 0x20),
        limits=Limits(recipients=3, errors=8, messages=2, message_size=4096),
    )
    conn = ServerConnection(capabilities=caps, config=config, auth_requires_tls=bool(opts & 0x80))
    drive_server(conn, chunks(data[2:], size), auth_ok=bool(opts & 0x01))


# --- the client ---------------------------------------------------------------------------


def _next_command(conn: ClientConnection, sent_mail: bool) -> Event | None:
    """The next step of one transaction from where the session stands, or None."""
    st = conn.state
    if st is State.HELLO:
        return Lhlo(hostname="client.example") if conn.lmtp else Ehlo(hostname="client.example")
    if st is State.READY:
        return Quit() if sent_mail else Mail(reverse_path=Address.parse("a@example.org"))
    if st is State.MAIL:
        return Rcpt(forward_path=Address.parse("b@example.net"))
    if st is State.RCPT:
        return Data()
    return None


def client_target(data: bytes) -> None:
    """ClientConnection reading arbitrary server bytes while it runs one transaction."""
    if len(data) < 2:
        return
    opts, size = data[0], data[1] % 64 + 1
    conn = ClientConnection(config=ClientConfig(lmtp=bool(opts & 1)))
    sent_mail = False
    limit = conn.config.limits.reply_line
    try:
        for piece in [*chunks(data[2:], size), b""]:
            conn.receive_data(piece)
            for _ in range(_MAX_EVENTS):
                event = conn.next_event()
                if event is NEED_DATA or event is PAUSED:
                    assert event is PAUSED or len(conn.trailing_data[0]) <= limit + 1
                    break
                if isinstance(event, ConnectionClosed):
                    return
                assert isinstance(event, Reply)
                if conn.pending:
                    continue
                if conn.state is State.DATA:
                    conn.send(MessageData(data=b"Subject: x\r\n\r\n.dot\nbare\r\n"))
                    conn.send(EndOfMessage())
                    continue
                cmd = _next_command(conn, sent_mail)
                if cmd is not None:
                    sent_mail = sent_mail or isinstance(cmd, Mail)
                    try:
                        conn.send(cmd)
                    except LocalProtocolError:
                        # the client refusing a step the server's replies ruled out (a 554
                        # greeting allows only QUIT): documented, and the end of the run
                        assert conn.state is State.ERROR
                        return
            else:
                raise AssertionError("next_event() never asked for more data")
    except RemoteProtocolError:
        assert conn.state is State.ERROR


# --- codecs ---------------------------------------------------------------------------------


def command_target(data: bytes) -> None:
    """parse_command on one line: a command or a LocalProtocolError; what parses formats
    back to a line that parses to the same command (RFC 5321 §4.1)."""
    if not data:
        return
    opts, line = data[0], data[1:]
    strict, utf8 = bool(opts & 1), bool(opts & 2)
    try:
        cmd = parse_command(line, strict=strict, utf8=utf8)
    except LocalProtocolError as exc:
        assert exc.reply_hint is not None and 500 <= exc.reply_hint.code < 600
        return
    if isinstance(cmd, UnknownCommand):
        return
    wire = format_command(cmd, utf8=utf8 or isinstance(cmd, Rcpt))
    assert wire.endswith(b"\r\n") and b"\r" not in wire[:-2] and b"\n" not in wire[:-2]
    again = parse_command(wire[:-2], strict=strict, utf8=utf8 or isinstance(cmd, Rcpt))
    assert again == cmd, (line, wire, cmd, again)


def reply_target(data: bytes) -> None:
    """ReplyAssembler over CRLF-separated lines: replies or LocalProtocolError; a reply
    formats back (format_reply) to lines that assemble to the same code and text."""
    assembler = ReplyAssembler(Limits())
    for line in data.split(b"\r\n")[:-1]:
        try:
            reply = assembler.add_line(line)
        except LocalProtocolError:
            assembler = ReplyAssembler(Limits())
            continue
        if reply is None:
            continue
        wire = format_reply(reply)
        back = ReplyAssembler(Limits())
        parsed = [back.add_line(ln) for ln in wire.split(b"\r\n")[:-1]]
        assert parsed[-1] is not None and parsed[-1].code == reply.code
        if all(len(ln.encode()) <= 500 for ln in reply.lines):
            assert parsed[-1].lines == reply.lines, (reply, wire)


def _decode(raw: list[bytes], policy: str) -> tuple[bytes, bool, int, bool, bool]:
    buf = ReceiveBuffer()
    dec = DataDecoder(bare_line_endings=policy)  # type: ignore[arg-type]
    out = bytearray()
    fed = 0
    for piece in raw:
        buf.feed(piece)
        fed += len(piece)
        for _ in range(_MAX_EVENTS):
            got = dec.decode(buf)
            out += got
            if not got:
                break
        if dec.done:
            break
    assert len(buf) <= max(4, len(raw[-1]) if raw else 0) or dec.done
    consumed = fed - len(buf)
    return bytes(out), dec.done, consumed, dec.bare_cr_or_lf, dec.eight_bit


def data_target(data: bytes) -> None:
    """DataDecoder: only CRLF "." CRLF ends the data (RFC 5321 §4.1.1.4, the smuggling
    rule), however the input is split; normalize leaves no bare CR or LF; what comes out
    goes back through DataEncoder and decodes to itself."""
    if len(data) < 2:
        return
    policy, size, raw = POLICIES[data[0] % 3], data[1] % 32 + 1, data[2:]
    whole = _decode([raw], policy)
    split = _decode(list(chunks(raw, size)) or [b""], policy)
    assert whole[:2] == split[:2] and whole[3:] == split[3:], (whole, split)
    out, done, consumed, bare, _eight = whole
    framed = b"\r\n" + raw
    first_end = framed.find(b"\r\n.\r\n")
    if done:
        assert consumed == first_end + 3, (consumed, first_end)
    else:
        assert first_end < 0
    if policy == "normalize":
        assert not _bare(out)
    if done and not bare:
        enc = DataEncoder()
        wire = enc.encode(out) + enc.finish()
        assert _decode([wire], policy)[:2] == (out, True)


def dsn_target(data: bytes) -> None:
    """dsn.parse never raises (its documented contract), and classify takes what it gives."""
    report = dsn.parse(data)
    if report is None:
        return
    for recipient in report.recipients:
        dsn.classify(recipient, report)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "server": server_target,
    "client": client_target,
    "command": command_target,
    "reply": reply_target,
    "data": data_target,
    "dsn": dsn_target,
}

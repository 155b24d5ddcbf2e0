"""The reply codec: RFC 5321 §4.2 (reply lines, multi-line replies), §4.5.3.1.5 (512
octets per line), RFC 2034 / RFC 3463 (enhanced status codes), and the bounds that keep a
hostile server from making the client buffer without end.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from smtpcore import ClientConnection, Limits, LocalProtocolError, Reply
from smtpcore._receivebuffer import ReceiveBuffer
from smtpcore._replies import MAX_REPLY_LINE, ReplyAssembler, format_reply
from smtpcore._status import EnhancedStatus
from tests.strategies import replies


def assemble(wire: bytes, limits: Limits | None = None) -> list[Reply]:
    """Every reply in ``wire`` (CRLF-separated lines)."""
    assembler = ReplyAssembler(limits or Limits())
    lines = wire.split(b"\r\n")
    assert lines[-1] == b"", "the wire must end with CRLF"
    out = []
    for line in lines[:-1]:
        reply = assembler.add_line(line)
        if reply is not None:
            out.append(reply)
    assert not assembler.in_progress
    return out


RFC_REPLIES: list[tuple[str, bytes, Reply]] = [
    # RFC 5321 §4.2.1: the multi-line example, a line starting with digits included
    (
        "5321 4.2.1",
        b"250-First line\r\n250-Second line\r\n250-234 Text beginning with numbers\r\n"
        b"250 The last line\r\n",
        Reply(
            code=250,
            lines=("First line", "Second line", "234 Text beginning with numbers", "The last line"),
        ),
    ),
    # RFC 5321 Appendix D.1
    (
        "5321 D.1",
        b"220 foo.com Simple Mail Transfer Service Ready\r\n",
        Reply(code=220, lines=("foo.com Simple Mail Transfer Service Ready",)),
    ),
    (
        "5321 D.1",
        b"250-foo.com greets bar.com\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250 HELP\r\n",
        Reply(code=250, lines=("foo.com greets bar.com", "8BITMIME", "SIZE", "DSN", "HELP")),
    ),
    (
        "5321 D.1",
        b"354 Start mail input; end with <CRLF>.<CRLF>\r\n",
        Reply.of(354, "Start mail input; end with <CRLF>.<CRLF>"),
    ),
    (
        "5321 D.1",
        b"221 foo.com Service closing transmission channel\r\n",
        Reply.of(221, "foo.com Service closing transmission channel"),
    ),
    ("5321 D.4", b"550 No such user here\r\n", Reply.of(550, "No such user here")),
    (
        "5321 D.4",
        b"250 Fred Crispin <Crispin@foo.com>\r\n",
        Reply.of(250, "Fred Crispin <Crispin@foo.com>"),
    ),
    # RFC 5321 §4.2: Reply-code [ SP textstring ]: the text is optional
    ("5321 4.2", b"250\r\n", Reply(code=250)),
    # RFC 4954 §7: an empty challenge is "334 " (a space and no text), and success
    ("4954 7", b"334 \r\n", Reply(code=334, lines=("",))),
    (
        "4954 7",
        b"235 2.7.0 Authentication successful\r\n",
        Reply.of(235, "Authentication successful", "2.7.0"),
    ),
    # RFC 2034 §4 / RFC 3463: enhanced codes after the reply code
    ("2034 4", b"250 2.1.5 Recipient ok\r\n", Reply.of(250, "Recipient ok", "2.1.5")),
    (
        "3463",
        b"550 5.1.1 Mailbox does not exist\r\n",
        Reply.of(550, "Mailbox does not exist", "5.1.1"),
    ),
    # RFC 2920 §3.2 second example
    (
        "2920 3.2",
        b"550 ned@innosoft.com... No such user\r\n",
        Reply.of(550, "ned@innosoft.com... No such user"),
    ),
    # RFC 3030 §4.1
    (
        "3030 4.1",
        b"250 <1234@ymir.claremont.edu> Message accepted for delivery\r\n",
        Reply.of(250, "<1234@ymir.claremont.edu> Message accepted for delivery"),
    ),
    # RFC 5321 §4.5.3.1.10 / RFC 2033: 452 with a transient enhanced code
    (
        "5321 4.5.3.1.10",
        b"452 4.5.3 Too many recipients\r\n",
        Reply.of(452, "Too many recipients", "4.5.3"),
    ),
    # a HT is allowed in textstring (RFC 5321 §4.2)
    ("5321 4.2", b"250 a\tb\r\n", Reply.of(250, "a\tb")),
]


@pytest.mark.parametrize(
    ("rfc", "wire", "reply"), RFC_REPLIES, ids=[r[1].decode()[:30] for r in RFC_REPLIES]
)
def test_rfc_replies_parse_and_format(rfc: str, wire: bytes, reply: Reply) -> None:
    assert assemble(wire) == [reply]
    # an empty 334 keeps its SP, as RFC 4954 §4 writes it; both forms parse alike
    assert format_reply(reply) == wire
    if wire == b"334 \r\n":
        assert assemble(b"334\r\n") == [reply]


def test_enhanced_codes_are_typed() -> None:
    [reply] = assemble(
        b"550-5.1.1 The email account that you tried to reach\r\n550 5.1.1 does not exist\r\n"
    )
    assert reply.enhanced == EnhancedStatus.parse("5.1.1")
    assert reply.enhanced is not None and reply.enhanced.meaning is not None
    assert reply.message == "The email account that you tried to reach\ndoes not exist"
    # RFC 3463 §2: the class must match the reply's; otherwise it is just text
    [odd] = assemble(b"250 5.1.1 looks like a code\r\n")
    assert odd.enhanced is None
    [none] = assemble(b"250 2.0 not a code\r\n")
    assert none.enhanced is None


def test_several_replies_in_a_row() -> None:
    wire = b"250 ok\r\n250-a\r\n250 b\r\n354 go\r\n"
    assert [r.code for r in assemble(wire)] == [250, 250, 354]


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"25",
        b"2x0 nope",
        b"600 out of range",
        b"199 too low",
        b"260 second digit",  # RFC 5321 §4.2: %x30-35
        b"250x no separator",
        b"250\tHT is no separator",
        b"250_underscore",
        b"hello",
        b" 250 leading space",
        b"250 nul\x00inside",
        b"250 cr\rinside",
    ],
)
def test_malformed_lines_are_refused(line: bytes) -> None:
    with pytest.raises(LocalProtocolError):
        ReplyAssembler(Limits()).add_line(line)


def test_code_must_not_change_inside_a_multiline_reply() -> None:
    # RFC 5321 §4.2.1: every line of a multi-line reply carries the same code
    assembler = ReplyAssembler(Limits())
    assert assembler.add_line(b"250-a") is None
    with pytest.raises(LocalProtocolError, match="changed"):
        assembler.add_line(b"251 b")


def test_invalid_utf8_is_replaced_not_raised() -> None:
    [reply] = assemble(b"550 caf\xe9\r\n")
    assert reply.lines == ("caf\ufffd",)
    [utf8] = assemble("250 grüße\r\n".encode())  # RFC 6531 §3.7.4: UTF-8 text
    assert utf8.lines == ("grüße",)


def test_reply_is_bounded_in_lines_and_octets() -> None:
    limits = Limits(reply_lines=5, reply_octets=1000)
    assembler = ReplyAssembler(limits)
    for _ in range(4):
        assert assembler.add_line(b"250-x") is None
    assert assembler.add_line(b"250 last") is not None  # exactly 5 lines is fine
    assembler = ReplyAssembler(limits)
    with pytest.raises(LocalProtocolError, match="longer than"):
        for _ in range(6):
            assembler.add_line(b"250-x")
    assembler = ReplyAssembler(limits)
    with pytest.raises(LocalProtocolError, match="longer than"):
        for _ in range(3):
            assembler.add_line(b"250-" + b"y" * 400)


def test_client_bounds_a_single_reply_line() -> None:
    from smtpcore import ClientConfig, RemoteProtocolError

    client = ClientConnection(config=ClientConfig(limits=Limits(reply_line=600)))
    client.receive_data(b"220 " + b"z" * 1000 + b"\r\n")
    with pytest.raises(RemoteProtocolError, match="longer than"):
        client.next_event()


def test_long_lines_are_wrapped_under_512_octets() -> None:
    # RFC 5321 §4.5.3.1.5: "The maximum total length of a reply line including the reply
    # code and the <CRLF> is 512 octets."
    words = " ".join(f"word{i}" for i in range(400))
    reply = Reply.of(550, words, "5.7.1")
    wire = format_reply(reply)
    lines = wire.split(b"\r\n")[:-1]
    assert len(lines) > 1
    assert all(len(line) + 2 <= MAX_REPLY_LINE for line in lines)
    assert all(line.startswith(b"550-5.7.1 ") for line in lines[:-1])
    assert lines[-1].startswith(b"550 5.7.1 ")
    [back] = assemble(wire)
    assert back.enhanced == EnhancedStatus.parse("5.7.1")
    assert " ".join(back.message.split("\n")) == words  # cut at spaces only
    # a word longer than a line is cut hard, and never in the middle of a UTF-8 character
    reply = Reply.of(250, "é" * 600, "2.0.0")
    wire = format_reply(reply)
    lines = wire.split(b"\r\n")[:-1]
    assert all(len(line) + 2 <= MAX_REPLY_LINE for line in lines)
    assert all(line.startswith(b"250") for line in lines)
    [back] = assemble(wire)
    assert back.message.replace("\n", "") == "é" * 600
    assert all(line.startswith("2.0.0 é") for line in back.lines)  # no line without text


@settings(max_examples=150, deadline=None)
@given(replies())
def test_format_then_assemble_is_identity(reply: Reply) -> None:
    """Replies whose lines fit come back unchanged; longer lines come back wrapped: every
    wire line under 512 octets, the same code on each, no character lost or added (but the
    spaces where lines were cut), the enhanced code on every piece."""
    wire = format_reply(reply)
    wire_lines = wire.split(b"\r\n")[:-1]
    assert all(len(line) + 2 <= MAX_REPLY_LINE for line in wire_lines)
    assert all(line[:3] == str(reply.code).encode() for line in wire_lines)
    [back] = assemble(wire)
    assert back.code == reply.code and back.enhanced == reply.enhanced
    if all(len(line.encode()) <= MAX_REPLY_LINE - 6 for line in reply.lines):
        assert back == reply
        return
    assert len(back.lines) > len(reply.lines)
    prefix = "" if reply.enhanced is None else f"{reply.enhanced} "
    if prefix:
        # A line that is only the enhanced code (an empty text) has no space after it.
        assert all(line.startswith(prefix) or line == prefix.rstrip() for line in back.lines)

    def content(lines: tuple[str, ...]) -> str:
        return "".join(line.removeprefix(prefix).replace(" ", "") for line in lines)

    assert content(back.lines) == content(reply.lines)


def test_very_long_unbroken_line_wraps_in_linear_time() -> None:
    # 100 000 octets without a space: cut hard into full lines (formerly quadratic: the
    # wrapper shrank the piece one character at a time)
    text = "x" * 100_000
    wire = format_reply(Reply.of(250, text))
    lines = wire.split(b"\r\n")[:-1]
    assert all(len(line) + 2 <= MAX_REPLY_LINE for line in lines)
    assert len(lines) == -(-100_000 // (MAX_REPLY_LINE - 6))
    [back] = assemble(wire, Limits(reply_lines=1000, reply_octets=200_000))
    assert "".join(back.lines) == text


# The one-line fast path (ReplyAssembler.take_reply) must agree with add_line on every line it
# takes, and leave to add_line every line it does not: the reply grammar of RFC 5321 §4.2 is
# checked by both, and this holds them together.
_LINES = [
    b"250",
    b"250 ",
    b"250 OK",
    b"250 2.1.0 Sender <a@b.example> ok",
    b"354 End data with <CR><LF>.<CR><LF>",
    b"421 4.3.2 closing",
    b"599 top of the range",
    b"250-continued",  # a first line of several: add_line's business
    b"250-",
    b"250 text\rwith a bare CR",
    b"250 text\x00with NUL",
    b"250 \xff\xfe invalid UTF-8",
    b"250 tab\there",
    b"25 short code",
    b"260 bad second digit",
    b"2500 no separator",
    b"250OK",
    b"600 out of range",
    b"250 " + b"x" * 600,
]


@pytest.mark.parametrize("line", _LINES)
@pytest.mark.parametrize("ending", [b"\r\n", b"\n", b""])
def test_one_line_fast_path_agrees_with_add_line(line: bytes, ending: bytes) -> None:
    limits = Limits()
    buffer = ReceiveBuffer()
    # an unended line is the last thing buffered (its end has not arrived yet)
    buffer.feed(line + ending + (b"250 next\r\n" if ending else b""))
    before = len(buffer)
    quick = ReplyAssembler(limits).take_reply(buffer)
    slow: Reply | Exception | None
    try:
        slow = ReplyAssembler(limits).add_line(line)
    except LocalProtocolError as exc:
        slow = exc
    if quick is None:
        # not taken, nothing consumed: not a whole, well-formed one-line reply in the limit
        assert len(buffer) == before
        taken_ok = (
            ending == b"\r\n" and isinstance(slow, Reply) and len(line) + 2 <= limits.reply_line
        )
        assert not taken_ok
        return
    assert ending == b"\r\n" and len(buffer) == before - len(line) - 2  # the line, no more
    assert isinstance(slow, Reply) and quick == slow and quick.lines == slow.lines


def test_one_line_fast_path_leaves_a_multiline_reply_in_progress_alone() -> None:
    assembler = ReplyAssembler(Limits())
    assert assembler.add_line(b"250-first") is None
    buffer = ReceiveBuffer()
    buffer.feed(b"250 last\r\n")
    assert assembler.take_reply(buffer) is None and len(buffer) == 10
    assert assembler.add_line(b"250 last") == Reply(code=250, lines=("first", "last"))


def test_one_line_fast_path_honours_the_limits() -> None:
    def taken(limits: Limits) -> bool:
        buffer = ReceiveBuffer()
        buffer.feed(b"250 " + b"x" * 20 + b"\r\n")
        return ReplyAssembler(limits).take_reply(buffer) is not None

    assert taken(Limits(reply_line=26))
    assert not taken(Limits(reply_line=25))  # the line limit
    assert not taken(Limits(reply_octets=25))
    assert not taken(Limits(reply_lines=0))


def test_one_line_fast_path_waits_out_an_over_long_line() -> None:
    # While the rest of an over-long line is dropped, or its LINE_TOO_LONG is owed, what
    # follows must not be read as a reply.
    buffer = ReceiveBuffer()
    buffer.feed(b"250 " + b"x" * 100)
    assert buffer.extract_line(50, allow_bare_lf=True) is None and buffer.discarding
    buffer.feed(b"xx\r\n250 ok\r\n")
    assert ReplyAssembler(Limits()).take_reply(buffer) is None  # LINE_TOO_LONG is owed

"""ReceiveBuffer: lines end only at CRLF (RFC 5321 §2.3.8), over-long lines are discarded with
bounded memory and reported once (RFC 5321 §4.5.3.1.4-§4.5.3.1.6, "500 Line too long"),
and BDAT payload comes out by octet count (RFC 3030 §2)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from smtpcore._errors import LocalProtocolError
from smtpcore._receivebuffer import LINE_TOO_LONG, LineTooLong, ReceiveBuffer

# RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including the CRLF.
COMMAND_LINE = 512


def drain_lines(
    buf: ReceiveBuffer, max_length: int, *, allow_bare_lf: bool = False
) -> list[bytes | LineTooLong]:
    out: list[bytes | LineTooLong] = []
    for _ in range(10_000):
        line = buf.extract_line(max_length, allow_bare_lf=allow_bare_lf)
        if line is None:
            return out
        out.append(line)
    raise AssertionError("extract_line never ran out of lines")


def test_empty_buffer() -> None:
    buf = ReceiveBuffer()
    assert len(buf) == 0
    assert not buf
    assert buf.peek() == b""
    assert buf.extract_line(COMMAND_LINE) is None
    assert buf.extract_at_most(10) == b""


def test_lines_end_at_crlf_and_leave_the_rest() -> None:
    buf = ReceiveBuffer()
    buf.feed(b"EHLO client.example\r\nMAIL FROM:<a@b.example>\r\nRCPT")
    assert buf.extract_line(COMMAND_LINE) == b"EHLO client.example"
    assert buf.extract_line(COMMAND_LINE) == b"MAIL FROM:<a@b.example>"
    assert buf.extract_line(COMMAND_LINE) is None
    assert buf.peek() == b"RCPT"
    assert len(buf) == 4
    assert buf


def test_empty_line_is_a_line() -> None:
    buf = ReceiveBuffer()
    buf.feed(b"\r\n\r\nNOOP\r\n")
    assert drain_lines(buf, COMMAND_LINE) == [b"", b"", b"NOOP"]


@pytest.mark.parametrize("data", [b"NOOP\nQUIT\r\n", b"NOOP\rQUIT\r\n", b"NOOP\n\rQUIT\r\n"])
def test_bare_cr_or_lf_does_not_end_a_line(data: bytes) -> None:
    # RFC 5321 §2.3.8: lines are terminated by CRLF only; the bare octets stay in the line,
    # where the command parser rejects them.
    buf = ReceiveBuffer()
    buf.feed(data)
    assert drain_lines(buf, COMMAND_LINE) == [data[:-2]]


def test_bare_lf_ends_a_line_when_allowed() -> None:
    buf = ReceiveBuffer()
    buf.feed(b"250-one\n250 two\r\n")
    assert drain_lines(buf, COMMAND_LINE, allow_bare_lf=True) == [b"250-one", b"250 two"]


def test_switching_line_end_kind_does_not_skip_a_bare_lf() -> None:
    buf = ReceiveBuffer()
    buf.feed(b"abc\ndef")
    assert buf.extract_line(100) is None  # searched for CRLF past the LF
    assert buf.extract_line(100, allow_bare_lf=True) == b"abc"
    assert buf.peek() == b"def"


def test_crlf_split_across_feeds() -> None:
    buf = ReceiveBuffer()
    buf.feed(b"NOOP\r")
    assert buf.extract_line(COMMAND_LINE) is None
    buf.feed(b"\nQUIT\r\n")
    assert drain_lines(buf, COMMAND_LINE) == [b"NOOP", b"QUIT"]


@settings(max_examples=100, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=40).filter(lambda b: b"\r\n" not in b), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10),
)
def test_lines_are_the_same_however_the_input_is_split(lines: list[bytes], cuts: list[int]) -> None:
    # Lines may contain bare CR or LF (even a CR right before their CRLF), but no CRLF.
    stream = b"".join(line + b"\r\n" for line in lines)
    points = sorted({min(c, len(stream)) for c in cuts})
    buf = ReceiveBuffer()
    got: list[bytes | LineTooLong] = []
    prev = 0
    for point in [*points, len(stream)]:
        buf.feed(stream[prev:point])
        prev = point
        got.extend(drain_lines(buf, 100))
    assert got == lines
    assert len(buf) == 0


def test_feed_accepts_bytearray_and_memoryview() -> None:
    buf = ReceiveBuffer()
    buf.feed(bytearray(b"HELO a"))
    buf.feed(memoryview(b"\r\n"))
    assert buf.extract_line(COMMAND_LINE) == b"HELO a"


def test_line_of_exactly_max_length_is_accepted() -> None:
    # max_length counts the CRLF (RFC 5321 §4.5.3.1.4: the maximum total length of a command
    # line "including the command word and the <CRLF> is 512 octets").
    line = b"X" * (COMMAND_LINE - 2)
    buf = ReceiveBuffer()
    buf.feed(line + b"\r\n")
    assert buf.extract_line(COMMAND_LINE) == line


def test_line_one_over_max_length_is_too_long_when_complete() -> None:
    buf = ReceiveBuffer()
    buf.feed(b"X" * (COMMAND_LINE - 1) + b"\r\nNOOP\r\n")
    assert drain_lines(buf, COMMAND_LINE) == [LINE_TOO_LONG, b"NOOP"]


def test_line_one_over_max_length_arriving_in_pieces() -> None:
    buf = ReceiveBuffer()
    buf.feed(b"X" * (COMMAND_LINE - 1) + b"\r")
    assert buf.extract_line(COMMAND_LINE) is None
    buf.feed(b"\nNOOP\r\n")
    assert drain_lines(buf, COMMAND_LINE) == [LINE_TOO_LONG, b"NOOP"]


def test_line_too_long_is_reported_exactly_once_then_normal_lines_follow() -> None:
    buf = ReceiveBuffer()
    buf.feed(b"A" * 5000)
    assert buf.extract_line(100) is None
    assert buf.extract_line(100) is None
    buf.feed(b"B" * 5000 + b"\r\nRSET\r\nQUIT\r\n")
    assert drain_lines(buf, 100) == [LINE_TOO_LONG, b"RSET", b"QUIT"]
    assert buf.extract_line(100) is None


def test_discarding_keeps_a_cr_that_may_start_the_crlf() -> None:
    buf = ReceiveBuffer()
    buf.feed(b"A" * 300 + b"\r")
    assert buf.extract_line(100) is None
    buf.feed(b"\nNOOP\r\n")
    assert drain_lines(buf, 100) == [LINE_TOO_LONG, b"NOOP"]


def test_discarding_does_not_end_at_bare_lf() -> None:
    buf = ReceiveBuffer()
    buf.feed(b"A" * 300)
    assert buf.extract_line(100) is None
    buf.feed(b"\nstill the long line\r\nNOOP\r\n")
    assert drain_lines(buf, 100) == [LINE_TOO_LONG, b"NOOP"]


def test_discarding_with_bare_lf_allowed_ends_at_lf() -> None:
    buf = ReceiveBuffer()
    buf.feed(b"A" * 300)
    assert buf.extract_line(100, allow_bare_lf=True) is None
    buf.feed(b"A\n250 ok\n")
    assert drain_lines(buf, 100, allow_bare_lf=True) == [LINE_TOO_LONG, b"250 ok"]


def test_memory_stays_bounded_while_a_peer_sends_10_mb_without_crlf() -> None:
    max_length = 1000
    chunk = b"Z" * 4096
    buf = ReceiveBuffer()
    largest_after_extract = 0
    for _ in range(10 * 1024 * 1024 // len(chunk)):
        buf.feed(chunk)
        # Once discarding, feed itself drops the octets: the buffer never holds a chunk.
        assert buf.extract_line(max_length) is None
        largest_after_extract = max(largest_after_extract, len(buf))
        assert len(buf._data) <= max_length + len(chunk)
    assert largest_after_extract <= 1
    buf.feed(b"\r\nQUIT\r\n")
    assert drain_lines(buf, max_length) == [LINE_TOO_LONG, b"QUIT"]


def test_storage_is_bounded_by_max_length_even_when_fed_without_extracting() -> None:
    buf = ReceiveBuffer()
    buf.feed(b"Z" * 200)
    assert buf.extract_line(100) is None  # now discarding
    for _ in range(1000):
        buf.feed(b"Z" * 1000)
        assert len(buf._data) <= 1
    buf.feed(b"\r")
    buf.feed(b"\n")
    assert buf.extract_line(100) is LINE_TOO_LONG


def test_clear_takes_everything_and_leaves_discarding_mode() -> None:
    buf = ReceiveBuffer()
    buf.feed(b"Z" * 200)
    assert buf.extract_line(100) is None
    buf.clear()
    buf.feed(b"EHLO a\r\n")
    assert buf.extract_line(100) == b"EHLO a"
    buf.feed(b"abc\r\ndef")
    assert buf.clear() == b"abc\r\ndef"
    assert len(buf) == 0
    assert buf.extract_line(100) is None


def test_a_slowly_arriving_line_is_not_rescanned_from_its_start() -> None:
    # Search resumes where it stopped: feeding one octet at a time stays linear. Counted
    # through the _scanned marker rather than by timing.
    buf = ReceiveBuffer()
    for i in range(300):
        buf.feed(b"x")
        assert buf.extract_line(1000) is None
        assert buf._scanned == i + 1
    buf.feed(b"\r\n")
    assert buf.extract_line(1000) == b"x" * 300


def test_extract_at_most() -> None:
    buf = ReceiveBuffer()
    buf.feed(b"0123456789")
    assert buf.extract_at_most(0) == b""
    assert buf.extract_at_most(4) == b"0123"
    assert buf.extract_at_most(100) == b"456789"
    assert buf.extract_at_most(5) == b""


def test_extract_at_most_then_line_search_sees_consumed_octets_gone() -> None:
    buf = ReceiveBuffer()
    buf.feed(b"abc\r")
    assert buf.extract_line(100) is None
    assert buf.extract_at_most(2) == b"ab"
    buf.feed(b"\nNOOP\r\n")
    assert drain_lines(buf, 100) == [b"c", b"NOOP"]


@pytest.mark.parametrize("call", ["max_length", "negative"])
def test_bad_arguments_raise_local_protocol_error(call: str) -> None:
    buf = ReceiveBuffer()
    with pytest.raises(LocalProtocolError):
        if call == "max_length":
            buf.extract_line(1)
        else:
            buf.extract_at_most(-1)


def test_compaction_keeps_content_intact_over_many_megabytes() -> None:
    # Interleave big feeds with small consumptions so the consumed prefix is dropped many
    # times; every octet must come out once and in order.
    buf = ReceiveBuffer()
    expected = bytearray()
    got = bytearray()
    counter = 0
    for round_ in range(200):
        piece = bytes((counter + i) % 251 for i in range(7919))
        counter += len(piece)
        buf.feed(piece)
        expected += piece
        got += buf.extract_at_most(5000 + round_ * 13)
        assert len(buf._data) - buf._start == len(buf)
        # Storage never holds much more than twice what is buffered (plus the threshold).
        assert buf._start < max(8192, len(buf._data) // 2 + 8192)
    got += buf.extract_at_most(len(buf))
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(
        st.one_of(
            st.binary(max_size=30),
            st.integers(20, 300).map(lambda n: b"L" * n),
        ).filter(lambda b: b"\r\n" not in b),
        max_size=8,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
    max_length=st.sampled_from([16, 32, 64]),
)
def test_long_and_short_lines_under_any_split(
    lines: list[bytes], cuts: list[int], max_length: int
) -> None:
    # Reference from RFC 5321 §4.5.3.1: a line longer than the limit (CRLF included) is
    # refused as a whole; the lines around it are unaffected.
    expected = [line if len(line) + 2 <= max_length else LINE_TOO_LONG for line in lines]
    stream = b"".join(line + b"\r\n" for line in lines)
    points = sorted({min(c, len(stream)) for c in cuts})
    buf = ReceiveBuffer()
    got: list[bytes | LineTooLong] = []
    prev = 0
    for point in [*points, len(stream)]:
        buf.feed(stream[prev:point])
        prev = point
        got.extend(drain_lines(buf, max_length))
        if buf._discarding:
            assert len(buf) <= 1
    assert got == expected
    assert len(buf) == 0


def test_may_hold_line_is_false_only_when_extract_line_must_return_none() -> None:
    buf = ReceiveBuffer()
    assert not buf.may_hold_line and buf.extract_line(10) is None
    buf.feed(b"NO")
    assert buf.may_hold_line  # a partial line: extract_line must look (and says None)
    assert buf.extract_line(10) is None
    buf.feed(b"OP\r\n")
    assert buf.extract_line(10) == b"NOOP"
    assert not buf.may_hold_line
    # An over-long line whose end has come: nothing is buffered, but LINE_TOO_LONG is owed.
    buf.feed(b"x" * 20)
    assert buf.extract_line(10) is None  # discarding from here
    buf.feed(b"yyy\r\n")
    assert len(buf) == 0 and buf.may_hold_line
    assert buf.extract_line(10) is LINE_TOO_LONG
    assert not buf.may_hold_line


def test_take_match_consumes_a_whole_matching_line_or_nothing() -> None:
    import re

    line = re.compile(rb"([0-9]{3}) ([^\r\n]*)\r\n")
    buf = ReceiveBuffer()
    buf.feed(b"250 ok\r\n250 par")
    assert buf.take_match(line, 100) == (b"250", b"ok")
    assert len(buf) == 7  # the partial line stays
    assert buf.take_match(line, 100) is None and len(buf) == 7
    buf.feed(b"tial\r\n")
    assert buf.take_match(line, 10) is None and len(buf) == 13  # over max_length: untouched
    assert buf.take_match(line, 13) == (b"250", b"partial") and len(buf) == 0
    # the groups are copies: the storage they came from is cleared once all is consumed
    buf.feed(b"354 go\r\n")
    groups = buf.take_match(line, 100)
    buf.feed(b"xxxxxxxx")
    assert groups == (b"354", b"go")


def test_take_match_waits_while_an_over_long_line_is_dropped_or_owed() -> None:
    import re

    any_line = re.compile(rb"[^\r\n]*\r\n")
    buf = ReceiveBuffer()
    buf.feed(b"x" * 20)
    assert buf.extract_line(10) is None and buf.discarding
    assert buf.take_match(any_line, 100) is None
    buf.feed(b"\r\nok\r\n")
    assert buf.take_match(any_line, 100) is None  # LINE_TOO_LONG is owed first
    assert buf.extract_line(10) is LINE_TOO_LONG
    assert buf.take_match(any_line, 100) == ()

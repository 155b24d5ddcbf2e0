"""The DATA and BDAT codecs, from RFC 5321 §2.3.8, §4.1.1.4 and §4.5.2, RFC 1870 (SIZE) and
RFC 3030 §2-3, and the SMTP smuggling vectors published in 2023 (SEC Consult; hannob/smtpsmug;
The-Login/SMTP-Smuggling-Tools): none of them may end the data.

The decoder is checked against a reference written straight from the RFC text (split the
stream at CRLF, a line "." ends, a leading "." is removed), over every split of the input.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence

import pytest
from hypothesis import given, settings, strategies as st

from smtpcore._data import (
    BareLineEndingPolicy,
    BdatReader,
    ContentScanner,
    DataDecoder,
    DataEncoder,
    bdat_normalizer,
    normalize_line_endings,
    parse_bdat_args,
)
from smtpcore._errors import LocalProtocolError
from smtpcore._receivebuffer import ReceiveBuffer

# The 2023 smuggling vectors: sequences that some receivers took for the end of data.
SMUGGLING_VECTORS = [
    b"\n.\n",
    b"\r.\r",
    b"\n.\r\n",
    b"\r\n.\n",
    b"\r\n.\r",
    b"\r.\r\n",
    b"\r\n\x00.\r\n",
    b"\r\n.\x00\r\n",
    b"\n.\r",
    b"\r.\n",
    b"\r\n \r\n.\n",
]
SMUGGLED = b"MAIL FROM:<admin@bank.example>\r\nRCPT TO:<victim@bank.example>\r\nDATA\r\n"


# -- reference implementations, written from the RFC text -----------------------------------


def reference_normalize(data: bytes) -> bytes:
    """RFC 5321 §2.3.8: CRLF, bare CR and bare LF each end one line; write them as CRLF."""
    return re.sub(rb"\r\n|\r|\n", b"\r\n", data)


def reference_encode(message: bytes) -> bytes:
    """The DATA stream, a line at a time: normalise (RFC 5321 §2.3.8), add a "." to each line
    that starts with one (§4.5.2), end the last line and write the terminator (§4.1.1.4)."""
    text = reference_normalize(message)
    if text and not text.endswith(b"\r\n"):
        text += b"\r\n"
    lines = text.split(b"\r\n")[:-1]
    return b"".join((b"." if line.startswith(b".") else b"") + line + b"\r\n" for line in lines) + (
        b".\r\n"
    )


def reference_decode(stream: bytes) -> tuple[list[bytes], bytes] | None:
    """(lines of the message, each without its CRLF but unstuffed; the octets after the
    end of data), or None when the stream has no end of data. The stream starts right after
    the CRLF of the DATA command, so its first octets begin a line (RFC 5321 §4.1.1.4)."""
    lines = []
    pos = 0
    while True:
        end = stream.find(b"\r\n", pos)
        if end < 0:
            return None
        line = stream[pos:end]
        pos = end + 2
        if line == b".":
            return lines, stream[pos:]
        # RFC 5321 §4.5.2: "If the first character is a period and there are other characters
        # on the line, the first character is deleted."
        lines.append(line[1:] if line.startswith(b".") else line)


def reference_message(stream: bytes, policy: BareLineEndingPolicy = "allow") -> bytes:
    result = reference_decode(stream)
    assert result is not None
    message = b"".join(line + b"\r\n" for line in result[0])
    return reference_normalize(message) if policy == "normalize" else message


# -- drivers --------------------------------------------------------------------------------


class Decoded:
    def __init__(self, decoder: DataDecoder, pieces: list[bytes], rest: bytes) -> None:
        self.decoder = decoder
        self.pieces = pieces
        self.message = b"".join(pieces)
        self.rest = rest


def decode_chunks(
    chunks: Iterable[bytes],
    *,
    max_size: int | None = None,
    bare_line_endings: BareLineEndingPolicy = "reject",
    max_piece: int = 1 << 20,
) -> Decoded:
    """Feed chunks one by one, draining the decoder after each; the rest of the buffer once
    done is kept, and feeding goes on into the buffer (pipelined commands)."""
    decoder = DataDecoder(max_size, bare_line_endings, max_piece=max_piece)
    buf = ReceiveBuffer()
    pieces: list[bytes] = []
    for chunk in chunks:
        buf.feed(chunk)
        for _ in range(len(chunk) + 10):
            piece = decoder.decode(buf)
            if not piece:
                break
            pieces.append(piece)
        else:
            raise AssertionError("decode() kept returning data")
        if not decoder.done:
            # Only a possible start of the terminator may wait in the buffer.
            assert len(buf) <= 4
    return Decoded(decoder, pieces, buf.peek())


def splits(data: bytes, points: Sequence[int]) -> list[bytes]:
    cuts = [0, *sorted({min(max(p, 0), len(data)) for p in points}), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(cuts)]


def all_two_way_splits(data: bytes) -> Iterable[list[bytes]]:
    for i in range(len(data) + 1):
        yield [data[:i], data[i:]]


def assert_same_for_every_split(
    stream: bytes, bare_line_endings: BareLineEndingPolicy = "reject"
) -> Decoded:
    """Whole, one octet at a time, and split in two at every point: same result."""
    whole = decode_chunks([stream], bare_line_endings=bare_line_endings)
    variants = [[stream[i : i + 1] for i in range(len(stream))], *all_two_way_splits(stream)]
    for chunks in variants:
        got = decode_chunks(chunks, bare_line_endings=bare_line_endings)
        assert got.message == whole.message, chunks
        assert got.rest == whole.rest, chunks
        assert got.decoder.done == whole.decoder.done
        assert got.decoder.size == whole.decoder.size
        assert got.decoder.bare_cr_or_lf == whole.decoder.bare_cr_or_lf
        assert got.decoder.eight_bit == whole.decoder.eight_bit
        assert got.decoder.nul == whole.decoder.nul
    return whole


def encode_chunks(chunks: Iterable[bytes]) -> tuple[bytes, DataEncoder]:
    encoder = DataEncoder()
    out = b"".join(encoder.encode(chunk) for chunk in chunks) + encoder.finish()
    return out, encoder


def end_of_data_positions(stream: bytes) -> list[int]:
    """Where CRLF "." CRLF occurs, counting the CRLF of the DATA command before the stream."""
    wire = b"\r\n" + stream
    return [m.start() for m in re.finditer(rb"(?=\r\n\.\r\n)", wire)]


# -- encoder --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "stream"),
    [
        # RFC 5321 §4.1.1.4: the DATA command's CRLF is the first CRLF of the terminator.
        (b"", b".\r\n"),
        (b"Hi\r\n", b"Hi\r\n.\r\n"),
        # RFC 5321 §4.1.1.4: a final "line" without CRLF: the client MUST reject it or add the
        # CRLF so that the server sees the end of data; this encoder adds it (so the "." is alone
        # on its line).
        (b"Hi", b"Hi\r\n.\r\n"),
        # RFC 5321 §4.5.2: one additional period at the start of a line that starts with one.
        (b".\r\n", b"..\r\n.\r\n"),
        (b"a\r\n.b\r\n..c\r\n", b"a\r\n..b\r\n...c\r\n.\r\n"),
        (b".", b"..\r\n.\r\n"),
        (b"a.b\r\n", b"a.b\r\n.\r\n"),
        # RFC 5321 §2.3.8: bare CR and bare LF are sent as CRLF.
        (b"a\nb", b"a\r\nb\r\n.\r\n"),
        (b"a\rb\r", b"a\r\nb\r\n.\r\n"),
        (b"a\r\r\nb\n\r", b"a\r\n\r\nb\r\n\r\n.\r\n"),
        # A CR and an LF apart are two line ends, and the dot between them starts a line.
        (b"a\r.\nb", b"a\r\n..\r\nb\r\n.\r\n"),
    ],
)
def test_encoder_examples(message: bytes, stream: bytes) -> None:
    assert encode_chunks([message])[0] == stream


@pytest.mark.parametrize("vector", SMUGGLING_VECTORS)
def test_encoder_never_emits_an_early_end_of_data(vector: bytes) -> None:
    message = b"Subject: hi\r\n\r\nbody" + vector + SMUGGLED + b"rest\r\n"
    stream, _ = encode_chunks([message])
    assert end_of_data_positions(stream) == [len(stream) - 3]
    # ...and the bare octets went out as CRLF, with the dot-line stuffed.
    assert b"\r\n..\r\n" in stream or b"\x00" in vector


def test_encoder_carries_cr_across_chunks() -> None:
    assert encode_chunks([b"a\r", b"\nb"])[0] == b"a\r\nb\r\n.\r\n"
    assert encode_chunks([b"a\r", b"", b"\r", b"\nb"])[0] == b"a\r\n\r\nb\r\n.\r\n"
    assert encode_chunks([b"a\r", b"b"])[0] == b"a\r\nb\r\n.\r\n"


def test_encoder_stuffs_a_dot_at_the_start_of_a_chunk() -> None:
    assert encode_chunks([b"a\r\n", b".b"])[0] == b"a\r\n..b\r\n.\r\n"
    assert encode_chunks([b"a\r", b"\n.", b"b"])[0] == b"a\r\n..b\r\n.\r\n"
    assert encode_chunks([b"a\n", b".b"])[0] == b"a\r\n..b\r\n.\r\n"
    assert encode_chunks([b".", b"."])[0] == b"...\r\n.\r\n"
    assert encode_chunks([b"a", b".b"])[0] == b"a.b\r\n.\r\n"


def test_encoder_accepts_bytearray_and_memoryview() -> None:
    encoder = DataEncoder()
    out = encoder.encode(bytearray(b".a\n")) + encoder.encode(memoryview(b".b")) + encoder.finish()
    assert out == b"..a\r\n..b\r\n.\r\n"


def test_encoder_sizes() -> None:
    stream, encoder = encode_chunks([b".a\nb"])
    assert stream == b"..a\r\nb\r\n.\r\n"
    assert encoder.encoded_size == len(stream)
    # RFC 1870: "the number of octets, including CR-LF pairs, but not the SMTP DATA
    # command's terminating dot or doubled quoting dots".
    assert encoder.message_size == len(b".a\r\nb\r\n")


def test_encoder_refuses_use_after_finish() -> None:
    encoder = DataEncoder()
    encoder.finish()
    with pytest.raises(LocalProtocolError):
        encoder.encode(b"x")
    with pytest.raises(LocalProtocolError):
        encoder.finish()


# Bodies full of the octets that matter here.
bodies = st.lists(
    st.sampled_from([b".", b"\r", b"\n", b"\r\n", b"a", b"\x00", b"\xff", b"\r\n.\r\n", b".."]),
    max_size=40,
).map(b"".join) | st.binary(max_size=200)


@settings(max_examples=200, deadline=None)
@given(message=bodies, cuts=st.lists(st.integers(0, 400), max_size=8))
def test_encoder_output_is_independent_of_chunking(message: bytes, cuts: list[int]) -> None:
    whole, enc_whole = encode_chunks([message])
    split, enc_split = encode_chunks(splits(message, cuts))
    assert split == whole
    assert enc_split.message_size == enc_whole.message_size
    # The only end of data is the one finish() wrote.
    assert end_of_data_positions(whole) == [len(whole) - 3]
    # Every line end on the wire is CRLF.
    assert whole.count(b"\r") == whole.count(b"\n") == whole.count(b"\r\n")


# Long CRLF-clean regions with a few of the octets that matter: the encoder's fast path
# (a region proved to need nothing) must agree with the line-by-line reference too.
mostly_clean = st.lists(
    st.sampled_from([b"line of text\r\n", b"x" * 70 + b"\r\n", b".dot\r\n", b"\r", b"\n", b"a"]),
    max_size=60,
).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(message=bodies | mostly_clean, cuts=st.lists(st.integers(0, 2000), max_size=8))
def test_encoder_matches_the_line_by_line_reference(message: bytes, cuts: list[int]) -> None:
    assert encode_chunks(splits(message, cuts))[0] == reference_encode(message)


# -- line ending normalisation --------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", b""),
        (b"abc", b"abc"),
        (b"a\r\nb", b"a\r\nb"),
        (b"a\nb", b"a\r\nb"),
        (b"a\rb", b"a\r\nb"),
        (b"\r\r\n", b"\r\n\r\n"),
        (b"\n\r", b"\r\n\r\n"),
        (b"\r", b"\r\n"),
        (b"\n\n", b"\r\n\r\n"),
    ],
)
def test_normalize_line_endings(data: bytes, expected: bytes) -> None:
    assert normalize_line_endings(data) == expected


def test_normalize_final_crlf() -> None:
    assert normalize_line_endings(b"", final_crlf=True) == b""
    assert normalize_line_endings(b"a", final_crlf=True) == b"a\r\n"
    assert normalize_line_endings(b"a\r\n", final_crlf=True) == b"a\r\n"
    assert normalize_line_endings(b"a\r", final_crlf=True) == b"a\r\n"


@settings(max_examples=200, deadline=None)
@given(data=bodies, cuts=st.lists(st.integers(0, 400), max_size=8))
def test_normalizers_match_the_reference(data: bytes, cuts: list[int]) -> None:
    expected = reference_normalize(data)
    assert normalize_line_endings(data) == expected
    # BDAT sends the normalised message without dot-stuffing (RFC 3030 §2).
    normalizer = bdat_normalizer()
    out = b"".join(normalizer.feed(chunk) for chunk in splits(data, cuts)) + normalizer.finish()
    assert out == expected
    assert normalizer.size == len(expected)


def test_bdat_normalizer_does_not_stuff_dots() -> None:
    normalizer = bdat_normalizer()
    assert normalizer.feed(b".\n.\r\n") + normalizer.finish() == b".\r\n.\r\n"
    with pytest.raises(LocalProtocolError):
        normalizer.feed(b"x")


# -- decoder --------------------------------------------------------------------------------


def test_decoder_empty_message_right_after_354() -> None:
    got = assert_same_for_every_split(b".\r\nQUIT\r\n")
    assert got.decoder.done
    assert got.message == b""
    assert got.rest == b"QUIT\r\n"
    assert got.decoder.size == 0


def test_decoder_rfc_example_with_stuffed_dots() -> None:
    stream = b"Subject: x\r\n\r\n..leading dot\r\n...two\r\n. \r\nend.\r\n.\r\nRSET\r\n"
    got = assert_same_for_every_split(stream)
    assert got.message == b"Subject: x\r\n\r\n.leading dot\r\n..two\r\n \r\nend.\r\n"
    assert got.rest == b"RSET\r\n"
    assert got.decoder.size == len(got.message)


def test_decoder_first_line_stuffed() -> None:
    got = assert_same_for_every_split(b"..\r\n.x\r\n.\r\n")
    assert got.message == b".\r\nx\r\n"


def test_decoder_empty_first_line_then_end() -> None:
    got = assert_same_for_every_split(b"\r\n.\r\n")
    assert got.message == b"\r\n"


def test_decoder_keeps_pipelined_commands_after_the_end() -> None:
    got = decode_chunks([b"hi\r\n.\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"])
    assert got.message == b"hi\r\n"
    assert got.rest == b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"


@pytest.mark.parametrize("vector", SMUGGLING_VECTORS)
@pytest.mark.parametrize("policy", ["reject", "normalize", "allow"])
def test_smuggling_vectors_never_end_data(vector: bytes, policy: BareLineEndingPolicy) -> None:
    attack = b"Subject: hi\r\n\r\nbody" + vector + SMUGGLED + b"smuggled body\r\n"
    # Without a real end of data, nothing ends and nothing is left for the command parser.
    open_ended = assert_same_for_every_split(attack, bare_line_endings=policy)
    assert not open_ended.decoder.done
    # With the real end of data after it, everything before it is message content.
    got = assert_same_for_every_split(attack + b".\r\nQUIT\r\n", bare_line_endings=policy)
    assert got.decoder.done
    assert got.rest == b"QUIT\r\n"
    assert SMUGGLED in got.message
    assert got.message == reference_message(attack + b".\r\n", policy)
    assert got.decoder.bare_cr_or_lf == (b"\x00" not in vector)
    assert got.decoder.nul == (b"\x00" in vector)


@pytest.mark.parametrize("start", [b".\n", b".\r", b".\x00\r\n", b". \r\n", b"\n.\r\n"])
def test_no_early_end_right_after_354(start: bytes) -> None:
    got = assert_same_for_every_split(start + b"x\r\n.\r\n")
    assert got.decoder.done
    assert got.message == reference_message(start + b"x\r\n.\r\n")
    assert got.message != b""


def test_bare_line_ending_policies() -> None:
    stream = b"a\nb\rc\r\r\n.\r\n"
    cases: list[tuple[BareLineEndingPolicy, bytes]] = [
        ("reject", b"a\nb\rc\r\r\n"),
        ("allow", b"a\nb\rc\r\r\n"),
        ("normalize", b"a\r\nb\r\nc\r\n\r\n"),
    ]
    for policy, message in cases:
        got = assert_same_for_every_split(stream, bare_line_endings=policy)
        assert got.message == message
        assert got.decoder.bare_cr_or_lf
        assert got.decoder.size == len(message)


def test_flags_on_clean_data() -> None:
    got = assert_same_for_every_split(b"plain\r\nascii\r\n.\r\n")
    assert not got.decoder.bare_cr_or_lf
    assert not got.decoder.eight_bit
    assert not got.decoder.nul


def test_eight_bit_and_nul_flags() -> None:
    got = assert_same_for_every_split("caf\u00e9\r\n".encode() + b"\x00\r\n.\r\n")
    assert got.decoder.eight_bit
    assert got.decoder.nul
    assert not got.decoder.bare_cr_or_lf


def test_max_size_boundary() -> None:
    message = b"0123456789\r\n"  # 12 octets
    at_limit = decode_chunks([message + b".\r\nNOOP\r\n"], max_size=12)
    assert not at_limit.decoder.exceeded
    assert at_limit.message == message
    over = decode_chunks([message + b".\r\nNOOP\r\n"], max_size=11)
    assert over.decoder.exceeded
    assert over.decoder.done
    assert over.rest == b"NOOP\r\n"
    assert over.decoder.size == 12


def test_max_size_exceeded_keeps_reading_to_the_end_without_returning_data() -> None:
    # The oversized message is read to its end, then refused with 552 (RFC 1870).
    line = b"x" * 98 + b"\r\n"
    chunks = [line] * 50 + [b"..tail\r\n", b".\r", b"\nQUIT\r\n"]
    got = decode_chunks(chunks, max_size=1000, max_piece=64)
    assert got.decoder.exceeded
    assert got.decoder.done
    assert got.rest == b"QUIT\r\n"
    assert len(got.message) <= 1000
    assert got.message == (line * 10)[: len(got.message)]
    assert got.decoder.size == 50 * len(line) + len(b".tail\r\n")


def test_exceeded_decoder_consumes_everything_buffered_in_one_call() -> None:
    # Returning b"" with data still buffered would make the server wait for input that the
    # client will never send.
    decoder = DataDecoder(max_size=10, max_piece=16)
    buf = ReceiveBuffer()
    buf.feed(b"y" * 1000 + b"\r\n.\r\nQUIT\r\n")
    assert decoder.decode(buf) == b""
    assert decoder.exceeded
    assert decoder.done
    assert buf.peek() == b"QUIT\r\n"


def test_pieces_respect_max_piece() -> None:
    stream = b"".join(b"line %d of text\r\n" % i for i in range(200)) + b".\r\n"
    got = decode_chunks([stream], max_piece=64)
    assert all(len(piece) <= 64 for piece in got.pieces)
    assert len(got.pieces) > 10
    assert got.message == reference_message(stream)


def test_decode_after_done_returns_nothing_and_leaves_the_buffer() -> None:
    decoder = DataDecoder()
    buf = ReceiveBuffer()
    buf.feed(b".\r\nQUIT\r\n")
    assert decoder.decode(buf) == b""
    assert decoder.done
    assert decoder.decode(buf) == b""
    assert buf.peek() == b"QUIT\r\n"


@pytest.mark.parametrize(
    "kwargs",
    [{"bare_line_endings": "strip"}, {"max_size": -1}, {"max_piece": 4}],
)
def test_decoder_rejects_bad_settings(kwargs: dict[str, object]) -> None:
    with pytest.raises(LocalProtocolError):
        DataDecoder(**kwargs)  # type: ignore[arg-type]


# Streams made of the interesting octets, usually with an end of data somewhere.
streams = st.lists(
    st.sampled_from(
        [b".", b"\r", b"\n", b"\r\n", b"a", b"\x00", b"\x80", b"\r\n.", b".\r\n", b"\r\n.\r\n"]
    ),
    max_size=40,
).map(b"".join)


@settings(max_examples=200, deadline=None)
@given(
    stream=streams,
    cuts=st.lists(st.integers(0, 200), max_size=8),
    policy=st.sampled_from(["reject", "normalize", "allow"]),
    max_piece=st.sampled_from([16, 1 << 20]),
)
def test_decoder_matches_the_reference_for_random_splits(
    stream: bytes, cuts: list[int], policy: BareLineEndingPolicy, max_piece: int
) -> None:
    got = decode_chunks(splits(stream, cuts), bare_line_endings=policy, max_piece=max_piece)
    expected = reference_decode(stream)
    if expected is None:
        assert not got.decoder.done
        return
    lines, rest = expected
    assert got.decoder.done
    assert got.rest == rest
    raw = b"".join(line + b"\r\n" for line in lines)
    message = reference_normalize(raw) if policy == "normalize" else raw
    assert got.message == message
    assert got.decoder.size == len(message)
    assert got.decoder.bare_cr_or_lf == any(b"\r" in line or b"\n" in line for line in lines)
    assert got.decoder.eight_bit == (not raw.isascii())
    assert got.decoder.nul == (b"\x00" in raw)


@settings(max_examples=200, deadline=None)
@given(
    message=bodies,
    trailer=st.binary(max_size=30),
    enc_cuts=st.lists(st.integers(0, 400), max_size=6),
    dec_cuts=st.lists(st.integers(0, 500), max_size=6),
)
def test_round_trip_any_chunking(
    message: bytes, trailer: bytes, enc_cuts: list[int], dec_cuts: list[int]
) -> None:
    stream, encoder = encode_chunks(splits(message, enc_cuts))
    got = decode_chunks(splits(stream + trailer, dec_cuts))
    assert got.decoder.done
    assert got.message == normalize_line_endings(message, final_crlf=True)
    assert got.rest == trailer
    assert got.decoder.size == encoder.message_size
    assert not got.decoder.bare_cr_or_lf


# -- BDAT -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("0", (0, False)),
        ("0 LAST", (0, True)),
        ("1000", (1000, False)),
        ("1000 LAST", (1000, True)),
        ("1000 last", (1000, True)),
        ("007 LaSt", (7, True)),
        ("9" * 20, (10**20 - 1, False)),
    ],
)
def test_parse_bdat_args(arg: str, expected: tuple[int, bool]) -> None:
    assert parse_bdat_args(arg) == expected


@pytest.mark.parametrize(
    "arg",
    [
        "",
        "LAST",
        " 1000",
        "1000 ",
        "1000  LAST",
        "1000\tLAST",
        "+5",
        "-5",
        "1e3",
        "0x10",
        "1000 LAST extra",
        "1000 FIRST",
        "1000 LASTX",
        "1" * 21,
        "\u0661\u0662",  # Arabic-Indic digits are not DIGIT
        "1_000",
    ],
)
def test_parse_bdat_args_rejects(arg: str) -> None:
    with pytest.raises(LocalProtocolError) as info:
        parse_bdat_args(arg)
    assert info.value.reply_hint.code == 501


def read_all(reader: BdatReader, buf: ReceiveBuffer) -> bytes:
    out = b""
    for _ in range(10_000):
        piece = reader.read(buf)
        if not piece:
            return out
        out += piece
    raise AssertionError("read() kept returning data")


def test_bdat_reader_reads_exactly_the_chunk() -> None:
    # RFC 3030 §2: the octets after the chunk are the next command.
    buf = ReceiveBuffer()
    buf.feed(b"12345\r\n.\r\nABBDAT 3 LAST\r\n")
    reader = BdatReader(12)
    assert read_all(reader, buf) == b"12345\r\n.\r\nAB"
    assert reader.done
    assert reader.remaining == 0
    assert buf.peek() == b"BDAT 3 LAST\r\n"


def test_bdat_reader_in_pieces() -> None:
    buf = ReceiveBuffer()
    reader = BdatReader(10, max_piece=3)
    got = b""
    for part in [b"01", b"2345", b"6789NOOP\r\n"]:
        buf.feed(part)
        got += read_all(reader, buf)
    assert got == b"0123456789"
    assert reader.done
    assert buf.extract_line(512) == b"NOOP"


def test_bdat_zero_size_chunk_is_done_at_once() -> None:
    buf = ReceiveBuffer()
    buf.feed(b"QUIT\r\n")
    reader = BdatReader(0)
    assert reader.done
    assert reader.read(buf) == b""
    assert buf.peek() == b"QUIT\r\n"


def test_bdat_discard_consumes_the_refused_chunk() -> None:
    # go-smtp#315: after a refused BDAT the payload must be read and dropped, never parsed
    # as commands, even when it looks like commands.
    payload = b"RSET\r\nMAIL FROM:<x@evil.example>\r\n"
    buf = ReceiveBuffer()
    buf.feed(payload[:10])
    reader = BdatReader(len(payload), discard=True)
    assert reader.read(buf) == b""
    assert len(buf) == 0
    assert reader.remaining == len(payload) - 10
    buf.feed(payload[10:] + b"QUIT\r\n")
    assert reader.read(buf) == b""
    assert reader.done
    assert buf.extract_line(512) == b"QUIT"


def test_bdat_reader_size_limit_across_chunks() -> None:
    buf = ReceiveBuffer()
    buf.feed(b"a" * 30 + b"NOOP\r\n")
    # 80 octets already received in earlier chunks, limit 100: 20 more fit, not 30.
    reader = BdatReader(30, max_size=100, received=80, max_piece=7)
    got = read_all(reader, buf)
    assert reader.exceeded
    assert reader.done
    assert reader.message_size == 110
    assert len(got) <= 20
    assert buf.peek() == b"NOOP\r\n"


def test_bdat_reader_at_the_limit_is_not_exceeded() -> None:
    buf = ReceiveBuffer()
    buf.feed(b"a" * 20)
    reader = BdatReader(20, max_size=100, received=80)
    assert read_all(reader, buf) == b"a" * 20
    assert not reader.exceeded


def test_bdat_reader_rejects_bad_sizes() -> None:
    with pytest.raises(LocalProtocolError):
        BdatReader(-1)
    with pytest.raises(LocalProtocolError):
        BdatReader(1, max_piece=0)


def test_content_scanner_crlf_split_across_chunks() -> None:
    scanner = ContentScanner()
    for chunk in [b"a\r", b"\nb\r\n"]:
        buf = ReceiveBuffer()
        buf.feed(chunk)
        read_all(BdatReader(len(chunk), scanner=scanner), buf)
    scanner.finish()
    assert not scanner.bare_cr_or_lf
    assert scanner.size == 6


def test_content_scanner_final_bare_cr() -> None:
    scanner = ContentScanner()
    scanner.update(b"a\r")
    assert not scanner.bare_cr_or_lf
    scanner.finish()
    assert scanner.bare_cr_or_lf


@settings(max_examples=200, deadline=None)
@given(data=bodies, cuts=st.lists(st.integers(0, 400), max_size=8))
def test_content_scanner_matches_the_reference(data: bytes, cuts: list[int]) -> None:
    scanner = ContentScanner()
    for chunk in splits(data, cuts):
        scanner.update(chunk)
    scanner.finish()
    assert scanner.size == len(data)
    bare = re.search(rb"\r(?!\n)|(?<!\r)\n", data) is not None
    assert scanner.bare_cr_or_lf == bare
    assert scanner.eight_bit == (not data.isascii())
    assert scanner.nul == (b"\x00" in data)


@pytest.mark.parametrize(
    ("chunks", "bare"),
    [
        ([b"a\r.\nb"], True),  # CR and LF apart: both bare
        ([b"a\r", b".\nb"], True),
        ([b"a\r", b"x\n"], True),
        ([b"a\r", b"\n", b"b\r", b"\r\n"], True),
        ([b"a\r", b"\n", b"b\r\n\r", b"\n"], False),
        ([b"\n"], True),
        ([b"a\r\n"], False),
    ],
)
def test_content_scanner_examples(chunks: list[bytes], bare: bool) -> None:
    scanner = ContentScanner()
    for chunk in chunks:
        scanner.update(chunk)
    scanner.finish()
    assert scanner.bare_cr_or_lf == bare


@pytest.mark.parametrize(
    "stream",
    [
        b"x\r\n.a\rb\nc\r\n.\r\n",  # a dot-line, then a CR and an LF apart
        b"a\rb\nc\r\n..d\r\n.\r\n",  # the CR and LF apart first, then a dot-line
        b"x\r\n.a\r\r\n.\r\n",
        b"\r.\n\r\n.\r\n",
        b"x\r\n..\r\n\n.\r\n.\r\n",
    ],
)
@pytest.mark.parametrize("policy", ["reject", "normalize", "allow"])
def test_bare_line_endings_next_to_dot_lines(stream: bytes, policy: BareLineEndingPolicy) -> None:
    got = assert_same_for_every_split(stream, bare_line_endings=policy)
    assert got.decoder.done
    assert got.decoder.bare_cr_or_lf
    assert got.message == reference_message(stream, policy)


def test_str_input_is_a_typed_error() -> None:
    with pytest.raises(LocalProtocolError):
        DataEncoder().encode("text")  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        bdat_normalizer().feed("text")  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        normalize_line_endings("text")  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        ReceiveBuffer().feed("text")  # type: ignore[arg-type]

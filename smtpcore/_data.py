"""The DATA and BDAT codecs: transparency, end of data, line endings, sizes.

Client side
    :class:`DataEncoder` turns message bytes into the DATA stream: every bare CR and bare LF
    becomes CRLF (RFC 5321 §2.3.8), every line that starts with "." gets a second "."
    (RFC 5321 §4.5.2), and :meth:`DataEncoder.finish` adds the CRLF "." CRLF end of data.
    Whatever bytes it is handed, the stream it writes can end the data only where
    ``finish`` says, so a client built on it cannot be used for SMTP smuggling.
    For BDAT (RFC 3030), which has no end marker and no dot-stuffing, :func:`bdat_normalizer`
    gives the same CRLF normalisation alone, and :func:`normalize_line_endings` does it for a
    whole message (e.g. to compute the RFC 1870 SIZE).

Server side
    :class:`DataDecoder` reads the DATA stream from a :class:`ReceiveBuffer`: it removes the
    transparency dots and stops only at CRLF "." CRLF (RFC 5321 §4.1.1.4), leaving whatever
    follows (pipelined commands, RFC 2920) in the buffer. It counts the size, stops handing
    out data past ``max_size``, and records bare CR/LF, 8-bit octets and NUL for the server's
    verdict after the end of data. :func:`parse_bdat_args` checks a BDAT command's argument,
    and :class:`BdatReader` reads (or discards) exactly the chunk's octets.

Speed: every step works on whole regions with C-level ``bytes`` and ``re`` operations (one
search for line-initial dots, one ``translate`` to check the line endings, ``isascii``);
there is no Python loop per line. ``benchmarks/bench_codec.py`` measures it.
"""

from __future__ import annotations

import re
from typing import Final, Literal, get_args

from ._errors import LocalProtocolError
from ._receivebuffer import ReceiveBuffer
from ._status import PARAM_SYNTAX

__all__ = [
    "BareLineEndingPolicy",
    "BdatReader",
    "ContentScanner",
    "DataDecoder",
    "DataEncoder",
    "LineEndingNormalizer",
    "bdat_normalizer",
    "normalize_line_endings",
    "parse_bdat_args",
]

BareLineEndingPolicy = Literal["reject", "normalize", "allow"]
_POLICIES: Final = frozenset(get_args(BareLineEndingPolicy))

_CR: Final = 0x0D
_LF: Final = 0x0A
_DOT: Final = 0x2E
_CRLF: Final = b"\r\n"
# RFC 5321 §4.1.1.4: "The mail data are terminated by a line containing only a period, that
# is, the character sequence "<CRLF>.<CRLF>"".
_END_OF_DATA: Final = b"\r\n.\r\n"
# A line that starts with a period (RFC 5321 §4.5.2). A compiled pattern searches a
# bytearray window in place and beats bytes.find/replace for this needle.
_DOT_LINE: Final = re.compile(rb"\r\n\.")
# translate() argument that deletes every octet except CR and LF: what is left of a region
# with only CRLF line endings is b"\r\n" repeated (the "skeleton"). The skeleton loses
# adjacency ("\r.\n" also leaves "\r\n"), so a bare CR search completes the check.
_ALL_BUT_CR_LF: Final = bytes(o for o in range(256) if o not in (0x0A, 0x0D))
_BARE_CR: Final = re.compile(rb"\r(?!\n)")
# One search for "anything to do": a line-initial dot or a bare CR (encoder and decoder).
_DOT_LINE_OR_BARE_CR: Final = re.compile(rb"\r(?:\n\.|(?!\n))")
# The encoder's form of it: a CR that is not followed by LF and a non-dot. Besides a bare CR
# and a line-initial dot it also finds a CRLF that ends the region (nothing after the LF);
# the encoder sorts those out. One lookahead instead of an alternation: 2.1 against 1.6 GB/s
# here on benchmarks/bench_codec.py's message.
_CR_NOT_PLAIN_LINE_END: Final = re.compile(rb"\r(?!\n[^.])")

DEFAULT_MAX_PIECE: Final = 1 << 20


def _as_bytes(data: bytes | bytearray | memoryview) -> bytes:
    """``data`` as bytes; anything that is not bytes-like (a str, say) is a typed error."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise LocalProtocolError(f"message data must be bytes, not {type(data).__name__}")


def _has_bare_line_ending(data: bytes) -> bool:
    """True if ``data`` holds a CR not followed by LF or an LF not preceded by CR.

    A region that ends in a CR counts that CR as bare; callers hold such a CR back when its
    LF may still come.
    """
    skeleton = data.translate(None, _ALL_BUT_CR_LF)
    if skeleton != _CRLF * (len(skeleton) >> 1):
        return True
    # CR and LF alternate, CR first; they are all CRLF pairs unless some CR has something
    # else right after it (then its LF, further on, is bare as well).
    return bool(skeleton) and _BARE_CR.search(data) is not None


def _to_crlf(data: bytes) -> bytes:
    """Every CRLF, bare CR and bare LF in ``data`` as CRLF (RFC 5321 §2.3.8).

    CRLF pairs become LF first; any CR left is bare and becomes LF; then each LF is one line
    end and becomes CRLF.
    """
    return data.replace(_CRLF, b"\n").replace(b"\r", b"\n").replace(b"\n", _CRLF)


def normalize_line_endings(
    data: bytes | bytearray | memoryview, *, final_crlf: bool = False
) -> bytes:
    """A whole message with every bare CR and bare LF turned into CRLF (RFC 5321 §2.3.8).

    No dot-stuffing: this is the message as the server stores it, whose length is the
    RFC 1870 SIZE ("including CR-LF pairs, but not ... doubled quoting dots"), and the form
    BDAT sends (RFC 3030 §2). With ``final_crlf`` a non-empty message that does not end with
    CRLF gets one, as DATA delivers it (the CRLF before the terminating "." ends the last
    line).
    """
    raw = _as_bytes(data)
    out = _to_crlf(raw) if _has_bare_line_ending(raw) else raw
    if final_crlf and out and not out.endswith(_CRLF):
        out += _CRLF
    return out


class LineEndingNormalizer:
    """Streaming CRLF normalisation without dot-stuffing, for BDAT (RFC 3030 §2-3).

    ``feed`` returns the normalised octets available so far; a CR at the end of a chunk is
    held back until the next octet shows whether it starts a CRLF. ``finish`` returns what
    is still held (``b"\\r\\n"`` for a final bare CR, else ``b""``). ``size`` counts the octets
    returned.
    """

    __slots__ = ("_finished", "_pending_cr", "size")

    def __init__(self) -> None:
        self._pending_cr = False
        self._finished = False
        self.size = 0

    def feed(self, chunk: bytes | bytearray | memoryview) -> bytes:
        if self._finished:
            raise LocalProtocolError("feed() after finish()")
        data = chunk if type(chunk) is bytes else _as_bytes(chunk)
        if not data:
            return b""
        if self._pending_cr:
            data = b"\r" + data
            self._pending_cr = False
        if data[-1] == _CR:
            data = data[:-1]
            self._pending_cr = True
        if _has_bare_line_ending(data):
            data = _to_crlf(data)
        self.size += len(data)
        return data

    def finish(self) -> bytes:
        self._finished = True
        if self._pending_cr:
            self._pending_cr = False
            self.size += 2
            return _CRLF
        return b""


def bdat_normalizer() -> LineEndingNormalizer:
    """A fresh streaming CRLF normaliser for a message sent with BDAT (no dot-stuffing)."""
    return LineEndingNormalizer()


class DataEncoder:
    """Client side of DATA: message bytes in, transparent DATA stream out.

    ``encode(chunk)`` may be called any number of times with consecutive pieces of the
    message; ``finish()`` once at the end. State is carried across chunks: a CR at the end
    of one chunk and an LF at the start of the next are one CRLF, and a "." that starts a
    chunk right after a CRLF is stuffed.

    * RFC 5321 §2.3.8: bare CR and bare LF are sent as CRLF, so no sequence such as
      ``"\\n.\\n"``, ``"\\r.\\r"`` or ``"\\n.\\r\\n"`` ever reaches the wire as is.
    * RFC 5321 §4.5.2: "Before sending a line of mail text, the SMTP client checks the first
      character of the line. If it is a period, one additional period is inserted at the
      beginning of the line."
    * RFC 5321 §4.1.1.4: the data ends with CRLF "." CRLF. The CRLF that ends the DATA command
      counts as the first CRLF, so an empty message is just ``".\\r\\n"``, and a message that
      ends without a line end gets a CRLF before the ".".

    ``encoded_size`` counts the octets returned (stream, stuffing and terminator included);
    ``message_size`` counts the octets of the message the server will store (normalised,
    without stuffing or terminator, with the final CRLF): the RFC 1870 SIZE.
    """

    __slots__ = ("_at_line_start", "_finished", "_pending_cr", "encoded_size", "message_size")

    def __init__(self) -> None:
        self._at_line_start = True
        self._pending_cr = False
        self._finished = False
        self.encoded_size = 0
        self.message_size = 0

    def encode(self, chunk: bytes | bytearray | memoryview) -> bytes:
        if self._finished:
            raise LocalProtocolError("encode() after finish()")
        data = chunk if type(chunk) is bytes else _as_bytes(chunk)
        if not data:
            return b""
        if self._pending_cr:
            data = b"\r" + data
            self._pending_cr = False
        if data[-1] == _CR:
            # Maybe the first half of a CRLF: decide when the next octet is known.
            data = data[:-1]
            self._pending_cr = True
            if not data:
                return b""
        # One pass proves most chunks need nothing done (see _has_bare_line_ending).
        skeleton = data.translate(None, _ALL_BUT_CR_LF)
        bare = skeleton != _CRLF * (len(skeleton) >> 1)
        todo = bare
        if not bare and skeleton:
            found = _CR_NOT_PLAIN_LINE_END.search(data)
            # A CRLF that ends the chunk is nothing to do (and data never ends with a CR).
            if found is not None and ((at := found.start()) != len(data) - 2 or data[-1] != _LF):
                todo = True
                bare = data[at + 1] != _LF or _BARE_CR.search(data, at + 2) is not None
        if bare:
            data = _to_crlf(data)
        self.message_size += len(data)
        out = _DOT_LINE.sub(b"\r\n..", data) if todo else data
        if self._at_line_start and data[0] == _DOT:
            out = b"." + out
        self._at_line_start = data.endswith(_CRLF)
        self.encoded_size += len(out)
        return out

    def finish(self) -> bytes:
        """The end of the data: ``".\\r\\n"`` after a CRLF, else ``"\\r\\n.\\r\\n"``."""
        if self._finished:
            raise LocalProtocolError("finish() called twice")
        self._finished = True
        out = b""
        if self._pending_cr:
            # A bare CR at the very end: it becomes the message's final CRLF.
            out = _CRLF
            self._at_line_start = True
            self.message_size += 2
        if not self._at_line_start:
            out += _CRLF
            self.message_size += 2
        out += b".\r\n"
        self.encoded_size += len(out)
        return out


class DataDecoder:
    """Server side of DATA: reads the stream from a :class:`ReceiveBuffer`, hands out the
    message with the transparency dots removed, and stops at the end of data.

    Use after the 354 reply::

        piece = decoder.decode(buf)   # b"" means: feed more data, unless decoder.done

    ``decode`` returns the next piece of message data (at most about ``max_piece`` octets),
    or ``b""`` when it needs more input or the data has ended (``done``). After ``done``,
    the octets that followed the terminator are still in the buffer: pipelined commands
    (RFC 2920). Call ``decode`` again as long as it returns data.

    Rules:

    * End of data only at CRLF "." CRLF (RFC 5321 §4.1.1.4), the first CRLF possibly being
      the one that ended the DATA command, so ``".\\r\\n"`` right after the 354 is an empty
      message. Nothing else ends it: not ``"\\n.\\n"``, ``"\\r.\\r"``, ``"\\n.\\r\\n"``,
      ``"\\r\\n.\\n"``, ``"\\r\\n.\\r"`` nor anything with NUL in it (SMTP smuggling).
    * A line that begins with "." has that "." removed (RFC 5321 §4.5.2). Lines begin only
      after CRLF: a "." after a bare LF is data.
    * The returned data include the CRLF that ends the last line.
    * ``size`` counts the octets of the message handed out (after unstuffing, and after
      normalisation under the "normalize" policy). Once it passes ``max_size``, ``exceeded``
      is set and no more data is returned, but the stream is still read up to its end
      (the 552 reply of RFC 1870 comes after the end of data). ``size`` keeps counting.
    * ``bare_cr_or_lf``, ``eight_bit`` and ``nul`` record whether the data held a bare CR or
      LF, an octet >= 0x80, or a NUL. ``bare_line_endings`` says what to do with bare CR/LF:
      "reject" passes the data as is and leaves the refusal to the server after the end of
      data (554 5.6.0; the data must still be read to its end), "normalize" hands them out as
      CRLF, "allow" passes them as is.

    At most four octets that could be the start of the terminator are left unconsumed in the
    buffer while more input is awaited.
    """

    __slots__ = (
        "_at_line_start",
        "_max_piece",
        "_normalize",
        "bare_cr_or_lf",
        "bare_line_endings",
        "done",
        "eight_bit",
        "exceeded",
        "max_size",
        "nul",
        "size",
    )

    def __init__(
        self,
        max_size: int | None = None,
        bare_line_endings: BareLineEndingPolicy = "reject",
        *,
        max_piece: int = DEFAULT_MAX_PIECE,
    ) -> None:
        if bare_line_endings not in _POLICIES:
            raise LocalProtocolError(f"bare_line_endings must be one of {sorted(_POLICIES)}")
        if max_size is not None and max_size < 0:
            raise LocalProtocolError("max_size must not be negative")
        if max_piece < 16:
            raise LocalProtocolError("max_piece must be at least 16")
        self.max_size = max_size
        self.bare_line_endings: BareLineEndingPolicy = bare_line_endings
        self._normalize = bare_line_endings == "normalize"
        self._max_piece = max_piece
        # RFC 5321 §4.1.1.4: the CRLF of the DATA command precedes the first line.
        self._at_line_start = True
        self.done = False
        self.size = 0
        self.exceeded = False
        self.bare_cr_or_lf = False
        self.eight_bit = False
        self.nul = False

    def decode(self, buf: ReceiveBuffer) -> bytes:
        """The next piece of message data from ``buf``; ``b""`` if it needs more input, or
        when the end of data has been consumed (then ``done`` is true)."""
        # Bounded: every pass consumes octets from buf or returns.
        while not self.done:
            data, pos, end = buf._window()
            if pos == end:
                return b""
            if self._at_line_start and data[pos] == _DOT:
                if data.startswith(b".\r\n", pos, end):
                    buf._advance(3)
                    self.done = True
                    return b""
                if end - pos < 3 and b".\r\n".startswith(data[pos:end]):
                    return b""  # "." or ".\r": the terminator, or a stuffed dot?
                # A stuffed dot at the start of the data (RFC 5321 §4.5.2).
                buf._advance(1)
                self._at_line_start = False
                continue
            stop = min(end, pos + self._max_piece)
            check_bare = self._normalize or not self.bare_cr_or_lf
            # One search finds the first line-initial dot or, while bare line endings still
            # matter, the first bare CR (a CR at the end of the window matches too, and
            # then lies in the tail kept back below).
            found = (_DOT_LINE_OR_BARE_CR if check_bare else _DOT_LINE).search(data, pos, stop)
            bare_cr = -1
            dot = -1
            if found is not None:
                if found.end() - found.start() == 1:
                    bare_cr = found.start()
                    found = _DOT_LINE.search(data, found.end(), stop)
                if found is not None:
                    dot = found.start()
            eod = -1 if dot < 0 else data.find(_END_OF_DATA, dot, stop)
            if eod >= 0:
                cut = eod + 2  # the CRLF ending the last line is message data
            else:
                # Keep back a tail that may be the start of CRLF "." CRLF.
                cut = stop - _terminator_prefix_length(data, pos, stop)
                if cut == pos:
                    return b""
            # Does the region hold a bare CR? Exactly known when the first hit was a bare
            # CR or nothing; after a dot-line hit, search the rest of the region (a CR at its
            # very end is followed by another CR, so it is bare indeed).
            if not check_bare:
                has_bare_cr = False
            elif bare_cr >= 0 or dot < 0:
                has_bare_cr = 0 <= bare_cr < cut
            else:
                has_bare_cr = _BARE_CR.search(data, dot, cut) is not None
            raw = buf._take(cut - pos)
            if eod >= 0:
                buf._advance(3)
                self.done = True
            self._at_line_start = raw.endswith(_CRLF)
            # Line-initial dots in the region (the terminator's own dot is not in it).
            dots = 0 <= dot < (eod if eod >= 0 else cut)
            piece = self._process(raw, dots=dots, check_bare=check_bare, bare_cr=has_bare_cr)
            if piece or self.done:
                return piece
        return b""

    def _process(self, raw: bytes, *, dots: bool, check_bare: bool, bare_cr: bool) -> bytes:
        """Flags, unstuffing, policy and size for one region of the raw stream.

        The region never ends inside a CRLF (a CR at its end is followed by another CR) and
        never splits a CRLF "." sequence, so it is checked and unstuffed on its own.
        ``bare_cr`` says whether it holds a bare CR (when ``check_bare``); bare LFs are found
        here from the CR/LF skeleton.
        """
        bare = False
        if check_bare:
            bare = bare_cr
            if not bare:
                skeleton = raw.translate(None, _ALL_BUT_CR_LF)
                bare = skeleton != _CRLF * (len(skeleton) >> 1)
            if bare:
                self.bare_cr_or_lf = True
        if not self.eight_bit and not raw.isascii():
            self.eight_bit = True
        if not self.nul and b"\x00" in raw:
            self.nul = True
        piece = _DOT_LINE.sub(_CRLF, raw) if dots else raw
        if bare and self._normalize:
            piece = _to_crlf(piece)
        self.size += len(piece)
        if self.max_size is not None and self.size > self.max_size:
            self.exceeded = True
        return b"" if self.exceeded else piece


def _terminator_prefix_length(data: bytearray, pos: int, stop: int) -> int:
    """Length of the longest end of ``data[pos:stop]`` that is a proper prefix of
    CRLF "." CRLF (0 to 4)."""
    for length in (4, 3, 2, 1):
        if stop - pos >= length and data.endswith(_END_OF_DATA[:length], pos, stop):
            return length
    return 0


# -- BDAT (RFC 3030) ---------------------------------------------------------------------

# RFC 3030 §3:
#   bdat-cmd   ::= "BDAT" SP chunk-size [ SP end-marker ] CR LF
#   chunk-size ::= 1*DIGIT
#   end-marker ::= "LAST"
# At most 20 digits: more than any message size (2**64 has 20 digits), and it keeps int()
# away from absurdly long inputs.
_BDAT_ARGS: Final = re.compile(r"([0-9]{1,20})(?: ([Ll][Aa][Ss][Tt]))?")


def parse_bdat_args(arg: str) -> tuple[int, bool]:
    """``(chunk_size, last)`` from the argument of a BDAT command (``"1000 LAST"``).

    Raises :class:`LocalProtocolError` with a 501 5.5.4 hint when the argument does not
    match ``chunk-size [SP "LAST"]`` (RFC 3030 §3).
    """
    match = _BDAT_ARGS.fullmatch(arg)
    if match is None:
        raise LocalProtocolError(f"bad BDAT argument {arg[:40]!r}", PARAM_SYNTAX)
    return int(match.group(1)), match.group(2) is not None


class ContentScanner:
    """Records what a message's octets contain, across any number of pieces: ``size``,
    ``bare_cr_or_lf`` (a CR not followed by LF or an LF not preceded by CR, RFC 5321
    §2.3.8), ``eight_bit`` (an octet >= 0x80, RFC 6152) and ``nul``.

    Feed the BDAT chunks of one message in order with :meth:`update` (a CRLF may be split
    across chunks) and call :meth:`finish` after the LAST chunk.
    """

    __slots__ = ("_pending_cr", "bare_cr_or_lf", "eight_bit", "nul", "size")

    def __init__(self) -> None:
        self._pending_cr = False
        self.size = 0
        self.bare_cr_or_lf = False
        self.eight_bit = False
        self.nul = False

    def update(self, data: bytes) -> None:
        if not data:
            return
        self.size += len(data)
        if not self.eight_bit and not data.isascii():
            self.eight_bit = True
        if not self.nul and b"\x00" in data:
            self.nul = True
        if self.bare_cr_or_lf:
            return
        if self._pending_cr and data[0] != _LF:
            self.bare_cr_or_lf = True
            return
        skeleton = data.translate(None, _ALL_BUT_CR_LF)
        if self._pending_cr:
            skeleton = b"\r" + skeleton
        # A CR at the very end waits for the next chunk to show its LF.
        ends_with_cr = data[-1] == _CR
        self._pending_cr = ends_with_cr
        if ends_with_cr:
            skeleton = skeleton[:-1]
        if skeleton != _CRLF * (len(skeleton) >> 1) or (
            _BARE_CR.search(data, 0, len(data) - ends_with_cr) is not None
        ):
            self.bare_cr_or_lf = True

    def finish(self) -> None:
        """The message has ended: a CR still waiting for its LF is bare."""
        if self._pending_cr:
            self._pending_cr = False
            self.bare_cr_or_lf = True


class BdatReader:
    """Reads exactly ``chunk_size`` octets of one BDAT chunk from a :class:`ReceiveBuffer`.

    ``read(buf)`` returns the next piece of the chunk (``b""`` when the buffer is empty or
    the chunk is complete); ``remaining`` is the number of octets still to read and ``done``
    says the chunk is complete. The octets after the chunk stay in the buffer: they are the
    next command (RFC 3030 §2, pipelining).

    ``message_size`` is the size of the message so far: ``received`` (the octets of the
    earlier chunks of this message) plus what this reader has read. When it passes
    ``max_size``, ``exceeded`` is set and the rest of the chunk is consumed but not returned.

    ``discard=True`` reads a chunk whose BDAT command was refused: RFC 3030 §2 says the
    octets are still sent, and a server that parsed them as commands would desynchronise
    (the go-smtp#315 trap). ``read`` consumes them and always returns ``b""``.

    ``scanner`` (a :class:`ContentScanner` shared by every chunk of the message) is updated
    with the octets read, unless discarding.
    """

    __slots__ = (
        "_max_piece",
        "chunk_size",
        "discard",
        "exceeded",
        "max_size",
        "message_size",
        "remaining",
        "scanner",
    )

    def __init__(
        self,
        chunk_size: int,
        *,
        discard: bool = False,
        max_size: int | None = None,
        received: int = 0,
        scanner: ContentScanner | None = None,
        max_piece: int = DEFAULT_MAX_PIECE,
    ) -> None:
        if chunk_size < 0 or received < 0:
            raise LocalProtocolError("chunk_size and received must not be negative")
        if max_piece < 1:
            raise LocalProtocolError("max_piece must be positive")
        self.chunk_size = chunk_size
        self.remaining = chunk_size
        self.discard = discard
        self.max_size = max_size
        self.message_size = received
        self.exceeded = max_size is not None and received > max_size
        self.scanner = scanner
        self._max_piece = max_piece

    @property
    def done(self) -> bool:
        return self.remaining == 0

    def read(self, buf: ReceiveBuffer) -> bytes:
        """The next piece of the chunk, or ``b""`` (buffer empty, chunk done, or discarding)."""
        available = min(self.remaining, len(buf))
        if available == 0:
            return b""
        if self.discard:
            buf._advance(available)
            self.remaining -= available
            return b""
        if not self.exceeded:
            piece = buf._take(min(available, self._max_piece))
            self.remaining -= len(piece)
            self.message_size += len(piece)
            if self.max_size is None or self.message_size <= self.max_size:
                if self.scanner is not None:
                    self.scanner.update(piece)
                return piece
            self.exceeded = True
            available = min(self.remaining, len(buf))
        # Past the limit: count and skip everything that is here (returning b"" with chunk
        # octets still buffered would make the caller wait for input that never comes).
        buf._advance(available)
        self.remaining -= available
        self.message_size += available
        return b""

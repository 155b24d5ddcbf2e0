"""Reply line codec (RFC 5321 §4.2), no state beyond one reply being assembled.

Reply-line     = *( Reply-code "-" [ textstring ] CRLF )
                 Reply-code [ SP textstring ] CRLF
Reply-code     = %x32-35 %x30-35 %x30-39
textstring     = 1*(%d09 / %d32-126) ; HT, SP, Printable US-ASCII
                 (RFC 6531 §3.7.4: UTF-8 text in replies under SMTPUTF8)
"""

from __future__ import annotations

import functools
import re
from typing import Final

from ._config import Limits
from ._errors import LocalProtocolError
from ._events import Reply
from ._receivebuffer import ReceiveBuffer

__all__ = ["ReplyAssembler", "format_reply", "MAX_REPLY_LINE"]

_CODE: Final = rb"([2-5][0-5][0-9])"  # Reply-code
_TEXT: Final = rb"([^\r\n\x00]*)"  # textstring as far as CR, LF and NUL go
_REPLY_LINE: Final = re.compile(_CODE + rb"([ -]?)(.*)", re.DOTALL)
# The usual line in one match: a code, a separator and text without CR, LF or NUL. A line it
# does not match goes through the checks one by one, for the error that names its fault.
_GOOD_LINE: Final = re.compile(_CODE + rb"(?:([ -])" + _TEXT + rb")?")
# The same grammar for a whole last (or only) line with its CRLF, matched where it lies in
# the receive buffer (see ReplyAssembler.take_reply).
_ONE_LINE_REPLY: Final = re.compile(_CODE + rb"(?: " + _TEXT + rb")?\r\n")

# RFC 5321 §4.5.3.1.5: "The maximum total length of a reply line including the reply code
# and the <CRLF> is 512 octets."
MAX_REPLY_LINE: Final = 512


class ReplyAssembler:
    """Collects reply lines (without CRLF) into :class:`Reply` values.

    Feed each line to :meth:`add_line`; it returns the Reply when the last line came, else
    None. A malformed line, a line with another code than the first, or a reply over the
    limits raises :class:`LocalProtocolError` (the connection re-raises it as remote).
    """

    __slots__ = ("_code", "_limits", "_lines", "_octets", "_one_line_max")

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        # The longest one-line reply take_reply may take; longer ones go to add_line's checks.
        self._one_line_max = min(limits.reply_line, limits.reply_octets)
        if limits.reply_lines < 1:
            self._one_line_max = 0
        self._code: bytes | None = None
        self._lines: list[str] = []
        self._octets = 0

    @property
    def in_progress(self) -> bool:
        return self._code is not None

    def take_reply(self, buffer: ReceiveBuffer) -> Reply | None:
        """The usual case in one step: a whole one-line reply at the start of ``buffer``,
        consumed; None (nothing consumed) for anything else, which :meth:`add_line` then
        takes line by line (and names its fault)."""
        if self._code is not None:
            return None
        groups = buffer.take_match(_ONE_LINE_REPLY, self._one_line_max)
        if groups is None:
            return None
        code, text = groups
        assert code is not None  # the pattern's first group always takes part
        return Reply._checked(int(code), (text.decode("utf-8", "replace") if text else "",))

    def add_line(self, line: bytes) -> Reply | None:
        good = _GOOD_LINE.fullmatch(line)
        if good is not None and self._code is None and good[2] != b"-":
            # A one-line reply, the usual case: checked in full by the match.
            if self._limits.reply_lines < 1 or len(line) + 2 > self._limits.reply_octets:
                raise LocalProtocolError(
                    f"reply longer than {self._limits.reply_lines} lines or "
                    f"{self._limits.reply_octets} octets"
                )
            text = good[3]
            return Reply._checked(int(good[1]), (text.decode("utf-8", "replace") if text else "",))
        m = _REPLY_LINE.fullmatch(line)
        if m is None:
            raise LocalProtocolError(f"malformed reply line {_show(line)}")
        code, sep, text = m[1], m[2], m[3]
        if sep == b"" and text:
            raise LocalProtocolError(f"no separator after the reply code in {_show(line)}")
        if self._code is not None and code != self._code:
            raise LocalProtocolError(
                f"reply code changed within a multi-line reply: {self._code!r} then {code!r}"
            )
        if b"\r" in text or b"\n" in text or b"\x00" in text:
            raise LocalProtocolError(f"control characters in reply text {_show(line)}")
        self._code = code
        self._octets += len(line) + 2
        # Invalid UTF-8 cannot break anything once decoded with replacement characters.
        self._lines.append(text.decode("utf-8", "replace"))
        if len(self._lines) > self._limits.reply_lines or self._octets > self._limits.reply_octets:
            raise LocalProtocolError(
                f"reply longer than {self._limits.reply_lines} lines or "
                f"{self._limits.reply_octets} octets"
            )
        if sep == b"-":
            return None
        # Checked above as Reply checks it: the code by _REPLY_LINE, the text for CR, LF and
        # NUL (decoding with replacement adds none), and there is at least one line.
        reply = Reply._checked(int(code), tuple(self._lines))
        self._code = None
        self._lines = []
        self._octets = 0
        return reply


def _show(line: bytes) -> str:
    return repr(line[:80]) + ("..." if len(line) > 80 else "")


def _wrap(text: str, prefix: str, width: int) -> list[str]:
    """Split one line of text into pieces whose UTF-8 form fits ``width`` octets, at spaces
    where possible; continuation pieces start with ``prefix`` (the enhanced status code)."""
    if len(text.encode("utf-8")) <= width:
        return [text]
    out: list[str] = []
    rest = text
    first = True
    while rest:
        room = width - (0 if first else len(prefix))
        raw = rest.encode("utf-8")
        chunk = rest
        if len(raw) > room:
            # the longest prefix that fits, whole characters only (one slice, not a loop per
            # character: a long unbroken line must not cost quadratic time)
            chunk = raw[:room].decode("utf-8", "ignore")
            # never cut inside the enhanced code at the start of the first piece: that would
            # leave a line holding the code and no text (RFC 2034 §4: the code precedes text)
            floor = len(prefix) if first else 0
            cut = chunk.rfind(" ")
            if raw[room : room + 1] != b" " and cut > floor:
                chunk = chunk[:cut]
        out.append(chunk if first else prefix + chunk)
        rest = rest[len(chunk) :].lstrip(" ")
        first = False
    return out


# The wire form of the Reply objects sent last, by identity: a server's everyday replies are
# module constants, and a lookup by id() costs less than hashing a Reply (a Python-level
# __hash__) for the lru_cache below. An entry holds its Reply, so no id is reused while cached.
_SENT: dict[int, tuple[Reply, bytes]] = {}
_SENT_MAX: Final = 256


def format_reply(reply: Reply) -> bytes:
    """The wire form of a reply, every line kept under 512 octets (RFC 5321 §4.5.3.1.5).

    Cached: a server sends the same few replies over and over (replies are immutable).
    """
    hit = _SENT.get(id(reply))
    if hit is not None and hit[0] is reply:
        return hit[1]
    wire = _format_reply(reply)
    if len(_SENT) >= _SENT_MAX:
        _SENT.clear()
    _SENT[id(reply)] = (reply, wire)
    return wire


@functools.lru_cache(maxsize=512)
def _format_reply(reply: Reply) -> bytes:
    enh = reply.enhanced
    prefix = "" if enh is None else f"{enh} "
    lines: list[str] = []
    for line in reply.lines:
        lines.extend(_wrap(line, prefix, MAX_REPLY_LINE - 6))
    code = str(reply.code)
    parts = [f"{code}-{line}\r\n" for line in lines[:-1]]
    last = lines[-1]
    # An empty 334 keeps its space ("334 "), as in RFC 4954 §4's examples: some clients
    # look for it before the (empty) challenge.
    parts.append(f"{code} {last}\r\n" if last or reply.code == 334 else f"{code}\r\n")
    return "".join(parts).encode("utf-8")

"""The receive buffer: pull the next line (with a length limit) or up to N octets.

Bytes from the peer are appended with :meth:`ReceiveBuffer.feed`; the connection then takes
them out in the unit its state needs:

* a command or reply line with :meth:`~ReceiveBuffer.extract_line` (RFC 5321 §2.3.8: lines
  end with CRLF; a bare LF ends a line only when the caller allows it, e.g. for lenient reply
  parsing),
* BDAT payload octets with :meth:`~ReceiveBuffer.extract_at_most` (RFC 3030 §2),
* DATA payload through :class:`smtpcore._data.DataDecoder`, which searches the buffer in place
  and takes whole regions at once.

Like h11's buffer, it is a ``bytearray`` with a start offset: consuming moves the offset, and
the consumed prefix is dropped only once it is at least half of the storage, so consumption is
amortised O(1) per octet. ``extract_line`` remembers how far it already searched, so a line
that arrives one octet at a time is not rescanned from its start on every call.

Line length (RFC 5321 §4.5.3.1.4-§4.5.3.1.6): when more than ``max_length`` octets (counting
the CRLF) arrive without a line end, the buffer switches into a discarding mode. It drops
octets as they arrive, so memory stays bounded by ``max_length`` whatever the peer sends,
until the line end shows up; then ``extract_line`` returns :data:`LINE_TOO_LONG` once, and the
lines after it come out normally. The server answers that with ``500 5.5.6 Line too long``.
"""

from __future__ import annotations

import enum
import re

from ._errors import LocalProtocolError

__all__ = ["LINE_TOO_LONG", "LineTooLong", "ReceiveBuffer"]

_CR = 0x0D
_CRLF = b"\r\n"
_LF_BYTES = b"\n"

# Drop the consumed prefix once it is this long and at least half of the storage.
_COMPACT_MIN = 8192


class LineTooLong(enum.Enum):
    """The type of :data:`LINE_TOO_LONG`, the one value ``extract_line`` returns for an
    over-long line (an enum, so that ``result is LINE_TOO_LONG`` narrows the type)."""

    LINE_TOO_LONG = "LINE_TOO_LONG"

    def __repr__(self) -> str:
        return "LINE_TOO_LONG"


LINE_TOO_LONG = LineTooLong.LINE_TOO_LONG


class ReceiveBuffer:
    """Octets received from the peer and not yet consumed.

    Not thread-safe; one per connection. ``len(buf)`` is the number of buffered octets.
    """

    __slots__ = ("_bare_lf", "_data", "_discarding", "_scanned", "_start", "_too_long")

    def __init__(self) -> None:
        self._data = bytearray()
        # Index in _data of the first unconsumed octet.
        self._start = 0
        # Octets after _start already searched for a line end without finding one, and the
        # kind of line end that search looked for (the count is void if the kind changes).
        self._scanned = 0
        self._bare_lf = False
        # Discarding an over-long line: drop input until its line end (see module docstring).
        self._discarding = False
        # The over-long line has ended; extract_line owes one LINE_TOO_LONG.
        self._too_long = False

    # -- filling and inspecting ------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append octets received from the peer."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise LocalProtocolError(f"feed() takes bytes, not {type(data).__name__}")
        self._data += data
        if self._discarding:
            self._discard_step()

    def __len__(self) -> int:
        return len(self._data) - self._start

    def __bool__(self) -> bool:
        return len(self._data) > self._start

    def take_match(
        self, pattern: re.Pattern[bytes], max_length: int
    ) -> tuple[bytes | None, ...] | None:
        """Where ``pattern`` matches at the first unconsumed octet, over at most
        ``max_length`` octets, its groups, the match consumed; else None, nothing consumed.
        For a pattern that matches one whole line with its line end (the usual reply, in one
        step). Nothing matches while an over-long line is being dropped or owed."""
        if self._discarding or self._too_long:
            return None
        start = self._start
        m = pattern.match(self._data, start)
        if m is None or m.end() - start > max_length:
            return None
        groups = m.groups()  # copied out before the storage they point into moves
        self._advance(m.end() - start)
        return groups

    @property
    def may_hold_line(self) -> bool:
        """False when :meth:`extract_line` can only return None: nothing is buffered and no
        LINE_TOO_LONG is owed (a cheap test before working out the line's limit)."""
        return len(self._data) > self._start or self._too_long

    def __repr__(self) -> str:
        return f"<ReceiveBuffer {len(self)} octets>"

    def peek(self) -> bytes:
        """All buffered octets, without consuming them."""
        return bytes(self._data[self._start :])

    def clear(self) -> bytes:
        """Take everything buffered (e.g. octets that arrived behind STARTTLS, RFC 3207 §4.2).

        Also leaves the discarding mode of an over-long line.
        """
        out = self.peek()
        self._data = bytearray()
        self._start = 0
        self._scanned = 0
        self._discarding = False
        self._too_long = False
        return out

    # -- lines -----------------------------------------------------------------------------

    def extract_line(
        self, max_length: int, *, allow_bare_lf: bool = False
    ) -> bytes | LineTooLong | None:
        """The next line without its line end, ``None`` if no whole line is buffered yet, or
        :data:`LINE_TOO_LONG` once for a line longer than ``max_length`` octets (line end
        included).

        Only CRLF ends a line (RFC 5321 §2.3.8); with ``allow_bare_lf`` a lone LF does too (and
        a CR right before it is stripped as part of the CRLF).
        """
        if max_length < 2:
            raise LocalProtocolError("max_length must leave room for the CRLF")
        if self._discarding:
            self._discard_step()
        if self._too_long:
            self._too_long = False
            return LINE_TOO_LONG
        if self._discarding:
            return None
        idx, end_len = self._find_line_end(allow_bare_lf)
        if idx < 0:
            if len(self) >= max_length:
                # Already max_length octets and no line end: the line can only be longer
                # (a CR at the very end would make it max_length + 1 with its LF).
                self._discarding = True
                self._bare_lf = allow_bare_lf
                self._discard_step()
            return None
        start = self._start
        if idx + end_len - start > max_length:
            self._advance(idx + end_len - start)
            return LINE_TOO_LONG
        content_end = idx
        if end_len == 1 and idx > start and self._data[idx - 1] == _CR:
            content_end -= 1
        line = bytes(self._data[start:content_end])
        self._advance(idx + end_len - start)
        return line

    def _find_line_end(self, allow_bare_lf: bool) -> tuple[int, int]:
        """(index in _data, length) of the first line end after _start, or (-1, 0).

        Resumes where the previous search for the same kind of line end stopped.
        """
        if allow_bare_lf != self._bare_lf:
            self._bare_lf = allow_bare_lf
            self._scanned = 0
        data = self._data
        end = len(data)
        if allow_bare_lf:
            idx = data.find(_LF_BYTES, self._start + self._scanned, end)
            if idx >= 0:
                return idx, 1
        else:
            # Step back one octet: the CR of a CRLF may be the last octet searched before.
            idx = data.find(_CRLF, self._start + max(self._scanned - 1, 0), end)
            if idx >= 0:
                return idx, 2
        self._scanned = end - self._start
        return -1, 0

    def _discard_step(self) -> None:
        """Drop the over-long line's octets buffered so far; when its end is buffered,
        consume through it, leave discarding mode and owe one LINE_TOO_LONG."""
        idx, end_len = self._find_line_end(self._bare_lf)
        if idx >= 0:
            self._advance(idx + end_len - self._start)
            self._discarding = False
            self._too_long = True
            return
        # Keep a final CR: it may be the first half of the CRLF that ends the line.
        data = self._data
        keep = 1 if not self._bare_lf and len(data) > self._start and data[-1] == _CR else 0
        del data[: len(data) - keep]
        self._start = 0
        self._scanned = keep

    # -- octet counts (BDAT) ---------------------------------------------------------------

    @property
    def discarding(self) -> bool:
        """An over-long line is being dropped (its end has not arrived yet)."""
        return self._discarding

    def extract_at_most(self, n: int) -> bytes:
        """Up to ``n`` buffered octets (``b""`` if none are buffered), consumed."""
        if n < 0:
            raise LocalProtocolError("n must not be negative")
        count = min(n, len(self))
        if count == 0:
            return b""
        return self._take(count)

    # -- for the DATA/BDAT codec in smtpcore._data -----------------------------------------

    def _window(self) -> tuple[bytearray, int, int]:
        """(storage, first unconsumed index, end index) for in-place searching.

        The storage must not be kept or resized by the caller; it is valid until the next
        call that feeds or consumes.
        """
        return self._data, self._start, len(self._data)

    def _take(self, n: int) -> bytes:
        """Consume ``n`` octets (``n <= len(self)``) and return them, copied once."""
        start = self._start
        with memoryview(self._data) as view:
            out = bytes(view[start : start + n])
        self._advance(n)
        return out

    def _advance(self, n: int) -> None:
        """Consume ``n`` octets (``n <= len(self)``) without copying them."""
        self._start += n
        self._scanned = max(self._scanned - n, 0)
        data = self._data
        if self._start >= len(data):
            data.clear()
            self._start = 0
            self._scanned = 0
        elif self._start >= _COMPACT_MIN and 2 * self._start >= len(data):
            # Each compaction moves fewer octets than were consumed since the last one.
            del data[: self._start]
            self._start = 0

"""RFC 3464 / RFC 6533 field syntax: decoding parts to text, field blocks, typed values.

Everything here is tolerant: it never raises on junk, it returns what it can read.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re
from collections.abc import Iterator
from datetime import datetime
from email.header import decode_header
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Final

from ._dsn_types import Diagnostic, TypedAddress
from ._status import EnhancedStatus

__all__ = [
    "decode_bytes",
    "decode_header_value",
    "diagnostic",
    "raw_header",
    "field_groups",
    "parse_date",
    "part_text",
    "reply_code_in",
    "typed_address",
    "unfold",
]

_ISO2022_ESC: Final = re.compile(rb"\x1b[$(][@BJ]")


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Bytes to text: the declared charset when it works, else guessed, never raising.

    Mislabelled bounces are common: ISO-2022-JP sent as us-ascii, UTF-8 with no charset,
    UTF-7. We try the declared charset, then ISO-2022-JP when its escapes are present, UTF-8,
    and finally cp1252/latin-1 which decode any byte.
    """
    candidates: list[str] = []
    if charset:
        name = charset.strip().strip('"').lower()
        try:
            codecs.lookup(name)
            candidates.append(name)
        except LookupError:
            pass
    if _ISO2022_ESC.search(data):
        candidates.insert(0, "iso-2022-jp")
    candidates.append("utf-8")
    for name in candidates:
        if name in ("us-ascii", "ascii") and any(b > 0x7F for b in data):
            continue
        try:
            return data.decode(name)
        except (UnicodeError, LookupError):
            continue
    # Undeclared 8-bit Japanese (EUC-JP, Shift_JIS) is common in carrier bounces: accept it
    # only when most of what it decodes to is Japanese script.
    for name in ("euc-jp", "shift_jis"):
        try:
            text = data.decode(name)
        except UnicodeError:
            continue
        wide = [ch for ch in text if ord(ch) > 0x7F]
        japanese = [ch for ch in wide if "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef"]
        if wide and len(japanese) >= 0.8 * len(wide):
            return text
    return data.decode("cp1252", errors="replace")


def _unsurrogate(text: str) -> str:
    # compat32 parsing of bytes keeps raw 8-bit octets as surrogate escapes; ISO-2022-JP is
    # 7-bit but still needs decoding.
    if any("\udc80" <= ch <= "\udcff" for ch in text) or "\x1b" in text:
        return decode_bytes(text.encode("ascii", "surrogateescape"))
    return text


def raw_header(msg: Message, name: str) -> str | None:
    """A header's stored value (8-bit octets intact, unlike ``msg.get``), or None."""
    name = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == name:
            return _unsurrogate(str(value))
    return None


def unfold(value: str) -> str:
    """RFC 5322 §2.2.3 unfolding, plus joining the lines of a folded Diagnostic-Code."""
    return re.sub(r"[ \t]*(?:\r\n|\r|\n)[ \t]*", " ", value).strip()


def decode_header_value(value: object) -> str:
    """A header value as text: 8-bit octets decoded, RFC 2047 encoded words decoded."""
    text = _unsurrogate(str(value))
    if "=?" not in text:
        return unfold(text)
    try:
        pieces = []
        for chunk, charset in decode_header(text):
            if isinstance(chunk, bytes):
                pieces.append(decode_bytes(chunk, charset))
            else:
                pieces.append(chunk)
        return unfold("".join(pieces))
    except (ValueError, LookupError, UnicodeError, AssertionError):
        return unfold(text)


def part_text(part: Message) -> str:
    """The decoded text of a non-multipart part (transfer encoding and charset undone)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        # message/* parts the parser split into sub-messages: rebuild their text.
        text = "\n\n".join(_message_text(sub) for sub in payload if isinstance(sub, Message))
        cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
        if cte == "base64":
            # A transfer-encoded status part (RFC 6522 allows it): the parser split the
            # encoded text, so undo the encoding on what it saw.
            try:
                data = base64.b64decode("".join(text.split()), validate=False)
            except (ValueError, binascii.Error):
                return text
            return decode_bytes(data, part.get_content_charset())
        if cte == "quoted-printable":
            return decode_bytes(quopri.decodestring(text.encode("utf-8", "surrogateescape")))
        return text
    try:
        raw = part.get_payload(decode=True)
    except (ValueError, LookupError, AssertionError):
        raw = None
    if not isinstance(raw, bytes):
        raw = str(payload).encode("ascii", "surrogateescape")
    return decode_bytes(raw, part.get_content_charset())


def _message_text(sub: Message) -> str:
    lines = [f"{name}: {_unsurrogate(str(value))}" for name, value in sub.raw_items()]
    if not sub.is_multipart():
        raw = sub.get_payload(decode=True)
        body = decode_bytes(raw) if isinstance(raw, bytes) else ""
        if body.strip():
            lines.append("")
            lines.append(body)
    return "\n".join(lines)


_FIELD_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)")


def field_groups(text: str) -> list[list[tuple[str, str]]]:
    """Split a delivery-status body into groups of (lower-case name, unfolded value).

    RFC 3464 §2.1: the body is blocks of header-style fields separated by blank lines; the
    first is per-message, each later one per-recipient. Continuation lines start with white
    space (RFC 5322 §2.2.3). Lines that are not fields are skipped.
    """
    groups: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for line in re.split(r"\r\n|\r|\n", text):
        if not line.strip():
            if current:
                groups.append(current)
                current = []
            continue
        if line[0] in " \t" and current:
            name, value = current[-1]
            current[-1] = (name, f"{value} {line.strip()}".strip())
            continue
        m = _FIELD_RE.fullmatch(line.rstrip())
        if m is not None:
            name = m[1].lower()
            if current and _starts_recipient(name, {n for n, _ in current}):
                # Some MTAs leave out the blank line between blocks.
                groups.append(current)
                current = []
            current.append((name, m[2].strip()))
    if current:
        groups.append(current)
    return groups


_PER_MESSAGE: Final = frozenset(
    {"reporting-mta", "dsn-gateway", "received-from-mta", "arrival-date", "original-envelope-id"}
)


def _starts_recipient(name: str, seen: set[str]) -> bool:
    # A recipient field repeated, or following per-message fields, opens a new block.
    if name in ("final-recipient", "original-recipient"):
        return name in seen or bool(seen & _PER_MESSAGE)
    if name in ("action", "status"):
        return name in seen and bool(seen & {"final-recipient", "original-recipient"})
    return False


_UNITEXT_RE: Final = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")


def _decode_unitext(text: str) -> str:
    # RFC 6533 §3.2: embedded-unicode-char = %x5C.78 "{" HEXPOINT "}"
    def repl(m: re.Match[str]) -> str:
        point = int(m[1], 16)
        return chr(point) if point < 0x110000 and not 0xD800 <= point <= 0xDFFF else m[0]

    return _UNITEXT_RE.sub(repl, text)


def typed_address(value: str) -> TypedAddress | None:
    """``address-type ; generic-address`` (RFC 3464 §2.3.1/§2.3.2; RFC 6533 §3 ``utf-8``).

    Tolerates a missing type, angle brackets, comments and quotes around the address.
    """
    value = value.strip()
    if not value:
        return None
    addr_type: str | None = None
    m = re.match(r"([A-Za-z0-9][A-Za-z0-9.+-]*)[ \t]*;[ \t]*(.*)", value)
    if m is not None:
        addr_type, value = m[1].lower(), m[2].strip()
    address = _decode_unitext(value)
    bracket = re.search(r"<([^<>]*)>", address)
    if bracket is not None and bracket[1].strip():
        address = bracket[1]
    address = address.strip().strip('"').strip()
    address = re.sub(r"\s*\(.*?\)\s*$", "", address).strip()
    if not address:
        return None
    return TypedAddress(type=addr_type, address=address)


def diagnostic(value: str) -> Diagnostic:
    """``diagnostic-type ; *text`` (RFC 3464 §2.3.6); a missing type is tolerated."""
    value = unfold(value)
    m = re.match(r"([A-Za-z][A-Za-z0-9-]*)[ \t]*;[ \t]*(.*)", value, re.S)
    if m is not None:
        return Diagnostic(type=m[1].lower(), text=m[2].strip())
    return Diagnostic(type=None, text=value)


_REPLY_RE: Final = re.compile(r"(?<![0-9.\-/=])(?<!\w:)([245][0-5][0-9])(?=[ \-:,]|$)", re.M)


# A relay's own verdict wrapping the remote server's last reply in angle brackets:
# "554 4.4.7 Message expired: unable to deliver in 840 minutes.<421 4.4.2 Connection timed out>"
# (Amazon SES). The quoted reply is the one that says what happened.
_QUOTED_REPLY: Final = re.compile(r"<([245][0-9][0-9])[ -]([245]\.[0-9]{1,3}\.[0-9]{1,3})\b[^<>]*>")


# The reply codes SMTP defines: RFC 5321 §4.2.2-4.2.3, RFC 3030 (BDAT), RFC 4954 (AUTH: 235,
# 334, 432, 454, 500, 530, 534, 535, 538), RFC 7504 (521, 556), RFC 6531 (553), RFC 3463 §2
# usage (452, 552), RFC 4468 and RFC 4865 (253, 455, 555), RFC 8689 (REQUIRETLS 550).
# A three-digit number outside this set ("426", "571", "222") is not read as a reply.
REPLY_CODES: Final = frozenset(
    {211, 214, 220, 221, 235, 250, 251, 252, 253, 334, 354}
    | {421, 422, 430, 432, 450, 451, 452, 453, 454, 455, 458, 459}
    | {500, 501, 502, 503, 504, 521, 523, 524, 525, 530, 534, 535, 538}
    | {550, 551, 552, 553, 554, 555, 556, 557}
)


def reply_code_in(text: str, klass: int | None = None) -> int | None:
    """The first RFC 5321 §4.2 reply code that stands as a word in ``text``, or None.

    A reply quoted in angle brackets after a relay's own verdict is preferred. With ``klass``
    (the status class, 2, 4 or 5), only a code of that class is taken: a "220-" greeting
    banner quoted before the "421" that refused is not the answer.
    """
    quoted = _QUOTED_REPLY.search(text)
    if quoted is not None and (klass is None or int(quoted[1]) // 100 == klass):
        return int(quoted[1])
    for m in _REPLY_RE.finditer(text):
        start = m.start()
        # "<code> <text>" or "<code>-<text>": not part of a date, address, IP or size.
        before = text[max(0, start - 1) : start]
        if before and before not in " \t\"'([<;:=#\n":
            continue
        code = int(m[1])
        if code in REPLY_CODES and (klass is None or code // 100 == klass):
            return code
    return None


def parse_date(value: str | None) -> datetime | None:
    """An RFC 5322 date-time (RFC 3464 §2.2.5, §2.3.7), or None when it cannot be read."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


_STATUS_RE: Final = re.compile(r"(?<![0-9.])([245])\.([0-9]{1,3})\.([0-9]{1,3})(?![0-9]|\.[0-9])")


def status_codes(text: str) -> list[EnhancedStatus]:
    """The enhanced status codes standing as words in ``text``, in order.

    Only RFC 3463 §3's subjects 0 to 7 count: "Apple Mail (2.753.1)" is a version number.
    """
    return [
        EnhancedStatus(int(m[1]), int(m[2]), int(m[3]))
        for m in _STATUS_RE.finditer(text)
        if int(m[2]) <= 7
    ]


def find_status(text: str) -> EnhancedStatus | None:
    """The first enhanced status code in ``text`` (see :func:`status_codes`), or None."""
    codes = status_codes(text)
    return codes[0] if codes else None


def specific_status(
    raw: str | None, diag_text: str | None, action: str | None = None
) -> tuple[EnhancedStatus | None, str | None]:
    """The status to report: the remote server's own code when the reply quotes one.

    Many MTAs write a generic ``Status: 5.0.0`` (or their own ``4.4.7`` time-out) while the
    Diagnostic-Code quotes the remote reply, ``550 5.1.1 ...``, whose code says what actually
    happened. A code of the same class found in the reply wins (the first that is more than
    ``X.Y.0`` when the field is ``X.Y.0``), and so does a code of the class the action
    implies when the field's class contradicts the action; the field is kept as the raw status.
    Returns (status, raw status).
    """
    status = find_status(raw) if raw else None
    if not diag_text:
        return status, raw
    quoted = _QUOTED_REPLY.search(diag_text)
    if quoted is not None:
        return EnhancedStatus.parse(quoted[2]), raw
    codes = status_codes(diag_text)
    if status is None:
        return (codes[0] if codes else None), raw
    same_class = [c for c in codes if c.klass == status.klass]
    if not same_class:
        # The field disagrees with the action (RFC 3464 §2.3.3 "failed" is permanent,
        # "delayed" transient) while the reply agrees with it: the reply is right.
        wanted = {"failed": 5, "delayed": 4}.get(action or "")
        agreeing = [c for c in codes if c.klass == wanted]
        if wanted is not None and status.klass != wanted and agreeing:
            return agreeing[0], raw
        return status, raw
    if status.detail == 0:
        detailed = [c for c in same_class if c != status and c.detail != 0]
        if detailed:
            return detailed[0], raw
    return same_class[0], raw


def iter_parts(msg: Message) -> Iterator[Message]:
    """Every part of ``msg``, depth first, not descending into returned messages."""
    stack = [msg]
    while stack:
        part = stack.pop()
        yield part
        if part.is_multipart() and part.get_content_maintype() == "multipart":
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(reversed([p for p in payload if isinstance(p, Message)]))

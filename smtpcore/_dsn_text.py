"""Non-standard bounces: recipients, status, reply code and diagnostic text read from prose.

One engine, driven by data in :mod:`._dsn_formats`: where a notice's error section ends (the
returned message begins), which lines name a failed recipient, and which lines carry the
remote server's reply. The engine only walks lines; what a line means lives in the tables.
"""

from __future__ import annotations

import html
import re
from email.message import Message
from email.parser import HeaderParser
from typing import Final

from ._dsn_fields import (
    decode_header_value,
    find_status,
    iter_parts,
    part_text,
    raw_header,
    reply_code_in,
)
from ._dsn_formats import (
    ADDRESS,
    BOUNCE_SENDERS,
    BOUNCE_SUBJECTS,
    COMMANDS,
    END_MARKERS,
    NON_DELIVERY,
    RECIPIENT_LINES,
    SKIP_LINES,
    START_MARKERS,
    WEAK_BOUNCE_SENDERS,
    WEAK_BOUNCE_SUBJECTS,
)
from ._dsn_types import Diagnostic, RecipientStatus, ReturnedHeaders, TypedAddress
from ._status import EnhancedStatus

__all__ = ["body_text", "returned_in_text", "scan_text_bounce", "smtp_command_in"]

_ADDR_RE: Final = re.compile(ADDRESS)
_END: Final = [re.compile(p, re.I) for p in END_MARKERS]
_START: Final = [re.compile(p, re.I) for p in START_MARKERS]
_RCPT: Final = [re.compile(p, re.I) for p in RECIPIENT_LINES]
_SKIP: Final = [re.compile(p, re.I) for p in SKIP_LINES]
_SENDER: Final = re.compile("|".join(BOUNCE_SENDERS), re.I)
_SUBJECT: Final = re.compile("|".join(BOUNCE_SUBJECTS), re.I)
_WEAK_SENDER: Final = re.compile("|".join(WEAK_BOUNCE_SENDERS), re.I)
_WEAK_SUBJECT: Final = re.compile("|".join(WEAK_BOUNCE_SUBJECTS), re.I)
_NON_DELIVERY: Final = re.compile("|".join(NON_DELIVERY), re.I)
_COMMANDS: Final = [(re.compile(p, re.I), verb) for p, verb in COMMANDS]
_MAX_DIAG_LINES: Final = 12
_HEADER_LINE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9-]*:[ \t]")


def smtp_command_in(text: str) -> str | None:
    """The SMTP command a quoted reply answered, when the text says (see ``COMMANDS``)."""
    for pattern, verb in _COMMANDS:
        if pattern.search(text):
            return verb
    return None


def _html_to_text(markup: str) -> str:
    markup = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", markup)
    markup = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</tr>|</li>|</h\d>", "\n", markup)
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def body_text(msg: Message) -> str:
    """The notice's own text: its text parts, not those of a returned message."""
    plain: list[str] = []
    markup: list[str] = []
    for part in iter_parts(msg):
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = str(part.get("Content-Disposition", "")).lower()
        if ctype == "text/plain" and not disposition.startswith("attachment"):
            plain.append(part_text(part))
        elif ctype == "text/html":
            markup.append(_html_to_text(part_text(part)))
        elif ctype in ("message/delivery-status", "message/global-delivery-status"):
            continue
        elif (part is msg and not ctype.startswith("message/")) or ctype.startswith("multipart/"):
            # A single-part notice, or a multipart part whose boundary is missing or wrong.
            plain.append(part_text(part))
    return "\n".join(plain or markup)


def _lines(text: str) -> list[str]:
    return re.split(r"\r\n|\r|\n", text)


def _error_section(lines: list[str]) -> tuple[list[str], list[str]]:
    """(lines of the error report, lines of the returned message)."""
    start = 0
    for i, line in enumerate(lines):
        if any(p.search(line) for p in _START):
            start = i
            break
    for i in range(start, len(lines)):
        if i > start and any(p.search(lines[i]) for p in _END):
            return lines[start:i], lines[i + 1 :]
    return lines[start:], []


def _is_sender_like(address: str, ignore: set[str]) -> bool:
    local = address.split("@", 1)[0].lower()
    return address.lower() in ignore or local == "mailer-daemon"


def _header_addresses(value: str | None) -> list[str]:
    return [m[0] for m in _ADDR_RE.finditer(value or "")]


def _returned_header(rest: list[str], name: str) -> str | None:
    # The first "Name:" header line of the returned message, with its continuation lines.
    for i, line in enumerate(rest[:200]):
        if line.lower().startswith(name.lower() + ":"):
            value = line.split(":", 1)[1]
            for cont in rest[i + 1 : i + 5]:
                if cont[:1] in (" ", "\t"):
                    value += " " + cont.strip()
                else:
                    break
            return value
    return None


def _diag_text(lines: list[str]) -> str:
    kept = [ln.strip() for ln in lines if ln.strip() and not any(p.search(ln) for p in _SKIP)]
    return " ".join(kept)


def _recipient(address: str, diag: str, temporary: bool, command: str | None) -> RecipientStatus:
    status = find_status(diag) if diag else None
    reply = reply_code_in(diag, None if status is None else status.klass) if diag else None
    if reply is not None and reply < 400:
        reply = None  # a number in the text, not a negative reply
    if status is None and reply is not None and reply >= 400:
        # No enhanced code given: the reply's class, with nothing more specific (RFC 3463 §3.1).
        status = EnhancedStatus(reply // 100, 0, 0)
    if status is not None:
        action = "delayed" if status.klass == 4 else "failed"
    else:
        action = "delayed" if temporary else "failed"
    return RecipientStatus(
        final_recipient=TypedAddress(type="rfc822", address=address),
        action=action,
        status=status,
        reply_code=reply,
        diagnostic_code=Diagnostic(type=None, text=diag) if diag else None,
        smtp_command=command,
    )


def looks_like_bounce(msg: Message, text: str = "") -> bool:
    """A bounce by its sender or subject, or by weaker signs plus a non-delivery statement."""
    sender = decode_header_value(raw_header(msg, "From") or "")
    subject = decode_header_value(raw_header(msg, "Subject") or "")
    if _SENDER.search(sender) or _SUBJECT.search(subject) or raw_header(msg, "X-Failed-Recipients"):
        return True
    weak = _WEAK_SENDER.search(sender) or _WEAK_SUBJECT.search(subject)
    return bool(weak and _NON_DELIVERY.search(text))


def scan_text_bounce(msg: Message, text: str) -> list[RecipientStatus]:
    """Recipients and their failure details read from a non-RFC 3464 notice."""
    if not looks_like_bounce(msg, text):
        return []
    section, rest = _error_section(_lines(text))
    ignore = {a.lower() for a in _header_addresses(raw_header(msg, "To"))}
    ignore |= {a.lower() for a in _header_addresses(_returned_header(rest, "From"))}
    ignore |= {a.lower() for a in _header_addresses(raw_header(msg, "From"))}
    temporary = bool(re.search(r"temporar|delayed|will (be )?retr|still trying", text, re.I))
    found: list[tuple[str, list[str]]] = []
    commands: dict[str, str] = {}
    current: list[str] | None = None
    for line in section:
        hit = None
        for pattern in _RCPT:
            m = pattern.search(line)
            if m is not None and not _is_sender_like(m["addr"], ignore):
                hit = m
                break
        if hit is not None:
            addr = hit["addr"].strip("<>").rstrip(".")
            diag = hit.groupdict().get("diag") or ""
            command = smtp_command_in(line)
            if command is not None:
                commands.setdefault(addr.lower(), command)
            existing = next((d for a, d in found if a.lower() == addr.lower()), None)
            if existing is not None:
                # The address again ("... after RCPT TO:<addr>:"): part of its diagnostic.
                current = existing
                current.append(line)
                continue
            current = [diag] if diag else []
            found.append((addr, current))
            continue
        if current is not None and len(current) < _MAX_DIAG_LINES:
            current.append(line)
    failed = _header_addresses(raw_header(msg, "X-Failed-Recipients"))
    if failed:
        # Exim and Google write the failed recipients in a header: it is authoritative.
        by_address = {a.lower(): lines for a, lines in found}
        found = [(a, by_address.get(a.lower(), [])) for a in failed]
    if not found:
        fallback = _header_addresses(_returned_header(rest, "To"))
        if not fallback:
            fallback = _header_addresses(raw_header(msg, "X-Original-To"))
        if not fallback:
            return []
        found = [(fallback[0], [])]
    section_diag = _diag_text(section)
    section_command = smtp_command_in("\n".join(section))
    out = []
    for addr, diag_lines in found:
        diag = _diag_text(diag_lines)
        command = smtp_command_in(diag) or commands.get(addr.lower())
        if not find_status(diag) and (reply_code_in(diag) or 0) < 400:
            # The reply was not beside the address: use the whole error section.
            diag = (diag + " " + section_diag).strip() if diag else section_diag
        if command is None and len(found) == 1:
            command = section_command
        out.append(_recipient(addr, diag, temporary, command))
    return out


def returned_in_text(text: str) -> ReturnedHeaders | None:
    """The headers of a message returned inline, after the notice's own text."""
    _, rest = _error_section(_lines(text))
    start = next((i for i, ln in enumerate(rest) if _HEADER_LINE.match(ln)), None)
    if start is None:
        return None
    block = []
    for line in rest[start:]:
        if not line.strip():
            break
        block.append(line)
    headers = HeaderParser().parsestr("\n".join(block) + "\n\n", headersonly=True)

    def get(name: str) -> str | None:
        value = raw_header(headers, name)
        return decode_header_value(value) or None if value is not None else None

    found = ReturnedHeaders(
        message_id=get("Message-ID"), from_=get("From"), to=get("To"), subject=get("Subject")
    )
    return None if found == ReturnedHeaders() else found

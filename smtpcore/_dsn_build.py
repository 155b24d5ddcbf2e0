"""Writing RFC 3464 delivery status notifications (RFC 6522 multipart/report, RFC 6533 for
UTF-8 addresses) from per-recipient delivery results.

No clock and no dice: every date is passed in, and the MIME boundary is derived from the
content, so the same input always gives the same message.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Final

from ._dsn_types import ACTION_CLASS, RecipientResult
from ._errors import DSNError
from ._status import EnhancedStatus

__all__ = ["build_dsn"]

_RET: Final = ("HDRS", "FULL")
_FOLD_AT: Final = 76


def _check_line(name: str, value: str) -> str:
    if re.search(r"[\r\n\x00]", value):
        raise DSNError(f"{name} must be one line without CR, LF or NUL: {value!r}")
    if not value.strip():
        raise DSNError(f"{name} must not be empty")
    return value.strip()


def _needs_utf8(text: str) -> bool:
    return not text.isascii()


def _address_field(name: str, address: str) -> str:
    # RFC 3464 §2.3.1-2.3.2 address-type ";" generic-address; RFC 6533 §3 adds the "utf-8"
    # type, which carries the UTF-8 address as is inside message/global-delivery-status.
    address = _check_line(name, address)
    kind = "utf-8" if _needs_utf8(address) else "rfc822"
    return f"{name}: {kind}; {address}"


def _fold(line: str) -> str:
    """Fold a long field at single spaces (RFC 5322 §2.2.3), so unfolding restores it."""
    if len(line) <= _FOLD_AT:
        return line
    out: list[str] = []
    current = ""
    for word in line.split(" "):
        if (
            current
            and word
            and not current.endswith(" ")
            and len(current) + 1 + len(word) > _FOLD_AT
        ):
            out.append(current)
            current = " " + word
        else:
            current = f"{current} {word}" if current else word
    out.append(current)
    return "\n".join(out)


def _status(result: RecipientResult) -> EnhancedStatus:
    if isinstance(result.status, EnhancedStatus):
        status = result.status
    else:
        try:
            status = EnhancedStatus.parse(str(result.status))
        except ValueError:
            raise DSNError(f"not an enhanced status code: {result.status!r}") from None
    expected = ACTION_CLASS.get(result.action)
    if expected is None:
        raise DSNError(f"action must be one of {', '.join(ACTION_CLASS)}, not {result.action!r}")
    if status.klass != expected:
        raise DSNError(f"status {status} does not agree with action {result.action!r}")
    return status


def _recipient_block(result: RecipientResult) -> list[str]:
    status = _status(result)
    lines = []
    if result.original_recipient is not None:
        lines.append(_address_field("Original-Recipient", result.original_recipient))
    lines.append(_address_field("Final-Recipient", result.recipient))
    lines.append(f"Action: {result.action}")
    lines.append(f"Status: {status}")
    if result.remote_mta is not None:
        lines.append(f"Remote-MTA: dns; {_check_line('remote_mta', result.remote_mta)}")
    if result.diagnostic is not None:
        # Multi-line replies become one line: the field is folded and unfolded as one.
        text = " ".join(part.strip() for part in re.split(r"\r\n|\r|\n", result.diagnostic))
        lines.append(_fold(f"Diagnostic-Code: smtp; {_check_line('diagnostic', text)}"))
    if result.last_attempt is not None:
        lines.append(f"Last-Attempt-Date: {format_datetime(result.last_attempt)}")
    if result.will_retry_until is not None:
        # RFC 3464 §2.3.9: only for delayed recipients.
        if result.action != "delayed":
            raise DSNError("will_retry_until is only meaningful for a delayed recipient")
        lines.append(f"Will-Retry-Until: {format_datetime(result.will_retry_until)}")
    for name, value in result.extra:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", name):
            raise DSNError(f"not a field name: {name!r}")
        lines.append(_fold(f"{name}: {_check_line(name, value)}"))
    return lines


def _human_text(reporting_mta: str, results: Sequence[RecipientResult]) -> str:
    lines = [
        f"This is the mail system at {reporting_mta}.",
        "",
        "Delivery report for your message:",
        "",
    ]
    for result in results:
        status = _status(result)
        meaning = status.meaning or status.subject_meaning or ""
        lines.append(f"  {result.recipient} - {result.action} ({status} {meaning})".rstrip())
        if result.diagnostic:
            lines.append(f"    {' '.join(result.diagnostic.split())}")
    return "\n".join(lines) + "\n"


def _split_original(original: bytes) -> tuple[bytes, bytes]:
    data = original.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    head, sep, body = data.partition(b"\n\n")
    return head + b"\n", body if sep else b""


def build_dsn(
    *,
    reporting_mta: str,
    recipients: Sequence[RecipientResult],
    date: datetime,
    original: bytes | None = None,
    ret: str = "HDRS",
    envelope_id: str | None = None,
    arrival_date: datetime | None = None,
    mail_from: str | None = None,
    from_address: str | None = None,
    message_id: str | None = None,
    received_from_mta: str | None = None,
) -> EmailMessage:
    reporting_mta = _check_line("reporting_mta", reporting_mta)
    if not recipients:
        raise DSNError("a DSN needs at least one recipient")
    if ret.upper() not in _RET:
        raise DSNError(f"ret must be HDRS or FULL, not {ret!r}")
    # RFC 6522 §3: the report's own headers.
    sender = from_address or f"MAILER-DAEMON@{reporting_mta}"
    per_message = [f"Reporting-MTA: dns; {reporting_mta}"]
    if envelope_id is not None:
        # RFC 3464 §2.2.1: the ENVID exactly as received (it is xtext, hence ASCII).
        envid = _check_line("envelope_id", envelope_id)
        if not envid.isascii() or " " in envid:
            raise DSNError(f"envelope_id must be ASCII xtext: {envelope_id!r}")
        per_message.insert(0, f"Original-Envelope-Id: {envid}")
    if received_from_mta is not None:
        per_message.append(f"Received-From-MTA: dns; {_check_line('mta', received_from_mta)}")
    if arrival_date is not None:
        per_message.append(f"Arrival-Date: {format_datetime(arrival_date)}")
    blocks = ["\n".join(per_message)] + ["\n".join(_recipient_block(r)) for r in recipients]
    status_text = "\n\n".join(blocks) + "\n"
    utf8 = _needs_utf8(status_text)
    actions = {r.action for r in recipients}
    summary = "Failure" if "failed" in actions else "Delay" if "delayed" in actions else "Success"
    head_lines = [
        f"From: {_check_line('from_address', sender)}",
        f"Date: {format_datetime(date)}",
        f"Subject: Delivery Status Notification ({summary})",
        "MIME-Version: 1.0",
        "Auto-Submitted: auto-replied",
    ]
    if mail_from:
        head_lines.insert(1, f"To: <{_check_line('mail_from', mail_from)}>")
    if message_id is not None:
        head_lines.append(f"Message-ID: {_check_line('message_id', message_id)}")
    human = _human_text(reporting_mta, recipients)
    parts: list[bytes] = [
        (
            "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + human
        ).encode()
        if not human.isascii()
        else ("Content-Type: text/plain; charset=us-ascii\n\n" + human).encode(),
        # RFC 6533 §6.1: message/global-delivery-status when an address needs UTF-8.
        (
            "Content-Type: message/global-delivery-status\nContent-Transfer-Encoding: 8bit\n\n"
            if utf8
            else "Content-Type: message/delivery-status\n\n"
        ).encode()
        + status_text.encode("utf-8"),
    ]
    if original is not None:
        head, body = _split_original(original)
        eight_bit = any(b > 0x7F for b in original)
        if ret.upper() == "FULL":
            # RFC 3462 §2 / RFC 6522: the whole message; message/global when it is 8-bit
            # (RFC 6532 §3.7).
            ctype = "message/global" if eight_bit else "message/rfc822"
            parts.append(f"Content-Type: {ctype}\n\n".encode() + head + b"\n" + body)
        else:
            ctype = "message/global-headers" if eight_bit else "text/rfc822-headers"
            parts.append(f"Content-Type: {ctype}\n\n".encode() + head)
    digest = hashlib.sha256(b"".join(parts)).hexdigest()[:24]
    boundary = f"=_dsn_{digest}"
    head_lines.append(
        f'Content-Type: multipart/report; report-type=delivery-status;\n boundary="{boundary}"'
    )
    data = "\n".join(head_lines).encode("utf-8") + b"\n\n"
    data += b"This is a MIME-encapsulated delivery status notification.\n"
    for part in parts:
        data += f"\n--{boundary}\n".encode() + part.rstrip(b"\n") + b"\n"
    data += f"\n--{boundary}--\n".encode()
    policy = email.policy.SMTPUTF8 if utf8 else email.policy.SMTP
    msg = email.message_from_bytes(data, _class=EmailMessage, policy=policy)
    assert isinstance(msg, EmailMessage)
    return msg

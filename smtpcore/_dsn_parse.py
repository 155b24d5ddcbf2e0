"""Reading a message into a :class:`Report`: RFC 3464 / 6522 / 6533 DSNs, RFC 5965 feedback
reports, RFC 3834 auto-replies, and (through :mod:`._dsn_text`) non-standard bounces.
"""

from __future__ import annotations

import email
import re
from dataclasses import replace
from email.message import Message
from email.parser import HeaderParser
from typing import Final

from ._dsn_fields import (
    decode_bytes,
    decode_header_value,
    diagnostic,
    field_groups,
    iter_parts,
    parse_date,
    part_text,
    raw_header,
    reply_code_in,
    specific_status,
    typed_address,
)
from ._dsn_formats import FIELD_ALIASES
from ._dsn_json import ses_report
from ._dsn_text import body_text, returned_in_text, scan_text_bounce, smtp_command_in
from ._dsn_types import RecipientStatus, Report, ReturnedHeaders

__all__ = ["parse_message", "to_message"]

_STATUS_TYPES: Final = ("message/delivery-status", "message/global-delivery-status")
_RETURNED_TYPES: Final = (
    "message/rfc822",
    "message/global",
    "text/rfc822-headers",
    "text/rfc822-header",
    "message/rfc822-headers",
    "message/global-headers",
    "message/partial",
)
# RFC 3464 §2.2 per-message fields and §2.3 per-recipient fields we expose by name.
_MESSAGE_FIELDS: Final = frozenset(
    {"reporting-mta", "dsn-gateway", "received-from-mta", "arrival-date", "original-envelope-id"}
)
_RECIPIENT_FIELDS: Final = frozenset(
    {
        "original-recipient",
        "final-recipient",
        "action",
        "status",
        "remote-mta",
        "diagnostic-code",
        "last-attempt-date",
        "final-log-id",
        "will-retry-until",
    }
)
_ACTIONS: Final = {
    "failed": "failed",
    "failure": "failed",
    "error": "failed",  # non-standard, written by OpenSMTPD and others
    "undeliverable": "failed",  # Postfix address verification reports (sendmail -bv)
    "deliverable": "delivered",
    "delayed": "delayed",
    "delivered": "delivered",
    "relayed": "relayed",
    "expanded": "expanded",
}


def to_message(message: bytes | str | Message) -> Message:
    """Any input as a compat32 ``Message``, with CR-only and CRLF line ends made LF."""
    if isinstance(message, Message):
        return message
    data = message.encode("utf-8", "surrogateescape") if isinstance(message, str) else message
    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return email.message_from_bytes(data)


def parse_message(msg: Message) -> Report | None:
    parts = list(iter_parts(msg))
    returned = _returned_headers(parts)
    for part in parts:
        if part.get_content_type() == "message/feedback-report":
            return _feedback_report(msg, part, returned)
    status_parts = [p for p in parts if p.get_content_type() in _STATUS_TYPES]
    if status_parts:
        report = _delivery_status(msg, [part_text(p) for p in status_parts], returned)
        if report is not None:
            return report
    text = body_text(msg)
    ses = ses_report(text)
    if ses is not None:
        return ses
    embedded = _embedded_fields(text)
    if embedded is not None:
        # RFC 3464 fields in a part the MIME structure lost (a bad boundary, no
        # Content-Type) or in a gateway's own notice with renamed fields.
        report = _delivery_status(msg, [embedded], returned)
        if report is not None:
            return report
    if _is_auto_reply(msg):
        sender = typed_address(decode_header_value(raw_header(msg, "From") or ""))
        recipients = () if sender is None else (RecipientStatus(final_recipient=sender),)
        return Report(kind="auto-reply", recipients=recipients, returned_headers=returned)
    found = scan_text_bounce(msg, text)
    if not found:
        return _forwarded_report(parts)
    if returned is None:
        returned = returned_in_text(text)
    return Report(kind="text-bounce", recipients=tuple(found), returned_headers=returned)


def _forwarded_report(parts: list[Message]) -> Report | None:
    """A bounce forwarded as an attachment (a gateway or filter wrapping the original)."""
    for part in parts:
        if part.get_content_type() not in ("message/rfc822", "message/global"):
            continue
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(inner, Message) and any(
            p.get_content_type() in _STATUS_TYPES for p in iter_parts(inner)
        ):
            return parse_message(inner)
    return None


def _clean(value: str) -> str:
    return decode_header_value(value)


def _mta(value: str | None) -> str | None:
    # mta-name-type ";" mta-name (RFC 3464 §2.2.2)
    if not value:
        return None
    m = re.match(r"[A-Za-z0-9-]+[ \t]*;[ \t]*(.*)", value)
    name = (m[1] if m else value).strip()
    return name or None


_EMBEDDED_START: Final = re.compile(
    r"^[ \t]*(reporting-mta|final-recipient|original-recipient|"
    + "|".join(re.escape(alias) for alias in FIELD_ALIASES)
    + r")[ \t]*:",
    re.I | re.M,
)
_EMBEDDED_END: Final = re.compile(
    r"^[ \t]*(return-path|received|content-type|dkim-signature|message-id)[ \t]*:", re.I | re.M
)


def _embedded_fields(text: str) -> str | None:
    start = _EMBEDDED_START.search(text)
    if start is None:
        return None
    rest = text[start.start() :]
    end = _EMBEDDED_END.search(rest)
    block = rest if end is None else rest[: end.start()]
    lines = []
    for line in re.split(r"\r\n|\r|\n", block):
        stripped = line.strip()
        m = re.match(r"([A-Za-z][A-Za-z -]*?)[ \t]*:(.*)", stripped)
        if m is not None and m[1].lower() in FIELD_ALIASES:
            stripped = f"{FIELD_ALIASES[m[1].lower()]}:{m[2]}"
        lines.append(stripped if not line[:1].isspace() or m is not None else line)
    return "\n".join(lines)


def _delivery_status(
    msg: Message, texts: list[str], returned: ReturnedHeaders | None
) -> Report | None:
    per_message: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    recipients: list[RecipientStatus] = []
    for text in texts:
        groups = field_groups(text)
        for group in groups:
            names = {name for name, _ in group}
            if names & {"final-recipient", "original-recipient"}:
                recipients.append(_recipient(group))
            elif not recipients or names & _MESSAGE_FIELDS:
                for name, value in group:
                    if name in _MESSAGE_FIELDS:
                        per_message.setdefault(name, _clean(value))
                    else:
                        extra.append((name, _clean(value)))
    if not recipients:
        return None
    recipients = _complete_from_text(msg, recipients)
    return Report(
        kind="dsn",
        recipients=tuple(recipients),
        reporting_mta=_mta(per_message.get("reporting-mta")),
        dsn_gateway=_mta(per_message.get("dsn-gateway")),
        received_from_mta=_mta(per_message.get("received-from-mta")),
        arrival_date=parse_date(per_message.get("arrival-date")),
        original_envelope_id=per_message.get("original-envelope-id"),
        extra=tuple(extra),
        returned_headers=returned,
    )


def _recipient(group: list[tuple[str, str]]) -> RecipientStatus:
    fields: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    for name, value in group:
        if name in _RECIPIENT_FIELDS and name not in fields:
            fields[name] = _clean(value)
        else:
            extra.append((name, _clean(value)))
    diag = diagnostic(fields["diagnostic-code"]) if fields.get("diagnostic-code") else None
    raw_action = fields.get("action")
    action = None
    if raw_action:
        word = raw_action.split()[0].lower().strip(";,.") if raw_action.split() else ""
        action = _ACTIONS.get(word, word or None)
    status, raw_status = specific_status(fields.get("status"), diag.text if diag else None, action)
    klass = None if status is None else status.klass
    reply = reply_code_in(diag.text, klass) if diag is not None else None
    return RecipientStatus(
        final_recipient=typed_address(fields.get("final-recipient", "")),
        original_recipient=typed_address(fields.get("original-recipient", "")),
        action=action,
        raw_action=raw_action,
        status=status,
        raw_status=raw_status,
        reply_code=reply,
        diagnostic_code=diag,
        remote_mta=_mta(fields.get("remote-mta")),
        last_attempt_date=parse_date(fields.get("last-attempt-date")),
        final_log_id=fields.get("final-log-id"),
        will_retry_until=parse_date(fields.get("will-retry-until")),
        smtp_command=smtp_command_in(diag.text) if diag else None,
        extra=tuple(extra),
    )


def _complete_from_text(msg: Message, recipients: list[RecipientStatus]) -> list[RecipientStatus]:
    """Fill what the delivery-status part left out from the human-readable part.

    Several MTAs (qmail-ldap, Exchange, hosted services) write a thin delivery-status part and
    put the remote server's reply only in the text; Postfix, Sendmail and Courier name the SMTP
    command the reply answered only there ("in reply to RCPT TO command", ">>> DATA").
    """
    text = body_text(msg)
    scanned = scan_text_bounce(msg, text)
    found = {(r.address or "").lower(): r for r in scanned if r.address}
    if len(recipients) == 1 and len(scanned) == 1:
        # One recipient each side: the notice names it differently (an alias, a program).
        found[(recipients[0].address or "").lower()] = scanned[0]
    whole_command = smtp_command_in(text) if len(recipients) == 1 else None
    out = []
    for rcpt in recipients:
        if rcpt.action not in (None, "failed", "delayed"):
            out.append(rcpt)
            continue
        hit = found.get((rcpt.address or "").lower())
        changes: dict[str, object] = {}
        if (
            (rcpt.diagnostic_code is None or not rcpt.diagnostic_code.text.strip())
            and hit is not None
            and hit.diagnostic_code is not None
        ):
            status, _ = specific_status(rcpt.raw_status, hit.diagnostic_code.text, rcpt.action)
            changes.update(
                diagnostic_code=hit.diagnostic_code,
                reply_code=rcpt.reply_code or hit.reply_code,
                status=status or hit.status,
            )
        elif (
            rcpt.reply_code is None
            and hit is not None
            and hit.reply_code is not None
            and (rcpt.status is None or rcpt.status.klass == hit.reply_code // 100)
        ):
            # The reply code only in the transcript (Sendmail's "<<< 554 ...").
            changes["reply_code"] = hit.reply_code
        if rcpt.smtp_command is None:
            command = hit.smtp_command if hit is not None else None
            changes["smtp_command"] = command or whole_command
        out.append(replace(rcpt, **changes) if changes else rcpt)  # type: ignore[arg-type]
    return out


def _returned_headers(parts: list[Message]) -> ReturnedHeaders | None:
    for part in parts:
        ctype = part.get_content_type()
        if ctype not in _RETURNED_TYPES:
            continue
        payload = part.get_payload()
        headers: Message | None = None
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            headers = payload[0]
        elif isinstance(payload, str):
            raw = part.get_payload(decode=True)
            text = decode_bytes(raw if isinstance(raw, bytes) else payload.encode("latin-1"))
            headers = HeaderParser().parsestr(text.lstrip("\n"), headersonly=True)
        if headers is None:
            continue
        found = ReturnedHeaders(
            message_id=_header(headers, "Message-ID"),
            from_=_header(headers, "From"),
            to=_header(headers, "To"),
            subject=_header(headers, "Subject"),
        )
        if found != ReturnedHeaders():
            return found
    return None


def _header(msg: Message, name: str) -> str | None:
    value = raw_header(msg, name)
    if value is None:
        return None
    return decode_header_value(value) or None


def _feedback_report(msg: Message, part: Message, returned: ReturnedHeaders | None) -> Report:
    # RFC 5965 §3.1-3.2: the machine-readable part of an ARF report.
    fields: list[tuple[str, str]] = []
    for group in field_groups(part_text(part)):
        fields.extend(group)
    feedback_type = next((v.strip().lower() for n, v in fields if n == "feedback-type"), None)
    rcpts = [typed_address(v) for n, v in fields if n in ("original-rcpt-to", "removal-recipient")]
    addresses = [a for a in rcpts if a is not None]
    if not addresses and returned is not None and returned.to:
        fallback = typed_address(returned.to)
        addresses = [fallback] if fallback is not None else []
    per_message = dict(reversed(fields))
    return Report(
        kind="feedback-report",
        recipients=tuple(RecipientStatus(final_recipient=a) for a in addresses),
        reporting_mta=_mta(per_message.get("reporting-mta")),
        arrival_date=parse_date(per_message.get("arrival-date")),
        extra=tuple(fields),
        returned_headers=returned,
        feedback_type=feedback_type,
    )


# RFC 3834 §5 (Auto-Submitted: auto-replied) plus the headers and subject prefixes that
# vacation programs use without it (Microsoft X-Auto-Response-Suppress is *not* one: bounces
# carry it too).
_AUTO_HEADERS: Final = ("x-autoreply", "x-autorespond", "x-autoresponder", "x-mail-autoreply")
_AUTO_SUBJECT: Final = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|away( from| until)|"
    r"abwesenheit|absence|r[ée]ponse automatique|vacation)",
    re.I,
)
_BOUNCE_SENDER: Final = re.compile(r"mailer-daemon|postmaster|mail delivery", re.I)


def _is_auto_reply(msg: Message) -> bool:
    sender = decode_header_value(raw_header(msg, "From") or "")
    if _BOUNCE_SENDER.search(sender):
        return False
    auto = decode_header_value(raw_header(msg, "Auto-Submitted") or "").lower()
    if auto.startswith("auto-replied"):
        return True
    if any(msg.get(name) is not None for name in _AUTO_HEADERS):
        return True
    precedence = str(msg.get("Precedence", "")).strip().lower()
    subject = decode_header_value(raw_header(msg, "Subject") or "")
    return precedence == "auto_reply" or bool(_AUTO_SUBJECT.search(subject))

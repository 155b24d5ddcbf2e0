"""Amazon SES event notifications (JSON, often inside an Amazon SNS envelope) as reports.

The format is Amazon's documented "Amazon SES notification contents": ``notificationType`` is
``Bounce``, ``Complaint`` or ``Delivery``; bounces list ``bouncedRecipients`` with RFC 3464
``action``, ``status`` and ``diagnosticCode``; complaints list ``complainedRecipients`` and a
``complaintFeedbackType`` (RFC 5965 feedback types); deliveries carry ``smtpResponse``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ._dsn_fields import diagnostic, find_status, reply_code_in, specific_status, typed_address
from ._dsn_types import RecipientStatus, Report, TypedAddress

__all__ = ["ses_report"]


def _candidates(text: str) -> list[str]:
    start = text.find("{")
    if start < 0:
        return []
    end = text.rfind("}")
    body = text[start : end + 1]
    # Mail gateways fold long lines; try the text as is, then with the folds undone.
    return [body, re.sub(r"\r?\n ?", "", body), re.sub(r"\r?\n", "", body)]


def _load(text: str) -> dict[str, Any] | None:
    for candidate in _candidates(text):
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict):
            inner = data.get("Message")
            if isinstance(inner, str) and "notificationType" in inner:
                # Amazon SNS envelope: the SES notification is a JSON string inside.
                return _load(inner)
            if "notificationType" in data or "eventType" in data:
                return data
    return None


def _address(value: object) -> TypedAddress | None:
    return typed_address(f"rfc822; {value}") if isinstance(value, str) else None


def ses_report(text: str) -> Report | None:
    if "notificationType" not in text and "eventType" not in text:
        return None
    data = _load(text)
    if data is None:
        return None
    kind = str(data.get("notificationType") or data.get("eventType") or "")
    if kind == "Bounce" and isinstance(data.get("bounce"), dict):
        bounce = data["bounce"]
        out = []
        for rcpt in bounce.get("bouncedRecipients") or []:
            if not isinstance(rcpt, dict):
                continue
            diag = diagnostic(str(rcpt["diagnosticCode"])) if rcpt.get("diagnosticCode") else None
            status, raw = specific_status(
                str(rcpt.get("status") or "") or None, diag.text if diag else None
            )
            out.append(
                RecipientStatus(
                    final_recipient=_address(rcpt.get("emailAddress")),
                    action=str(rcpt.get("action") or "failed").lower(),
                    status=status,
                    raw_status=raw,
                    reply_code=reply_code_in(diag.text) if diag else None,
                    diagnostic_code=diag,
                    remote_mta=bounce.get("remoteMtaIp"),
                )
            )
        return Report(
            kind="text-bounce", recipients=tuple(out), reporting_mta=bounce.get("reportingMTA")
        )
    if kind == "Complaint" and isinstance(data.get("complaint"), dict):
        complaint = data["complaint"]
        addresses = [
            _address(r.get("emailAddress"))
            for r in complaint.get("complainedRecipients") or []
            if isinstance(r, dict)
        ]
        return Report(
            kind="feedback-report",
            recipients=tuple(RecipientStatus(final_recipient=a) for a in addresses if a),
            feedback_type=str(complaint.get("complaintFeedbackType") or "abuse").lower(),
        )
    if kind == "Delivery" and isinstance(data.get("delivery"), dict):
        delivery = data["delivery"]
        response = str(delivery.get("smtpResponse") or "")
        return Report(
            kind="dsn",
            reporting_mta=delivery.get("reportingMTA"),
            recipients=tuple(
                RecipientStatus(
                    final_recipient=_address(r),
                    action="delivered",
                    status=find_status(response),
                    reply_code=reply_code_in(response),
                    diagnostic_code=diagnostic(f"smtp; {response}") if response else None,
                )
                for r in delivery.get("recipients") or []
            ),
        )
    return None

"""The values :mod:`smtpcore.dsn` returns and takes: reports, recipients, classifications.

Field names follow RFC 3464 §2.2 (per-message fields) and §2.3 (per-recipient fields); each value
is frozen so reports can be compared, hashed and shared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ._errors import DSNError
from ._status import EnhancedStatus

__all__ = [
    "ACTION_CLASS",
    "KINDS",
    "Classification",
    "Diagnostic",
    "RecipientResult",
    "RecipientStatus",
    "Report",
    "ReportKind",
    "ReturnedHeaders",
    "TypedAddress",
]

ReportKind = Literal["dsn", "text-bounce", "auto-reply", "feedback-report"]
KINDS: tuple[ReportKind, ...] = ("dsn", "text-bounce", "auto-reply", "feedback-report")

# RFC 3464 §2.3.3 action-value, with the status class each implies (RFC 3463 §3.1).
ACTION_CLASS: dict[str, int] = {
    "failed": 5,
    "delayed": 4,
    "delivered": 2,
    "relayed": 2,
    "expanded": 2,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class TypedAddress:
    """An address with its RFC 3464 §2.3.1 address type (``rfc822``, ``utf-8`` per RFC 6533).

    ``type`` is lower-cased; it is None when the report left it out (a common deviation).
    ``address`` is the address as text, decoded from RFC 6533 ``\\x{HHHH}`` escapes, never
    dropped because it is not ASCII.
    """

    type: str | None
    address: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnostic:
    """RFC 3464 §2.3.6 Diagnostic-Code: ``diagnostic-type ; *text`` with folded lines joined."""

    type: str | None
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RecipientStatus:
    """One recipient's outcome, from a per-recipient block or read from a bounce's text.

    ``status`` is the most specific enhanced code known: the Status field, or the code in the
    Diagnostic-Code when Status is the vague ``X.0.0`` of the same class; ``raw_status`` is the
    Status field exactly as written. ``action`` is lower-case; the non-standard ``error`` is
    reported as ``failed`` (``raw_action`` keeps what was written). ``smtp_command`` is the
    command (``MAIL``, ``RCPT``, ``DATA``, ``EHLO``, ``CONN``) the remote reply answered, when
    the report says so.
    """

    final_recipient: TypedAddress | None = None
    original_recipient: TypedAddress | None = None
    action: str | None = None
    raw_action: str | None = None
    status: EnhancedStatus | None = None
    raw_status: str | None = None
    reply_code: int | None = None
    diagnostic_code: Diagnostic | None = None
    remote_mta: str | None = None
    last_attempt_date: datetime | None = None
    final_log_id: str | None = None
    will_retry_until: datetime | None = None
    smtp_command: str | None = None
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def address(self) -> str | None:
        """The final recipient's address, else the original recipient's."""
        for typed in (self.final_recipient, self.original_recipient):
            if typed is not None and typed.address:
                return typed.address
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReturnedHeaders:
    """The headers of the returned message that identify it (RFC 3462 / RFC 6522 §4)."""

    message_id: str | None = None
    from_: str | None = None
    to: str | None = None
    subject: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """What :func:`smtpcore.dsn.parse` found in one message.

    ``kind`` says what the message is: an RFC 3464 ``dsn``, a ``text-bounce`` read from a
    non-standard notice, an RFC 3834 ``auto-reply`` or an RFC 5965 ``feedback-report``. Only the
    first two are bounces (:attr:`is_bounce`). For a feedback report ``recipients`` lists the
    addresses the report is about and ``feedback_type`` its Feedback-Type; for an auto-reply it
    lists the address that replied.
    """

    kind: ReportKind
    recipients: tuple[RecipientStatus, ...] = ()
    reporting_mta: str | None = None
    dsn_gateway: str | None = None
    received_from_mta: str | None = None
    arrival_date: datetime | None = None
    original_envelope_id: str | None = None
    extra: tuple[tuple[str, str], ...] = ()
    returned_headers: ReturnedHeaders | None = None
    feedback_type: str | None = None

    @property
    def is_bounce(self) -> bool:
        return self.kind in ("dsn", "text-bounce")


@dataclass(frozen=True, slots=True, kw_only=True)
class Classification:
    """Why a recipient bounced: a reason of the Sisimai vocabulary, hard or soft, and which rule.

    ``source`` names the rule that decided (see :mod:`smtpcore._dsn_reasons`).
    """

    reason: str
    hard: bool
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RecipientResult:
    """One recipient's delivery result, the input of :func:`smtpcore.dsn.build`.

    ``action`` is one of RFC 3464 §2.3.3's ``failed``, ``delayed``, ``delivered``, ``relayed``,
    ``expanded``; ``status`` an :class:`EnhancedStatus` (or its text) whose class agrees with it;
    ``diagnostic`` the remote SMTP reply text (written as ``smtp;`` Diagnostic-Code).
    """

    recipient: str
    action: str
    status: EnhancedStatus | str
    diagnostic: str | None = None
    remote_mta: str | None = None
    original_recipient: str | None = None
    last_attempt: datetime | None = None
    will_retry_until: datetime | None = None
    extra: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        # A result that cannot make a valid DSN cannot be built (DSNError, a ValueError).
        if isinstance(self.status, str):
            try:
                object.__setattr__(self, "status", EnhancedStatus.parse(self.status))
            except ValueError:
                raise DSNError(f"not an enhanced status code: {self.status!r}") from None
        assert isinstance(self.status, EnhancedStatus)
        expected = ACTION_CLASS.get(self.action)
        if expected is None:
            raise DSNError(f"action must be one of {', '.join(ACTION_CLASS)}, not {self.action!r}")
        if self.status.klass != expected:
            raise DSNError(f"status {self.status} does not agree with action {self.action!r}")
        for name in ("recipient", "remote_mta", "original_recipient"):
            value = getattr(self, name)
            if value is not None and (not value.strip() or re.search(r"[\r\n\x00]", value)):
                raise DSNError(f"{name} must be one non-empty line, not {value!r}")
        if self.will_retry_until is not None and self.action != "delayed":
            # RFC 3464 §2.3.9: only for delayed recipients.
            raise DSNError("will_retry_until is only meaningful for a delayed recipient")

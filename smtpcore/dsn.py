"""Delivery status notifications: parse bounces, classify why, build RFC 3464 DSNs.

* :func:`parse` reads whatever lands in a bounce mailbox: RFC 3464 / RFC 6522 reports
  (``message/delivery-status``), RFC 6533 ``message/global-delivery-status``, the plain-text
  notices of MTAs that do not write one, RFC 5965 feedback reports and RFC 3834 auto-replies.
* :func:`classify` gives each recipient a reason from a fixed vocabulary (the reason names
  Sisimai publishes: ``userunknown``, ``mailboxfull``, ...) and a hard/soft flag.
* :func:`build` writes a DSN from per-recipient delivery results.

>>> from smtpcore import dsn
>>> report = dsn.parse(raw_bytes)  # doctest: +SKIP
>>> [(r.address, dsn.classify(r).reason) for r in report.recipients]  # doctest: +SKIP
[('someone@example.org', 'userunknown')]
"""

from __future__ import annotations

import email.errors
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage, Message

from ._dsn_build import build_dsn
from ._dsn_parse import parse_message, to_message
from ._dsn_reasons import REASONS, classify_recipient
from ._dsn_types import (
    KINDS,
    Classification,
    Diagnostic,
    RecipientResult,
    RecipientStatus,
    Report,
    ReportKind,
    ReturnedHeaders,
    TypedAddress,
)

__all__ = [
    "KINDS",
    "REASONS",
    "Classification",
    "Diagnostic",
    "RecipientResult",
    "RecipientStatus",
    "Report",
    "ReportKind",
    "ReturnedHeaders",
    "TypedAddress",
    "build",
    "classify",
    "parse",
]


# The values are documented and used as smtpcore.dsn's own.
for _public in (
    Classification,
    Diagnostic,
    RecipientResult,
    RecipientStatus,
    Report,
    ReturnedHeaders,
    TypedAddress,
):
    _public.__module__ = __name__
del _public


def parse(message: bytes | str | Message) -> Report | None:
    """Read a message into a :class:`Report`, or None when it is not a report of any kind.

    Never raises on malformed input: what cannot be read is left out. Feedback reports and
    auto-replies come back as reports whose ``is_bounce`` is False.
    """
    try:
        return parse_message(to_message(message))
    except (email.errors.MessageError, LookupError, UnicodeError, ValueError, TypeError):
        # The standard library's parser raises these on some malformed structures; a message
        # we cannot take apart is not a report we can read.
        return None


def classify(recipient: RecipientStatus, report: Report | None = None) -> Classification:
    """The reason ``recipient`` bounced (see :data:`REASONS`), hard or soft, and the deciding rule.

    Pass the ``report`` too so feedback reports and auto-replies get their own reasons.
    """
    kind = None if report is None else report.kind
    return classify_recipient(recipient, kind)


def build(
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
    """An RFC 3464 DSN in an RFC 6522 ``multipart/report`` for the given results.

    ``reporting_mta`` is this MTA's host name, ``date`` the report's Date, ``original`` the
    returned message's bytes (its headers with ``ret="HDRS"``, all of it with ``"FULL"``, as
    the sender's RET parameter asked, RFC 3461 §4.3); ``envelope_id`` the ENVID, ``mail_from``
    the envelope sender the report goes to. When an address is not ASCII the status part is
    RFC 6533 ``message/global-delivery-status`` with ``utf-8`` address types.

    Raises :class:`smtpcore.DSNError` (a ``ValueError``) for misuse: no recipients, a field
    with a line break; :class:`RecipientResult` refuses an unknown action or a status whose
    class disagrees with it the same way.
    """
    return build_dsn(
        reporting_mta=reporting_mta,
        recipients=recipients,
        date=date,
        original=original,
        ret=ret,
        envelope_id=envelope_id,
        arrival_date=arrival_date,
        mail_from=mail_from,
        from_address=from_address,
        message_id=message_id,
        received_from_mta=received_from_mta,
    )

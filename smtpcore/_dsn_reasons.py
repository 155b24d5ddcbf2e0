"""Why a recipient bounced: rules from the diagnostic text, the enhanced status code and the
reply code, to a reason of the vocabulary Sisimai publishes (``userunknown``, ...).

The rules are data, tried in this order:

1. ``TEXT_RULES``: phrases MTAs and mailbox providers document for a condition. Each entry
   names where the phrase comes from. Text comes first because the code is often vaguer than
   the words (``550 5.1.1 Mailbox full`` is not an unknown user; p5-sisimai#236).
2. ``STATUS_RULES``: RFC 3463 §3 meanings of the enhanced status code (and RFC 5248 /
   RFC 7372 / RFC 7505 registrations); the most telling of them (``DECISIVE_STATUS``) come
   before the text.
3. ``WEAK_TEXT_RULES``: "gave up retrying" wording that names no cause.
4. ``REPLY_RULES``: RFC 5321 §4.2.3 meanings of the reply code.

Hard bounces (Sisimai 5's rule): ``userunknown``, ``hostunknown``, ``hasmoved``, and
``notaccept`` when permanent (a null MX, RFC 7505 §4).
"""

from __future__ import annotations

import re
from typing import Final

from ._dsn_phrases import TEXT_RULES, WEAK_TEXT_RULES
from ._dsn_types import Classification, RecipientStatus

__all__ = ["REASONS", "STATUS_RULES", "TEXT_RULES", "classify_recipient", "is_hard"]

REASONS: Final = (
    "authfailure",
    "badreputation",
    "blocked",
    "contenterror",
    "delivered",
    "exceedlimit",
    "expired",
    "failedstarttls",
    "feedback",
    "filtered",
    "hasmoved",
    "hostunknown",
    "mailboxfull",
    "mailererror",
    "mesgtoobig",
    "networkerror",
    "norelaying",
    "notaccept",
    "notcompliantrfc",
    "onhold",
    "policyviolation",
    "rejected",
    "requireptr",
    "securityerror",
    "spamdetected",
    "speeding",
    "suspend",
    "syntaxerror",
    "systemerror",
    "systemfull",
    "toomanyconn",
    "undefined",
    "userunknown",
    "vacation",
    "virusdetected",
)

_HARD: Final = frozenset({"userunknown", "hostunknown", "hasmoved"})


def is_hard(reason: str, permanent: bool) -> bool:
    """Sisimai 5's hard-bounce rule."""
    return reason in _HARD or (reason == "notaccept" and permanent)


# RFC 3463 §3 (and later registrations): codes whose registered meaning decides the reason
# even when the text says something vaguer.
DECISIVE_STATUS: Final[dict[tuple[int, int], str]] = {
    (1, 1): "userunknown",  # X.1.1 Bad destination mailbox address
    (1, 2): "hostunknown",  # X.1.2 Bad destination system address
    (1, 6): "hasmoved",  # X.1.6 Destination mailbox has moved
    (1, 7): "rejected",  # X.1.7 Bad sender's mailbox address syntax
    (1, 8): "rejected",  # X.1.8 Bad sender's system address
    (1, 10): "notaccept",  # X.1.10 Recipient address has null MX (RFC 7505)
    (2, 2): "mailboxfull",  # X.2.2 Mailbox full
    (2, 3): "exceedlimit",  # X.2.3 Message length exceeds administrative limit
    (3, 4): "mesgtoobig",  # X.3.4 Message too big for system
    (4, 7): "expired",  # X.4.7 Delivery time expired
    (7, 13): "suspend",  # X.7.13 User account disabled (RFC 5248)
    (7, 17): "hasmoved",  # X.7.17 Mailbox owner has changed (RFC 7293)
    (7, 18): "hasmoved",  # X.7.18 Domain owner has changed (RFC 7293)
    (7, 20): "authfailure",  # X.7.20 No passing DKIM signature (RFC 7372)
    (7, 21): "authfailure",  # X.7.21 No acceptable DKIM signature
    (7, 22): "authfailure",  # X.7.22 No valid author-matched DKIM signature
    (7, 23): "authfailure",  # X.7.23 SPF validation failed
    (7, 24): "authfailure",  # X.7.24 SPF validation error
    (7, 25): "requireptr",  # X.7.25 Reverse DNS validation failed
    (7, 26): "authfailure",  # X.7.26 Multiple authentication checks failed
    (7, 27): "notaccept",  # X.7.27 Sender address has null MX (RFC 7505)
}

# Text reasons specific enough to override a decisive status code (a "550 5.1.1 mailbox
# full" is about the mailbox, not the address).
_TEXT_BEATS_STATUS: Final = frozenset({"mailboxfull", "mailererror", "speeding"})
# ... and per code, further text reasons more specific than it (Exchange answers an unknown
# recipient with X.1.10 "RecipientNotFound", which RFC 7505 registered for null MX).
_TEXT_BEATS_CODE: Final[dict[tuple[int, int], frozenset[str]]] = {
    (1, 10): frozenset({"userunknown"}),
    (1, 1): frozenset({"filtered"}),  # "5.1.1 ... Refused due to recipient preferences"
    # Sendmail's 4.4.7 "could not be delivered for 8 hours" names the cause before it.
    (4, 7): frozenset({"blocked", "networkerror"}),
}

# Replies that name the recipient as unknown in so many words: not a content filter's excuse
# even when they come after DATA (Yahoo "554 delivery error: dd This user doesn't have a ...
# account", Postfix local(8) "<addr>: User unknown", Orange "Invalid recipient").
_EXPLICIT_UNKNOWN: Final = re.compile(
    r"doesn'?t have an? \S+ account|invalid recipient|<[^<>@\s]+@[^<>\s]+>:? user unknown"
    r"|requested action not taken: mailbox unavailable|mail\.local: unknown user",
    re.I,
)

# Reasons that, for a refusal at the greeting or EHLO, are really a block of the client.
_CONNECTION_REFUSALS: Final = frozenset(
    {
        "rejected",
        "undefined",
        "securityerror",
        "syntaxerror",
        "notaccept",
        "systemerror",
    }
)

_SENDER_REFUSALS: Final = frozenset({"userunknown", "hostunknown", "filtered"})

# RFC 3463 §3: the remaining codes, used when the text matched no rule.
STATUS_RULES: Final[dict[tuple[int, int], str]] = {
    (1, 3): "userunknown",  # X.1.3 Bad destination mailbox address syntax
    (1, 4): "userunknown",  # X.1.4 Destination mailbox address ambiguous
    (2, 1): "suspend",  # X.2.1 Mailbox disabled, not accepting messages
    (2, 4): "systemerror",  # X.2.4 Mailing list expansion problem
    (3, 0): "systemerror",  # X.3.0 Other mail system status
    (3, 1): "systemfull",  # X.3.1 Mail system full
    (3, 2): "notaccept",  # X.3.2 System not accepting network messages
    (3, 3): "systemerror",  # X.3.3 System not capable of selected features
    (3, 5): "systemerror",  # X.3.5 System incorrectly configured
    (4, 0): "networkerror",  # X.4.0 Other network or routing status
    (4, 1): "networkerror",  # X.4.1 No answer from host
    (4, 2): "networkerror",  # X.4.2 Bad connection
    (4, 3): "systemerror",  # X.4.3 Directory server failure
    (4, 4): "hostunknown",  # X.4.4 Unable to route
    (4, 5): "toomanyconn",  # X.4.5 Mail system congestion
    (4, 6): "networkerror",  # X.4.6 Routing loop detected
    (4, 7): "expired",  # X.4.7 Delivery time expired
    (5, 3): "exceedlimit",  # X.5.3 Too many recipients
    (6, 0): "contenterror",  # X.6.0 Other media error
    (6, 1): "contenterror",  # X.6.1 Media not supported
    (6, 2): "contenterror",  # X.6.2 Conversion required and prohibited
    (6, 3): "contenterror",  # X.6.3 Conversion required but not supported
    (6, 5): "contenterror",  # X.6.5 Conversion failed
    (7, 0): "securityerror",  # X.7.0 Other security status
    (7, 1): "rejected",  # X.7.1 Delivery not authorized, message refused
    (7, 2): "securityerror",  # X.7.2 Mailing list expansion prohibited
    (7, 4): "securityerror",  # X.7.4 Security features not supported
    (7, 5): "securityerror",  # X.7.5 Cryptographic failure
    (7, 6): "securityerror",  # X.7.6 Cryptographic algorithm not supported
    (7, 7): "securityerror",  # X.7.7 Message integrity failure
    (7, 8): "securityerror",  # X.7.8 Authentication credentials invalid (RFC 4954)
    (7, 9): "securityerror",  # X.7.9 Authentication mechanism is too weak (RFC 4954)
    (7, 10): "securityerror",  # X.7.10 Encryption needed (RFC 5248)
    (7, 28): "toomanyconn",  # X.7.28 Mail flood detected
}

# RFC 5321 §4.2.3 reply codes whose meaning is specific enough.
REPLY_RULES: Final[dict[int, str]] = {
    421: "systemerror",  # service not available, closing channel
    450: "systemerror",  # mailbox unavailable (busy)
    451: "systemerror",  # local error in processing
    452: "systemfull",  # insufficient system storage
    500: "syntaxerror",
    501: "syntaxerror",
    502: "syntaxerror",
    503: "syntaxerror",
    504: "syntaxerror",
    521: "notaccept",  # RFC 7504 host does not accept mail
    551: "userunknown",  # user not local
    552: "mailboxfull",  # exceeded storage allocation
    553: "userunknown",  # mailbox name not allowed
    556: "notaccept",  # RFC 7504 domain does not accept mail
}


_CONTINUATION: Final = re.compile(r"(?<=\s)[245][0-9][0-9][ -](?:[245]\.[0-9]{1,3}\.[0-9]{1,3} )?")


def _collapse(text: str) -> str:
    """One line of text: a multi-line reply's repeated ``550-5.7.1`` prefixes dropped."""
    text = " ".join(text.split())
    head, _, rest = text.partition(" ")
    return f"{head} {_CONTINUATION.sub('', rest)}".strip()


# sysexits.h exit statuses of a local delivery program, as an X-Unix Diagnostic-Code carries
# them (RFC 3464 §2.3.6): the ones that name a cause; any other status is the program failing.
SYSEXITS: Final[dict[int, str]] = {
    67: "userunknown",  # EX_NOUSER: addressee unknown
    68: "hostunknown",  # EX_NOHOST: host name unknown
    69: "systemerror",  # EX_UNAVAILABLE: service unavailable
    71: "systemerror",  # EX_OSERR: system error
    72: "systemerror",  # EX_OSFILE: critical OS file missing
    73: "systemerror",  # EX_CANTCREAT: can't create (user) output file
    74: "systemerror",  # EX_IOERR: input/output error
    75: "systemerror",  # EX_TEMPFAIL: temporary failure
    77: "systemerror",  # EX_NOPERM: permission denied
    78: "systemerror",  # EX_CONFIG: configuration error
}


def _local_mailer(text: str, by_text: tuple[str, str] | None) -> tuple[str, str]:
    """RFC 3464 §2.3.6: an X-Unix diagnostic is what a local delivery program said."""
    status = text.strip()
    if status.isdigit():
        reason = SYSEXITS.get(int(status), "mailererror")
        return reason, f"RFC 3464 §2.3.6 X-Unix exit status {status} (sysexits.h)"
    if by_text is not None:
        return by_text
    return "mailererror", "RFC 3464 §2.3.6 X-Unix diagnostic: a mailer program failed"


# Providers whose replies mean something other than their words, keyed on the receiving
# host (Remote-MTA): (host suffix, SMTP command or None, text pattern, reason, source). They
# apply when the status code says nothing specific (X.0.0 or none).
PROVIDER_RULES: Final[tuple[tuple[str, str | None, re.Pattern[str], str, str], ...]] = (
    (
        ".docomo.ne.jp",
        "DATA",
        re.compile(r"\bunknown user\b", re.I),
        "rejected",
        "NTT docomo refuses a sender blocked by the recipient's filter settings with "
        "'550 Unknown user' after DATA",
    ),
)


def _provider_rule(recipient: RecipientStatus, text: str) -> tuple[str, str] | None:
    host = (recipient.remote_mta or "").lower().rstrip(".")
    for suffix, command, pattern, reason, source in PROVIDER_RULES:
        generic = recipient.status is None or recipient.status.subject == 0
        if (
            ("." + host).endswith(suffix)
            and generic
            and (command is None or recipient.smtp_command == command)
            and pattern.search(text)
        ):
            return reason, source
    return None


def _first_text_rule(
    text: str, rules: tuple[tuple[str, re.Pattern[str], str], ...] = TEXT_RULES
) -> tuple[str, str] | None:
    for reason, pattern, source in rules:
        if pattern.search(text):
            return reason, source
    return None


def classify_recipient(recipient: RecipientStatus, kind: str | None = None) -> Classification:
    if kind == "feedback-report":
        return Classification(reason="feedback", hard=False, source="RFC 5965 feedback report")
    if kind == "auto-reply":
        return Classification(reason="vacation", hard=False, source="RFC 3834 auto-reply")
    status = recipient.status
    reply = recipient.reply_code
    if recipient.action in ("delivered", "relayed", "expanded") or (
        status is not None and status.klass == 2
    ):
        return Classification(reason="delivered", hard=False, source="RFC 3464 §2.3.3 action")
    transient = (status is not None and status.klass == 4) or (
        status is None and reply is not None and reply < 500
    )
    permanent = not transient
    text = _collapse(recipient.diagnostic_code.text if recipient.diagnostic_code else "")
    key = None if status is None else (status.subject, status.detail)

    reason: str | None = None
    source = ""
    by_text = _first_text_rule(text) if text else None
    if recipient.diagnostic_code is not None and recipient.diagnostic_code.type == "x-unix":
        by_text = _local_mailer(text, by_text)
    decisive = DECISIVE_STATUS.get(key) if key is not None else None
    beats = _TEXT_BEATS_STATUS | _TEXT_BEATS_CODE.get(key, frozenset()) if key else frozenset()
    if decisive is not None and (by_text is None or by_text[0] not in beats):
        reason, source = decisive, f"status: RFC 3463 X.{key[0]}.{key[1]}"  # type: ignore[index]
    elif by_text is not None:
        reason, source = by_text[0], f"text: {by_text[1]}"
    elif recipient.smtp_command in ("CONN", "EHLO"):
        # Refused before any envelope was sent, for no stated cause: the client (its IP) is
        # not welcome (RFC 5321 §3.1 "554 No SMTP service here", §4.3.2 greeting replies).
        reason, source = "blocked", "refused at connection"
    elif key is not None and key in STATUS_RULES:
        reason, source = STATUS_RULES[key], f"status: RFC 3463 X.{key[0]}.{key[1]}"
    elif text and (weak := _first_text_rule(text, WEAK_TEXT_RULES)) is not None:
        reason, source = weak[0], f"text: {weak[1]}"
    elif reply is not None and reply in REPLY_RULES:
        reason, source = REPLY_RULES[reply], f"reply: RFC 5321 §4.2.3 {reply}"
    else:
        reason, source = "undefined", "no rule matched"
    if recipient.smtp_command in ("CONN", "EHLO") and reason in _CONNECTION_REFUSALS:
        # Refused before any envelope was sent: the client (its IP) is not welcome
        # (RFC 5321 §3.1 "554 No SMTP service here", §4.3.2 greeting and EHLO replies).
        reason, source = "blocked", f"{source}; refused at connection"
    if recipient.smtp_command == "MAIL" and reason in _SENDER_REFUSALS:
        # A reply to MAIL FROM is about the sender (RFC 5321 §4.1.1.2), whatever its words.
        reason, source = "rejected", f"{source}; refused at MAIL FROM"
    if transient and reason == "hostunknown":
        # A temporary DNS failure (SERVFAIL, timeout) is not a missing domain.
        reason, source = "networkerror", f"{source}; transient"
    if recipient.action == "delayed" and (
        source.startswith("reply:") or (key == (4, 0) and source.startswith("status:"))
    ):
        # A delay notice naming no cause beyond a generic code: still queued, it will
        # expire (RFC 3464 §2.3.3 "delayed").
        reason, source = "expired", f"{source}; delayed without a stated cause"
    if transient and recipient.action == "failed" and key in ((4, 1),):
        # X.4.1 in a final failure: the host never answered until retries gave up.
        reason, source = "expired", "X.4.1 in a failed report: retries gave up"
    if (
        reason == "userunknown"
        and decisive is None
        and not _EXPLICIT_UNKNOWN.search(text)
        and (status is None or status.subject != 1)
        and (
            recipient.smtp_command == "DATA"
            or (recipient.smtp_command is None and reply is not None)
        )
    ):
        # Accepted at RCPT, refused after the content was seen: a content filter answering
        # with a "user unknown" text.
        reason, source = "filtered", f"{source}; refused after DATA"
    provider = _provider_rule(recipient, text)
    if provider is not None and decisive is None:
        reason, source = provider[0], f"provider: {provider[1]}"
    return Classification(reason=reason, hard=is_hard(reason, permanent), source=source)

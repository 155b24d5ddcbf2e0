"""Reply codes and RFC 3463 enhanced status codes, with their registered meanings.

This module is data: the registry of enhanced status codes (RFC 3463, RFC 5248 and the
IANA "Enumerated Status Codes" registry), the meaning of each reply-code class, and the
reply *hints* that errors carry so a server can answer a broken peer in one call.

It deliberately depends on nothing else in the package, so ``_errors`` can import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = [
    "EnhancedStatus",
    "StatusHint",
    "reply_class",
    "is_positive",
    "is_transient",
    "is_permanent",
    "SUBJECTS",
    "REGISTERED",
]

# RFC 3463 §2:
#   status-code = class "." subject "." detail
#   class = "2"/"4"/"5"
#   subject = 1*3digit
#   detail = 1*3digit
# Leading zeros are not forbidden by the ABNF but never used; we accept them and keep ints.
_ENHANCED_RE: Final = re.compile(r"([245])\.([0-9]{1,3})\.([0-9]{1,3})")

# RFC 3463 §3: the subject sub-codes.
SUBJECTS: Final[dict[int, str]] = {
    0: "Other or Undefined Status",
    1: "Addressing Status",
    2: "Mailbox Status",
    3: "Mail System Status",
    4: "Network and Routing Status",
    5: "Mail Delivery Protocol Status",
    6: "Message Content or Media Status",
    7: "Security or Policy Status",
}

# (subject, detail) -> meaning. RFC 3463 §3.1-3.8, plus the later registrations in the IANA
# "Simple Mail Transfer Protocol (SMTP) Enumerated Status Codes" registry (RFC 5248 §2.4),
# each with the RFC that registered it.
REGISTERED: Final[dict[tuple[int, int], str]] = {
    (0, 0): "Other undefined Status",
    (1, 0): "Other address status",
    (1, 1): "Bad destination mailbox address",
    (1, 2): "Bad destination system address",
    (1, 3): "Bad destination mailbox address syntax",
    (1, 4): "Destination mailbox address ambiguous",
    (1, 5): "Destination address valid",
    (1, 6): "Destination mailbox has moved, No forwarding address",
    (1, 7): "Bad sender's mailbox address syntax",
    (1, 8): "Bad sender's system address",
    (1, 9): "Message relayed to non-compliant mailer",  # RFC 3886
    (1, 10): "Recipient address has null MX",  # RFC 7505
    (2, 0): "Other or undefined mailbox status",
    (2, 1): "Mailbox disabled, not accepting messages",
    (2, 2): "Mailbox full",
    (2, 3): "Message length exceeds administrative limit",
    (2, 4): "Mailing list expansion problem",
    (3, 0): "Other or undefined mail system status",
    (3, 1): "Mail system full",
    (3, 2): "System not accepting network messages",
    (3, 3): "System not capable of selected features",
    (3, 4): "Message too big for system",
    (3, 5): "System incorrectly configured",
    (3, 6): "Requested priority was changed",  # RFC 6710
    (4, 0): "Other or undefined network or routing status",
    (4, 1): "No answer from host",
    (4, 2): "Bad connection",
    (4, 3): "Directory server failure",
    (4, 4): "Unable to route",
    (4, 5): "Mail system congestion",
    (4, 6): "Routing loop detected",
    (4, 7): "Delivery time expired",
    (5, 0): "Other or undefined protocol status",
    (5, 1): "Invalid command",
    (5, 2): "Syntax error",
    (5, 3): "Too many recipients",
    (5, 4): "Invalid command arguments",
    (5, 5): "Wrong protocol version",
    (5, 6): "Authentication Exchange line is too long",  # RFC 4954
    (6, 0): "Other or undefined media error",
    (6, 1): "Media not supported",
    (6, 2): "Conversion required and prohibited",
    (6, 3): "Conversion required but not supported",
    (6, 4): "Conversion with loss performed",
    (6, 5): "Conversion Failed",
    (6, 6): "Message content not available",  # RFC 4468
    (6, 7): "Non-ASCII addresses not permitted for that sender/recipient",  # RFC 6531
    (6, 8): "UTF-8 string reply is required, but not permitted by the SMTP client",  # RFC 6531
    (6, 9): "UTF-8 header message cannot be transferred to one or more recipients",  # RFC 6531
    (7, 0): "Other or undefined security status",
    (7, 1): "Delivery not authorized, message refused",
    (7, 2): "Mailing list expansion prohibited",
    (7, 3): "Security conversion required but not possible",
    (7, 4): "Security features not supported",
    (7, 5): "Cryptographic failure",
    (7, 6): "Cryptographic algorithm not supported",
    (7, 7): "Message integrity failure",
    (7, 8): "Authentication credentials invalid",  # RFC 4954
    (7, 9): "Authentication mechanism is too weak",  # RFC 4954
    (7, 10): "Encryption Needed",  # RFC 5248
    (7, 11): "Encryption required for requested authentication mechanism",  # RFC 4954
    (7, 12): "A password transition is needed",  # RFC 4954
    (7, 13): "User Account Disabled",  # RFC 5248
    (7, 14): "Trust relationship required",  # RFC 5248
    (7, 15): "Priority Level is too low",  # RFC 6710
    (7, 16): "Message is too big for the specified priority",  # RFC 6710
    (7, 17): "Mailbox owner has changed",  # RFC 7293
    (7, 18): "Domain owner has changed",  # RFC 7293
    (7, 19): "RRVS test cannot be completed",  # RFC 7293
    (7, 20): "No passing DKIM signature found",  # RFC 7372
    (7, 21): "No acceptable DKIM signature found",  # RFC 7372
    (7, 22): "No valid author-matched DKIM signature found",  # RFC 7372
    (7, 23): "SPF validation failed",  # RFC 7372
    (7, 24): "SPF validation error",  # RFC 7372
    (7, 25): "Reverse DNS validation failed",  # RFC 7372
    (7, 26): "Multiple authentication checks failed",  # RFC 7372
    (7, 27): "Sender address has null MX",  # RFC 7505
    (7, 28): "Mail flood detected",  # RFC 8651 registration
    (7, 29): "ARC validation failure",  # RFC 8617
    (7, 30): "REQUIRETLS support required",  # RFC 8689
}


@dataclass(frozen=True, slots=True, order=True)
class EnhancedStatus:
    """An RFC 3463 enhanced status code such as ``5.1.1``.

    Build one with :meth:`parse` (``EnhancedStatus.parse("5.1.1")``) or from its parts.
    ``str()`` gives the dotted form back.
    """

    klass: int
    subject: int
    detail: int

    def __post_init__(self) -> None:
        if self.klass not in (2, 4, 5):
            raise ValueError(f"enhanced status class must be 2, 4 or 5, not {self.klass}")
        if not (0 <= self.subject <= 999 and 0 <= self.detail <= 999):
            raise ValueError("enhanced status subject and detail must be 0..999")

    @classmethod
    def parse(cls, text: str) -> EnhancedStatus:
        """Parse ``"c.s.d"``; raise ``ValueError`` when it is not one."""
        m = _ENHANCED_RE.fullmatch(text.strip())
        if m is None:
            raise ValueError(f"not an enhanced status code: {text!r}")
        return cls(int(m[1]), int(m[2]), int(m[3]))

    @classmethod
    def search(cls, text: str) -> EnhancedStatus | None:
        """The first enhanced status code standing as a word in ``text``, or None."""
        m = re.search(r"(?<![0-9.])" + _ENHANCED_RE.pattern + r"(?![0-9]|\.[0-9])", text)
        return None if m is None else cls(int(m[1]), int(m[2]), int(m[3]))

    @property
    def meaning(self) -> str | None:
        """The registered meaning of ``subject.detail``, or None when it is not registered."""
        return REGISTERED.get((self.subject, self.detail))

    @property
    def subject_meaning(self) -> str | None:
        return SUBJECTS.get(self.subject)

    @property
    def is_permanent(self) -> bool:
        return self.klass == 5

    @property
    def is_transient(self) -> bool:
        return self.klass == 4

    def __str__(self) -> str:
        return f"{self.klass}.{self.subject}.{self.detail}"


def reply_class(code: int) -> int:
    """The first digit of a reply code (RFC 5321 §4.2.1)."""
    if not 200 <= code <= 599:
        raise ValueError(f"reply code out of range: {code}")
    return code // 100


def is_positive(code: int) -> bool:
    """2yz and 3yz replies (RFC 5321 §4.2.1: positive completion and intermediate)."""
    return reply_class(code) in (2, 3)


def is_transient(code: int) -> bool:
    """4yz: transient negative completion."""
    return reply_class(code) == 4


def is_permanent(code: int) -> bool:
    """5yz: permanent negative completion."""
    return reply_class(code) == 5


@dataclass(frozen=True, slots=True)
class StatusHint:
    """The reply a server should send for an error: code, enhanced code and text.

    Errors carry one as ``reply_hint``; ``Reply.from_hint(hint)`` makes the reply.
    """

    code: int
    enhanced: EnhancedStatus | None
    text: str

    @classmethod
    def of(cls, code: int, enhanced: str | None, text: str) -> StatusHint:
        return cls(code, None if enhanced is None else EnhancedStatus.parse(enhanced), text)

    def with_text(self, text: str) -> StatusHint:
        return StatusHint(self.code, self.enhanced, text)


# The hints the core uses, one place for each (RFC 5321 §4.2.2-4.2.4, §4.3.2; RFC 1870 §6;
# RFC 2034 and RFC 3463 for the enhanced codes).
SYNTAX_ERROR: Final = StatusHint.of(500, "5.5.2", "Syntax error, command unrecognized")
LINE_TOO_LONG: Final = StatusHint.of(500, "5.5.6", "Line too long")
PARAM_SYNTAX: Final = StatusHint.of(501, "5.5.4", "Syntax error in parameters or arguments")
BAD_ADDRESS_SYNTAX: Final = StatusHint.of(501, "5.1.3", "Bad address syntax")
BAD_SENDER_SYNTAX: Final = StatusHint.of(501, "5.1.7", "Bad sender address syntax")
NOT_IMPLEMENTED: Final = StatusHint.of(502, "5.5.1", "Command not implemented")
BAD_SEQUENCE: Final = StatusHint.of(503, "5.5.1", "Bad sequence of commands")
PARAM_NOT_IMPLEMENTED: Final = StatusHint.of(504, "5.5.4", "Command parameter not implemented")
PARAM_UNKNOWN: Final = StatusHint.of(555, "5.5.4", "MAIL FROM/RCPT TO parameters not recognized")
TOO_MANY_RECIPIENTS: Final = StatusHint.of(452, "4.5.3", "Too many recipients")
MESSAGE_TOO_BIG: Final = StatusHint.of(552, "5.3.4", "Message size exceeds fixed maximum")
TOO_MANY_ERRORS: Final = StatusHint.of(421, "4.7.0", "Too many errors, closing connection")
BARE_LINE_ENDING: Final = StatusHint.of(554, "5.6.0", "Message contains bare CR or LF")
EIGHT_BIT_NOT_ALLOWED: Final = StatusHint.of(554, "5.6.1", "8-bit data needs BODY=8BITMIME")
NON_ASCII_ADDRESS: Final = StatusHint.of(553, "5.6.7", "Non-ASCII address needs SMTPUTF8")
TLS_REQUIRED: Final = StatusHint.of(530, "5.7.0", "Must issue a STARTTLS command first")
AUTH_REQUIRED: Final = StatusHint.of(530, "5.7.0", "Authentication required")
AUTH_FAILED: Final = StatusHint.of(535, "5.7.8", "Authentication credentials invalid")
AUTH_TOO_LONG: Final = StatusHint.of(500, "5.5.6", "Authentication exchange line is too long")
AUTH_CANCELLED: Final = StatusHint.of(501, "5.0.0", "Authentication cancelled")
AUTH_BAD_BASE64: Final = StatusHint.of(501, "5.5.2", "Cannot decode base64 response")
AUTH_MECH_UNKNOWN: Final = StatusHint.of(504, "5.5.4", "Unrecognized authentication type")
ENCRYPTION_REQUIRED: Final = StatusHint.of(
    538, "5.7.11", "Encryption required for requested authentication mechanism"
)
SERVICE_UNAVAILABLE: Final = StatusHint.of(421, "4.3.2", "Service not available, closing channel")
TIMEOUT: Final = StatusHint.of(421, "4.4.2", "Timeout, closing connection")
LOCAL_ERROR: Final = StatusHint.of(451, "4.3.0", "Requested action aborted: local error")

"""Why a recipient bounced: rules from the diagnostic text, the enhanced status code and the
reply code, to a reason of the vocabulary Sisimai publishes (``userunknown``, ...).

The rules are data, tried in this order:

1. ``TEXT_RULES``: phrases MTAs and mailbox providers document for a condition. Each entry
   names where the phrase comes from. Text comes first because the code is often vaguer than
   the words (``550 5.1.1 Mailbox full`` is not an unknown user; p5-sisimai#236).
2. ``STATUS_RULES``: RFC 3463 §3 meanings of the enhanced status code (and RFC 5248 /
   RFC 7372 / RFC 7505 registrations).
3. ``REPLY_RULES``: RFC 5321 §4.2.3 meanings of the reply code.

Hard bounces (Sisimai 5's rule): ``userunknown``, ``hostunknown``, ``hasmoved``, and
``notaccept`` when permanent (a null MX, RFC 7505 §4).
"""

from __future__ import annotations

import re
from typing import Final

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


# (reason, pattern, source). Patterns are matched case-insensitively against the diagnostic
# text with white space collapsed. Ordered: the first that matches decides.
_TEXT: Final[list[tuple[str, tuple[str, ...], str]]] = [
    (
        "networkerror",
        (
            r"malformed or unexpected name server reply",
            r"host not found, try again",
            r"temporary (dns|name server|name service) (failure|error)",
        ),
        "temporary DNS failures (Postfix 'Host not found, try again', resolver TRY_AGAIN)",
    ),
    (
        "badreputation",
        (r"low reputation",),
        "Gmail 421/550 4.7.0/5.7.1 'very low reputation of the sending IP address'",
    ),
    (
        "policyviolation",
        (r"content presents a potential",),
        "Gmail 552 5.7.0 'content presents a potential security issue'",
    ),
    (
        "notaccept",
        (
            r"not accepting network messages",
            r"null mx",
            r"doesn'?t receive email",
            r"couldn'?t find a mail exchanger",
            r"no mx record found",
        ),
        "RFC 7505 §3-4 null MX ('domain does not accept mail'); qmail 'couldn't find a mail "
        "exchanger'",
    ),
    (
        "rejected",
        (r"groups\.google\.com",),
        "Google Groups: the group refused the post (no such group or no permission to post)",
    ),
    (
        "mesgtoobig",
        (
            r"line limit exceeded",
            r"message (size )?(exceeds|too (big|large))",
            r"size limit",
            r"message is too large",
            r"exceeds (the )?(fixed )?maximum message size",
            r"mail size limit",
            r"message length exceeds",
            r"email is too large",
        ),
        "RFC 1870 §6; Postfix/Exim size-limit messages",
    ),
    (
        "mailboxfull",
        (
            r"number of messages in recipient'?s mailbox exceeded",
            r"mailbox exceeded the local limit",
            r"exceeds allowed size",
            r"mailbox (is )?full",
            r"quota (exceeded|exceed|full)",
            r"over ?quota",
            r"exceeded (its |the )?(storage |disk )?quota",
            r"mailbox size limit",
            r"disk quota",
            r"not enough (disk )?space",
            r"out of storage",
            r"user is over",
            r"account is full",
            r"mailbox has exceeded",
            r"exceeded storage allocation",
            r"mail ?box is over",
            r"too much mail data",
            r"mailfolder is full",
            r"inbox is out of storage",
            r"is over (his|her|the) quota",
            r"full mailbox",
            r"quota violation",
            r"no space left",
            r"mailbox would exceed",
            r"recipient's mailbox is full",
        ),
        "Postfix virtual(8) 'mailbox full'; Exim 'quota exceeded'; Gmail 'OverQuota'",
    ),
    (
        "exceedlimit",
        (
            r"exceeds? (the )?(recipient'?s? )?(limit|rate)",
            r"too many messages",
            r"message rate limit",
        ),
        "Gmail 4.2.1 rate message; RFC 3463 X.2.3",
    ),
    (
        "suspend",
        (
            r"account is blocked",
            r"temporar(il)?y locked",
            r"(mailbox|account) is (frozen|locked)",
            r"mailbox (is )?(disabled|inactive|suspended)",
            r"account (has been |is )?(disabled|suspended|inactive|deactivated|expired)",
            r"account (has been |is )?(locked|frozen)",
            r"user (is )?suspended",
            r"recipient (is )?suspended",
            r"is no longer (active|in use)",
            r"temporarily (deactivated|disabled)",
            r"has been disabled",
            r"account that you tried to reach is disabled",
            r"not accepting mail",
            r"user account is (unavailable|disabled)",
            r"mailbox not active",
            r"inactive user",
        ),
        "RFC 3463 X.2.1; Gmail 'account ... is disabled'; Yahoo 'user is suspended'",
    ),
    (
        "expired",
        (
            r"could not deliver for the last",
            r"aborted after [0-9.]+ (hour|day|minute)",
            r"delivery failed \d+ attempts",
            r"(delivery|retry) time (expired|exceeded)",
            r"deferred too long",
            r"retry timeout exceeded",
            r"queue ?time ?out",
            r"expired",
            r"timeout exceeded",
            r"message timed out",
            r"exceeded the max time",
            r"failing for a long time",
        ),
        "RFC 3463 X.4.7 'Delivery time expired'; Postfix 'delivery temporarily suspended: "
        "connect to ...: Connection timed out' when it gives up; Exim 'retry timeout "
        "exceeded'; qmail 'in the queue too long'; Gmail 'will be retried' / 'did not accept "
        "our requests to connect'",
    ),
    (
        "hasmoved",
        (
            r"has moved",
            r"no longer (valid|available)[^.]*forward",
            r"address (has )?changed",
            r"moved to a new",
        ),
        "RFC 3463 X.1.6 'mailbox has moved'",
    ),
    (
        "norelaying",
        (
            r"not configured to relay",
            r"relay(ing)? (access )?(denied|not permitted|prohibited|not allowed)",
            r"unable to relay",
            r"not (permitted|allowed) to relay",
            r"relay not permitted",
            r"we do not relay",
            r"no relaying",
            r"open relay",
            r"not our customer",
            r"relay disabled",
            r"\brelay\b.*\bdenied",
        ),
        "Postfix 'Relay access denied'; Sendmail 'Relaying denied'",
    ),
    (
        "hostunknown",
        (
            r"domain is not reachable",
            r"host [^ ]+ not found",
            r"dns lookup failure",
            r"host (or domain name )?not found",
            r"unknown host",
            r"domain (does )?not exist",
            r"no such domain",
            r"name service error",
            r"host unknown",
            r"unrouteable address",
            r"domain (is )?(not found|unknown|invalid)",
            r"unknown domain",
            r"no mx (record|host)",
            r"no route to host name",
            r"illegal host",
            r"could not be resolved",
            r"dns error",
            r"domain not found",
            r"recipient domain must exist",
            r"non-?existent domain",
            r"host not known",
            r"domain name not found",
        ),
        "RFC 3463 X.1.2; Postfix 'Host or domain name not found'; Exim 'Unrouteable address'",
    ),
    (
        "userunknown",
        (
            r"recipient address rejected: access denied",
            r"requested action not taken: mailbox unavailable",
            r"\baddress rejected\.?\s*$",
            r"recipient address rejected\.?\s*$",
            r"is not a registered gateway user",
            r"not listed in (the )?(domino directory|public name & address book)",
            r"invalid final delivery userid",
            r"user (is )?unknown",
            r"unknown user",
            r"no such (user|mailbox|recipient|account|address)",
            r"(user|mailbox|recipient|address|account) (does not|doesn'?t) exist",
            r"invalid (recipient|mailbox|user|address)",
            r"(user|recipient|mailbox|address|account) (not found|unknown|unavailable)",
            r"not a valid (user|mailbox|recipient)",
            r"unknown (recipient|local part|address|mailbox)",
            r"no mailbox",
            r"mailbox (not found|unavailable|does not exist)",
            r"undeliverable address",
            r"user doesn'?t have",
            r"is not a known user",
            r"bad destination",
            r"no valid recipients",
            r"unknown or illegal alias",
            r"not listed in",
            r"addressee unknown",
            r"invalid address",
            r"there is no one at this address",
            r"couldn'?t be found",
            r"does not have an account",
            r"no account by that name",
            r"recipient not found",
            r"mailbox name not allowed",
            r"user not exist",
            r"who is not registered",
            r"unknown alias",
            r"non[- ]?existent (user|address|account)",
            r"not our customer",
            r"email address.*(could not|couldn'?t) be found",
            r"user (is )?not (found|here|known)",
        ),
        "RFC 3463 X.1.1; Postfix 'User unknown in ... table'; Sendmail 'User unknown'; "
        "Exim 'Unknown user'; Gmail 'NoSuchUser'",
    ),
    (
        "notcompliantrfc",
        (
            r"not rfc ?5322 compliant",
            r"multiple addresses in from",
            r"multiple (subject|from|to|date|message-id|sender) headers",
            r"duplicate header",
        ),
        "RFC 5322 §3.6 header count rules, as Gmail quotes them ('This message is not RFC 5322 "
        "compliant')",
    ),
    (
        "blocked",
        (
            r"invalid ip for sending",
            r"not accepting connections",
            r"messages from [0-9.]+ weren'?t sent",
            r"client host (is )?blocked",
            r"ip address (is )?blacklisted",
            r"blocked ip\b",
            r"adresse ip source bloquee",
        ),
        "RFC 3463 X.7.1 for the client's IP address (provider block-list notices)",
    ),
    (
        "virusdetected",
        (
            r"virus",
            r"malware",
            r"infected",
            r"malicious",
        ),
        "RFC 3463 X.7.1; AV scanner notices",
    ),
    (
        "spamdetected",
        (
            r"\bspam\b",
            r"junk mail",
            r"unsolicited",
            r"bulk mail",
            r"considered (as )?spam",
            r"message content rejected",
            r"content (filter|rejected)",
            r"spam message",
            r"classified as spam",
            r"looks like spam",
        ),
        "RFC 3463 X.7.1; provider spam-rejection messages",
    ),
    (
        "requireptr",
        (
            r"ptr resource record",
            r"ip name lookup failed",
            r"mismatches client ip",
            r"reverse (dns|lookup)",
            r"ptr record",
            r"no ptr",
            r"rdns",
            r"not have (a )?reverse",
            r"forward/reverse",
            r"dns ptr",
            r"unresolvable (ip|address)",
            r"cannot find your hostname",
            r"client host name.*(not|mismatch)",
            r"resolve your address",
            r"no reverse",
        ),
        "RFC 7372 X.7.25 'Reverse DNS validation failed'",
    ),
    (
        "authfailure",
        (
            r"fails to pass authentication",
            r"does not have authentication information",
            r"\bspf\b",
            r"\bdkim\b",
            r"\bdmarc\b",
            r"sender policy framework",
            r"authentication (check )?fail",
            r"unauthenticated email",
            r"not pass authentication",
        ),
        "RFC 7372 X.7.20-26",
    ),
    (
        "badreputation",
        (
            r"unexpected volume or user complaints",
            r"reputation",
            r"poor sender score",
        ),
        "Gmail 'low reputation' messages",
    ),
    (
        "toomanyconn",
        (
            r"frequency limited",
            r"too many recipients",
            r"too many (connections|concurrent)",
            r"connection limit",
            r"connection rate",
            r"too many (sessions|simultaneous)",
        ),
        "RFC 3463 X.4.5; MTA connection limits",
    ),
    (
        "speeding",
        (
            r"receiving mail at a rate",
            r"sent to too many recipients",
            r"rate (limited|limit exceeded)",
            r"too many (recipients|emails) in a short time",
            r"sending rate",
            r"too fast",
        ),
        "provider rate-limit messages",
    ),
    (
        "blocked",
        (
            r"smtp server of your isp",
            r"blacklist",
            r"blocklist",
            r"black list",
            r"block list",
            r"\bbl\b",
            r"\brbl\b",
            r"dnsbl",
            r"spamhaus",
            r"spamcop",
            r"\bsorbs\b",
            r"listed (in|at|on|by)",
            r"blocked",
            r"banned",
            r"connection refused",
            r"refused by",
            r"not allowed to send",
            r"reject(ed)? (your|the) ip",
            r"ip .* (rejected|not allowed)",
            r"client host rejected",
            r"rejected because.*ip",
            r"poor reputation",
            r"dynamic ip",
            r"dial-?up",
            r"residential",
        ),
        "RFC 3463 X.7.1; DNSBL rejection messages (Spamhaus, SpamCop)",
    ),
    (
        "policyviolation",
        (
            r"content presents a potential",
            r"policy",
            r"not allowed by",
            r"prohibited",
            r"violat",
            r"forbidden",
        ),
        "RFC 3463 X.7.0 / X.7.1 'delivery not authorized' with a policy reason",
    ),
    (
        "securityerror",
        (
            r"without authentication",
            r"smtp authentication",
            r"delivery not authorized",
            r"unauthenticated senders? not allowed",
            r"authentication required",
            r"must authenticate",
            r"starttls",
            r"tls (is )?required",
            r"encryption required",
            r"certificate",
            r"auth(entication)? failed",
            r"login failed",
        ),
        "RFC 3463 X.7.0/X.7.8",
    ),
    (
        "rejected",
        (
            r"unroutable sender",
            r"from:? domain is invalid",
            r"sender was rejected",
            r"access denied",
            r"sender (address )?(rejected|denied|refused|blocked|invalid|unknown)",
            r"domain of sender",
            r"sender verify failed",
            r"sender domain",
            r"return path",
            r"from address",
            r"envelope sender",
            r"sender is not",
            r"invalid sender",
            r"bad sender",
            r"sender not allowed",
        ),
        "RFC 3463 X.1.7/X.1.8 sender address problems",
    ),
    (
        "failedstarttls",
        (
            r"does not support tls",
            r"starttls (command )?(failed|is required|required)",
            r"must issue a starttls",
            r"tls (negotiation|handshake) failed",
        ),
        "RFC 3207 §4: 530 'Must issue a STARTTLS command first'; failed TLS negotiation",
    ),
    (
        "onhold",
        (r"\bon hold\b", r"held for review"),
        "messages held by the receiving system (quarantine, review)",
    ),
    (
        "syntaxerror",
        (
            r"syntax error",
            r"command unrecognized",
            r"unrecognized command",
            r"bad sequence",
        ),
        "RFC 5321 §4.2.2 500/501/503",
    ),
    (
        "networkerror",
        (
            r"connection (refused|reset|lost|closed)",
            r"network (is )?unreachable",
            r"no route to host",
            r"timed out while",
            r"lost connection",
            r"couldn'?t connect",
            r"could not connect",
            r"unable to connect",
            r"mail loop",
            r"loops back",
            r"too many hops",
            r"hop count exceeded",
            r"routing loop",
        ),
        "RFC 3463 X.4.x network and routing status",
    ),
    (
        "filtered",
        (
            r"filtered",
            r"refused by (the )?recipient",
            r"not authorized to receive",
            r"does not accept mail from",
            r"rejected by recipient",
            r"mail receiving (is )?restricted",
            r"domain is not allowed",
            r"do not accept",
        ),
        "recipient-side filters (Sisimai 'filtered')",
    ),
    (
        "contenterror",
        (
            r"media error",
            r"improper use of 8-bit data",
            r"content",
            r"attachment",
            r"mime",
            r"header.*(invalid|too long)",
        ),
        "RFC 3463 X.6.x media errors",
    ),
    (
        "systemfull",
        (
            r"insufficient (disk )?space",
            r"system (is )?full",
            r"insufficient system storage",
            r"out of disk",
            r"disk full",
        ),
        "RFC 3463 X.3.1 'Mail system full'",
    ),
    (
        "notaccept",
        (
            r"indicated no smtp service",
            r"does not accept mail",
            r"null mx",
            r"not accepting (any )?(mail|messages)",
        ),
        "RFC 7505 null MX; RFC 3463 X.3.2",
    ),
    (
        "mailererror",
        (
            r"mailer error",
            r"command (died|failed)",
            r"pipe to",
            r"procmail",
            r"exit (code|status)",
            r"unknown mailer",
            r"delivery to a program",
        ),
        "Sendmail 'mailer ... died' / program delivery",
    ),
    (
        "systemerror",
        (
            r"internal system error",
            r"transaction failed",
            r"service currently unavailable",
            r"system error",
            r"server error",
            r"internal error",
            r"local error",
            r"temporary failure",
            r"configuration error",
            r"misconfigured",
            r"try again later",
            r"resources",
            r"i/o error",
        ),
        "RFC 3463 X.3.0/X.3.5; RFC 5321 451 'local error in processing'",
    ),
    (
        "expired",
        (
            r"could not be delivered for \d+",
            r"being unable to connect successfully",
            r"too long in (the )?queue",
            r"in the queue too long",
            r"not going to try again",
            r"has been delayed",
            r"will be retried for",
            r"will keep trying",
            r"still undelivered after",
            r"did not accept our requests to connect",
            r"connection timed out",
            r"operation timed out",
        ),
        "give-up and delay notices that name no other cause: qmail 'this message has been in "
        "the queue too long', Sendmail 'Will keep trying', Gmail 'will be retried' / 'did "
        "not accept our requests to connect', Postfix 'Connection timed out'",
    ),
]

TEXT_RULES: Final = tuple(
    (reason, re.compile("|".join(phrases), re.I), source) for reason, phrases, source in _TEXT
)

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
}

# Replies that name the recipient as unknown in so many words: not a content filter's excuse
# even when they come after DATA (Yahoo "554 delivery error: dd This user doesn't have a ...
# account", Postfix local(8) "<addr>: User unknown", Orange "Invalid recipient").
_EXPLICIT_UNKNOWN: Final = re.compile(
    r"doesn'?t have an? \S+ account|invalid recipient|<[^<>@\s]+@[^<>\s]+>:? user unknown", re.I
)

# Reasons that, for a refusal at the greeting or EHLO, are really a block of the client.
_CONNECTION_REFUSALS: Final = frozenset(
    {
        "rejected",
        "undefined",
        "requireptr",
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
    (7, 9): "policyviolation",  # X.7.9 Authentication mechanism is too weak (RFC 4954)
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


def _first_text_rule(text: str) -> tuple[str, str] | None:
    for reason, pattern, source in TEXT_RULES:
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
        # RFC 3464 §2.3.6: an X-Unix diagnostic is a local mailer program's exit status.
        by_text = ("mailererror", "RFC 3464 §2.3.6 X-Unix diagnostic: a mailer program failed")
    decisive = DECISIVE_STATUS.get(key) if key is not None else None
    beats = _TEXT_BEATS_STATUS | _TEXT_BEATS_CODE.get(key, frozenset()) if key else frozenset()
    if decisive is not None and (by_text is None or by_text[0] not in beats):
        reason, source = decisive, f"status: RFC 3463 X.{key[0]}.{key[1]}"  # type: ignore[index]
    elif by_text is not None:
        reason, source = by_text[0], f"text: {by_text[1]}"
    elif key is not None and key in STATUS_RULES:
        reason, source = STATUS_RULES[key], f"status: RFC 3463 X.{key[0]}.{key[1]}"
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
    return Classification(reason=reason, hard=is_hard(reason, permanent), source=source)

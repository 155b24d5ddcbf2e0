"""The diagnostic-text rules of :mod:`._dsn_reasons`, as data.

Each rule is (reason, phrases, source): the phrases are regular expressions matched
case-insensitively against the diagnostic text (white space collapsed, a multi-line reply's
repeated ``550-5.7.1`` prefixes dropped); ``source`` says where the wording comes from (an RFC
section, or the MTA or provider whose documented message it is). Order matters: the first rule
with a matching phrase decides, so specific causes come before generic ones and the weak
"gave up retrying" phrases come last.
"""

from __future__ import annotations

import re
from typing import Final

from ._dsn_phrases_mailbox import MAILBOX_PHRASES

__all__ = ["TEXT_RULES", "WEAK_TEXT_RULES"]

# (reason, pattern, source). Patterns are matched case-insensitively against the diagnostic
# text with white space collapsed. Ordered: the first that matches decides.
TEXT_PHRASES: Final[list[tuple[str, tuple[str, ...], str]]] = [
    (
        "networkerror",
        (
            r"malformed or unexpected name server reply",
            r"network error on destination",
            r"host name lookup failure",
            r"host not found, try again",
            r"temporary (dns|name server|name service) (failure|error)",
        ),
        "temporary DNS failures (Postfix 'Host not found, try again', resolver TRY_AGAIN)",
    ),
    (
        "spamdetected",
        (r"blacklisted url", r"\buribl\b"),
        "URI block lists (URIBL, SURBL): the content, not the client, is listed",
    ),
    (
        "rejected",
        (r"address that has been blacklisted", r"from:? domain is invalid"),
        "sender or recipient address block lists (Exim 'you are sending to/from an address "
        "that has been blacklisted')",
    ),
    (
        "hostunknown",
        (r"(?<![@\w.-])[a-z0-9-]+(?:\.[a-z0-9-]+)+ does not exist",),
        "a domain name that 'does not exist' (RFC 3463 X.1.2)",
    ),
    (
        "securityerror",
        (r"turn on smtp authentication",),
        "RFC 4954 §6 530/535: relaying needs SMTP AUTH (MessageLabs 'Please turn on SMTP "
        "Authentication in your mail client')",
    ),
    (
        "mailererror",
        (r"couldn'?t create \"?/",),
        "a local delivery program (procmail, maildrop) failing to write the mailbox file",
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
            r"no mx found",
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
    *MAILBOX_PHRASES,
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
            r"connection refused",
            r"invalid ip for sending",
            r"not accepting connections",
            r"messages from [0-9.]+ weren'?t sent",
            r"client host (is )?blocked",
            r"ip address (is )?blacklisted",
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
            r"unverifyable sending ip",
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
            r"too many recipients(?! this)",
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
            r"header error",
            r"host network not allowed",
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
            r"'send mail as'",
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
            r"malformed address",
            r"incorrectly constructed",
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
            r"connection (reset|lost|closed)",
            r"network (is )?unreachable",
            r"no route to host",
            r"timed out while",
            r"lost connection",
            r"couldn'?t connect",
            r"could not connect",
            r"unable to connect(?! successfully)",
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
            r"refused due to recipient preferences",
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
            r"\bmime\b.*\b(invalid|error|not supported)",
            r"(content|attachment) (type )?(is )?not (allowed|supported|permitted)",
            r"(invalid|malformed|broken) (header|mime|content)",
            r"header (line )?(is )?too long",
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
            r"exit (code|status)",
            r"unknown mailer",
            r"delivery to a program",
        ),
        "Sendmail 'mailer ... died' / program delivery",
    ),
    (
        "systemerror",
        (
            r"service unavailable",
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
            r"resources",
            r"i/o error",
        ),
        "RFC 3463 X.3.0/X.3.5; RFC 5321 451 'local error in processing'",
    ),
]

# Said by every notice that gave up, whatever the cause: used only when neither a cause in
# the text nor the status code decided.
WEAK_PHRASES: Final[list[tuple[str, tuple[str, ...], str]]] = [
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
            r"connection timed out",
            r"operation timed out",
        ),
        "give-up and delay notices that name no other cause: qmail 'this message has been in "
        "the queue too long', Sendmail 'Will keep trying', Gmail 'will be retried' / 'did "
        "not accept our requests to connect', Postfix 'Connection timed out'",
    ),
]

TEXT_RULES: Final = tuple(
    (reason, re.compile("|".join(phrases), re.I), source)
    for reason, phrases, source in TEXT_PHRASES
)
WEAK_TEXT_RULES: Final = tuple(
    (reason, re.compile("|".join(phrases), re.I), source)
    for reason, phrases, source in WEAK_PHRASES
)

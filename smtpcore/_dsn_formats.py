"""The formats of non-standard bounce notices, as data: one small table per MTA family.

Each family lists the line patterns its notices use:

* ``start``: a line where the error report begins (text before it is boiler-plate);
* ``end``: a line after which the returned message (or its headers) follows;
* ``recipient``: a line naming a failed recipient, with the address in group ``addr`` and,
  when the reply is on the same line, the reply in group ``diag``;
* ``skip``: boiler-plate lines never part of a diagnostic.

The patterns were written from the formats these programs document or print; the engine in
:mod:`._dsn_text` tries every family's patterns, so a notice need not be attributed to one.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ADDRESS",
    "BOUNCE_SENDERS",
    "BOUNCE_SUBJECTS",
    "NON_DELIVERY",
    "WEAK_BOUNCE_SENDERS",
    "WEAK_BOUNCE_SUBJECTS",
    "COMMANDS",
    "END_MARKERS",
    "FAMILIES",
    "FIELD_ALIASES",
    "RECIPIENT_LINES",
    "SKIP_LINES",
    "START_MARKERS",
]

# A mailbox as bounces print it: RFC 5321 Mailbox, loosely (UTF-8 local parts included).
ADDRESS: Final = (
    r"[^\s<>()\[\]\"',;:@]+@[A-Za-z0-9\u00a0-\uffff_-]+(?:\.[A-Za-z0-9\u00a0-\uffff_-]+)+"
)
_A: Final = rf"<?(?P<addr>{ADDRESS})>?"

FAMILIES: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    # Postfix bounce(8) text: "<addr>: host ... said: 550 ..." / "<addr> (expanded from ...): ..."
    "postfix": {
        "start": (r"^\s*the mail system\s*$",),
        "end": (r"^content-type: (message/rfc822|text/rfc822-headers)",),
        "recipient": (
            rf"^\s*<(?P<addr>{ADDRESS})>(?: \(expanded from <[^>]*>\))?:\s*(?P<diag>.*)$",
        ),
        "skip": (),
    },
    # Sendmail / V5 sendmail: transcript of session, "<addr>... User unknown".
    "sendmail": {
        "start": (
            r"^\s*-+ ?the following addresses? had",
            r"^\s*-+ ?transcript of session follows ?-+",
        ),
        "end": (
            r"^\s*-+ ?(unsent|original) message follows ?-+",
            r"^\s*-+ ?(unsent message|message header)s? follows? ?-+",
        ),
        "recipient": (
            rf"^\s*<(?P<addr>{ADDRESS})>\.\.\.\s*(?P<diag>.*)$",
            rf"^\s*(?P<addr>{ADDRESS})\.\.\.\s*(?P<diag>.*)$",
            rf"^\s*\d{{3}}[ -](?:\d\.\d+\.\d+ )?<(?P<addr>{ADDRESS})>\.\.\.\s*(?P<diag>.*)$",
            rf"^\s*\(expanded from:? <?(?P<addr>{ADDRESS})>?\)\s*$",
        ),
        "skip": (r"^\s*-+ ?the following address", r"^\s*\.\.\. while talking to"),
    },
    # Exim: address on its own line, reply indented below; "------ This is a copy".
    "exim": {
        "start": (
            r"following address\(es\) failed",
            r"could not be delivered to one or more",
            r"message has not yet been delivered",
        ),
        "end": (
            r"^-+ ?this is a copy of (the|your) message",
            r"^-+ ?the (body|header) of the message",
            r"^-+ ?original message",
        ),
        "recipient": (
            rf"^\s{{0,4}}{_A}\s*(?:\((?:generated|expanded) from [^)]*\))?:?\s*$",
            rf'^\s*"(?P<addr>{ADDRESS})":\s*$',
            # local deliveries: "pipe to |command", "save to /path" (RFC 3464 §2.3.2 allows
            # any address type; Exim reports the program or file as the recipient)
            r"^\s{2,4}(?P<diag>(?:pipe to|save to) (?P<addr>[|/]\S.*?))\s*$",
        ),
        "skip": (),
    },
    # qmail and qmail-ldap / netqmail: "<addr>:" then the reply; "--- Below this line".
    "qmail": {
        "start": (r"this is the qmail-send program", r"wasn'?t able to deliver"),
        "end": (r"^-+ ?below this line is a copy of the message", r"^-+ ?enclosed are the"),
        "recipient": (rf"^\s*<(?P<addr>{ADDRESS})>:\s*(?P<diag>.*)$",),
        "skip": (r"^\s*\(?other mxes tried",),
    },
    # Gmail / Google Groups: address indented after "failed permanently:".
    "gmail": {
        "start": (r"delivery to the following recipients? (failed|has been delayed)",),
        "end": (r"^-+ ?original message ?-+", r"^-+ ?message header follows"),
        "recipient": (rf"^\s+{_A}\s*$",),
        "skip": (r"^\s*technical details of \w+ failure:?\s*$",),
    },
    # Microsoft Exchange 2003 / Outlook: "addr on <date>" then reasons; "did not reach".
    "exchange": {
        "start": (r"did not reach the following recipient", r"delivery has failed to these"),
        "end": (r"^\s*original message headers:?\s*$",),
        "recipient": (rf"^\s*{_A}\s+on\s+\S.*$", rf"^\s*{_A}\s*$"),
        "skip": (),
    },
    # OpenSMTPD / DragonFly / Courier / many appliances: "addr: reply" on one line, or
    # "delivering your mail to <addr>".
    "generic": {
        "start": (),
        "end": (
            r"^\s*below is a copy of the original message",
            r"^\s*message headers follow",
            r"^\s*-+ ?(original|returned|forwarded|undelivered|unsent) (message|mail)",
            r"^\s*-+ ?headers? of (the )?original",
            r"^\s*original message (headers )?follow",
            r"^\s*the original message (was|headers)",
            r"^\s*-+\s*original message\s*-+",
            r"^content-type: message/rfc822",
            r"^\s*-+ ?message header",
        ),
        "recipient": (
            rf"^\s*{_A}\s*:\s*(?P<diag>\S.*)$",
            rf"(?:error delivering your mail to|could not be delivered to|your message to"
            rf"|deliver(?:y|ed)?(?: of)?(?: your| the)?(?: message| mail)? to|failed recipient:?"
            rf"|recipient(?: address)?:|addressed to|\bto:|rcpt to:?|undeliverable to"
            rf"|returned permanent errors:|attempts?:|rejected recipient)\s*{_A}",
            # "addr [User unknown]" (Mail2000 and other Asian gateways)
            rf"^\s*{_A}\s*\[(?P<diag>[^\]]+)\]\s*$",
            # "addr <reason>, <code> ..." on one line (Zoho, many appliances)
            rf"^\s*{_A}\s+(?P<diag>\S.*\b[45][0-9][0-9]\b.*)$",
            # "* addr" bullet lists
            rf"^\s*[*\-]\s+{_A}\s*$",
        ),
        "skip": (),
    },
}


def _all(key: str) -> tuple[str, ...]:
    return tuple(p for fam in FAMILIES.values() for p in fam[key])


START_MARKERS: Final = _all("start")
END_MARKERS: Final = _all("end")
RECIPIENT_LINES: Final = _all("recipient")
SKIP_LINES: Final = _all("skip")

# Who sends bounces, and what they call them: RFC 3464 §1 calls such a report a
# "non-delivery notification"; these are the names MTAs give them in practice. A sender or
# subject here is enough to read a message as a bounce.
BOUNCE_SENDERS: Final = (
    r"mailer-daemon",
    r"post_?master",
    r"mail delivery",
    r"mail administrator",
    r"mailmaster",
    r"\bbounces?\b",
    r"\bmdaemon\b",
)
BOUNCE_SUBJECTS: Final = (
    r"undeliver",
    r"returned mail",
    r"delivery (status|failure|failed|notification|problem|has failed)",
    r"failure notice",
    r"mail delivery",
    r"could not (be )?deliver",
    r"non.?delivery",
    r"delivery report",
    r"\bbounced?\b",
    r"mail system error",
    r"message not delivered",
    r"warning: could not send",
    r"delayed mail",
    r"notice: mail",
    # localized Exchange / Outlook / Notes subjects
    r"unzustellbar",
    r"non remis",
    r"no se puede entregar",
    r"non recapitabile",
    r"onbestelbaar",
)
# Weaker signs (an automated sender, an "error" subject): enough only together with a
# non-delivery statement in the body.
WEAK_BOUNCE_SENDERS: Final = (
    r"no-?reply",
    r"\bdaemon\b",
    r"\bsmtp\b",
    r"administrator",
    r"symantec",
    r"messagelabs",
)
WEAK_BOUNCE_SUBJECTS: Final = (r"error", r"rejected", r"\bmail\b", r"failure", r"returned")
NON_DELIVERY: Final = (
    r"could not be delivered",
    r"couldn'?t be delivered",
    r"was not delivered",
    r"wasn'?t delivered",
    r"undeliverable",
    r"unable to deliver",
    r"delivery (has )?failed",
    r"failed to deliver",
    r"permanent (error|failure)",
    r"did not reach",
    r"rejected by",
    r"not be delivered",
    r"returned to sender",
    r"\b[45][0-9][0-9][ -][245]\.[0-9]{1,3}\.[0-9]{1,3}\b",
)

# Which SMTP command the quoted reply answered, as MTAs say it (Postfix "in reply to RCPT TO
# command", Exim "after RCPT TO:", Sendmail ">>> DATA" transcripts, DragonFly "did not like
# our RCPT TO", qmail "RCPT TO response"). First match wins; the value is the command verb.
COMMANDS: Final = (
    (
        r"in reply to (end of )?data command|after end of data|after data\b|>>> data\b"
        r"|did not like our (final )?data|smtp command:? data\b|in response to (end of )?data",
        "DATA",
    ),
    (
        r"in reply to rcpt to command|after (pipelined )?rcpt( to)?\b|>>> rcpt to\b"
        r"|did not like our rcpt to|rcpt to response|smtp command:? rcpt"
        r"|does not like recipient|smtp:rcpt|\[rcpt_to\]|following rcpt command",
        "RCPT",
    ),
    (
        r"in reply to mail from command|after (pipelined )?mail from\b|>>> mail from\b"
        r"|did not like our mail from|smtp command:? mail",
        "MAIL",
    ),
    (
        r"in reply to (ehlo|helo|lhlo) command|after (ehlo|helo)\b|>>> (ehlo|helo)\b"
        r"|my name was rejected",
        "EHLO",
    ),
    (
        r"after initial connection|while connecting|connect to [^ ]+ ?: connection|greeting"
        r"|refused to talk to me",
        "CONN",
    ),
)

# Gateways that write RFC 3464-like fields under other names (PMDF / Oracle Messaging Server
# "Recipient address:", "Diagnostic code:", "Remote system:").
FIELD_ALIASES: Final = {
    "recipient address": "final-recipient",
    "original address": "original-recipient",
    "diagnostic code": "diagnostic-code",
    "remote system": "remote-mta",
}

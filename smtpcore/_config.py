"""Frozen limits, timeouts and strictness switches: data, not code.

The engines read these; nothing here reads a clock. Timeouts are the RFC 5321 §4.5.3.2
recommendations, given per protocol step, for the transports to apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = ["Limits", "Timeouts", "ServerConfig", "ClientConfig", "BareLineEndings"]

BareLineEndings = Literal["reject", "normalize", "allow"]

# RFC 5321 §4.5.3.1.4: "The maximum total length of a command line including the command word
# and the <CRLF> is 512 octets." Extensions that add parameters raise it (RFC 5321 §4.5.3.1.4
# "SMTP extensions may be used to increase this limit"); the allowance per advertised keyword:
COMMAND_LINE_ALLOWANCE: Final[dict[str, int]] = {
    "SIZE": 26,  # RFC 1870 §3: " SIZE=" plus up to 20 digits
    "8BITMIME": 16,  # " BODY=BINARYMIME"
    "SMTPUTF8": 10,  # RFC 6531 §3.4: " SMTPUTF8"
    "DSN": 600,  # RFC 3461 §4: MAIL +100 (RET, ENVID), RCPT +500 (NOTIFY, ORCPT)
    "AUTH": 500,  # RFC 4954 §5: MAIL FROM increased by 500 for AUTH=
    "REQUIRETLS": 12,  # RFC 8689 §4.1
    "MT-PRIORITY": 16,  # RFC 6710 §3
    "DELIVERBY": 24,  # RFC 2852 §4
    "RRVS": 48,  # RFC 7293 §3
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Octet and count limits (RFC 5321 §4.5.3.1 gives the minimums implementations must accept)."""

    command_line: int = 512  # §4.5.3.1.4, including CRLF, before extension allowances
    reply_line: int = 2048  # §4.5.3.1.5 says 512; we accept more from servers, and bound it
    reply_lines: int = 128  # lines in one multi-line reply
    reply_octets: int = 65536  # octets in one multi-line reply
    auth_line: int = 12288  # RFC 4954 §4: a server MUST accept 12288 octets of AUTH data
    message_size: int | None = 32 * 1024 * 1024  # None: no fixed limit (SIZE advertised alone)
    recipients: int = 1000  # §4.5.3.1.8: at least 100 must be accepted
    errors: int = 20  # bad commands before a 421 and disconnect
    messages: int | None = None  # messages per connection (None: unlimited)
    auth_attempts: int = 3

    def __post_init__(self) -> None:
        if self.command_line < 512:
            raise ValueError("RFC 5321 §4.5.3.1.4: command lines of 512 octets must be accepted")
        if self.recipients < 1:
            raise ValueError("recipients must be at least 1")
        if self.message_size is not None and self.message_size < 0:
            raise ValueError("message_size must be non-negative or None")


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """Seconds per protocol step: RFC 5321 §4.5.3.2 (client) and §4.5.3.2.7 (server)."""

    connect: float = 30.0
    greeting: float = 300.0  # §4.5.3.2.1 initial 220 message: 5 minutes
    mail: float = 300.0  # §4.5.3.2.2 MAIL command: 5 minutes
    rcpt: float = 300.0  # §4.5.3.2.3 RCPT command: 5 minutes
    data_init: float = 120.0  # §4.5.3.2.4 DATA initiation: 2 minutes
    data_block: float = 180.0  # §4.5.3.2.5 data block: 3 minutes
    data_term: float = 600.0  # §4.5.3.2.6 DATA termination: 10 minutes
    command: float = 300.0  # other commands
    server_idle: float = 300.0  # §4.5.3.2.7 server timeout: at least 5 minutes
    total: float | None = None  # one overall deadline, if wanted


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig:
    """What a :class:`ServerConnection` enforces.

    ``strict`` refuses the common deviations real clients send (``MAIL FROM: <a@b>``, paths
    without angle brackets); the default accepts them.
    ``bare_line_endings`` decides what happens to a message containing a bare CR or LF
    (never taken as end of data, whatever the setting): ``reject`` (554 5.6.0 after end of
    data), ``normalize`` (turn them into CRLF) or ``allow`` (keep them).
    ``strict_pipelining`` refuses DATA (554 5.5.0, then closes) when bytes are already
    waiting behind it: RFC 2920 §3.1 makes DATA the end of a group, so they were sent before
    the 354 and must be neither message nor commands. Switch it off only to replay recorded
    streams whose timing is lost (the engine cannot tell when bytes arrived).
    """

    hostname: str = "localhost"
    limits: Limits = field(default_factory=Limits)
    strict: bool = False
    bare_line_endings: BareLineEndings = "reject"
    lmtp: bool = False
    accept_unknown_params: bool = False  # pass unadvertised MAIL/RCPT parameters to the app
    strict_pipelining: bool = True  # RFC 2920 §3.1: nothing may follow DATA before its 354


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientConfig:
    """What a :class:`ClientConnection` enforces."""

    limits: Limits = field(default_factory=Limits)
    lmtp: bool = False

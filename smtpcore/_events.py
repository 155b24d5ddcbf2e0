"""Every SMTP command and reply as a frozen, slotted, keyword-only value.

Events cannot be built invalid: a CR, LF or NUL in any text field raises
:class:`LocalProtocolError` (no command injection, cf. python/cpython#87290), and the typed
parameters check their own ranges. Do not subclass them.

Commands flow from client to server, :class:`Reply` from server to client; the data-phase
events (:class:`MessageData`, :class:`EndOfMessage`, :class:`EndOfChunk`) carry the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar, Final, Literal

from ._addresses import Address
from ._errors import LocalProtocolError
from ._status import EnhancedStatus, StatusHint, reply_class

__all__ = [
    "Event",
    "Command",
    "Ehlo",
    "Helo",
    "Lhlo",
    "Mail",
    "Rcpt",
    "Data",
    "Bdat",
    "Rset",
    "Vrfy",
    "Expn",
    "Help",
    "Noop",
    "Quit",
    "StartTLS",
    "Auth",
    "AuthResponse",
    "AuthCancel",
    "UnknownCommand",
    "InvalidCommand",
    "MessageData",
    "EndOfMessage",
    "EndOfChunk",
    "ConnectionClosed",
    "Reply",
    "MailParams",
    "RcptParams",
    "DeliverBy",
    "OriginalRecipient",
    "NEED_DATA",
    "PAUSED",
]

_FORBIDDEN = re.compile(r"[\r\n\x00]")


def _check_text(value: str, what: str) -> None:
    if _FORBIDDEN.search(value):
        raise LocalProtocolError(f"{what} must not contain CR, LF or NUL: {value!r}")


class _Sentinel(type):
    def __repr__(cls) -> str:
        return cls.__name__


class NEED_DATA(metaclass=_Sentinel):
    """``next_event()`` needs more bytes: call ``receive_data()``."""


class PAUSED(metaclass=_Sentinel):
    """``next_event()`` cannot go on: a reply is owed, or a STARTTLS switch is under way."""


class Event:
    """Base of every event. Events are immutable values that compare by value."""

    __slots__ = ()


class Command(Event):
    """Base of the commands a client sends. ``verb`` is the SMTP command word."""

    __slots__ = ()
    verb: ClassVar[str] = ""


# --- typed parameters ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverBy:
    """RFC 2852 §4: ``BY=<seconds>;<R|N>[T]``."""

    seconds: int
    mode: Literal["R", "N"]
    trace: bool = False

    def __post_init__(self) -> None:
        if self.mode not in ("R", "N"):
            raise LocalProtocolError("BY mode must be R or N (RFC 2852 §4)")
        if self.mode == "R" and self.seconds <= 0:
            raise LocalProtocolError("BY with mode R needs a positive time (RFC 2852 §4)")
        if abs(self.seconds) > 999_999_999:
            raise LocalProtocolError("BY time out of range (RFC 2852 §4: at most 9 digits)")


@dataclass(frozen=True, slots=True, kw_only=True)
class OriginalRecipient:
    """RFC 3461 §4.2 ORCPT: an address type (``rfc822``, or ``utf-8`` per RFC 6533) and the
    original address, decoded (not xtext)."""

    addr_type: str
    address: str

    def __post_init__(self) -> None:
        _check_text(self.addr_type, "ORCPT address type")
        _check_text(self.address, "ORCPT address")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", self.addr_type):
            raise LocalProtocolError(f"bad ORCPT address type {self.addr_type!r}")
        if not self.address:
            raise LocalProtocolError("empty ORCPT address")


def _check_extra(extra: tuple[tuple[str, str | None], ...]) -> tuple[tuple[str, str | None], ...]:
    """Validate raw ESMTP parameters; return them with upper-case keywords (RFC 5321 §2.4:
    keywords are case-insensitive, and the parser reports them upper-case)."""
    seen: set[str] = set()
    for keyword, value in extra:
        # RFC 5321 §4.1.2: esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", keyword):
            raise LocalProtocolError(f"bad ESMTP parameter keyword {keyword!r}")
        # esmtp-value = 1*(%d33-60 / %d62-126 / UTF8-non-ascii)  (RFC 6531 §3.3)
        # (UTF8-non-ascii has no surrogate code points: they cannot be encoded.)
        if value is not None and not re.fullmatch(
            r"[\x21-\x3c\x3e-\x7e\x80-\ud7ff\ue000-\U0010ffff]+", value
        ):
            raise LocalProtocolError(f"bad ESMTP parameter value {value!r}")
        if keyword.upper() in seen:
            raise LocalProtocolError(f"duplicate ESMTP parameter {keyword}")
        seen.add(keyword.upper())
    return tuple((keyword.upper(), value) for keyword, value in extra)


@dataclass(frozen=True, slots=True, kw_only=True)
class MailParams:
    """The parameters of MAIL FROM, typed. Unknown ones stay raw in ``extra``."""

    size: int | None = None  # RFC 1870
    body: Literal["7BIT", "8BITMIME", "BINARYMIME"] | None = None  # RFC 6152, RFC 3030
    smtputf8: bool = False  # RFC 6531
    ret: Literal["FULL", "HDRS"] | None = None  # RFC 3461 §4.3
    envid: str | None = None  # RFC 3461 §4.4 (decoded)
    auth: str | None = None  # RFC 4954 §5 (decoded; "<>" for the empty identity)
    requiretls: bool = False  # RFC 8689
    mt_priority: int | None = None  # RFC 6710: -9..9
    by: DeliverBy | None = None  # RFC 2852
    extra: tuple[tuple[str, str | None], ...] = ()

    def __post_init__(self) -> None:
        if self.size is not None and not 0 <= self.size < 10**20:
            raise LocalProtocolError("SIZE must be 0..99999999999999999999 (RFC 1870 §3)")
        if self.body not in (None, "7BIT", "8BITMIME", "BINARYMIME"):
            raise LocalProtocolError(f"bad BODY value {self.body!r}")
        if self.ret not in (None, "FULL", "HDRS"):
            raise LocalProtocolError(f"bad RET value {self.ret!r}")
        if self.envid is not None:
            _check_text(self.envid, "ENVID")
            # RFC 3461 §4.4: "ENVID ... MUST consist of printable (graphic and white space)
            # characters from the US-ASCII repertoire"; at most 100 characters.
            if not self.envid or len(self.envid) > 100 or not self.envid.isascii():
                raise LocalProtocolError("ENVID must be 1..100 printable US-ASCII characters")
        if self.auth is not None:
            _check_text(self.auth, "AUTH=")
            # RFC 5321 §4.1.2 esmtp-value is 1*char: "<>" is the empty identity (RFC 4954 §5)
            if not self.auth:
                raise LocalProtocolError('AUTH= needs a value; "<>" for no identity')
        if self.mt_priority is not None and not -9 <= self.mt_priority <= 9:
            raise LocalProtocolError("MT-PRIORITY must be -9..9 (RFC 6710 §3)")
        if not self.extra:  # the usual case: nothing raw to check
            return
        object.__setattr__(self, "extra", _check_extra(self.extra))
        known = {"SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "AUTH", "REQUIRETLS", "MT-PRIORITY"}
        for keyword, _ in self.extra:
            if keyword.upper() in known | {"BY"}:
                raise LocalProtocolError(f"{keyword} is a typed parameter; set it by name")


_NOTIFY_VALUES: Final = frozenset({"NEVER", "SUCCESS", "FAILURE", "DELAY"})


@dataclass(frozen=True, slots=True, kw_only=True)
class RcptParams:
    """The parameters of RCPT TO, typed (RFC 3461 NOTIFY and ORCPT). Unknown ones stay raw."""

    notify: tuple[str, ...] | None = None  # ("NEVER",) or some of SUCCESS, FAILURE, DELAY
    orcpt: OriginalRecipient | None = None
    extra: tuple[tuple[str, str | None], ...] = ()

    def __post_init__(self) -> None:
        if self.notify is not None:
            values = [v.upper() for v in self.notify]
            # RFC 3461 §4.1: notify-esmtp-value = "NEVER" / 1#notify-list-element
            if not values or any(v not in _NOTIFY_VALUES for v in values):
                raise LocalProtocolError(f"bad NOTIFY value {self.notify!r}")
            if "NEVER" in values and len(values) > 1:
                raise LocalProtocolError("NOTIFY=NEVER cannot be combined (RFC 3461 §4.1)")
            if len(set(values)) != len(values):
                raise LocalProtocolError("NOTIFY lists a value twice")
            object.__setattr__(self, "notify", tuple(values))
        object.__setattr__(self, "extra", _check_extra(self.extra))
        for keyword, _ in self.extra:
            if keyword.upper() in ("NOTIFY", "ORCPT"):
                raise LocalProtocolError(f"{keyword} is a typed parameter; set it by name")


# --- commands -------------------------------------------------------------------------------

_HOSTNAME_RE = re.compile(r"[^\s\x00-\x1f\x7f]+")


def _check_hostname(value: str) -> None:
    _check_text(value, "hostname")
    # RFC 5321 §4.1.1.1: ehlo = "EHLO" SP ( Domain / address-literal ) CRLF. We refuse only
    # what could break the line (spaces and controls); the server judges the rest.
    if not _HOSTNAME_RE.fullmatch(value):
        raise LocalProtocolError(f"bad EHLO/HELO/LHLO argument {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Ehlo(Command):
    """RFC 5321 §4.1.1.1 EHLO: open an ESMTP session; the reply lists the extensions."""

    verb: ClassVar[str] = "EHLO"
    hostname: str

    def __post_init__(self) -> None:
        _check_hostname(self.hostname)


@dataclass(frozen=True, slots=True, kw_only=True)
class Helo(Command):
    """RFC 5321 §4.1.1.1 HELO: open a plain SMTP session (the fallback when EHLO fails)."""

    verb: ClassVar[str] = "HELO"
    hostname: str

    def __post_init__(self) -> None:
        _check_hostname(self.hostname)


@dataclass(frozen=True, slots=True, kw_only=True)
class Lhlo(Command):
    """RFC 2033 §4.1: LMTP's EHLO."""

    verb: ClassVar[str] = "LHLO"
    hostname: str

    def __post_init__(self) -> None:
        _check_hostname(self.hostname)


@dataclass(frozen=True, slots=True, kw_only=True)
class Mail(Command):
    """MAIL FROM. ``reverse_path`` None is the null path ``<>`` (bounces)."""

    verb: ClassVar[str] = "MAIL"
    reverse_path: Address | None
    params: MailParams = field(default_factory=MailParams)


@dataclass(frozen=True, slots=True, kw_only=True)
class Rcpt(Command):
    """RCPT TO (RFC 5321 §4.1.1.3): one recipient (``Address('Postmaster', '')`` for Postmaster)."""

    verb: ClassVar[str] = "RCPT"
    forward_path: Address
    params: RcptParams = field(default_factory=RcptParams)


@dataclass(frozen=True, slots=True, kw_only=True)
class Data(Command):
    """RFC 5321 §4.1.1.4 DATA: after a 354 reply the message follows, ended by CRLF.CRLF."""

    verb: ClassVar[str] = "DATA"


@dataclass(frozen=True, slots=True, kw_only=True)
class Bdat(Command):
    """RFC 3030 BDAT: ``size`` octets of message follow the command line; ``last`` ends it."""

    verb: ClassVar[str] = "BDAT"
    size: int
    last: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.size < 10**20:
            raise LocalProtocolError("BDAT size must be 0..99999999999999999999")


@dataclass(frozen=True, slots=True, kw_only=True)
class Rset(Command):
    """RFC 5321 §4.1.1.5 RSET: abort the mail transaction."""

    verb: ClassVar[str] = "RSET"


@dataclass(frozen=True, slots=True, kw_only=True)
class Vrfy(Command):
    """RFC 5321 §4.1.1.6 VRFY: ask whether ``argument`` names a user or mailbox."""

    verb: ClassVar[str] = "VRFY"
    argument: str

    def __post_init__(self) -> None:
        _check_text(self.argument, "VRFY argument")
        if not self.argument.strip():
            raise LocalProtocolError("VRFY needs an argument (RFC 5321 §4.1.1.6)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Expn(Command):
    """RFC 5321 §4.1.1.7 EXPN: ask for the members of the mailing list ``argument``."""

    verb: ClassVar[str] = "EXPN"
    argument: str

    def __post_init__(self) -> None:
        _check_text(self.argument, "EXPN argument")
        if not self.argument.strip():
            raise LocalProtocolError("EXPN needs an argument (RFC 5321 §4.1.1.7)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Help(Command):
    """RFC 5321 §4.1.1.8 HELP, optionally about a topic."""

    verb: ClassVar[str] = "HELP"
    argument: str = ""

    def __post_init__(self) -> None:
        _check_text(self.argument, "HELP argument")


@dataclass(frozen=True, slots=True, kw_only=True)
class Noop(Command):
    """RFC 5321 §4.1.1.9 NOOP: nothing, but a 250 reply (the argument is ignored)."""

    verb: ClassVar[str] = "NOOP"
    argument: str = ""

    def __post_init__(self) -> None:
        _check_text(self.argument, "NOOP argument")


@dataclass(frozen=True, slots=True, kw_only=True)
class Quit(Command):
    """RFC 5321 §4.1.1.10 QUIT: the server answers 221 and closes the connection."""

    verb: ClassVar[str] = "QUIT"


@dataclass(frozen=True, slots=True, kw_only=True)
class StartTLS(Command):
    """RFC 3207 STARTTLS: after 220 both sides pause for the TLS handshake."""

    verb: ClassVar[str] = "STARTTLS"


@dataclass(frozen=True, slots=True, kw_only=True)
class Auth(Command):
    """RFC 4954 §4 AUTH. ``initial_response`` is raw (not base64); ``b""`` is sent as ``=``."""

    verb: ClassVar[str] = "AUTH"
    mechanism: str
    initial_response: bytes | None = None

    def __post_init__(self) -> None:
        # RFC 4422 §3.1: sasl-mech = 1*20mech-char; mech-char = UPPER-ALPHA / DIGIT / "-" / "_"
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,20}", self.mechanism):
            raise LocalProtocolError(f"bad SASL mechanism name {self.mechanism!r}")
        object.__setattr__(self, "mechanism", self.mechanism.upper())


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthResponse(Command):
    """A client's answer to a 334 challenge, raw (the wire carries it in base64)."""

    verb: ClassVar[str] = ""
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthCancel(Command):
    """``*``: the client cancels the SASL exchange (RFC 4954 §4)."""

    verb: ClassVar[str] = "*"


_KNOWN_VERBS: Final = frozenset(
    {"EHLO", "HELO", "LHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "VRFY", "EXPN", "HELP"}
    | {"NOOP", "QUIT", "STARTTLS", "AUTH"}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownCommand(Command):
    """A command this library has no type for (XCLIENT, ETRN, ...), kept raw."""

    name: str
    argument: str = ""

    def __post_init__(self) -> None:
        _check_text(self.argument, "command argument")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", self.name):
            raise LocalProtocolError(f"bad command word {self.name!r}")
        object.__setattr__(self, "name", self.name.upper())
        # A known verb sent raw would slip past the sequencing tables (RFC 5321 §4.1.4): the
        # client would file "RCPT TO:..." as an unknown step while the server runs RCPT.
        if self.name in _KNOWN_VERBS:
            raise LocalProtocolError(f"{self.name} has its own event type; use it")


@dataclass(frozen=True, slots=True, kw_only=True)
class InvalidCommand(Event):
    """Server side: a command line that failed: bad syntax, bad sequence, a refused parameter.

    The connection has already decided the answer: send ``Reply.from_hint(event.hint)`` (or
    another reply of the same class). The session goes on; after too many of these the hint is
    a 421 and the connection closes.
    """

    verb: str
    line: str
    reason: str
    hint: StatusHint


# --- the data phase -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageData(Event):
    """A piece of the message. Client: raw bytes to encode; server: decoded bytes."""

    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class EndOfMessage(Event):
    """The message is complete (end of DATA, or the BDAT LAST chunk).

    Server side, ``size`` is the octet count; ``bare_line_endings`` and ``eight_bit`` say what
    the data held; ``exceeded`` says it went over the size limit (the data was not kept).
    """

    size: int = 0
    bare_line_endings: bool = False
    eight_bit: bool = False
    exceeded: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class EndOfChunk(Event):
    """Server side: a BDAT chunk that is not the last one was received whole; reply to it."""

    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionClosed(Event):
    """The peer closed the connection (EOF)."""


# --- replies --------------------------------------------------------------------------------

_ENH_PREFIX = re.compile(r"([245])\.([0-9]{1,3})\.([0-9]{1,3})(?: |$)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply(Event):
    """A server reply: a three-digit code and one or more lines of text.

    ``lines`` hold the text after the code and separator, enhanced status code included when
    the server sent one. ``enhanced`` is the RFC 2034 code read from the first line, when its
    class matches the reply code; ``message`` is the text without enhanced codes.
    ``command`` names the command the reply answered (set by the client connection; it takes no
    part in comparisons).
    """

    code: int
    lines: tuple[str, ...] = ("",)
    command: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        # RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39 (bool is no code)
        if type(self.code) is not int or not 200 <= self.code <= 599 or self.code // 10 % 10 > 5:
            raise LocalProtocolError(f"reply code must be [2-5][0-5][0-9], not {self.code!r}")
        if isinstance(self.lines, str):
            raise LocalProtocolError("Reply.lines is a tuple of str; use Reply.of(code, text)")
        if not self.lines:
            object.__setattr__(self, "lines", ("",))
        for line in self.lines:
            _check_text(line, "reply text")

    @classmethod
    def _checked(cls, code: int, lines: tuple[str, ...], command: str | None = None) -> Reply:
        """A reply from parts its caller has already checked as ``__post_init__`` would (the
        reply parser's): no second validation on the hot path of every reply received."""
        new = object.__new__(cls)
        object.__setattr__(new, "code", code)
        object.__setattr__(new, "lines", lines)
        object.__setattr__(new, "command", command)
        return new

    @classmethod
    def of(cls, code: int, text: str = "", enhanced: str | EnhancedStatus | None = None) -> Reply:
        """A reply from text (``\\n`` separates lines), with the enhanced code on every line."""
        prefix = "" if enhanced is None else f"{enhanced} "
        return cls(code=code, lines=tuple(f"{prefix}{line}".rstrip() for line in text.split("\n")))

    @classmethod
    def from_hint(cls, hint: StatusHint, text: str | None = None) -> Reply:
        """The reply an error's ``reply_hint`` asks for."""
        return cls.of(hint.code, hint.text if text is None else text, hint.enhanced)

    @property
    def enhanced(self) -> EnhancedStatus | None:
        m = _ENH_PREFIX.match(self.lines[0])
        if m is None or int(m[1]) != reply_class(self.code):
            return None
        return EnhancedStatus(int(m[1]), int(m[2]), int(m[3]))

    @property
    def message(self) -> str:
        """The text, lines joined with ``\\n``, without the enhanced status codes."""
        return "\n".join(_ENH_PREFIX.sub("", line, count=1) for line in self.lines)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def is_positive(self) -> bool:
        return self.code < 400

    @property
    def is_intermediate(self) -> bool:
        return 300 <= self.code < 400

    @property
    def is_transient(self) -> bool:
        return 400 <= self.code < 500

    @property
    def is_permanent(self) -> bool:
        return self.code >= 500

    def __str__(self) -> str:
        return " / ".join(f"{self.code} {line}".rstrip() for line in self.lines)

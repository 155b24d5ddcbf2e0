"""ESMTP capabilities: the EHLO reply as an immutable value, and which parameters need what.

A server builds :meth:`Capabilities.build` and sends :meth:`Capabilities.to_ehlo_lines`; a
client reads the reply with :meth:`Capabilities.from_ehlo`; ``from_ehlo(caps.to_ehlo_lines())
== caps``. Every keyword (unknown ones too) lives in ``keywords``; the typed accessors are read
from it. :func:`parameter_allowed` says whether a MAIL/RCPT parameter may be used: the server
answers 555 when not, the client refuses to send it. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

from ._errors import LocalProtocolError

__all__ = [
    "Capabilities",
    "MAIL_PARAMETERS",
    "RCPT_PARAMETERS",
    "parameter_allowed",
]

# RFC 5321 §4.1.1.1:
#   ehlo-ok-rsp  = ( "250" SP Domain [ SP ehlo-greet ] CRLF )
#                  / ( "250-" Domain [ SP ehlo-greet ] CRLF
#                  *( "250-" ehlo-line CRLF )
#                  "250" SP ehlo-line CRLF )
#   ehlo-greet   = 1*(%d0-9 / %d11-12 / %d14-127)   ; anything but CR and LF
#   ehlo-line    = ehlo-keyword *( SP ehlo-param )
#   ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
#   ehlo-param   = 1*(%d33-126)                      ; any CHAR excluding SP and controls
# Deployed servers also send the pre-standard "AUTH=LOGIN PLAIN" form (a "=" instead of the
# first SP); we read it as the same keyword and merge it with any "AUTH ..." line.
_KEYWORD_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_PARAM_RE: Final = re.compile(r"[\x21-\x7e]+")
# The domain line: we do not police the server's idea of its name beyond "one word".
_DOMAIN_RE: Final = re.compile(r"[^\x00-\x20\x7f]+")
_SEPARATOR_RE: Final = re.compile(r"[ \t]+")
# RFC 1870 §4: size-param = [1*DIGIT]; RFC 2852 §4: min-by-time = [1*9DIGIT]. We bound the
# digits so a hostile reply cannot make us build a huge int.
_NUMBER_RE: Final = re.compile(r"[0-9]{1,20}")
# RFC 9422 §3: limit-name = 1*(ALPHA / DIGIT / "-" / "_"); the registered limits (RCPTMAX,
# MAILMAX, RCPTDOMAINMAX) take a number, so only decimal values are kept.
_LIMIT_NAME_RE: Final = re.compile(r"[A-Za-z0-9_-]+")
_LIMIT_VALUE_RE: Final = re.compile(r"[0-9]{1,9}")


def _text(what: str, value: object) -> str:
    if not isinstance(value, str):
        raise LocalProtocolError(f"{what} must be a str, not {type(value).__name__}")
    return value


def _check_keyword(keyword: object) -> str:
    if not isinstance(keyword, str) or not _KEYWORD_RE.fullmatch(keyword):
        raise LocalProtocolError(f"not an EHLO keyword (RFC 5321 §4.1.1.1): {keyword!r}")
    return keyword.upper()


def _check_params(keyword: str, params: object) -> tuple[str, ...]:
    if isinstance(params, str) or not isinstance(params, Iterable):
        raise LocalProtocolError(f"parameters of {keyword} must be a sequence of strings")
    result = tuple(params)
    for param in result:
        if not isinstance(param, str) or not _PARAM_RE.fullmatch(param):
            raise LocalProtocolError(
                f"not an EHLO parameter of {keyword} (RFC 5321 §4.1.1.1): {param!r}"
            )
    return result


def _number(params: tuple[str, ...]) -> int:
    """The first parameter as a number; 0 when absent or not a number."""
    if params and _NUMBER_RE.fullmatch(params[0]):
        return int(params[0])
    return 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """The ESMTP capabilities a server advertised in its EHLO reply.

    ``keywords`` maps each upper-cased EHLO keyword to its parameters (kept as given), in the
    order they were advertised; it is read-only. ``malformed`` holds the reply lines that broke
    the grammar: a client ignores them (be liberal) but keeps them for diagnostics.

    Build one for a server with :meth:`build`, read one from a reply with :meth:`from_ehlo`.
    The plain constructor checks the grammar and raises :class:`LocalProtocolError`.
    """

    domain: str
    greeting: str = ""
    keywords: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    malformed: tuple[str, ...] = ()
    # SIZE's number, read once: a server checks it for every MAIL and every message.
    _size: int | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _DOMAIN_RE.fullmatch(_text("EHLO domain", self.domain)):
            raise LocalProtocolError(f"EHLO domain must be one word: {self.domain!r}")
        if "\r" in _text("EHLO greeting", self.greeting) or "\n" in self.greeting:
            raise LocalProtocolError(f"EHLO greeting must be one line: {self.greeting!r}")
        if not isinstance(self.keywords, Mapping):
            raise LocalProtocolError("keywords must be a mapping of keyword to parameters")
        entries: dict[str, tuple[str, ...]] = {}
        for key, params in self.keywords.items():
            name = _check_keyword(key)
            if name in entries:
                raise LocalProtocolError(f"EHLO keyword {name} given twice")
            entries[name] = _check_params(name, params)
        object.__setattr__(self, "keywords", MappingProxyType(entries))
        object.__setattr__(self, "malformed", tuple(str(line) for line in self.malformed))
        object.__setattr__(self, "_size", _number(entries["SIZE"]) if "SIZE" in entries else None)

    def __hash__(self) -> int:
        return hash((self.domain, self.greeting, frozenset(self.keywords.items()), self.malformed))

    # -- reading and writing the reply ---------------------------------------------------

    @classmethod
    def from_ehlo(cls, lines: Sequence[str]) -> Capabilities:
        """Read the text of an EHLO reply, one string per line without the ``250-`` prefix.

        Line 0 is ``domain [greeting]``; each other line is ``KEYWORD [params...]``. Liberal
        reading (RFC 5321 §4.1.1.1 grammar, leniently): keywords are case-insensitive and
        stored upper-case; runs of spaces or tabs separate parameters; ``KEYWORD=param`` (the
        old ``AUTH=LOGIN PLAIN``) is the same keyword, and the parameters of a repeated
        keyword are merged. A line with a bad keyword is dropped; a parameter that is not an
        ehlo-param is dropped. Either way the line is recorded in ``malformed``. A first line
        that does not start with a domain is recorded too, and the domain reads "unknown".
        """
        if isinstance(lines, str) or not isinstance(lines, Sequence):
            raise LocalProtocolError("from_ehlo() takes a sequence of reply lines")
        if not lines:
            raise LocalProtocolError("an EHLO reply has at least one line")
        lines = [_text("an EHLO reply line", line) for line in lines]
        malformed: list[str] = []
        domain, _, greeting = lines[0].partition(" ")
        if not _DOMAIN_RE.fullmatch(domain) or "\r" in greeting or "\n" in greeting:
            malformed.append(lines[0])
            domain, greeting = "unknown", ""
        entries: dict[str, list[str]] = {}
        for line in lines[1:]:
            stripped = line.strip(" \t")
            words = _SEPARATOR_RE.split(stripped) if stripped else []
            head, equals, first = words[0].partition("=") if words else ("", "", "")
            if not _KEYWORD_RE.fullmatch(head):
                malformed.append(line)
                continue
            params = ([first] if equals and first else []) + words[1:]
            good = [param for param in params if _PARAM_RE.fullmatch(param)]
            if len(good) != len(params) or "\r" in line or "\n" in line:
                malformed.append(line)
            name = head.upper()
            if name in entries:
                known = entries[name]
                known.extend(param for param in good if param not in known)
            else:
                entries[name] = good
        return cls(
            domain=domain,
            greeting=greeting,
            keywords={name: tuple(params) for name, params in entries.items()},
            malformed=tuple(malformed),
        )

    def to_ehlo_lines(self) -> list[str]:
        """The reply text, domain line first, then each keyword in order (no ``250-``)."""
        first = f"{self.domain} {self.greeting}" if self.greeting else self.domain
        return [first, *(" ".join((name, *params)) for name, params in self.keywords.items())]

    @classmethod
    def build(
        cls,
        *,
        domain: str,
        greeting: str = "",
        pipelining: bool = False,
        size: int | None = None,
        vrfy: bool = False,
        etrn: bool = False,
        starttls: bool = False,
        auth: Sequence[str] = (),
        enhancedstatuscodes: bool = False,
        eightbitmime: bool = False,
        binarymime: bool = False,
        chunking: bool = False,
        dsn: bool = False,
        smtputf8: bool = False,
        requiretls: bool = False,
        deliverby: int | None = None,
        mt_priority: str | None = None,
        futurerelease: tuple[int, str] | None = None,
        rrvs: bool = False,
        limits: Mapping[str, int] | None = None,
        xclient: Sequence[str] = (),
        xforward: Sequence[str] = (),
        help: bool = False,
        extra: Mapping[str, Sequence[str]] | None = None,
    ) -> Capabilities:
        """The capabilities a server advertises, in a fixed order (``extra`` last, as given).

        ``size=0`` advertises "no fixed maximum" (RFC 1870 §4). ``auth`` lists SASL mechanism
        names (upper-cased). ``futurerelease`` is (max interval in seconds, max date-time),
        RFC 4865 §3. ``extra`` adds keywords this module has no argument for.

        Rules checked here (a server must follow them; a client reading a reply does not
        insist on them):

        * RFC 6531 §3.2: a server offering SMTPUTF8 MUST also offer 8BITMIME.
        * RFC 3030 §3: BODY=BINARYMIME cannot be sent with DATA, only with BDAT, so
          BINARYMIME is only offered together with CHUNKING.
        """
        if smtputf8 and not eightbitmime:
            raise LocalProtocolError("SMTPUTF8 needs 8BITMIME advertised too (RFC 6531 §3.2)")
        if binarymime and not chunking:
            raise LocalProtocolError("BINARYMIME needs CHUNKING advertised too (RFC 3030 §3)")
        words: dict[str, tuple[str, ...]] = {}

        def flag(name: str, on: bool) -> None:
            if on:
                words[name] = ()

        flag("PIPELINING", pipelining)
        if size is not None:
            words["SIZE"] = (str(_non_negative("size", size)),)
        flag("VRFY", vrfy)
        flag("ETRN", etrn)
        flag("STARTTLS", starttls)
        if auth:
            words["AUTH"] = tuple(m.upper() for m in _words("auth", auth))
        flag("ENHANCEDSTATUSCODES", enhancedstatuscodes)
        flag("8BITMIME", eightbitmime)
        flag("BINARYMIME", binarymime)
        flag("CHUNKING", chunking)
        flag("DSN", dsn)
        flag("SMTPUTF8", smtputf8)
        flag("REQUIRETLS", requiretls)
        if deliverby is not None:
            words["DELIVERBY"] = (str(_non_negative("deliverby", deliverby)),)
        if mt_priority is not None:
            words["MT-PRIORITY"] = (mt_priority,)
        if futurerelease is not None:
            interval, latest = futurerelease
            words["FUTURERELEASE"] = (str(_non_negative("futurerelease", interval)), latest)
        flag("RRVS", rrvs)
        if limits:
            for name, value in limits.items():
                if not _LIMIT_NAME_RE.fullmatch(name):
                    raise LocalProtocolError(f"not a LIMITS name (RFC 9422 §3): {name!r}")
                _non_negative(name, value)
            words["LIMITS"] = tuple(f"{name.upper()}={value}" for name, value in limits.items())
        if xclient:
            words["XCLIENT"] = _words("xclient", xclient)
        if xforward:
            words["XFORWARD"] = _words("xforward", xforward)
        flag("HELP", help)
        for key, params in (extra or {}).items():
            name = _check_keyword(key)
            if name in words:
                raise LocalProtocolError(f"extra keyword {name} is already advertised")
            words[name] = _check_params(name, params)
        return cls(domain=domain, greeting=greeting, keywords=words)

    # -- generic access -------------------------------------------------------------------

    def has(self, keyword: str) -> bool:
        """Whether ``keyword`` (any case) was advertised."""
        return keyword.upper() in self.keywords

    def params(self, keyword: str) -> tuple[str, ...]:
        """The parameters advertised with ``keyword`` (any case), as given; () when absent."""
        return self.keywords.get(keyword.upper(), ())

    # -- typed access ---------------------------------------------------------------------

    @property
    def size(self) -> int | None:
        """RFC 1870 SIZE: None when not advertised, else its number (0 when none is given)."""
        return self._size

    @property
    def size_limit(self) -> int | None:
        """The fixed maximum message size, or None: "SIZE" alone and "SIZE 0" mean no fixed
        maximum (RFC 1870 §4), and a server without SIZE states none."""
        return self.size or None

    @property
    def pipelining(self) -> bool:
        """RFC 2920 PIPELINING: a client may pipeline commands only when it was advertised."""
        return "PIPELINING" in self.keywords

    @property
    def eightbitmime(self) -> bool:
        """RFC 6152 8BITMIME (MAIL parameter BODY=8BITMIME)."""
        return "8BITMIME" in self.keywords

    @property
    def smtputf8(self) -> bool:
        """RFC 6531 SMTPUTF8. A conforming server also advertises 8BITMIME (§3.2); a client
        does not insist on it when reading."""
        return "SMTPUTF8" in self.keywords

    @property
    def dsn(self) -> bool:
        """RFC 3461 DSN (MAIL RET/ENVID, RCPT NOTIFY/ORCPT)."""
        return "DSN" in self.keywords

    @property
    def chunking(self) -> bool:
        """RFC 3030 CHUNKING: the BDAT command."""
        return "CHUNKING" in self.keywords

    @property
    def binarymime(self) -> bool:
        """RFC 3030 BINARYMIME: BODY=BINARYMIME, sent with BDAT only."""
        return "BINARYMIME" in self.keywords

    @property
    def starttls(self) -> bool:
        """RFC 3207 STARTTLS."""
        return "STARTTLS" in self.keywords

    @property
    def enhancedstatuscodes(self) -> bool:
        """RFC 2034 ENHANCEDSTATUSCODES."""
        return "ENHANCEDSTATUSCODES" in self.keywords

    @property
    def requiretls(self) -> bool:
        """RFC 8689 REQUIRETLS (MAIL parameter REQUIRETLS)."""
        return "REQUIRETLS" in self.keywords

    @property
    def auth_mechanisms(self) -> frozenset[str]:
        """RFC 4954 AUTH: the SASL mechanisms offered, upper-cased."""
        return frozenset(mechanism.upper() for mechanism in self.params("AUTH"))

    @property
    def deliverby(self) -> int | None:
        """RFC 2852 DELIVERBY: None when not advertised, else the min-by-time in seconds
        (0 when absent or 0: no fixed minimum)."""
        return _number(self.keywords["DELIVERBY"]) if "DELIVERBY" in self.keywords else None

    @property
    def mt_priority(self) -> str | None:
        """RFC 6710 MT-PRIORITY: None when not advertised, else the priority assignment
        policy, upper-cased ("MIXER" when the keyword comes without one)."""
        if "MT-PRIORITY" not in self.keywords:
            return None
        params = self.keywords["MT-PRIORITY"]
        return params[0].upper() if params else "MIXER"

    @property
    def limits(self) -> Mapping[str, int]:
        """RFC 9422 LIMITS with a decimal value (RCPTMAX, MAILMAX, RCPTDOMAINMAX, ...), names
        upper-cased. Malformed entries are ignored; the first of a repeated name wins."""
        found: dict[str, int] = {}
        for param in self.params("LIMITS"):
            name, _, value = param.partition("=")
            if _LIMIT_NAME_RE.fullmatch(name) and _LIMIT_VALUE_RE.fullmatch(value):
                found.setdefault(name.upper(), int(value))
        return MappingProxyType(found)

    @property
    def vrfy(self) -> bool:
        return "VRFY" in self.keywords

    @property
    def etrn(self) -> bool:
        """RFC 1985 ETRN."""
        return "ETRN" in self.keywords

    @property
    def help(self) -> bool:
        return "HELP" in self.keywords

    @property
    def xclient(self) -> tuple[str, ...]:
        """Postfix XCLIENT: the attribute names the server accepts (() when not advertised)."""
        return self.params("XCLIENT")

    @property
    def xforward(self) -> tuple[str, ...]:
        """Postfix XFORWARD: the attribute names the server accepts (() when not advertised)."""
        return self.params("XFORWARD")

    @property
    def rrvs(self) -> bool:
        """RFC 7293 RRVS (RCPT parameter RRVS)."""
        return "RRVS" in self.keywords

    @property
    def futurerelease(self) -> bool:
        """RFC 4865 FUTURERELEASE (MAIL parameters HOLDFOR / HOLDUNTIL)."""
        return "FUTURERELEASE" in self.keywords


def _non_negative(what: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LocalProtocolError(f"{what} must be a non-negative int, not {value!r}")
    return value


def _words(what: str, values: Sequence[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        raise LocalProtocolError(f"{what} must be a sequence of names, not a str")
    return tuple(values)


# Parameter keyword -> the EHLO keyword that must have been advertised for it.
MAIL_PARAMETERS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "SIZE": "SIZE",  # RFC 1870
        "BODY": "8BITMIME",  # RFC 6152 §2; the value decides, see _BODY_VALUES
        "SMTPUTF8": "SMTPUTF8",  # RFC 6531
        "RET": "DSN",  # RFC 3461 §4.3
        "ENVID": "DSN",  # RFC 3461 §4.4
        "AUTH": "AUTH",  # RFC 4954 §5
        "REQUIRETLS": "REQUIRETLS",  # RFC 8689
        "MT-PRIORITY": "MT-PRIORITY",  # RFC 6710
        "BY": "DELIVERBY",  # RFC 2852
        "HOLDFOR": "FUTURERELEASE",  # RFC 4865
        "HOLDUNTIL": "FUTURERELEASE",  # RFC 4865
    }
)
RCPT_PARAMETERS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "NOTIFY": "DSN",  # RFC 3461 §4.1
        "ORCPT": "DSN",  # RFC 3461 §4.2
        "RRVS": "RRVS",  # RFC 7293
    }
)
# BODY value -> the EHLO keywords it needs. 7BIT only states the 7-bit default of plain SMTP,
# so it is accepted whatever was advertised; BODY=BINARYMIME is RFC 3030 §3.
_BODY_VALUES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {"7BIT": (), "8BITMIME": ("8BITMIME",), "BINARYMIME": ("BINARYMIME",)}
)
_TABLES: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {"MAIL": MAIL_PARAMETERS, "RCPT": RCPT_PARAMETERS}
)


def parameter_allowed(
    caps: Capabilities, command: Literal["MAIL", "RCPT"], keyword: str, value: str | None
) -> bool:
    """Whether ``keyword[=value]`` may be used on ``command`` given what ``caps`` advertised.

    A server answers 555 when this is False (RFC 5321 §4.1.1.11); a client refuses to send
    the parameter. Only advertisement is decided here, plus the
    value of BODY; the syntax of other values is the command codec's business.

    A parameter in neither table is allowed only when an EHLO keyword of the same name was
    advertised (the usual convention, e.g. for extensions this module does not know); one
    that belongs to the other command is never allowed.
    """
    table = _TABLES.get(command)
    if table is None:
        raise LocalProtocolError(f"parameters belong to MAIL or RCPT, not {command!r}")
    name = keyword.upper()
    if command == "MAIL" and name == "BODY":
        needs = _BODY_VALUES.get(value.upper()) if value is not None else None
        return needs is not None and all(caps.has(need) for need in needs)
    if name in table:  # a keyword of the table is well-formed
        return caps.has(table[name])
    if not _KEYWORD_RE.fullmatch(name):
        return False
    if any(name in other for other in _TABLES.values()):
        return False
    return caps.has(name)

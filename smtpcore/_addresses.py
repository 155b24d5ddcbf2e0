"""Mailboxes and paths: parsing and formatting (RFC 5321 §4.1.2, RFC 6531 §3.3), IDNA, xtext.

The grammar lives in :mod:`smtpcore._abnf`; this module compiles what it needs and adds the
rules the ABNF leaves to prose: length limits (RFC 5321 §4.5.3.1), the value of address literals
(checked with :mod:`ipaddress`), IDNA validity of U-labels (UTS 46, via ``idna``) and the
special ``<Postmaster>`` recipient.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Final

import idna

from . import _abnf
from ._errors import LocalProtocolError
from ._status import BAD_ADDRESS_SYNTAX, NON_ASCII_ADDRESS, PARAM_SYNTAX, StatusHint

__all__ = [
    "AddressError",
    "Address",
    "parse_path",
    "format_path",
    "split_path_and_params",
    "domain_to_ascii",
    "domain_to_unicode",
    "xtext_encode",
    "xtext_decode",
    "utf8_addr_xtext_encode",
    "utf8_addr_xtext_decode",
    "utf8_addr_unitext_encode",
    "utf8_addr_unitext_decode",
    "MAX_LOCAL_PART_OCTETS",
    "MAX_DOMAIN_OCTETS",
    "MAX_PATH_OCTETS",
]

# RFC 5321 §4.5.3.1.1-3: "The maximum total length of a user name or other local-part is 64
# octets", "of a domain name or number is 255 octets", "of a reverse-path or forward-path is
# 256 octets (including the punctuation and element separators)". Octets of UTF-8 under
# SMTPUTF8 (RFC 6531 §3.3 keeps the limits and counts octets).
MAX_LOCAL_PART_OCTETS: Final = 64
MAX_DOMAIN_OCTETS: Final = 255
MAX_PATH_OCTETS: Final = 256
# RFC 5321 §4.5.3.1.10: "501 Path too long".
_PATH_TOO_LONG: Final = BAD_ADDRESS_SYNTAX.with_text("Path too long")
# RFC 1035 §2.3.4: labels are 63 octets or less.
MAX_LABEL_OCTETS: Final = 63

_DOT_STRING_RE: Final = re.compile(_abnf.DOT_STRING_UTF8)
_DOMAIN_RE: Final = re.compile(_abnf.DOMAIN_UTF8)
_IPV4_RE: Final = re.compile(_abnf.IPV4_ADDRESS_LITERAL)
_IPV6_RE: Final = re.compile(_abnf.IPV6_ADDRESS_LITERAL)
_IPV6_TAG: Final = "ipv6:"
_GENERAL_RE: Final = re.compile(_abnf.GENERAL_ADDRESS_LITERAL)
# A local-part *value* (quotes and quoted-pairs removed) is any run of what a Quoted-string can
# carry: SP and printable ASCII (as qtextSMTP or as a quoted-pair) and UTF8-non-ascii.
_LOCAL_VALUE_RE: Final = re.compile(r"(?:[ -~]|" + _abnf.UTF8_NON_ASCII + r")*")
# Controls: C0, DEL and C1 (RFC 5321 §4.1.2: no "control characters" in mailboxes).
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# [ A-d-l ":" ] Mailbox, the inside of a Path (RFC 5321 §4.1.2, RFC 6531 §3.3).
_PATH_INNER_RE: Final = re.compile(
    r"(?:" + _abnf.A_D_L_UTF8 + r":)?"
    r"(?P<local>" + _abnf.LOCAL_PART_UTF8 + r")"
    r"@(?P<domain>" + _abnf.DOMAIN_UTF8 + r"|" + _abnf.ADDRESS_LITERAL + r")"
)
_MAILBOX_RE: Final = re.compile(
    r"(?P<local>" + _abnf.LOCAL_PART_UTF8 + r")"
    r"@(?P<domain>" + _abnf.DOMAIN_UTF8 + r"|" + _abnf.ADDRESS_LITERAL + r")"
)
_QUOTED_PAIR_RE: Final = re.compile(r"\\(.)", re.DOTALL)
_POSTMASTER_RE: Final = re.compile(_abnf.POSTMASTER)


class AddressError(LocalProtocolError):
    """An address, path or domain that the grammar refuses."""

    def __init__(self, msg: str, reply_hint: StatusHint | None = None) -> None:
        super().__init__(msg, BAD_ADDRESS_SYNTAX if reply_hint is None else reply_hint)


def _octets(text: str) -> int:
    """Length in UTF-8 octets; lone surrogates count too (the grammar refuses them later)."""
    return len(text.encode("utf-8", "surrogatepass"))


def _non_ascii_error(what: str, text: str) -> AddressError:
    # RFC 6531 §3.5: non-ASCII addresses without SMTPUTF8 get 553 5.6.7.
    return AddressError(f"non-ASCII {what} needs SMTPUTF8: {text!r}", NON_ASCII_ADDRESS)


def _format_local(value: str) -> str:
    """The canonical Local-part for a value: a Dot-string when it is one, else quoted.

    RFC 5321 §4.1.2: quoting is only for local parts that need it, and only ``"`` and ``\\``
    need a quoted-pair inside a Quoted-string (everything else is qtextSMTP).
    """
    if _DOT_STRING_RE.fullmatch(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _parse_local(text: str) -> str:
    """The value of a Local-part that the grammar has matched."""
    if text.startswith('"'):
        return _QUOTED_PAIR_RE.sub(r"\1", text[1:-1])
    return text


def domain_to_ascii(domain: str) -> str:
    """A domain name (U-labels or A-labels, any case, optional trailing dot) to lower-case A-labels.

    IDNA 2008 with the UTS 46 mapping (non-transitional). Raises :class:`AddressError` for an
    invalid name: a bad label, a label over 63 octets, a name over 253 octets (RFC 1035 §2.3.4,
    RFC 5321 §4.5.3.1.2).
    """
    name = domain[:-1] if domain.endswith(".") else domain
    if not name:
        raise AddressError("empty domain name")
    try:
        ascii_name = idna.encode(name, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise AddressError(f"invalid domain name {domain!r}: {exc}") from None
    ascii_name = ascii_name.lower()
    if len(ascii_name) > 253:
        raise AddressError(f"domain name longer than 253 octets: {domain!r}")
    return ascii_name


def domain_to_unicode(domain: str) -> str:
    """A domain name (A-labels or U-labels, optional trailing dot) to lower-case U-labels.

    IDNA 2008 with the UTS 46 mapping. Raises :class:`AddressError` for an invalid name,
    such as an A-label that does not decode (``xn--zz``).
    """
    name = domain[:-1] if domain.endswith(".") else domain
    if not name:
        raise AddressError("empty domain name")
    try:
        return idna.decode(name, uts46=True)
    except (idna.IDNAError, UnicodeError) as exc:
        raise AddressError(f"invalid domain name {domain!r}: {exc}") from None


def _check_domain(domain: str) -> None:
    """Domain or address-literal, with the prose rules of RFC 5321 §4.1.2-4.1.3 and §4.5.3.1.2."""
    if domain.startswith("["):
        _literal_ip(domain)
        return
    if not _DOMAIN_RE.fullmatch(domain):
        raise AddressError(f"invalid domain {domain!r}")
    if _octets(domain) > MAX_DOMAIN_OCTETS:
        raise AddressError(f"domain longer than {MAX_DOMAIN_OCTETS} octets: {domain!r}")
    if domain.isascii():
        for label in domain.split("."):
            if len(label) > MAX_LABEL_OCTETS:
                raise AddressError(f"label longer than {MAX_LABEL_OCTETS} octets in {domain!r}")
        return
    # RFC 6531 §3.3: sub-domain =/ U-label, which must be valid IDNA (RFC 5890 §2.3.2.1).
    # domain_to_ascii checks every label (and the 63-octet limit on its A-label); the label
    # count check refuses a non-ASCII character that UTS 46 maps to a dot (U+3002 and kin).
    ascii_name = domain_to_ascii(domain)
    if ascii_name.count(".") != domain.count("."):
        raise AddressError(f"invalid domain {domain!r}: a label maps to a dot")


def _literal_ip(domain: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Validate an address-literal (RFC 5321 §4.1.3); its IP address, or None for a general one."""
    if not (domain.startswith("[") and domain.endswith("]")):
        raise AddressError(f"invalid address literal {domain!r}")
    inner = domain[1:-1]
    if _IPV4_RE.fullmatch(inner):
        # Snum: "a decimal integer value in the range 0 through 255".
        snums = [int(s) for s in inner.split(".")]
        if max(snums) > 255:
            raise AddressError(f"IPv4 address literal out of range: {domain!r}")
        return ipaddress.IPv4Address(bytes(snums))
    if inner[:5].lower() == _IPV6_TAG:
        if not _IPV6_RE.fullmatch(inner):
            raise AddressError(f"invalid IPv6 address literal {domain!r}")
        addr = inner[5:]
        if "::" in addr:
            # IPv6-comp: "No more than 6 groups in addition to the '::' may be present";
            # IPv6v4-comp: no more than 4, plus the IPv4 part (which stands for 2).
            groups = [g for g in re.split(r"::?", addr) if g]
            count = sum(2 if "." in g else 1 for g in groups)
            if count > 6:
                raise AddressError(f"'::' must stand for at least two groups: {domain!r}")
        try:
            return ipaddress.IPv6Address(addr)
        except ValueError as exc:
            raise AddressError(f"invalid IPv6 address literal {domain!r}: {exc}") from None
    if _GENERAL_RE.fullmatch(inner):
        return None
    raise AddressError(f"invalid address literal {domain!r}")


@dataclass(frozen=True, slots=True)
class Address:
    """A mailbox: ``local_part`` (the value, unquoted) at ``domain``.

    ``domain`` is kept as given: a name in A-labels or U-labels, or an address literal such as
    ``"[192.0.2.1]"`` or ``"[IPv6:2001:db8::1]"``. It is ``""`` only for the special recipient
    ``<Postmaster>`` (RFC 5321 §4.1.1.3), whose local part is then "postmaster" in any case.

    Building one validates it (RFC 5321 §4.1.2, RFC 6531 §3.3): no control characters, a local
    part that a Dot-string or Quoted-string can carry, a valid domain or literal, and the
    length limits of §4.5.3.1 (local part 64 octets as written, quotes and quoted-pairs
    included; domain 255; the whole path 256), counted in octets of UTF-8. Any breach raises
    :class:`AddressError`.
    """

    local_part: str
    domain: str
    # The canonical text (``str(address)``), worked out once here: every MAIL and RCPT
    # formats its address, and an Address is immutable.
    _text: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fields: tuple[object, ...] = (self.local_part, self.domain)
        if not all(isinstance(v, str) for v in fields):
            raise AddressError("local_part and domain must be str")
        local, domain = self.local_part, self.domain
        for field_name, value in (("local part", local), ("domain", domain)):
            if _CONTROL_RE.search(value):
                raise AddressError(f"control character in {field_name}: {value!r}")
        if not domain:
            if not _POSTMASTER_RE.fullmatch(local):
                raise AddressError("a mailbox needs a domain (only Postmaster may go without)")
            object.__setattr__(self, "_text", local)
            return
        if not _LOCAL_VALUE_RE.fullmatch(local):
            raise AddressError(f"invalid local part {local!r}")
        local_text = _format_local(local)
        if _octets(local_text) > MAX_LOCAL_PART_OCTETS:
            raise AddressError(f"local part longer than {MAX_LOCAL_PART_OCTETS} octets")
        _check_domain(domain)
        # The Path around this mailbox ("<" mailbox ">") must fit in 256 octets.
        if _octets(local_text) + 1 + _octets(domain) + 2 > MAX_PATH_OCTETS:
            raise AddressError(f"path longer than {MAX_PATH_OCTETS} octets", _PATH_TOO_LONG)
        object.__setattr__(self, "_text", f"{local_text}@{domain}")

    @classmethod
    def parse(cls, text: str, *, smtputf8: bool = True) -> Address:
        """Parse a Mailbox, ``local@domain`` without angle brackets.

        With ``smtputf8=False`` a non-ASCII mailbox raises :class:`AddressError` with the
        553 5.6.7 reply hint (RFC 6531 §3.5).
        """
        if not smtputf8 and not text.isascii():
            raise _non_ascii_error("mailbox", text)
        if _octets(text) > MAX_PATH_OCTETS:
            raise AddressError(f"mailbox longer than {MAX_PATH_OCTETS} octets", _PATH_TOO_LONG)
        m = _MAILBOX_RE.fullmatch(text)
        if m is None:
            raise AddressError(f"invalid mailbox {text!r}")
        return cls(_parse_local(m["local"]), m["domain"])

    def __str__(self) -> str:
        """The canonical Mailbox text: the local part is quoted only when it must be."""
        return self._text

    @property
    def is_postmaster(self) -> bool:
        """True for the domain-less ``<Postmaster>`` recipient of RFC 5321 §4.1.1.3."""
        return not self.domain

    @property
    def is_literal(self) -> bool:
        """True when the domain is an address literal (``[...]``)."""
        return self.domain.startswith("[")

    @property
    def literal_ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        """The IP address of an IPv4 or IPv6 literal; None for a name or a general literal."""
        return _literal_ip(self.domain) if self.is_literal else None

    @property
    def is_ascii(self) -> bool:
        """True when the mailbox is ASCII as it stands (no U-labels, no UTF-8 local part)."""
        return self.local_part.isascii() and self.domain.isascii()

    @property
    def needs_smtputf8(self) -> bool:
        """True when this mailbox cannot be sent without SMTPUTF8 (RFC 6531 §3.4).

        That is the case exactly when the local part is not ASCII. A U-label domain does not
        need SMTPUTF8 by itself: construction guarantees it converts to A-labels, so a client
        facing a server without SMTPUTF8 sends :meth:`to_ascii` instead. (:attr:`is_ascii` says
        whether the text *as it stands* is ASCII.)
        """
        return not self.local_part.isascii()

    @property
    def ascii_domain(self) -> str:
        """The domain in A-labels (lower case, via :func:`domain_to_ascii`).

        ASCII names are returned unchanged (they are already in wire form; IDNA would refuse
        some valid LDH names such as ``ab--cd``), and so are address literals.
        """
        if self.domain.isascii():
            return self.domain
        return domain_to_ascii(self.domain)

    def to_ascii(self) -> Address:
        """This mailbox with its domain in A-labels; AddressError when the local part is UTF-8."""
        if not self.local_part.isascii():
            raise _non_ascii_error("local part", self.local_part)
        if self.domain.isascii():
            return self
        return Address(self.local_part, self.ascii_domain)

    @property
    def normalized_domain(self) -> str:
        """A key for grouping by domain: lower-case A-labels, or a canonical literal.

        Local parts are left alone: they may be case-sensitive (RFC 5321 §2.4).
        """
        if not self.domain:
            return ""
        if not self.is_literal:
            return self.domain.lower() if self.domain.isascii() else domain_to_ascii(self.domain)
        ip = self.literal_ip
        if isinstance(ip, ipaddress.IPv6Address):
            return f"[IPv6:{ip.compressed}]"
        if ip is not None:
            return f"[{ip}]"
        tag, _, content = self.domain[1:-1].partition(":")
        return f"[{tag.lower()}:{content}]"


def format_path(addr: Address | None) -> str:
    """``<mailbox>`` for an address, ``<>`` for None (the null reverse-path)."""
    return "<>" if addr is None else f"<{addr}>"


def parse_path(
    text: str,
    *,
    smtputf8: bool = False,
    strict: bool = True,
    null: bool = False,
    postmaster: bool = False,
) -> Address | None:
    """Parse a Reverse-path or Forward-path (RFC 5321 §4.1.2), e.g. ``<a@b.example>``.

    * A source route (``<@r1,@r2:a@b>``) is accepted and dropped (RFC 5321 §4.1.1.3, App. C).
    * ``null=True``: ``<>`` gives None (a Reverse-path); otherwise it is an error.
    * ``postmaster=True``: ``<Postmaster>`` in any case gives ``Address("Postmaster", "")``.
    * ``smtputf8=False``: non-ASCII raises AddressError with the 553 5.6.7 hint.
    * ``strict=False`` also takes the common deviations: no angle brackets (``a@b``) and
      spaces inside or around them (``< a@b >``).

    The path may be at most 256 octets (RFC 5321 §4.5.3.1.3).
    """
    if not smtputf8 and not text.isascii():
        raise _non_ascii_error("path", text)
    raw = text if strict else text.strip(" \t")
    if _octets(raw) > MAX_PATH_OCTETS:
        raise AddressError(f"path longer than {MAX_PATH_OCTETS} octets", _PATH_TOO_LONG)
    if len(raw) >= 2 and raw.startswith("<") and raw.endswith(">"):
        inner = raw[1:-1] if strict else raw[1:-1].strip(" \t")
    elif strict:
        raise AddressError(f"path must be in angle brackets: {text!r}")
    elif not raw:
        raise AddressError("empty path")
    else:
        inner = raw
    if not inner:
        if null:
            return None
        raise AddressError("null path <> is not allowed here")
    if postmaster and _POSTMASTER_RE.fullmatch(inner):
        return Address("Postmaster", "")
    m = _PATH_INNER_RE.fullmatch(inner)
    if m is None:
        raise AddressError(f"invalid path {text!r}")
    return Address(_parse_local(m["local"]), m["domain"])


def _end_of_path(arg: str) -> int:
    """Index of the ``>`` that closes the path starting at ``arg[0] == "<"``, or -1.

    A ``>`` inside a Quoted-string local part does not count (a backslash there escapes the
    next character, quoted-pairSMTP), nor one inside an address literal (dcontent takes ``>``
    and ends only at ``]``).
    """
    in_quote = in_literal = False
    i = 1
    while i < len(arg):
        c = arg[i]
        if in_quote:
            if c == "\\":
                i += 1
            elif c == '"':
                in_quote = False
        elif in_literal:
            in_literal = c != "]"
        elif c == '"':
            in_quote = True
        elif c == "[":
            in_literal = True
        elif c == ">":
            return i
        i += 1
    return -1


def _end_of_bare_path(arg: str) -> int:
    """Index of the first space or tab outside a Quoted-string, or len(arg)."""
    in_quote = False
    i = 0
    while i < len(arg):
        c = arg[i]
        if in_quote:
            if c == "\\":
                i += 1
            elif c == '"':
                in_quote = False
        elif c == '"':
            in_quote = True
        elif c in " \t":
            return i
        i += 1
    return len(arg)


def split_path_and_params(arg: str, *, strict: bool) -> tuple[str, str]:
    """Split the argument of MAIL FROM: / RCPT TO: into (path text, parameters text).

    ``"<a@b> SIZE=10 BODY=8BITMIME"`` gives ``("<a@b>", "SIZE=10 BODY=8BITMIME")``. The
    path ends at the first ``>`` outside a quoted local part, so ``<"x > y"@b> X=1`` splits
    after ``@b>``. Strictly (RFC 5321 §4.1.1.2-3) the path starts at once with ``<`` and one
    SP separates it from the parameters; with ``strict=False`` leading spaces, a path without
    brackets (ending at the first space outside quotes) and several spaces are accepted. The
    path text is not validated here: pass it to :func:`parse_path`.
    """
    s = arg if strict else arg.lstrip(" \t")
    if s.startswith("<"):
        end = _end_of_path(s)
        if end < 0:
            raise AddressError(f"unterminated path (no closing '>'): {arg!r}")
        end += 1
    elif strict:
        raise AddressError(f"path must start with '<': {arg!r}")
    else:
        end = _end_of_bare_path(s)
        if end == 0:
            raise AddressError("empty path")
    path, rest = s[:end], s[end:]
    if not rest:
        return path, ""
    if strict:
        # Mail-parameters: SP esmtp-param *(SP esmtp-param); exactly one SP, no trailing SP.
        if rest[0] != " " or len(rest) == 1 or rest[1] == " ":
            raise AddressError(f"bad separator after the path: {arg!r}", PARAM_SYNTAX)
        return path, rest[1:]
    if rest[0] not in " \t":
        raise AddressError(f"no space between the path and the parameters: {arg!r}", PARAM_SYNTAX)
    return path, rest.strip(" \t")


# ---------------------------------------------------------------------------------------------
# xtext (RFC 3461 §4) and the RFC 6533 §3 utf-8 address forms
# ---------------------------------------------------------------------------------------------

_XTEXT_RE: Final = re.compile(_abnf.XTEXT)
_XCHARS: Final = frozenset(chr(c) for c in range(33, 127)) - {"+", "="}
_HEXCHAR_RE: Final = re.compile(_abnf.HEXCHAR)
_UTF8_ADDR_XTEXT_RE: Final = re.compile(_abnf.UTF8_ADDR_XTEXT)
_UTF8_ADDR_UNITEXT_RE: Final = re.compile(_abnf.UTF8_ADDR_UNITEXT)
_EMBEDDED_RE: Final = re.compile(r"\\x\{([0-9A-Fa-f]+)\}")
_QCHARS: Final = _XCHARS - {"\\"}
_UNI_RE: Final = re.compile(_abnf.UTF8_NON_ASCII)
# The ASCII code points HEXPOINT can stand for (the "xtext-specials": 01-09, 10-19, SP, "+",
# "=", DEL and "\"). The others (NUL, 0A-0F, 1A-1F) cannot be written in these forms at all.
_EMBEDDABLE_ASCII: Final = frozenset(
    chr(c) for c in [*range(0x01, 0x0A), *range(0x10, 0x1A), 0x20, 0x2B, 0x3D, 0x7F, 0x5C]
)


def xtext_encode(text: str) -> str:
    """Encode as xtext (RFC 3461 §4): UTF-8 octets outside xchar become ``+XX``.

    Raises :class:`AddressError` for text that has no UTF-8 form (a lone surrogate).
    """
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise AddressError("text has no UTF-8 form (lone surrogate)", PARAM_SYNTAX) from None
    return "".join(chr(b) if chr(b) in _XCHARS else f"+{b:02X}" for b in data)


def xtext_decode(text: str) -> str:
    """Decode xtext (RFC 3461 §4); the octets must be UTF-8.

    Malformed xtext (``+ZZ``, a lower-case ``+2b``, ``+`` at the end, a character outside
    xchar such as SP or ``=``) raises :class:`AddressError` with the 501 5.5.4 hint.
    """
    if not _XTEXT_RE.fullmatch(text):
        raise AddressError(f"malformed xtext {text!r}", PARAM_SYNTAX)
    data = _HEXCHAR_RE.sub(lambda m: chr(int(m[0][1:], 16)), text).encode("latin-1")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise AddressError(f"xtext is not UTF-8: {text!r}", PARAM_SYNTAX) from None


def _embed(c: str) -> str:
    if c.isascii() and c not in _EMBEDDABLE_ASCII:
        raise AddressError(f"{c!r} cannot be written as an RFC 6533 \\x{{}} escape", PARAM_SYNTAX)
    if "\ud800" <= c <= "\udfff":
        raise AddressError("text has no UTF-8 form (lone surrogate)", PARAM_SYNTAX)
    # HEXPOINT: the ASCII specials in two digits ("01"), others without leading zeros.
    return f"\\x{{{ord(c):02X}}}"


def utf8_addr_xtext_encode(text: str) -> str:
    """Encode as utf-8-addr-xtext (RFC 6533 §3): all but QCHAR become ``\\x{HEX}``.

    The result is ASCII and also valid xtext, so it fits ORCPT without SMTPUTF8. NUL, CR, LF
    and the other controls HEXPOINT leaves out raise :class:`AddressError` (501 5.5.4).
    """
    if not text:
        raise AddressError("utf-8-addr-xtext cannot be empty", PARAM_SYNTAX)
    return "".join(c if c in _QCHARS else _embed(c) for c in text)


def utf8_addr_unitext_encode(text: str) -> str:
    """Encode as utf-8-addr-unitext (RFC 6533 §3): non-ASCII stays, ASCII specials escaped."""
    if not text:
        raise AddressError("utf-8-addr-unitext cannot be empty", PARAM_SYNTAX)
    return "".join(
        c if c in _QCHARS or (not c.isascii() and _UNI_RE.fullmatch(c)) else _embed(c) for c in text
    )


def _unembed(text: str, grammar: re.Pattern[str], form: str) -> str:
    if not grammar.fullmatch(text):
        raise AddressError(f"malformed {form} {text!r}", PARAM_SYNTAX)
    return _EMBEDDED_RE.sub(lambda m: chr(int(m[1], 16)), text)


def utf8_addr_xtext_decode(text: str) -> str:
    """Decode utf-8-addr-xtext (RFC 6533 §3); malformed input raises AddressError (501 5.5.4)."""
    return _unembed(text, _UTF8_ADDR_XTEXT_RE, "utf-8-addr-xtext")


def utf8_addr_unitext_decode(text: str) -> str:
    """Decode utf-8-addr-unitext (RFC 6533 §3), which may also carry raw UTF-8."""
    return _unembed(text, _UTF8_ADDR_UNITEXT_RE, "utf-8-addr-unitext")

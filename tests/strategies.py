"""Hypothesis strategies shared by the test suite.

A plain module of top-level strategy functions. Everything generated here is valid input for
smtpcore (the strategies build values, they do not guess and filter much), so properties can
assert round trips.
"""

from __future__ import annotations

import ipaddress

from hypothesis import strategies as st

from smtpcore._addresses import Address, AddressError, domain_to_ascii
from smtpcore._events import (
    Auth,
    Bdat,
    Command,
    Data,
    DeliverBy,
    Ehlo,
    Expn,
    Helo,
    Help,
    Lhlo,
    Mail,
    MailParams,
    Noop,
    OriginalRecipient,
    Quit,
    Rcpt,
    RcptParams,
    Reply,
    Rset,
    StartTLS,
    UnknownCommand,
    Vrfy,
)

__all__ = [
    "address_literals",
    "ascii_domains",
    "commands",
    "domains",
    "esmtp_keywords",
    "esmtp_values",
    "local_parts",
    "mail_params",
    "mailboxes",
    "message_bodies",
    "original_recipients",
    "rcpt_params",
    "replies",
]

_LET_DIG = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# RFC 5322 §3.2.3 atext, without letters and digits.
_ATEXT_SIGNS = "!#$%&'*+-/=?^_`{|}~"
# Letters that are PVALID in IDNA 2008 and need no context rule: Latin with diacritics,
# Cyrillic, Greek, CJK. Kept left-to-right so the Bidi rule (RFC 5893) never applies.
_U_LETTERS = "äöüéèñçøåæœßабвгдежзийклмнαβγδεζηθλμ中文日本語한국"


@st.composite
def _ldh_label(draw: st.DrawFn, *, max_size: int = 20) -> str:
    """An RFC 5321 sub-domain: Let-dig [Ldh-str], no "--" in positions 3-4 (IDNA R-LDH)."""
    first = draw(st.sampled_from(_LET_DIG))
    middle = draw(st.text(alphabet=_LET_DIG + "-", max_size=max_size))
    last = draw(st.sampled_from(_LET_DIG)) if middle else ""
    label = first + middle + last
    if label[2:4] == "--":
        label = label[:2] + "x" + label[3:]
    return label


def ascii_domains() -> st.SearchStrategy[str]:
    """Domains in LDH labels (RFC 5321 §4.1.2 Domain), 1 to 4 labels, mixed case."""
    return st.lists(_ldh_label(), min_size=1, max_size=4).map(".".join)


@st.composite
def _u_label(draw: st.DrawFn) -> str:
    """A U-label: a few letters, at least one of them non-ASCII, no leading/trailing hyphen."""
    letters = st.sampled_from(_U_LETTERS + "abcdefghijklmnopqrstuvwxyz0123456789")
    chars = draw(st.lists(letters, min_size=1, max_size=12))
    chars[draw(st.integers(0, len(chars) - 1))] = draw(st.sampled_from(_U_LETTERS))
    return "".join(chars)


@st.composite
def _idn_domain(draw: st.DrawFn) -> str:
    labels = draw(st.lists(st.one_of(_u_label(), _ldh_label(max_size=8)), min_size=1, max_size=3))
    if all(label.isascii() for label in labels):
        labels[0] = draw(_u_label())
    name = ".".join(labels)
    domain_to_ascii(name)  # every label drawn above is valid IDNA; fail loudly if not
    return name


def domains() -> st.SearchStrategy[str]:
    """Domains: LDH names (A-labels included) and names with U-labels (RFC 6531 §3.3)."""
    return st.one_of(ascii_domains(), _idn_domain())


def _ipv6_text(addr: ipaddress.IPv6Address, form: int) -> str:
    if form == 0:
        return addr.compressed
    if form == 1:
        return addr.exploded.upper()
    # IPv6v4-full: six hex groups and a dotted quad (RFC 5321 §4.1.3).
    groups = addr.exploded.split(":")
    v4 = ipaddress.IPv4Address(addr.packed[12:])
    return ":".join(groups[:6]) + ":" + str(v4)


@st.composite
def _ipv6_literal(draw: st.DrawFn) -> str:
    addr = draw(st.ip_addresses(v=6))
    assert isinstance(addr, ipaddress.IPv6Address)
    tag = draw(st.sampled_from(["IPv6", "ipv6", "IPV6"]))
    return f"[{tag}:{_ipv6_text(addr, draw(st.integers(0, 2)))}]"


@st.composite
def _general_literal(draw: st.DrawFn) -> str:
    tag = draw(_ldh_label(max_size=6))
    if tag.lower() == "ipv6":
        tag = "x-" + tag
    # dcontent = %d33-90 / %d94-126
    dcontent = "".join(chr(c) for c in [*range(33, 91), *range(94, 127)])
    content = draw(st.text(alphabet=dcontent, min_size=1, max_size=20))
    return f"[{tag}:{content}]"


def address_literals() -> st.SearchStrategy[str]:
    """RFC 5321 §4.1.3 address literals, with brackets: IPv4, IPv6 (all three forms), general."""
    ipv4 = st.ip_addresses(v=4).map(lambda a: f"[{a}]")
    return st.one_of(ipv4, _ipv6_literal(), _general_literal())


_ATOM_ALPHABET = _LET_DIG + _ATEXT_SIGNS
# UTF8-non-ascii as smtpcore reads it: no C1 controls, no surrogates (see _abnf).
_NON_ASCII = st.characters(min_codepoint=0xA0, codec="utf-8")


def _dot_string(smtputf8: bool) -> st.SearchStrategy[str]:
    char = st.sampled_from(_ATOM_ALPHABET)
    if smtputf8:
        char = st.one_of(char, _NON_ASCII)
    atom = st.text(alphabet=char, min_size=1, max_size=10)
    return st.lists(atom, min_size=1, max_size=4).map(".".join)


def _quoted_value(smtputf8: bool) -> st.SearchStrategy[str]:
    """Values that need (or may need) a Quoted-string: SP, specials, dots in odd places."""
    char = st.characters(min_codepoint=32, max_codepoint=126)
    if smtputf8:
        char = st.one_of(char, _NON_ASCII)
    return st.text(alphabet=char, max_size=30)


def _fits(value: str) -> bool:
    try:
        Address(value, "x.example")
    except AddressError:
        return False
    return True


def local_parts(smtputf8: bool = False) -> st.SearchStrategy[str]:
    """Local-part *values* (unquoted) that fit in 64 octets once written out.

    Dot-strings, and arbitrary values that need quoting (with ``"`` and ``\\`` that need
    quoted-pairs, and the empty value). ``smtputf8=True`` adds UTF-8 (RFC 6531 §3.3).
    """
    return st.one_of(_dot_string(smtputf8), _quoted_value(smtputf8)).filter(_fits)


@st.composite
def mailboxes(draw: st.DrawFn, smtputf8: bool = False) -> Address:
    """Valid :class:`Address` values (never the domain-less Postmaster)."""
    local = draw(local_parts(smtputf8))
    if smtputf8:
        domain = draw(st.one_of(domains(), address_literals()))
    else:
        domain = draw(st.one_of(ascii_domains(), address_literals()))
    # Local part <= 64 octets and domain <= ~150 octets: the 256-octet path always fits.
    return Address(local, domain)


# --- ESMTP parameters, commands, replies and message bodies (core codec tests) ------------

_TYPED_MAIL = {
    "SIZE",
    "BODY",
    "SMTPUTF8",
    "RET",
    "ENVID",
    "AUTH",
    "REQUIRETLS",
    "MT-PRIORITY",
    "BY",
}
_TYPED_RCPT = {"NOTIFY", "ORCPT"}
# esmtp-value = 1*(%d33-60 / %d62-126) (RFC 5321 §4.1.2), plus UTF8-non-ascii (RFC 6531 §3.3)
_ESMTP_VALUE_ASCII = "".join(chr(c) for c in [*range(33, 61), *range(62, 127)])
_PRINTABLE = "".join(chr(c) for c in range(32, 127))


def esmtp_keywords(exclude: frozenset[str] = frozenset()) -> st.SearchStrategy[str]:
    """RFC 5321 §4.1.2 esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"), any case."""
    return (
        st.tuples(st.sampled_from(_LET_DIG), st.text(alphabet=_LET_DIG + "-", max_size=10))
        .map("".join)
        .filter(lambda k: k.upper() not in exclude)
    )


def esmtp_values(utf8: bool = False) -> st.SearchStrategy[str]:
    """esmtp-value; with ``utf8`` also UTF8-non-ascii (RFC 6531 §3.3)."""
    char = st.sampled_from(_ESMTP_VALUE_ASCII)
    if utf8:
        char = st.one_of(char, _NON_ASCII)
    return st.text(alphabet=char, min_size=1, max_size=20)


@st.composite
def _extra_params(
    draw: st.DrawFn, exclude: frozenset[str], utf8: bool
) -> tuple[tuple[str, str | None], ...]:
    keys = draw(st.lists(esmtp_keywords(exclude), max_size=3, unique_by=lambda k: k.upper()))
    return tuple((k, draw(st.none() | esmtp_values(utf8))) for k in keys)


@st.composite
def mail_params(draw: st.DrawFn, utf8: bool = False) -> MailParams:
    """Every typed MAIL FROM parameter (RFC 1870, 6152, 3030, 6531, 3461, 4954, 8689, 6710,
    2852), each present or not, and unknown ones kept raw."""
    mode = draw(st.sampled_from(["R", "N"]))
    by = draw(
        st.none()
        | st.builds(
            DeliverBy,
            seconds=st.integers(1 if mode == "R" else -999_999_999, 999_999_999),
            mode=st.just(mode),
            trace=st.booleans(),
        )
    )
    return MailParams(
        size=draw(st.none() | st.integers(0, 10**20 - 1)),
        body=draw(st.sampled_from([None, "7BIT", "8BITMIME", "BINARYMIME"])),
        smtputf8=utf8 or draw(st.booleans()),
        ret=draw(st.sampled_from([None, "FULL", "HDRS"])),
        envid=draw(st.none() | st.text(alphabet=_PRINTABLE, min_size=1, max_size=100)),
        auth=draw(
            st.none() | st.just("<>") | st.text(alphabet=_PRINTABLE + "é€", min_size=1, max_size=40)
        ),
        requiretls=draw(st.booleans()),
        mt_priority=draw(st.none() | st.integers(-9, 9)),
        by=by,
        extra=draw(_extra_params(frozenset(_TYPED_MAIL), utf8)),
    )


_NOTIFY = st.one_of(
    st.none(),
    st.just(("NEVER",)),
    st.lists(
        st.sampled_from(["SUCCESS", "FAILURE", "DELAY", "success", "Delay"]),
        min_size=1,
        max_size=3,
        unique_by=str.upper,
    ).map(tuple),
)


@st.composite
def original_recipients(draw: st.DrawFn) -> OriginalRecipient:
    """RFC 3461 §4.2 ORCPT: ``rfc822`` (xtext) or RFC 6533 ``utf-8`` addresses."""
    addr_type = draw(st.sampled_from(["rfc822", "RFC822", "utf-8", "x-other"]))
    if addr_type == "utf-8":
        # utf-8-addr-xtext can carry any character but NUL and the controls HEXPOINT omits
        char = st.one_of(st.sampled_from(_PRINTABLE), _NON_ASCII)
    else:
        char = st.one_of(st.sampled_from(_PRINTABLE), _NON_ASCII)
    address = draw(st.text(alphabet=char, min_size=1, max_size=40))
    return OriginalRecipient(addr_type=addr_type, address=address)


@st.composite
def rcpt_params(draw: st.DrawFn, utf8: bool = False) -> RcptParams:
    """RFC 3461 NOTIFY and ORCPT, and unknown parameters kept raw."""
    return RcptParams(
        notify=draw(_NOTIFY),
        orcpt=draw(st.none() | original_recipients()),
        extra=draw(_extra_params(frozenset(_TYPED_RCPT), utf8)),
    )


_WORD = st.text(alphabet=_ESMTP_VALUE_ASCII, min_size=1, max_size=15)
_ARGUMENT = st.lists(_WORD, min_size=1, max_size=3).map(" ".join)
_HOST = st.one_of(ascii_domains(), address_literals())
_UNKNOWN_VERBS = st.sampled_from(["XCLIENT", "ETRN", "TURN", "ATRN", "XFORWARD", "X-Foo"])


@st.composite
def mail_commands(draw: st.DrawFn) -> Mail:
    utf8 = draw(st.booleans())
    params = draw(mail_params(utf8=utf8))
    path = draw(st.none() | mailboxes(smtputf8=params.smtputf8))
    return Mail(reverse_path=path, params=params)


@st.composite
def rcpt_commands(draw: st.DrawFn, utf8: bool = False) -> Rcpt:
    path = draw(mailboxes(smtputf8=utf8) | st.just(Address("Postmaster", "")))
    return Rcpt(forward_path=path, params=draw(rcpt_params(utf8=utf8)))


def commands(utf8: bool = False) -> st.SearchStrategy[Command]:
    """Every command a client can send, with valid fields. ``utf8``: an SMTPUTF8 transaction
    is in effect (RCPT may carry UTF-8)."""
    return st.one_of(
        st.builds(Ehlo, hostname=_HOST),
        st.builds(Helo, hostname=_HOST),
        st.builds(Lhlo, hostname=_HOST),
        mail_commands(),
        rcpt_commands(utf8),
        st.just(Data()),
        st.builds(Bdat, size=st.integers(0, 10**20 - 1), last=st.booleans()),
        st.just(Rset()),
        st.builds(Vrfy, argument=_ARGUMENT),
        st.builds(Expn, argument=_ARGUMENT),
        st.builds(Help, argument=st.just("") | _ARGUMENT),
        st.builds(Noop, argument=st.just("") | _ARGUMENT),
        st.just(Quit()),
        st.just(StartTLS()),
        st.builds(
            Auth,
            mechanism=st.text(alphabet=_LET_DIG + "-_", min_size=1, max_size=20),
            initial_response=st.none() | st.binary(max_size=60),
        ),
        st.builds(UnknownCommand, name=_UNKNOWN_VERBS, argument=st.just("") | _ARGUMENT),
    )


# Reply text: HT, SP and printable US-ASCII (RFC 5321 §4.2 textstring), UTF-8 under SMTPUTF8
# (RFC 6531 §3.7.4).
_REPLY_CHAR = st.one_of(st.sampled_from(_PRINTABLE + "\t"), _NON_ASCII)


@st.composite
def replies(draw: st.DrawFn, max_line: int = 600) -> Reply:
    """Replies of one or more lines, some with an RFC 3463 enhanced code, some lines far over
    512 octets so that formatting has to wrap them."""
    code = draw(st.integers(200, 559).filter(lambda c: c % 100 < 60 and c // 10 % 10 <= 5))
    enhanced = draw(
        st.none()
        | st.builds(
            "{}.{}.{}".format,
            st.just(code // 100),
            st.integers(0, 999),
            st.integers(0, 999),
        )
    )
    words = st.text(alphabet=_REPLY_CHAR, min_size=1, max_size=30).filter(
        lambda w: w.strip(" \t") == w
    )
    text_lines = draw(
        st.lists(st.lists(words, max_size=max_line // 10).map(" ".join), min_size=1, max_size=4)
    )
    prefix = "" if enhanced is None else f"{enhanced} "
    return Reply(code=code, lines=tuple(f"{prefix}{t}".rstrip(" \t") for t in text_lines))


def message_bodies() -> st.SearchStrategy[bytes]:
    """Message bytes full of what the DATA codec must get right: dots at line starts, lone
    and paired CR and LF, "\\r\\n.\\r\\n" itself, and 8-bit octets."""
    piece = st.sampled_from(
        [b".", b"..", b"\r", b"\n", b"\r\n", b"\r\n.\r\n", b"\n.\n", b"\r.\r", b"x", b"\xff", b" "]
    )
    return st.lists(st.one_of(piece, st.binary(max_size=8)), max_size=40).map(b"".join)

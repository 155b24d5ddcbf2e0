"""Hypothesis strategies shared by the test suite.

A plain module of top-level strategy functions. Everything generated here is valid input for
smtpcore (the strategies build values, they do not guess and filter much), so properties can
assert round trips.
"""

from __future__ import annotations

import ipaddress

from hypothesis import strategies as st

from smtpcore._addresses import Address, AddressError, domain_to_ascii

__all__ = [
    "address_literals",
    "ascii_domains",
    "domains",
    "local_parts",
    "mailboxes",
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

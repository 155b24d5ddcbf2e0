"""The grammar sources of smtpcore._abnf, rule by rule, against the RFC text.

Character classes are checked against the ranges written in the ABNF by enumerating every
ASCII character; bigger rules against the RFCs' examples and the cases their prose excludes.
"""

from __future__ import annotations

import re

import pytest

from smtpcore import _abnf


def full(source: str, text: str) -> bool:
    return re.fullmatch(source, text) is not None


def chars_matching(source: str, codepoints: range = range(128)) -> set[int]:
    pattern = re.compile(source)
    return {c for c in codepoints if pattern.fullmatch(chr(c))}


def test_sources_have_no_capture_groups() -> None:
    # Every source is embeddable: callers add the groups they want.
    for name in _abnf.__all__:
        source = getattr(_abnf, name)
        assert isinstance(source, str)
        assert re.compile(source).groups == 0, name


# --- character classes, straight from the ABNF ranges --------------------------------------


def test_let_dig_is_alpha_or_digit() -> None:
    expected = {*range(0x41, 0x5B), *range(0x61, 0x7B), *range(0x30, 0x3A)}
    assert chars_matching(_abnf.LET_DIG) == expected


def test_atext_is_rfc5322_list() -> None:
    # RFC 5322 §3.2.3: ALPHA / DIGIT / "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" /
    # "/" / "=" / "?" / "^" / "_" / "`" / "{" / "|" / "}" / "~"
    signs = "!#$%&'*+-/=?^_`{|}~"
    expected = chars_matching(_abnf.LET_DIG) | {ord(c) for c in signs}
    assert chars_matching(_abnf.ATEXT) == expected


def test_qtext_smtp_ranges() -> None:
    # qtextSMTP = %d32-33 / %d35-91 / %d93-126
    expected = {32, 33, *range(35, 92), *range(93, 127)}
    assert chars_matching(_abnf.QTEXT_SMTP) == expected


def test_quoted_pair_smtp_is_backslash_then_printable_or_space() -> None:
    # quoted-pairSMTP = %d92 %d32-126
    matched = {c for c in range(128) if full(_abnf.QUOTED_PAIR_SMTP, "\\" + chr(c))}
    assert matched == set(range(32, 127))


def test_dcontent_ranges() -> None:
    # dcontent = %d33-90 / %d94-126  (excl. "[", "\", "]")
    assert chars_matching(_abnf.DCONTENT) == {*range(33, 91), *range(94, 127)}


def test_esmtp_value_chars() -> None:
    # esmtp-value = 1*(%d33-60 / %d62-126): any CHAR excluding "=", SP, and controls
    assert chars_matching(_abnf.ESMTP_VALUE) == {*range(33, 61), *range(62, 127)}


def test_xchar_excludes_plus_and_equals() -> None:
    # RFC 3461 §4: xchar = "!" (33) to "~" (126) except "+" and "="
    assert chars_matching(_abnf.XCHAR) == set(range(33, 127)) - {ord("+"), ord("=")}


def test_qchar_ranges() -> None:
    # RFC 6533 §3: QCHAR = %x21-2a / %x2c-3c / %x3e-5b / %x5d-7e
    expected = {*range(0x21, 0x2B), *range(0x2C, 0x3D), *range(0x3E, 0x5C), *range(0x5D, 0x7F)}
    assert chars_matching(_abnf.QCHAR) == expected


def test_ehlo_param_chars() -> None:
    # ehlo-param = 1*(%d33-126)
    assert chars_matching(_abnf.EHLO_PARAM) == set(range(33, 127))


def test_utf8_non_ascii() -> None:
    # RFC 6531 §3.3 UTF8-non-ascii, minus C1 controls and lone surrogates (see _abnf).
    assert chars_matching(_abnf.UTF8_NON_ASCII) == set()
    for ch in ["\u00a0", "ü", "\u4e2d", "\U0001f600", "\U0010ffff"]:
        assert full(_abnf.UTF8_NON_ASCII, ch)
    for ch in ["\x80", "\x85", "\x9f", "\ud800", "\udfff"]:
        assert not full(_abnf.UTF8_NON_ASCII, ch)


def test_utf8_extensions_are_only_in_the_utf8_rules() -> None:
    # RFC 6531 §3.3: atext =/ UTF8-non-ascii, qtextSMTP =/ ..., esmtp-value =/ ...
    pairs = [
        (_abnf.ATOM, _abnf.ATOM_UTF8, "grüße"),
        (_abnf.QUOTED_STRING, _abnf.QUOTED_STRING_UTF8, '"grüße dich"'),
        (_abnf.ESMTP_VALUE, _abnf.ESMTP_VALUE_UTF8, "wert\u00e9"),
        (_abnf.DOMAIN, _abnf.DOMAIN_UTF8, "bücher.example"),
        (_abnf.MAILBOX, _abnf.MAILBOX_UTF8, "用户@例子.广告"),
    ]
    for ascii_rule, utf8_rule, text in pairs:
        assert not full(ascii_rule, text)
        assert full(utf8_rule, text)


# --- domains --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["a", "a-b", "-a", "--a", "a--b", "0"])
def test_ldh_str_accepts(text: str) -> None:
    # Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig: may start with "-", must end with Let-dig
    assert full(_abnf.LDH_STR, text)


@pytest.mark.parametrize("text", ["", "a-", "-", "a_b", "a.b"])
def test_ldh_str_refuses(text: str) -> None:
    assert not full(_abnf.LDH_STR, text)


@pytest.mark.parametrize("text", ["a", "ab", "a-b", "0a", "a--b", "xn--bcher-kva"])
def test_sub_domain_accepts(text: str) -> None:
    # sub-domain = Let-dig [Ldh-str]
    assert full(_abnf.SUB_DOMAIN, text)


@pytest.mark.parametrize("text", ["-a", "a-", "", "a b", "a_b", "ü"])
def test_sub_domain_refuses(text: str) -> None:
    assert not full(_abnf.SUB_DOMAIN, text)


@pytest.mark.parametrize("text", ["bar.com", "y.foo.org", "d.bar.org", "localhost", "1.2.3.4"])
def test_domain_accepts(text: str) -> None:
    # Domain = sub-domain *("." sub-domain); examples from RFC 5321 §3.3 and App. C
    assert full(_abnf.DOMAIN, text)


@pytest.mark.parametrize("text", ["", ".", "a.", ".a", "a..b", "a.-b", "a .b"])
def test_domain_refuses(text: str) -> None:
    assert not full(_abnf.DOMAIN, text)


def test_u_label_shape() -> None:
    # RFC 6531 §3.3: sub-domain =/ U-label
    assert full(_abnf.SUB_DOMAIN_UTF8, "bücher")
    assert full(_abnf.SUB_DOMAIN_UTF8, "例子")
    assert not full(_abnf.SUB_DOMAIN_UTF8, "-bücher")
    assert not full(_abnf.SUB_DOMAIN_UTF8, "bücher-")


# --- address literals (RFC 5321 §4.1.3) -----------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[192.0.2.1]",
        "[0.0.0.0]",
        "[IPv6:2001:db8::1]",
        "[ipv6:2001:DB8::1]",  # "IPv6:" is an ABNF quoted string: case-insensitive
        "[IPv6:1:2:3:4:5:6:7:8]",  # IPv6-full
        "[IPv6:::]",  # IPv6-comp, both sides empty
        "[IPv6:::1]",
        "[IPv6:1:2:3:4:5:6:192.0.2.1]",  # IPv6v4-full
        "[IPv6:::ffff:192.0.2.1]",  # IPv6v4-comp
        "[IPv6:::192.0.2.1]",
        "[x-tag:anything!here]",  # General-address-literal
    ],
)
def test_address_literal_accepts(text: str) -> None:
    assert full(_abnf.ADDRESS_LITERAL, text)


@pytest.mark.parametrize(
    "text",
    [
        "192.0.2.1",  # no brackets
        "[192.0.2]",
        "[1234.0.0.1]",  # Snum = 1*3DIGIT
        "[IPv6:1:2:3:4:5:6:7:8:9]",
        "[IPv6:12345::1]",  # IPv6-hex = 1*4HEXDIG
        "[IPv6:2001:db8::1%eth0]",  # no zone index
        "[tag:]",  # 1*dcontent
        "[tag:a[b]",
        "[tag:a\\b]",
        "[tag:a b]",
        "[:content]",  # Standardized-tag = Ldh-str, non-empty
        "[IPv6:not-an-address]",  # the IPv6 tag is not a general literal's
    ],
)
def test_address_literal_refuses(text: str) -> None:
    assert not full(_abnf.ADDRESS_LITERAL, text)


def test_ipv6_forms_are_distinct_rules() -> None:
    assert full(_abnf.IPV6_FULL, "1:2:3:4:5:6:7:8")
    assert not full(_abnf.IPV6_FULL, "1::8")
    assert full(_abnf.IPV6_COMP, "1::8")
    assert full(_abnf.IPV6V4_FULL, "1:2:3:4:5:6:1.2.3.4")
    assert not full(_abnf.IPV6V4_FULL, "1:2:3:4:5:1.2.3.4")
    assert full(_abnf.IPV6V4_COMP, "1:2:3:4::5:1.2.3.4")
    # IPv6v4-comp allows at most 4 groups on each side of "::"
    assert not full(_abnf.IPV6V4_COMP, "1:2:3:4:5::1.2.3.4")


# --- local parts, mailboxes, paths (RFC 5321 §4.1.2) ----------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "userx",
        "Smith",
        "customer/department=shipping",  # RFC 3696 §3
        "$A12345",
        "!def!xyz%abc",
        "_somename",
        "first.last",
        '"Abc@def"',
        '"Fred\\ Bloggs"',
        '"Joe.\\\\Blow"',
        '"Abc\\@def"',
        '""',
        '"a..b"',
    ],
)
def test_local_part_accepts(text: str) -> None:
    assert full(_abnf.LOCAL_PART, text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a..b",  # Dot-string = Atom *("." Atom)
        ".a",
        "a.",
        "a b",
        "Abc\\@def",  # a quoted-pair only inside a Quoted-string
        '"abc',
        '"a"b"',
        '"a\\"',  # the closing quote is escaped
        '"a\tb"',  # HT is not qtextSMTP
        "a(comment)",
    ],
)
def test_local_part_refuses(text: str) -> None:
    assert not full(_abnf.LOCAL_PART, text)


def test_paths_from_rfc5321_examples() -> None:
    # RFC 5321 §3.3 and Appendix C
    assert full(_abnf.REVERSE_PATH, "<userx@y.foo.org>")
    assert full(_abnf.REVERSE_PATH, "<>")
    assert full(_abnf.FORWARD_PATH, "<Smith@bar.com>")
    assert full(_abnf.FORWARD_PATH, "<@hosta.int,@jkl.org:userc@d.bar.org>")
    assert not full(_abnf.FORWARD_PATH, "<>")
    assert not full(_abnf.FORWARD_PATH, "Smith@bar.com")
    assert not full(_abnf.FORWARD_PATH, "<@hosta.int,jkl.org:userc@d.bar.org>")
    assert not full(_abnf.FORWARD_PATH, "<@hosta.int:>")
    assert full(_abnf.PATH_UTF8, "<@例子.广告:用户@例子.广告>")


def test_postmaster_is_case_insensitive() -> None:
    for text in ["Postmaster", "postmaster", "POSTMASTER"]:
        assert full(_abnf.POSTMASTER, text)
    assert not full(_abnf.POSTMASTER, "postmaster@x")


# --- parameters -----------------------------------------------------------------------------


def test_esmtp_params() -> None:
    # esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"); esmtp-param = kw ["=" value]
    for text in ["SIZE=1000", "BODY=8BITMIME", "SMTPUTF8", "X-FOO=a<b>c", "0X=1"]:
        assert full(_abnf.ESMTP_PARAM, text)
    for text in ["-X=1", "X=", "X=a=b", "X=a b", "=1", "X_Y=1"]:
        assert not full(_abnf.ESMTP_PARAM, text)
    assert full(_abnf.MAIL_PARAMETERS, "SIZE=10 BODY=8BITMIME")
    assert not full(_abnf.MAIL_PARAMETERS, "SIZE=10  BODY=8BITMIME")
    assert not full(_abnf.MAIL_PARAMETERS, "SIZE=10 ")


def test_xtext_rule() -> None:
    # hexchar = "+" and two *upper case* hexadecimal digits
    for text in ["", "abc", "joe+2Bsmith@example.com", "+00+FF"]:
        assert full(_abnf.XTEXT, text)
    for text in ["+2b", "+ZZ", "+2", "+", "a=b", "a b"]:
        assert not full(_abnf.XTEXT, text)


def test_hexpoint_covers_exactly_the_escapable_code_points() -> None:
    # RFC 6533 §3 (errata applied): HEXPOINT stands for "\" and the xtext-specials (01-09,
    # 10-19, SP, "+", "=", DEL) or a non-ASCII scalar value, written without leading zeros.
    specials = {*range(0x01, 0x0A), *range(0x10, 0x1A), 0x20, 0x2B, 0x3D, 0x7F, 0x5C}
    pattern = re.compile(_abnf.HEXPOINT)
    probe = [*range(0x3000), 0xD7FF, 0xD800, 0xDFFF, 0xE000, 0xFFFF, 0x10000, 0xFFFFF]
    probe += [0x100000, 0x10FFFF, 0x110000, 0x1FFFFF]
    for cp in probe:
        expected = cp in specials or (0x80 <= cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF)
        written = f"{cp:02X}"  # the 2-digit forms keep their leading zero ("01")
        assert (pattern.fullmatch(written) is not None) == expected, hex(cp)
    for text in ["00FC", "0FC", "1", "0", "00", "0A", "0D", "41", "010000", "1000000"]:
        assert not pattern.fullmatch(text), text
    assert pattern.fullmatch("fc")  # HEXDIG is case-insensitive (RFC 5234 §2.3)


def test_utf8_addr_forms() -> None:
    assert full(_abnf.UTF8_ADDR_XTEXT, "\\x{FC}ser@example.com")
    assert not full(_abnf.UTF8_ADDR_XTEXT, "üser@example.com")
    assert full(_abnf.UTF8_ADDR_UNITEXT, "üser@example.com")
    assert not full(_abnf.UTF8_ADDR_XTEXT, "")
    assert not full(_abnf.UTF8_ADDR_XTEXT, "a\\b")  # a bare "\" must be \x{5C}
    assert not full(_abnf.UTF8_ADDR_XTEXT, "a+b")
    assert not full(_abnf.UTF8_ADDR_XTEXT, "\\X{FC}")  # %x5C.78: the "x" is lower case


# --- replies and EHLO (RFC 5321 §4.2, §4.1.1.1) ---------------------------------------------


def test_reply_code() -> None:
    # Reply-code = %x32-35 %x30-35 %x30-39
    for text in ["220", "250", "354", "421", "554", "559"]:
        assert full(_abnf.REPLY_CODE, text)
    for text in ["199", "260", "600", "25", "2500", "2a0"]:
        assert not full(_abnf.REPLY_CODE, text)


def test_textstring_and_ehlo_keyword() -> None:
    assert full(_abnf.TEXTSTRING, "OK\tthanks")
    assert not full(_abnf.TEXTSTRING, "")
    assert not full(_abnf.TEXTSTRING, "bad\rline")
    assert full(_abnf.EHLO_KEYWORD, "8BITMIME")
    assert full(_abnf.EHLO_KEYWORD, "X-EXPS")
    assert not full(_abnf.EHLO_KEYWORD, "-X")
    assert full(_abnf.STRING, '"quoted string"')
    assert full(_abnf.STRING, "atom")

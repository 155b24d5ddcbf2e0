"""Mailboxes, paths, IDNA and xtext (smtpcore._addresses), from the RFC text.

RFC 5321 §4.1.2-4.1.3 (grammar), §4.1.1.3 and App. C (source routes, Postmaster), §4.5.3.1
(lengths); RFC 6531 §3.3 (UTF-8); RFC 3461 §4 (xtext); RFC 6533 §3 (utf-8 address forms).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest
from hypothesis import given, settings, strategies as st

from smtpcore import LocalProtocolError
from smtpcore._addresses import (
    Address,
    AddressError,
    domain_to_ascii,
    domain_to_unicode,
    format_path,
    parse_path,
    split_path_and_params,
    utf8_addr_unitext_decode,
    utf8_addr_unitext_encode,
    utf8_addr_xtext_decode,
    utf8_addr_xtext_encode,
    xtext_decode,
    xtext_encode,
)
from smtpcore._status import BAD_ADDRESS_SYNTAX, NON_ASCII_ADDRESS, PARAM_SYNTAX
from tests.strategies import (
    address_literals,
    ascii_domains,
    domains,
    local_parts,
    mailboxes,
)

# --- Address: parsing and canonical text -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "local", "domain"),
    [
        # RFC 5321 §3.3 and Appendix C
        ("userx@y.foo.org", "userx", "y.foo.org"),
        ("Smith@bar.com", "Smith", "bar.com"),
        # RFC 3696 §3 (those valid under RFC 5321)
        ("customer/department=shipping@example.com", "customer/department=shipping", "example.com"),
        ("$A12345@example.com", "$A12345", "example.com"),
        ("!def!xyz%abc@example.com", "!def!xyz%abc", "example.com"),
        ("_somename@example.com", "_somename", "example.com"),
        ('"Abc@def"@example.com', "Abc@def", "example.com"),
        ('"Fred\\ Bloggs"@example.com', "Fred Bloggs", "example.com"),
        ('"Joe.\\\\Blow"@example.com', "Joe.\\Blow", "example.com"),
        ('"Abc\\@def"@example.com', "Abc@def", "example.com"),
    ],
)
def test_parse_mailbox(text: str, local: str, domain: str) -> None:
    addr = Address.parse(text)
    assert addr == Address(local, domain)
    assert addr.local_part == local  # the value: quotes and quoted-pairs removed
    assert addr.domain == domain


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("john.doe", "john.doe@example.com"),
        ("Fred Bloggs", '"Fred Bloggs"@example.com'),  # SP is qtextSMTP: quoted, not escaped
        ("Joe.\\Blow", '"Joe.\\\\Blow"@example.com'),  # "\" needs a quoted-pair
        ('say "hi"', '"say \\"hi\\""@example.com'),  # so does DQUOTE
        ("Abc@def", '"Abc@def"@example.com'),
        ("a..b", '"a..b"@example.com'),  # not a Dot-string
        (".a", '".a"@example.com'),
        ("", '""@example.com'),  # Quoted-string = DQUOTE *QcontentSMTP DQUOTE
    ],
)
def test_str_quotes_only_when_needed(value: str, text: str) -> None:
    addr = Address(value, "example.com")
    assert str(addr) == text
    assert Address.parse(text) == addr


def test_unneeded_quotes_are_dropped() -> None:
    # RFC 5321 §4.1.2: the quoted form SHOULD NOT be used when not needed; it means the same.
    addr = Address.parse('"abc"@example.com')
    assert addr == Address("abc", "example.com")
    assert str(addr) == "abc@example.com"
    assert Address.parse('"a\\bc"@example.com') == Address("abc", "example.com")


@pytest.mark.parametrize(
    "text",
    [
        "a..b@example.com",  # Dot-string: no empty atom
        ".a@example.com",
        "a.@example.com",
        "@example.com",
        "a@",
        "a",
        "a@b@example.com",
        "Abc\\@def@example.com",  # quoted-pair only inside quotes
        "a b@example.com",
        '"a@example.com',
        "<a@example.com>",  # a Mailbox has no angle brackets
        "a@example.com.",  # no trailing dot in Domain
        "a@-example.com",
        "a@example-.com",
        "a@exa_mple.com",
        "a@.example.com",
        "a@example..com",
        "a@[192.0.2.1",
    ],
)
def test_parse_refuses(text: str) -> None:
    with pytest.raises(AddressError) as info:
        Address.parse(text)
    assert info.value.reply_hint == BAD_ADDRESS_SYNTAX  # 501 5.1.3
    assert isinstance(info.value, LocalProtocolError)


@pytest.mark.parametrize(
    ("local", "domain"),
    [
        ("a\r\nRCPT TO:<x@y>", "example.com"),
        ("a", "example.com\r\n"),
        ("a\x00b", "example.com"),
        ("a\x7fb", "example.com"),
        ("a\tb", "example.com"),  # HT is a control, not qtextSMTP
        ("a\x85b", "example.com"),  # C1 control (NEL)
        ("a\ud800", "example.com"),  # lone surrogate
    ],
)
def test_construction_refuses_controls(local: str, domain: str) -> None:
    with pytest.raises(AddressError):
        Address(local, domain)


def test_construction_refuses_non_str() -> None:
    with pytest.raises(AddressError):
        Address(b"a", "example.com")  # type: ignore[arg-type]


def test_address_is_frozen_and_slotted() -> None:
    addr = Address("a", "example.com")
    with pytest.raises(AttributeError):
        addr.local_part = "b"  # type: ignore[misc]
    assert not hasattr(addr, "__dict__")
    assert {addr, Address("a", "example.com")} == {addr}


def test_local_part_is_case_sensitive() -> None:
    # RFC 5321 §2.4: local parts MAY be case-sensitive; domains are not.
    assert Address("Smith", "bar.com") != Address("smith", "bar.com")
    a, b = Address("Smith", "BAR.com"), Address("Smith", "bar.COM")
    assert a.normalized_domain == b.normalized_domain == "bar.com"


# --- lengths (RFC 5321 §4.5.3.1) -------------------------------------------------------------


def test_local_part_limit_is_64_octets() -> None:
    Address("a" * 64, "example.com")
    with pytest.raises(AddressError, match="64"):
        Address("a" * 65, "example.com")
    # The limit counts the local part as written: quotes included, octets of UTF-8.
    Address("a b" + "c" * 59, "example.com")  # 62 + 2 quotes = 64
    with pytest.raises(AddressError):
        Address("a b" + "c" * 60, "example.com")
    with pytest.raises(AddressError):
        Address("ü" * 33, "example.com")  # 66 octets


def test_label_limit_is_63_octets() -> None:
    Address.parse("a@" + "b" * 63 + ".example")
    with pytest.raises(AddressError, match="63"):
        Address.parse("a@" + "b" * 64 + ".example")
    # A U-label's A-label must fit too (RFC 5890 §2.3.2.1).
    with pytest.raises(AddressError):
        Address("a", "ü" * 60 + ".example")


def test_domain_limit_is_255_octets() -> None:
    label = "d" * 63
    domain_256 = ".".join([label, label, label, label[:-2], "ab"])
    assert len(domain_256) == 256
    with pytest.raises(AddressError, match="255"):
        Address("a", domain_256)


def test_path_limit_is_256_octets() -> None:
    # "<" local "@" domain ">" <= 256 octets
    domain_189 = ".".join(["d" * 62, "d" * 62, "d" * 63])
    domain_190 = ".".join(["d" * 62, "d" * 62, "d" * 62, "d"])
    assert len(format_path(Address("a" * 64, domain_189))) == 256
    with pytest.raises(AddressError, match="256"):
        Address("a" * 64, domain_190)
    with pytest.raises(AddressError, match="256") as info:
        parse_path("<" + "a" * 64 + "@" + domain_190 + ">")
    assert info.value.reply_hint.code == 501  # RFC 5321 §4.5.3.1.10: "501 Path too long"
    assert info.value.reply_hint.text == "Path too long"
    assert parse_path("<" + "a" * 64 + "@" + domain_189 + ">") == Address("a" * 64, domain_189)


# --- address literals (RFC 5321 §4.1.3) -----------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "ip"),
    [
        ("[192.0.2.1]", "192.0.2.1"),
        ("[IPv6:2001:db8::1]", "2001:db8::1"),
        ("[ipv6:2001:DB8::1]", "2001:db8::1"),
        ("[IPv6:2001:db8:0:0:0:0:0:1]", "2001:db8::1"),
        ("[IPv6:::1]", "::1"),
        ("[IPv6:1:2:3:4:5:6::]", "1:2:3:4:5:6::"),  # 6 groups + "::" standing for 2
        ("[IPv6:::ffff:192.0.2.1]", "::ffff:192.0.2.1"),
        ("[IPv6:1:2:3:4:5:6:192.0.2.1]", "1:2:3:4:5:6:c000:201"),
        ("[IPv6:1:2:3:4::192.0.2.1]", "1:2:3:4::c000:201"),
    ],
)
def test_ip_literals(domain: str, ip: str) -> None:
    addr = Address("postmaster", domain)
    assert addr.is_literal
    assert addr.literal_ip == ipaddress.ip_address(ip)
    assert addr.ascii_domain == domain  # literals are left alone
    assert Address.parse(f"postmaster@{domain}") == addr


@pytest.mark.parametrize(
    "domain",
    [
        "[256.0.0.1]",  # Snum is 0 through 255
        "[1.2.3]",
        "[IPv6:1:2:3:4:5:6:7::]",  # "::" must stand for at least 2 groups
        "[IPv6:1:2:3:4:5::192.0.2.1]",  # at most 4 groups besides "::" and the IPv4 part
        "[IPv6:1:2:3:4:5:6:7:8:9]",
        "[IPv6:2001:db8::1%eth0]",
        "[IPv6:2001:db8::g]",
        "[IPv6:]",
        "[tag:]",
        "[tag:a]b]",
        "[]",
        "[192.0.2.1",
    ],
)
def test_bad_literals(domain: str) -> None:
    with pytest.raises(AddressError):
        Address("a", domain)


def test_general_literal() -> None:
    # General-address-literal = Standardized-tag ":" 1*dcontent: accepted, no IP address.
    addr = Address.parse("a@[X-Tag:some!content]")
    assert addr.is_literal
    assert addr.literal_ip is None
    assert addr.normalized_domain == "[x-tag:some!content]"


def test_literal_normalized_domain() -> None:
    a = Address("a", "[IPv6:2001:DB8:0:0:0:0:0:1]")
    b = Address("a", "[ipv6:2001:db8::1]")
    assert a.normalized_domain == b.normalized_domain == "[IPv6:2001:db8::1]"
    assert Address("a", "[192.0.2.1]").normalized_domain == "[192.0.2.1]"
    assert Address("a", "[001.000.002.001]").normalized_domain == "[1.0.2.1]"


def test_name_is_not_literal() -> None:
    addr = Address("a", "example.com")
    assert not addr.is_literal
    assert addr.literal_ip is None


# --- SMTPUTF8 and IDNA (RFC 6531 §3.3, UTS 46) -----------------------------------------------


def test_utf8_mailbox() -> None:
    addr = Address.parse("用户@例子.广告")
    assert addr == Address("用户", "例子.广告")
    assert addr.needs_smtputf8
    assert not addr.is_ascii
    assert str(addr) == "用户@例子.广告"
    with pytest.raises(AddressError) as info:
        addr.to_ascii()
    assert info.value.reply_hint == NON_ASCII_ADDRESS


def test_utf8_refused_without_smtputf8() -> None:
    # RFC 6531 §3.5 / RFC 3463: 553 5.6.7 for non-ASCII addresses without SMTPUTF8.
    for text in ["用户@例子.广告", "ü@example.com", "a@bücher.example"]:
        with pytest.raises(AddressError) as info:
            Address.parse(text, smtputf8=False)
        assert info.value.reply_hint == NON_ASCII_ADDRESS
        assert (info.value.reply_hint.code, str(info.value.reply_hint.enhanced)) == (553, "5.6.7")
    assert Address.parse("a@example.com", smtputf8=False) == Address("a", "example.com")


def test_utf8_quoted_local_part() -> None:
    addr = Address.parse('"grüße dich"@example.com')
    assert addr.local_part == "grüße dich"
    assert str(addr) == '"grüße dich"@example.com'
    assert Address.parse("grüße@example.com").local_part == "grüße"  # atext =/ UTF8-non-ascii


def test_u_label_domain() -> None:
    addr = Address("info", "Bücher.example")
    assert not addr.needs_smtputf8  # the domain converts to A-labels
    assert not addr.is_ascii
    assert addr.ascii_domain == "xn--bcher-kva.example"
    assert addr.to_ascii() == Address("info", "xn--bcher-kva.example")
    assert addr.normalized_domain == Address("info", "XN--BCHER-KVA.example").normalized_domain


def test_ascii_domain_kept_as_is() -> None:
    addr = Address("a", "Example.COM")
    assert addr.ascii_domain == "Example.COM"
    assert addr.to_ascii() is addr
    assert addr.normalized_domain == "example.com"


@pytest.mark.parametrize(
    "domain",
    [
        "☃.example",  # DISALLOWED in IDNA 2008
        "\u0301x.example",  # a label may not start with a combining mark
        "bücher\u3002example",  # maps to a dot under UTS 46: not one label
        "-bücher.example",
    ],
)
def test_bad_u_labels(domain: str) -> None:
    with pytest.raises(AddressError):
        Address("a", domain)


def test_domain_to_ascii_and_back() -> None:
    assert domain_to_ascii("Bücher.Example.") == "xn--bcher-kva.example"
    assert domain_to_unicode("xn--bcher-kva.example") == "bücher.example"
    assert domain_to_unicode("XN--BCHER-KVA.example.") == "bücher.example"
    for bad in ["", ".", "xn--zz.example", "a..b"]:
        with pytest.raises(AddressError):
            domain_to_unicode(bad)
    with pytest.raises(AddressError):
        domain_to_ascii("a" * 64 + ".example")


# --- Postmaster ------------------------------------------------------------------------------


def test_postmaster_address() -> None:
    pm = Address("Postmaster", "")
    assert pm.is_postmaster
    assert str(pm) == "Postmaster"
    assert format_path(pm) == "<Postmaster>"
    assert Address("postmaster", "").is_postmaster
    assert not Address("postmaster", "example.com").is_postmaster
    with pytest.raises(AddressError):
        Address("root", "")


# --- paths (RFC 5321 §4.1.2, §4.1.1.3, App. C) ----------------------------------------------


def test_parse_path_basic() -> None:
    assert parse_path("<userx@y.foo.org>") == Address("userx", "y.foo.org")
    assert parse_path('<"a b"@example.com>') == Address("a b", "example.com")


def test_source_route_is_accepted_and_dropped() -> None:
    # App. C: "MUST BE accepted, SHOULD NOT be generated, and SHOULD be ignored"
    addr = parse_path("<@hosta.int,@jkl.org:userc@d.bar.org>")
    assert addr == Address("userc", "d.bar.org")
    assert format_path(addr) == "<userc@d.bar.org>"
    assert parse_path("<@hosta.int:userc@d.bar.org>") == Address("userc", "d.bar.org")
    for bad in ["<@hosta.int,jkl.org:u@d.org>", "<@:u@d.org>", "<@hosta.int u@d.org>"]:
        with pytest.raises(AddressError):
            parse_path(bad)


def test_null_path() -> None:
    assert parse_path("<>", null=True) is None
    with pytest.raises(AddressError):
        parse_path("<>")
    assert format_path(None) == "<>"


@pytest.mark.parametrize("text", ["<Postmaster>", "<postmaster>", "<POSTMASTER>"])
def test_postmaster_path(text: str) -> None:
    # RFC 5321 §4.1.1.3: "<Postmaster>" without a domain, case-insensitive
    assert parse_path(text, postmaster=True) == Address("Postmaster", "")
    with pytest.raises(AddressError):
        parse_path(text)


def test_postmaster_with_domain_is_a_mailbox() -> None:
    assert parse_path("<Postmaster@example.com>") == Address("Postmaster", "example.com")


def test_non_ascii_path_needs_smtputf8() -> None:
    with pytest.raises(AddressError) as info:
        parse_path("<ü@example.com>")
    assert info.value.reply_hint == NON_ASCII_ADDRESS
    assert parse_path("<ü@example.com>", smtputf8=True) == Address("ü", "example.com")
    assert parse_path("<@例子.广告:用户@例子.广告>", smtputf8=True) == Address("用户", "例子.广告")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a@b.example", Address("a", "b.example")),
        ("< a@b.example >", Address("a", "b.example")),
        (" <a@b.example> ", Address("a", "b.example")),
        ('"a b"@b.example', Address("a b", "b.example")),
    ],
)
def test_lenient_forms_only_when_not_strict(text: str, expected: Address) -> None:
    assert parse_path(text, strict=False) == expected
    with pytest.raises(AddressError):
        parse_path(text)


@pytest.mark.parametrize("text", ["", "<a@b.example", "a@b.example>", "<>>", "<<a@b>>", " "])
def test_broken_paths_refused_even_when_lenient(text: str) -> None:
    with pytest.raises(AddressError):
        parse_path(text, strict=False, null=True)


def test_lenient_null_path() -> None:
    assert parse_path("< >", strict=False, null=True) is None


# --- splitting the MAIL/RCPT argument --------------------------------------------------------


@pytest.mark.parametrize(
    ("arg", "path", "params"),
    [
        ("<a@b> SIZE=10 BODY=8BITMIME", "<a@b>", "SIZE=10 BODY=8BITMIME"),
        ("<a@b>", "<a@b>", ""),
        ("<>", "<>", ""),
        ("<> SIZE=1", "<>", "SIZE=1"),
        ('<"quoted > local"@b> X=1', '<"quoted > local"@b>', "X=1"),
        ('<"a\\"> b"@c> X=1', '<"a\\"> b"@c>', "X=1"),  # an escaped DQUOTE does not close
        ("<@r1,@r2:a@b> NOTIFY=NEVER", "<@r1,@r2:a@b>", "NOTIFY=NEVER"),
    ],
)
def test_split_strict(arg: str, path: str, params: str) -> None:
    assert split_path_and_params(arg, strict=True) == (path, params)
    assert split_path_and_params(arg, strict=False) == (path, params)


@pytest.mark.parametrize(
    ("arg", "path", "params"),
    [
        (" <a@b>", "<a@b>", ""),
        ("a@b SIZE=1", "a@b", "SIZE=1"),
        ('"a b"@c  SIZE=1', '"a b"@c', "SIZE=1"),
        ("<a@b>  SIZE=1 ", "<a@b>", "SIZE=1"),
        ("<a@b> ", "<a@b>", ""),
    ],
)
def test_split_lenient(arg: str, path: str, params: str) -> None:
    assert split_path_and_params(arg, strict=False) == (path, params)
    with pytest.raises(AddressError):
        split_path_and_params(arg, strict=True)


def test_split_does_not_validate_the_path() -> None:
    # The splitter only finds where the path ends; parse_path judges it.
    assert split_path_and_params("< a@b > SIZE=1", strict=False) == ("< a@b >", "SIZE=1")
    assert split_path_and_params("<a@[tag:>]> X=1", strict=True) == ("<a@[tag:>]>", "X=1")


@pytest.mark.parametrize("arg", ["<a@b", '<"a>@b', "", "<a@b>X=1"])
def test_split_refuses(arg: str) -> None:
    for strict in (True, False):
        with pytest.raises(AddressError):
            split_path_and_params(arg, strict=strict)


def test_split_separator_errors_are_param_syntax() -> None:
    with pytest.raises(AddressError) as info:
        split_path_and_params("<a@b>  SIZE=1", strict=True)
    assert info.value.reply_hint == PARAM_SYNTAX


# --- xtext (RFC 3461 §4) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("joe@example.com", "joe@example.com"),
        ("joe+smith@example.com", "joe+2Bsmith@example.com"),
        ("a=b c", "a+3Db+20c"),
        ("", ""),
        ("ü", "+C3+BC"),
        ("\r\n", "+0D+0A"),
    ],
)
def test_xtext(text: str, encoded: str) -> None:
    assert xtext_encode(text) == encoded
    assert xtext_decode(encoded) == text


@pytest.mark.parametrize("bad", ["+ZZ", "+2b", "+2", "+", "a b", "a=b", "\x7f", "ü", "+FF"])
def test_xtext_malformed(bad: str) -> None:
    with pytest.raises(AddressError) as info:
        xtext_decode(bad)
    assert info.value.reply_hint == PARAM_SYNTAX  # 501 5.5.4


def test_xtext_encode_refuses_lone_surrogate() -> None:
    with pytest.raises(AddressError):
        xtext_encode("\ud800")


# --- RFC 6533 §3 utf-8 address forms ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("user@example.com", "user@example.com"),
        ("üser@example.com", "\\x{FC}ser@example.com"),
        ("a+b=c", "a\\x{2B}b\\x{3D}c"),
        ("a\\b", "a\\x{5C}b"),
        ("a b", "a\\x{20}b"),
        ("\x01\x7f", "\\x{01}\\x{7F}"),
        ("用户", "\\x{7528}\\x{6237}"),
        ("\U0001f600", "\\x{1F600}"),
        ("\U00100000", "\\x{100000}"),
    ],
)
def test_utf8_addr_xtext(text: str, encoded: str) -> None:
    assert utf8_addr_xtext_encode(text) == encoded
    assert encoded.isascii()
    assert utf8_addr_xtext_decode(encoded) == text
    assert xtext_decode(encoded) == encoded  # also valid xtext, fit for ORCPT as is


def test_utf8_addr_unitext() -> None:
    assert utf8_addr_unitext_encode("üser+x@example.com") == "üser\\x{2B}x@example.com"
    assert utf8_addr_unitext_decode("üser\\x{2B}x@example.com") == "üser+x@example.com"
    assert utf8_addr_unitext_decode("\\x{fc}") == "ü"  # HEXDIG is case-insensitive


@pytest.mark.parametrize(
    "bad",
    [
        "",  # 1*(...)
        "üser@example.com",  # raw UTF-8 is unitext, not xtext
        "a\\b",
        "a+b",
        "a=b",
        "a b",
        "\\x{00FC}",  # no leading zeros
        "\\x{41}",  # plain ASCII is never escaped
        "\\x{0A}",  # no CR or LF
        "\\x{D800}",  # no surrogates
        "\\x{110000}",
        "\\X{FC}",
        "\\x{FC",
    ],
)
def test_utf8_addr_xtext_malformed(bad: str) -> None:
    with pytest.raises(AddressError) as info:
        utf8_addr_xtext_decode(bad)
    assert info.value.reply_hint == PARAM_SYNTAX


@pytest.mark.parametrize("text", ["", "a\nb", "a\rb", "\x00", "\x0b", "\x1f", "\ud800"])
def test_utf8_addr_encode_refuses_unencodable(text: str) -> None:
    for encode in (utf8_addr_xtext_encode, utf8_addr_unitext_encode):
        with pytest.raises(AddressError):
            encode(text)


# --- properties ------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(mailboxes(smtputf8=True))
def test_mailbox_round_trip(addr: Address) -> None:
    assert Address.parse(str(addr)) == addr
    assert parse_path(format_path(addr), smtputf8=True) == addr
    assert str(Address.parse(str(addr))) == str(addr)


@settings(max_examples=200, deadline=None)
@given(mailboxes())
def test_ascii_mailbox_round_trip(addr: Address) -> None:
    assert addr.is_ascii
    assert not addr.needs_smtputf8
    assert Address.parse(str(addr), smtputf8=False) == addr
    assert parse_path(format_path(addr)) == addr
    assert parse_path(format_path(addr), strict=False) == addr


@settings(max_examples=100, deadline=None)
@given(
    mailboxes(smtputf8=True),
    st.lists(st.from_regex(r"[A-Z][A-Z0-9-]{0,8}=[!-<>-~]{1,10}", fullmatch=True), max_size=3),
)
def test_split_round_trip(addr: Address, params: list[str]) -> None:
    arg = format_path(addr) + "".join(" " + p for p in params)
    path, rest = split_path_and_params(arg, strict=True)
    assert path == format_path(addr)
    assert rest == " ".join(params)
    assert split_path_and_params(arg, strict=False) == (path, rest)


@settings(max_examples=100, deadline=None)
@given(local_parts(smtputf8=True))
def test_local_part_values_survive(value: str) -> None:
    addr = Address(value, "example.org")
    assert Address.parse(str(addr)).local_part == value
    assert addr.needs_smtputf8 == (not value.isascii())


@settings(max_examples=100, deadline=None)
@given(domains())
def test_domains_convert(domain: str) -> None:
    addr = Address("a", domain)
    assert addr.to_ascii().is_ascii
    assert addr.to_ascii().normalized_domain == addr.normalized_domain
    if not domain.isascii():
        assert domain_to_unicode(addr.ascii_domain) == domain_to_unicode(domain)


@settings(max_examples=100, deadline=None)
@given(ascii_domains())
def test_ascii_domains_are_valid_names(domain: str) -> None:
    assert Address("a", domain).ascii_domain == domain
    assert domain_to_ascii(domain) == domain.lower()


@settings(max_examples=100, deadline=None)
@given(address_literals())
def test_literals_round_trip(literal: str) -> None:
    addr = Address("a", literal)
    assert addr.is_literal
    assert Address.parse(str(addr)) == addr
    is_ip = literal[1:6].lower() == "ipv6:" or ":" not in literal
    assert (addr.literal_ip is not None) == is_ip


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_xtext_round_trip(text: str) -> None:
    encoded = xtext_encode(text)
    assert encoded.isascii()
    assert xtext_decode(encoded) == text


_ENCODABLE = st.characters(codec="utf-8").filter(
    lambda c: not c.isascii() or c not in "\x00\x0a\x0b\x0c\x0d\x0e\x0f\x1a\x1b\x1c\x1d\x1e\x1f"
)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=_ENCODABLE, min_size=1))
def test_utf8_addr_round_trip(text: str) -> None:
    encoded = utf8_addr_xtext_encode(text)
    assert encoded.isascii()
    assert utf8_addr_xtext_decode(encoded) == text
    assert utf8_addr_unitext_decode(encoded) == text
    assert utf8_addr_unitext_decode(utf8_addr_unitext_encode(text)) == text


_PATHY = st.text(alphabet=st.sampled_from(list('<>@".\\[]:, aZ9-+={}xü\x00\r\n\t')), max_size=40)


@settings(max_examples=300, deadline=None)
@given(_PATHY, st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_garbage_gives_address_error_or_a_valid_address(
    text: str, utf8: bool, strict: bool, null: bool, postmaster: bool
) -> None:
    # Bad input raises AddressError, never IndexError/UnicodeError from deep inside; and
    # whatever is accepted is a valid Address that writes out and parses back the same.
    calls: list[Callable[[], object]] = [
        lambda: parse_path(text, smtputf8=utf8, strict=strict, null=null, postmaster=postmaster),
        lambda: Address.parse(text, smtputf8=utf8),
        lambda: split_path_and_params(text, strict=strict),
        lambda: xtext_decode(text),
        lambda: utf8_addr_xtext_decode(text),
        lambda: utf8_addr_unitext_decode(text),
    ]
    for call in calls:
        try:
            result = call()
        except AddressError:
            continue
        if isinstance(result, Address) and not result.is_postmaster:
            assert Address.parse(str(result)) == result

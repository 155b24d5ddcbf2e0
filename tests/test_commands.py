"""The command line codec, from the RFC examples and grammar rules.

RFC 5321 §4.1.1 (commands) and Appendix D (scenarios), RFC 1870 (SIZE), RFC 3461 §4 and §6
(DSN parameters and the example), RFC 6531 (SMTPUTF8), RFC 4954 §4 and §7 (AUTH), RFC 3030
§2-4 (BDAT, BINARYMIME), RFC 2920 §3.2 (pipelining example). Each accepted line parses to the
expected event and formats back to the same canonical line; rejected lines raise
LocalProtocolError whose reply hint is the code the RFC asks for. Hypothesis checks that
``parse_command(format_command(cmd)) == cmd`` for arbitrary commands in both modes.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from smtpcore import (
    Address,
    Auth,
    AuthCancel,
    AuthResponse,
    Bdat,
    Command,
    Data,
    DeliverBy,
    Ehlo,
    Expn,
    Helo,
    Help,
    Lhlo,
    LocalProtocolError,
    Mail,
    MailParams,
    Noop,
    OriginalRecipient,
    Quit,
    Rcpt,
    RcptParams,
    Rset,
    StartTLS,
    UnknownCommand,
    Vrfy,
)
from smtpcore._commands import (
    format_command,
    parse_auth_line,
    parse_command,
    parse_mail_params,
    parse_rcpt_params,
)
from tests.strategies import commands

A = Address.parse
POSTMASTER = Address("Postmaster", "")


def mail(path: str | None, **params: object) -> Mail:
    return Mail(reverse_path=None if path is None else A(path), params=MailParams(**params))  # type: ignore[arg-type]


def rcpt(path: str, **params: object) -> Rcpt:
    return Rcpt(forward_path=A(path), params=RcptParams(**params))  # type: ignore[arg-type]


def orcpt(address: str, addr_type: str = "rfc822") -> OriginalRecipient:
    return OriginalRecipient(addr_type=addr_type, address=address)


# Lines from the RFCs, each with the event it must give. All are canonical: formatting the
# event gives the line back byte for byte.
RFC_EXAMPLES: list[tuple[str, bytes, Command]] = [
    # RFC 5321 Appendix D.1, a typical SMTP transaction scenario
    ("5321 D.1", b"EHLO bar.com", Ehlo(hostname="bar.com")),
    ("5321 D.1", b"MAIL FROM:<Smith@bar.com>", mail("Smith@bar.com")),
    ("5321 D.1", b"RCPT TO:<Jones@foo.com>", rcpt("Jones@foo.com")),
    ("5321 D.1", b"RCPT TO:<Green@foo.com>", rcpt("Green@foo.com")),
    ("5321 D.1", b"DATA", Data()),
    ("5321 D.1", b"QUIT", Quit()),
    # D.2 aborted transaction, D.3 relayed mail, D.4 verifying and sending
    ("5321 D.2", b"RSET", Rset()),
    ("5321 D.3", b"EHLO foo.com", Ehlo(hostname="foo.com")),
    ("5321 D.3", b"MAIL FROM:<JQP@bar.com>", mail("JQP@bar.com")),
    ("5321 D.3", b"RCPT TO:<Jones@XYZ.COM>", rcpt("Jones@XYZ.COM")),
    ("5321 D.4", b"VRFY Crispin", Vrfy(argument="Crispin")),
    ("5321 D.4", b"MAIL FROM:<EAK@bar.com>", mail("EAK@bar.com")),
    ("5321 D.4", b"RCPT TO:<Admin.MRC@foo.com>", rcpt("Admin.MRC@foo.com")),
    # §3.5 examples and §4.1.1.6-10
    ("5321 3.5.3", b"EXPN Example-People", Expn(argument="Example-People")),
    ("5321 3.5.3", b"VRFY Smith", Vrfy(argument="Smith")),
    ("5321 4.1.1.8", b"HELP", Help()),
    ("5321 4.1.1.8", b"HELP MAIL", Help(argument="MAIL")),
    ("5321 4.1.1.9", b"NOOP", Noop()),
    ("5321 4.1.1.1", b"HELO relay.example.org", Helo(hostname="relay.example.org")),
    ("5321 4.1.3", b"EHLO [192.0.2.1]", Ehlo(hostname="[192.0.2.1]")),
    ("5321 4.1.3", b"EHLO [IPv6:2001:db8::1]", Ehlo(hostname="[IPv6:2001:db8::1]")),
    # §4.1.1.3: Postmaster without a domain must be accepted; §4.1.1.2 the null reverse-path
    ("5321 4.1.1.3", b"RCPT TO:<Postmaster>", Rcpt(forward_path=POSTMASTER)),
    ("5321 4.1.1.2", b"MAIL FROM:<>", mail(None)),
    ("5321 4.1.2", b'RCPT TO:<"John Doe"@example.org>', rcpt('"John Doe"@example.org')),
    ("5321 4.1.3", b"RCPT TO:<info@[192.0.2.1]>", rcpt("info@[192.0.2.1]")),
    # RFC 2033 §4.1: LMTP greets with LHLO
    ("2033 4.1", b"LHLO foo.edu", Lhlo(hostname="foo.edu")),
    # RFC 1870 §6 (example of SIZE in use)
    (
        "1870",
        b"MAIL FROM:<ned@thor.innosoft.com> SIZE=500000",
        mail("ned@thor.innosoft.com", size=500000),
    ),
    # RFC 3461 §6, the example of the DSN parameters in use
    (
        "3461 6",
        b"MAIL FROM:<Alice@Pure-Heart.ORG> RET=HDRS ENVID=QQ314159",
        mail("Alice@Pure-Heart.ORG", ret="HDRS", envid="QQ314159"),
    ),
    (
        "3461 6",
        b"RCPT TO:<Bob@Big-Bucks.COM> NOTIFY=SUCCESS ORCPT=rfc822;Bob@Big-Bucks.COM",
        rcpt("Bob@Big-Bucks.COM", notify=("SUCCESS",), orcpt=orcpt("Bob@Big-Bucks.COM")),
    ),
    (
        "3461 6",
        b"RCPT TO:<Carol@Ivory.EDU> NOTIFY=FAILURE ORCPT=rfc822;Carol@Ivory.EDU",
        rcpt("Carol@Ivory.EDU", notify=("FAILURE",), orcpt=orcpt("Carol@Ivory.EDU")),
    ),
    (
        "3461 6",
        b"RCPT TO:<Dana@Ivory.EDU> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Dana@Ivory.EDU",
        rcpt("Dana@Ivory.EDU", notify=("SUCCESS", "FAILURE"), orcpt=orcpt("Dana@Ivory.EDU")),
    ),
    (
        "3461 6",
        b"RCPT TO:<Eric@Bombs.AF.MIL> NOTIFY=FAILURE ORCPT=rfc822;Eric@Bombs.AF.MIL",
        rcpt("Eric@Bombs.AF.MIL", notify=("FAILURE",), orcpt=orcpt("Eric@Bombs.AF.MIL")),
    ),
    (
        "3461 6",
        b"RCPT TO:<Fred@Bombs.AF.MIL> NOTIFY=NEVER",
        rcpt("Fred@Bombs.AF.MIL", notify=("NEVER",)),
    ),
    (
        "3461 6",
        b"RCPT TO:<George@Tax-ME.GOV> NOTIFY=FAILURE ORCPT=rfc822;George@Tax-ME.GOV",
        rcpt("George@Tax-ME.GOV", notify=("FAILURE",), orcpt=orcpt("George@Tax-ME.GOV")),
    ),
    # RFC 3461 §4: xtext, "+" and "=" and SP written as +XX
    (
        "3461 4",
        b"MAIL FROM:<a@b.example> ENVID=a+2Bb+3Dc+20d",
        mail("a@b.example", envid="a+b=c d"),
    ),
    # RFC 6533 §3: ORCPT=utf-8 with \x{} escapes, ASCII-only so it needs no SMTPUTF8
    (
        "6533 3",
        b"RCPT TO:<a@b.example> ORCPT=utf-8;J\\x{F6}rg@b.example",
        rcpt("a@b.example", orcpt=orcpt("Jörg@b.example", "utf-8")),
    ),
    # RFC 6152 §2 / RFC 3030 §3 BODY values
    ("6152 2", b"MAIL FROM:<a@b.example> BODY=8BITMIME", mail("a@b.example", body="8BITMIME")),
    ("1652", b"MAIL FROM:<a@b.example> BODY=7BIT", mail("a@b.example", body="7BIT")),
    # RFC 3030 §4 examples
    (
        "3030 4.1",
        b"MAIL FROM:<ned@ymir.claremont.edu> BODY=BINARYMIME",
        mail("ned@ymir.claremont.edu", body="BINARYMIME"),
    ),
    ("3030 4.1", b"RCPT TO:<ned@innosoft.com>", rcpt("ned@innosoft.com")),
    ("3030 4.1", b"BDAT 86 LAST", Bdat(size=86, last=True)),
    ("3030 4.2", b"BDAT 100000", Bdat(size=100000)),
    ("3030 4.2", b"BDAT 324 LAST", Bdat(size=324, last=True)),
    ("3030 2", b"BDAT 0 LAST", Bdat(size=0, last=True)),
    # RFC 4954 §4 and §7
    ("4954 7", b"AUTH GSSAPI", Auth(mechanism="GSSAPI")),
    (
        "4954 7",
        b"AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=",
        Auth(mechanism="PLAIN", initial_response=b"test\0test\x001234"),
    ),
    ("4954 4", b"AUTH PLAIN =", Auth(mechanism="PLAIN", initial_response=b"")),
    ("4954 4", b"AUTH CRAM-MD5", Auth(mechanism="CRAM-MD5")),
    (
        "4954 5",
        b"MAIL FROM:<e=mc2@example.com> AUTH=e+3Dmc2@example.com",
        mail("e=mc2@example.com", auth="e=mc2@example.com"),
    ),
    ("4954 5", b"MAIL FROM:<a@b.example> AUTH=<>", mail("a@b.example", auth="<>")),
    # RFC 2920 §3.2 example (the lines of the pipelined group)
    ("2920 3.2", b"EHLO dbc.mtview.ca.us", Ehlo(hostname="dbc.mtview.ca.us")),
    ("2920 3.2", b"MAIL FROM:<mrose@dbc.mtview.ca.us>", mail("mrose@dbc.mtview.ca.us")),
    ("2920 3.2", b"RCPT TO:<ned@innosoft.com>", rcpt("ned@innosoft.com")),
    ("2920 3.2", b"RCPT TO:<dan@innosoft.com>", rcpt("dan@innosoft.com")),
    ("2920 3.2", b"RCPT TO:<kvc@innosoft.com>", rcpt("kvc@innosoft.com")),
    # RFC 3207 §4, RFC 8689 §4.1, RFC 6710 §3, RFC 2852 §4
    ("3207 4", b"STARTTLS", StartTLS()),
    ("8689 4.1", b"MAIL FROM:<a@b.example> REQUIRETLS", mail("a@b.example", requiretls=True)),
    ("6710 3", b"MAIL FROM:<a@b.example> MT-PRIORITY=-3", mail("a@b.example", mt_priority=-3)),
    (
        "2852 4",
        b"MAIL FROM:<a@b.example> BY=120;R",
        mail("a@b.example", by=DeliverBy(seconds=120, mode="R")),
    ),
    (
        "2852 4",
        b"MAIL FROM:<a@b.example> BY=-60;NT",
        mail("a@b.example", by=DeliverBy(seconds=-60, mode="N", trace=True)),
    ),
    # unknown commands and parameters are kept raw
    (
        "5321 4.1.2",
        b"MAIL FROM:<a@b.example> X-FOO=bar X-BAR",
        mail("a@b.example", extra=(("X-FOO", "bar"), ("X-BAR", None))),
    ),
    ("1985", b"ETRN example.com", UnknownCommand(name="ETRN", argument="example.com")),
    (
        "postfix",
        b"XCLIENT NAME=spike.porcupine.org",
        UnknownCommand(name="XCLIENT", argument="NAME=spike.porcupine.org"),
    ),
]


@pytest.mark.parametrize(
    ("rfc", "line", "event"), RFC_EXAMPLES, ids=[r[1].decode()[:40] for r in RFC_EXAMPLES]
)
@pytest.mark.parametrize("strict", [False, True])
def test_rfc_example_lines(rfc: str, line: bytes, event: Command, strict: bool) -> None:
    assert parse_command(line, strict=strict) == event
    assert format_command(event) == line + b"\r\n"


# RFC 6531 §3.2-3.4 SMTPUTF8: UTF-8 paths in MAIL with the SMTPUTF8 parameter, and in RCPT
# within such a transaction.
def test_smtputf8_mail_and_rcpt() -> None:
    line = "MAIL FROM:<用户@例子.广告> SMTPUTF8".encode()
    event = Mail(reverse_path=Address("用户", "例子.广告"), params=MailParams(smtputf8=True))
    assert parse_command(line) == event
    assert format_command(event) == line + b"\r\n"  # SMTPUTF8 in the event allows UTF-8
    rcpt_line = "RCPT TO:<θσερ@παράδειγμα.δοκιμή>".encode()
    expected = Rcpt(forward_path=Address("θσερ", "παράδειγμα.δοκιμή"))
    assert parse_command(rcpt_line, utf8=True) == expected
    assert format_command(expected, utf8=True) == rcpt_line + b"\r\n"
    # without SMTPUTF8 in effect: 553 5.6.7 (RFC 6531 §3.7.4.1 / RFC 6531 §3.5)
    for bad, utf8 in [(rcpt_line, False), ("MAIL FROM:<用户@例子.广告>".encode(), False)]:
        with pytest.raises(LocalProtocolError) as info:
            parse_command(bad, utf8=utf8)
        assert info.value.reply_hint.code == 553
        assert str(info.value.reply_hint.enhanced) == "5.6.7"
    with pytest.raises(LocalProtocolError) as info:
        format_command(expected)  # no SMTPUTF8 transaction: the client must not send it
    assert info.value.reply_hint.code == 553


def test_orcpt_utf8_unitext_under_smtputf8() -> None:
    # RFC 6533 §3: utf-8-addr-unitext carries UTF-8 as is when SMTPUTF8 is in effect
    line = "RCPT TO:<a@b.example> ORCPT=utf-8;Jörg\\x{2B}x@b.example".encode()
    event = parse_command(line, utf8=True)
    assert isinstance(event, Rcpt)
    assert event.params.orcpt == orcpt("Jörg+x@b.example", "utf-8")


@pytest.mark.parametrize(
    "variant",
    [b"mail from:<a@b.example>", b"Mail From:<a@b.example>", b"MAIL from:<a@b.example>"],
)
def test_verbs_and_keywords_are_case_insensitive(variant: bytes) -> None:
    # RFC 5321 §2.4: "Verbs and argument values ... are not case sensitive"
    assert parse_command(variant, strict=True) == mail("a@b.example")


@pytest.mark.parametrize(
    ("line", "event"),
    [
        (b"ehlo bar.com", Ehlo(hostname="bar.com")),
        (b"Quit", Quit()),
        (b"data", Data()),
        (b"rset", Rset()),
        (b"starttls", StartTLS()),
        (b"bdat 5 last", Bdat(size=5, last=True)),
        (b"auth plain", Auth(mechanism="PLAIN")),
        (b"noop", Noop()),
        (
            b"rcpt to:<b@c.example> notify=success,delay",
            rcpt("b@c.example", notify=("SUCCESS", "DELAY")),
        ),
        (
            b"MAIL FROM:<a@b.example> size=10 body=8bitmime ret=full",
            mail("a@b.example", size=10, body="8BITMIME", ret="FULL"),
        ),
        (b"xfoo bar", UnknownCommand(name="XFOO", argument="bar")),
    ],
)
def test_lower_case_lines(line: bytes, event: Command) -> None:
    assert parse_command(line, strict=True) == event


# The common deviations of real clients: accepted leniently, refused strictly (501).
LENIENT_ONLY = [
    (b"MAIL FROM: <a@b.example>", mail("a@b.example")),
    (b"MAIL FROM:a@b.example", mail("a@b.example")),
    (b"RCPT TO: b@c.example", rcpt("b@c.example")),
    (b"RCPT TO:b@c.example NOTIFY=NEVER", rcpt("b@c.example", notify=("NEVER",))),
    (b"MAIL FROM:< a@b.example >", mail("a@b.example")),
    (b"MAIL FROM:<a@b.example>  SIZE=1", mail("a@b.example", size=1)),
    (b"MAIL FROM:<a@b.example> SIZE=1 ", mail("a@b.example", size=1)),
    (b"MAIL FROM:<a@b.example>\tSIZE=1", mail("a@b.example", size=1)),
    (b"NOOP ", Noop()),
    (b"QUIT ", Quit()),
    (b"HELP ", Help()),
    (b"DATA\t", Data()),
    (b"EHLO bar.com ", Ehlo(hostname="bar.com")),
    (b"EHLO bar.com extra words", Ehlo(hostname="bar.com")),
]


@pytest.mark.parametrize(("line", "event"), LENIENT_ONLY)
def test_lenient_mode_accepts_common_deviations(line: bytes, event: Command) -> None:
    assert parse_command(line, strict=False) == event
    with pytest.raises(LocalProtocolError) as info:
        parse_command(line, strict=True)
    assert info.value.reply_hint.code in (500, 501)  # "DATA\t" is no command word at all


# Lines refused in both modes, with the reply code RFC 5321 §4.2.4 / §4.3.2 asks for: 500
# for a line that is not a command, 501 for bad arguments, 553 for a non-ASCII address
# without SMTPUTF8 (RFC 6531 §3.5).
REJECTED: list[tuple[bytes, int, str | None]] = [
    (b"", 500, "5.5.2"),
    (b"   ", 500, "5.5.2"),
    (b"XYZ\x01", 500, "5.5.2"),
    (b"1234", 500, "5.5.2"),
    (b"NOOP \x00", 500, "5.5.2"),
    (b"MAIL FROM:<\xff@b.example>", 500, "5.5.2"),  # not UTF-8 at all
    ("EHLO exämple.org".encode(), 500, "5.5.2"),  # RFC 6531 §3.7.1: EHLO in A-labels
    (b"HELO", 501, None),
    (b"EHLO", 501, None),
    (b"EHLO a\tb", 501, None),
    (b"DATA x", 501, None),
    (b"RSET x", 501, None),
    (b"QUIT now", 501, None),
    (b"STARTTLS x", 501, None),
    (b"VRFY", 501, None),
    (b"EXPN", 501, None),
    (b"MAIL TO:<a@b.example>", 501, None),
    (b"MAIL FROM", 501, None),
    (b"RCPT", 501, None),
    (b"RCPT TO:<>", 501, "5.1.3"),  # the null path is a reverse-path only
    (b"MAIL FROM:<a@b.example", 501, "5.1.7"),  # RFC 3463 §3.2: the sender's syntax
    (b"MAIL FROM:<a b@c.example>", 501, "5.1.7"),  # RFC 3463: bad sender syntax
    (b"RCPT TO:<a b@c.example>", 501, "5.1.3"),  # bad destination syntax
    (b"MAIL FROM:<a@[300.1.1.1]>", 501, "5.1.7"),
    (b"MAIL FROM:<a@b.example>SIZE=1", 501, None),
    (b"MAIL FROM:<a@b.example> =1", 501, None),
    (b"MAIL FROM:<a@b.example> -X=1", 501, None),
    (b"MAIL FROM:<a@b.example> X=a=b", 501, None),  # "=" is not in esmtp-value
    (b"MAIL FROM:<a@b.example> X=", 501, None),
    (b"MAIL FROM:<a@b.example> SIZE=1 SIZE=2", 501, None),
    (b"MAIL FROM:<a@b.example> size=1 SIZE=2", 501, None),
    # RFC 1870 §3: size-value ::= 1*20DIGIT
    (b"MAIL FROM:<> SIZE=abc", 501, None),
    (b"MAIL FROM:<> SIZE", 501, None),
    (b"MAIL FROM:<> SIZE=-1", 501, None),
    (b"MAIL FROM:<> SIZE=123456789012345678901", 501, None),
    (b"MAIL FROM:<> BODY=9BIT", 501, None),
    (b"MAIL FROM:<> BODY", 501, None),
    (b"MAIL FROM:<> SMTPUTF8=yes", 501, None),
    (b"MAIL FROM:<> REQUIRETLS=1", 501, None),
    # RFC 3461 §4.3-4.4: RET=FULL/HDRS, ENVID xtext of at most 100 characters
    (b"MAIL FROM:<> RET=NONE", 501, None),
    (b"MAIL FROM:<> ENVID=" + b"x" * 101, 501, None),
    (b"MAIL FROM:<> ENVID=a+2", 501, None),
    (b"MAIL FROM:<> ENVID=a+2b", 501, None),  # hexchar is upper case
    (b"MAIL FROM:<> AUTH=a+ZZ", 501, None),
    # RFC 6710 §3 and RFC 2852 §4
    (b"MAIL FROM:<> MT-PRIORITY=10", 501, None),
    (b"MAIL FROM:<> MT-PRIORITY=x", 501, None),
    (b"MAIL FROM:<> BY=0;R", 501, None),
    (b"MAIL FROM:<> BY=10;X", 501, None),
    (b"MAIL FROM:<> BY=1234567890;N", 501, None),
    # RFC 3461 §4.1-4.2
    (b"RCPT TO:<a@b.example> NOTIFY=NEVER,SUCCESS", 501, None),
    (b"RCPT TO:<a@b.example> NOTIFY=", 501, None),
    (b"RCPT TO:<a@b.example> NOTIFY=SOMETIMES", 501, None),
    (b"RCPT TO:<a@b.example> NOTIFY=SUCCESS,SUCCESS", 501, None),
    (b"RCPT TO:<a@b.example> ORCPT=rfc822", 501, None),
    (b"RCPT TO:<a@b.example> ORCPT=rfc822;", 501, None),
    (b"RCPT TO:<a@b.example> ORCPT=rfc822;a+2", 501, None),
    (b"RCPT TO:<a@b.example> ORCPT=-bad;a@b", 501, None),
    (b"RCPT TO:<a@b.example> ORCPT=utf-8;a\\x{0}", 501, None),
    # RFC 3030 §2: bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ]
    (b"BDAT", 501, None),
    (b"BDAT -1", 501, None),
    (b"BDAT 1e3", 501, None),
    (b"BDAT 10 FIRST", 501, None),
    (b"BDAT 10 LAST extra", 501, None),
    (b"BDAT 123456789012345678901", 501, None),
    # RFC 4954 §4: AUTH mechanism [initial-response]; bad base64 is 501 5.5.2 (§6)
    (b"AUTH", 501, None),
    (b"AUTH PL@IN", 501, None),
    (b"AUTH ABCDEFGHIJKLMNOPQRSTU", 501, None),  # RFC 4422 §3.1: at most 20 characters
    (b"AUTH PLAIN !!!", 501, "5.5.2"),
    (b"AUTH PLAIN dGVzdA", 501, "5.5.2"),  # missing padding
    (b"AUTH PLAIN *", 501, "5.5.2"),
    (b"RCPT TO:<\xc3\xa4@b.example>", 553, "5.6.7"),
    (b"MAIL FROM:<\xc3\xa4@b.example>", 553, "5.6.7"),
]


@pytest.mark.parametrize(
    ("line", "code", "enhanced"), REJECTED, ids=[repr(r[0])[:40] for r in REJECTED]
)
@pytest.mark.parametrize("strict", [False, True])
def test_rejected_lines(line: bytes, code: int, enhanced: str | None, strict: bool) -> None:
    with pytest.raises(LocalProtocolError) as info:
        parse_command(line, strict=strict)
    assert info.value.reply_hint.code == code, info.value
    if enhanced is not None:
        assert str(info.value.reply_hint.enhanced) == enhanced


def test_source_route_is_accepted_and_dropped() -> None:
    # RFC 5321 §4.1.1.3 and Appendix C: "servers MUST be prepared to encounter" source
    # routes; they SHOULD ignore them.
    line = b"RCPT TO:<@hosta.int,@jkl.org:userc@d.bar.org>"
    for strict in (False, True):
        assert parse_command(line, strict=strict) == rcpt("userc@d.bar.org")
    assert parse_command(b"MAIL FROM:<@a.example:b@c.example>") == mail("b@c.example")


def test_postmaster_in_any_case() -> None:
    # RFC 5321 §4.1.1.3: "<Postmaster>" (case-insensitive) without a domain
    for line in (b"RCPT TO:<postmaster>", b"RCPT TO:<POSTMASTER>"):
        assert parse_command(line) == Rcpt(forward_path=POSTMASTER)
    with pytest.raises(LocalProtocolError):
        parse_command(b"MAIL FROM:<Postmaster>")  # only as a recipient


def test_auth_lines_inside_an_exchange() -> None:
    # RFC 4954 §4: each response is a line of base64; "*" cancels; "=" is a lenient empty
    assert parse_auth_line("*") == AuthCancel()
    assert parse_auth_line("") == AuthResponse(data=b"")
    assert parse_auth_line("=") == AuthResponse(data=b"")
    assert parse_auth_line("dGVzdAB0ZXN0ADEyMzQ=") == AuthResponse(data=b"test\0test\x001234")
    for bad in ("not base64!", "dGVzdA", "**"):
        with pytest.raises(LocalProtocolError) as info:
            parse_auth_line(bad)
        assert info.value.reply_hint.code == 501
    assert format_command(AuthResponse(data=b"")) == b"\r\n"
    assert format_command(AuthResponse(data=b"\0u\0p")) == b"AHUAcA==\r\n"
    assert format_command(AuthCancel()) == b"*\r\n"


def test_parameter_parsers_directly() -> None:
    assert parse_mail_params("SIZE=10 BODY=8BITMIME") == MailParams(size=10, body="8BITMIME")
    assert parse_mail_params("", strict=False) == MailParams()
    assert parse_mail_params(" SIZE=10\t", strict=False) == MailParams(size=10)
    with pytest.raises(LocalProtocolError):
        parse_mail_params("SIZE=10  BODY=7BIT")  # strict: exactly one SP between
    assert parse_rcpt_params("NOTIFY=DELAY,FAILURE") == RcptParams(notify=("DELAY", "FAILURE"))
    # a parameter that belongs to the other command is raw there (the server refuses it
    # with 555 if it was not advertised, RFC 5321 §4.1.1.11)
    assert parse_rcpt_params("SIZE=10").extra == (("SIZE", "10"),)


def test_utf8_esmtp_values_keep_unicode_spaces() -> None:
    # RFC 6531 §3.3: esmtp-value may hold UTF8-non-ascii, U+00A0 and U+2028 included; only
    # SP separates parameters (RFC 5321 §4.1.2), even in lenient mode.
    for value in ("a\u00a0b", "\u2028", "x\u3000y"):
        cmd = Mail(reverse_path=None, params=MailParams(smtputf8=True, extra=(("X-V", value),)))
        wire = format_command(cmd)
        for strict in (False, True):
            assert parse_command(wire[:-2], strict=strict) == cmd


def test_format_refuses_non_ascii_without_smtputf8() -> None:
    # RFC 6531 §3.2: UTF-8 only when SMTPUTF8 is in effect (553 5.6.7 if not)
    cmd = Mail(reverse_path=Address("jörg", "b.example"))
    with pytest.raises(LocalProtocolError) as info:
        format_command(cmd)
    assert info.value.reply_hint.code == 553
    for cmd2 in (Vrfy(argument="jörg"), Help(argument="ü"), Noop(argument="ü")):
        with pytest.raises(LocalProtocolError):
            format_command(cmd2)


def test_lone_surrogate_is_a_typed_error() -> None:
    # text with no UTF-8 form must not escape as UnicodeEncodeError
    with pytest.raises(LocalProtocolError):
        format_command(Vrfy(argument="a\ud800"), utf8=True)
    with pytest.raises(LocalProtocolError):
        MailParams(smtputf8=True, extra=(("X", "a\udc80"),))


@settings(max_examples=200, deadline=None)
@given(commands(utf8=True), st.booleans())
def test_format_then_parse_is_identity(cmd: Command, strict: bool) -> None:
    wire = format_command(cmd, utf8=True)
    assert wire.endswith(b"\r\n") and b"\n" not in wire[:-2] and b"\r" not in wire[:-2]
    assert b"\0" not in wire
    assert parse_command(wire[:-2], strict=strict, utf8=True) == cmd


@settings(max_examples=100, deadline=None)
@given(commands(utf8=False))
def test_ascii_commands_format_without_smtputf8(cmd: Command) -> None:
    """Any command without UTF-8 in it formats as ASCII without SMTPUTF8 and parses back."""
    try:
        wire = format_command(cmd)
    except LocalProtocolError as exc:
        # only non-ASCII content may be refused, and with the SMTPUTF8 hint
        assert exc.reply_hint.code == 553 or "UTF-8" in exc.message
        return
    # only MAIL with its SMTPUTF8 parameter may carry UTF-8 by itself (RFC 6531 §3.4)
    assert wire.isascii() or (isinstance(cmd, Mail) and cmd.params.smtputf8)
    assert parse_command(wire[:-2], strict=True) == cmd


def test_a_line_parsed_again_gives_the_same_command_and_errors_are_never_kept() -> None:
    from smtpcore import _commands

    _commands._PARSED.clear()
    line = b"MAIL FROM:<a@b.example> SIZE=100"
    first = parse_command(line)
    assert first is parse_command(line)  # kept: commands are immutable
    assert first == _commands._parse_command(line, False, False)
    # strict and utf8 are part of the key: the same bytes may mean something else
    assert parse_command(b"QUIT ", strict=False) == Quit()
    with pytest.raises(LocalProtocolError):
        parse_command(b"QUIT ", strict=True)  # RFC 5321 §4.1.1: SP needs an argument
    with pytest.raises(LocalProtocolError):
        parse_command(b"QUIT ", strict=True)  # the error was not kept either
    # never kept: AUTH lines (credentials) and lines over 510 octets
    auth = b"AUTH PLAIN AGFsaWNlAHNlY3JldA=="
    assert parse_command(auth) == Auth(mechanism="PLAIN", initial_response=b"\0alice\0secret")
    long = b"NOOP " + b"x" * 506
    assert parse_command(long) == Noop(argument="x" * 506)
    assert all(key[0] not in (auth, long) for key in _commands._PARSED)
    # bounded
    for i in range(_commands._PARSED_MAX * 2):
        parse_command(b"NOOP %d" % i)
    assert len(_commands._PARSED) <= _commands._PARSED_MAX

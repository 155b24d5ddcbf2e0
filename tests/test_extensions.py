"""Capabilities (the EHLO reply) and the MAIL/RCPT parameter table, from the RFC examples."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings, strategies as st

from smtpcore._errors import LocalProtocolError
from smtpcore._extensions import (
    MAIL_PARAMETERS,
    RCPT_PARAMETERS,
    Capabilities,
    parameter_allowed,
)

# The EHLO reply of a stock Postfix smtpd (the extensions PEERS.md saw advertised on this
# machine), text only, as a client hands it to from_ehlo().
POSTFIX = [
    "mail.example.test",
    "PIPELINING",
    "SIZE 10240000",
    "VRFY",
    "ETRN",
    "STARTTLS",
    "ENHANCEDSTATUSCODES",
    "8BITMIME",
    "DSN",
    "SMTPUTF8",
    "CHUNKING",
]


def test_rfc5321_appendix_d1_reply() -> None:
    # RFC 5321 Appendix D.1: "250-foo.com greets bar.com", 8BITMIME, SIZE, DSN, HELP.
    caps = Capabilities.from_ehlo(["foo.com greets bar.com", "8BITMIME", "SIZE", "DSN", "HELP"])
    assert caps.domain == "foo.com"
    assert caps.greeting == "greets bar.com"
    assert caps.eightbitmime and caps.dsn and caps.help
    assert caps.has("SIZE") and caps.size == 0 and caps.size_limit is None
    assert not caps.pipelining and not caps.starttls and not caps.chunking
    assert list(caps.keywords) == ["8BITMIME", "SIZE", "DSN", "HELP"]
    assert caps.malformed == ()


def test_domain_line_without_greeting() -> None:
    # RFC 5321 §4.1.1.1: "250" SP Domain [ SP ehlo-greet ]; a one-line reply has no keywords.
    caps = Capabilities.from_ehlo(["innosoft.com"])
    assert (caps.domain, caps.greeting, dict(caps.keywords)) == ("innosoft.com", "", {})


def test_keywords_are_case_insensitive_and_params_kept_as_given() -> None:
    # RFC 5321 §2.4: verbs and extension names are case-insensitive; parameters may not be.
    caps = Capabilities.from_ehlo(["mx.test", "8bitmime", "x-Vendor-Ext Foo bAr", "Pipelining"])
    assert set(caps.keywords) == {"8BITMIME", "X-VENDOR-EXT", "PIPELINING"}
    assert caps.has("x-vendor-ext") and caps.has("X-VENDOR-EXT")
    assert caps.params("X-Vendor-Ext") == ("Foo", "bAr")
    assert caps.params("not-there") == ()
    assert caps.eightbitmime and caps.pipelining


def test_rfc1870_size_examples() -> None:
    # RFC 1870 §4/§8: "250 SIZE 1000000" is a fixed maximum of 1,000,000 octets.
    caps = Capabilities.from_ehlo(["sigurd.innosoft.com", "EXPN", "HELP", "SIZE 1000000"])
    assert caps.size == 1_000_000 and caps.size_limit == 1_000_000
    assert caps.has("EXPN") and caps.help
    # §4: a value of 0 means no fixed maximum; so does the keyword without a value.
    zero = Capabilities.from_ehlo(["mx.test", "SIZE 0"])
    assert zero.size == 0 and zero.size_limit is None
    absent = Capabilities.from_ehlo(["mx.test", "8BITMIME"])
    assert absent.size is None and absent.size_limit is None
    junk = Capabilities.from_ehlo(["mx.test", "SIZE lots"])
    assert junk.has("SIZE") and junk.size_limit is None


def test_rfc2920_pipelining_example() -> None:
    # RFC 2920 example: "250-innosoft.com" / "250 PIPELINING".
    caps = Capabilities.from_ehlo(["innosoft.com", "PIPELINING"])
    assert caps.pipelining
    assert not Capabilities.from_ehlo(["innosoft.com", "8BITMIME"]).pipelining


def test_rfc4954_auth_lines() -> None:
    # RFC 4954 §4 example: the mechanism list before and after STARTTLS.
    before = Capabilities.from_ehlo(
        [
            "smtp.example.com Hello client.example.com",
            "AUTH GSSAPI DIGEST-MD5",
            "ENHANCEDSTATUSCODES",
            "STARTTLS",
        ]
    )
    assert before.auth_mechanisms == frozenset({"GSSAPI", "DIGEST-MD5"})
    assert before.starttls and before.enhancedstatuscodes
    after = Capabilities.from_ehlo(
        ["smtp.example.com Hello", "AUTH GSSAPI DIGEST-MD5 PLAIN", "ENHANCEDSTATUSCODES"]
    )
    assert after.auth_mechanisms == {"GSSAPI", "DIGEST-MD5", "PLAIN"}
    assert not after.starttls
    assert Capabilities.from_ehlo(["mx.test"]).auth_mechanisms == frozenset()


def test_old_auth_equals_form_merges_with_auth_line() -> None:
    # Pre-RFC 2554 clients needed "AUTH=LOGIN PLAIN"; servers send both lines.
    caps = Capabilities.from_ehlo(["mx.test", "AUTH PLAIN LOGIN", "AUTH=LOGIN PLAIN CRAM-MD5"])
    assert caps.params("AUTH") == ("PLAIN", "LOGIN", "CRAM-MD5")
    assert caps.malformed == ()
    alone = Capabilities.from_ehlo(["mx.test", "auth=login plain"])
    assert alone.auth_mechanisms == {"LOGIN", "PLAIN"}
    assert alone.params("AUTH") == ("login", "plain")
    mixed = Capabilities.from_ehlo(["mx.test", "Auth PLAIN", "auth=LOGIN", "AUTH=plain"])
    assert mixed.params("AUTH") == ("PLAIN", "LOGIN", "plain")


def test_postfix_reply() -> None:
    caps = Capabilities.from_ehlo(POSTFIX)
    assert caps.domain == "mail.example.test"
    assert caps.pipelining and caps.vrfy and caps.etrn and caps.starttls
    assert caps.enhancedstatuscodes and caps.eightbitmime and caps.dsn
    assert caps.smtputf8 and caps.chunking
    assert caps.size == caps.size_limit == 10_240_000
    assert not (caps.binarymime or caps.requiretls or caps.rrvs or caps.futurerelease)
    assert caps.auth_mechanisms == frozenset() and caps.xclient == () and caps.xforward == ()
    assert caps.deliverby is None and caps.mt_priority is None and dict(caps.limits) == {}
    # Writing it back gives the very same text, and build() says the same thing.
    assert caps.to_ehlo_lines() == POSTFIX
    built = Capabilities.build(
        domain="mail.example.test",
        pipelining=True,
        size=10_240_000,
        vrfy=True,
        etrn=True,
        starttls=True,
        enhancedstatuscodes=True,
        eightbitmime=True,
        dsn=True,
        smtputf8=True,
        chunking=True,
    )
    assert built == caps
    assert hash(built) == hash(caps)


def test_rfc9422_limits() -> None:
    caps = Capabilities.from_ehlo(["mx.test", "LIMITS RCPTMAX=100 MAILMAX=50 RCPTDOMAINMAX=1"])
    assert dict(caps.limits) == {"RCPTMAX": 100, "MAILMAX": 50, "RCPTDOMAINMAX": 1}
    # Malformed entries are ignored; the first of a repeated name wins; names any case.
    odd = Capabilities.from_ehlo(
        ["mx.test", "LIMITS RCPTMAX=abc MAILMAX= =5 RCPTDOMAINMAX=-1 rcptmax=7 RCPTMAX=9 X"]
    )
    assert dict(odd.limits) == {"RCPTMAX": 7}
    with pytest.raises(TypeError):
        odd.limits["MAILMAX"] = 1  # type: ignore[index]


def test_deliverby_mt_priority_and_others() -> None:
    caps = Capabilities.from_ehlo(
        [
            "mx.test",
            "DELIVERBY 240",
            "MT-PRIORITY STANAG4406",
            "XCLIENT NAME ADDR PROTO HELO",
            "XFORWARD NAME ADDR PROTO HELO SOURCE",
            "RRVS",
            "FUTURERELEASE 604800 2012-10-30T22:00:00Z",
            "REQUIRETLS",
            "BINARYMIME",
        ]
    )
    assert caps.deliverby == 240
    assert caps.mt_priority == "STANAG4406"
    assert caps.xclient == ("NAME", "ADDR", "PROTO", "HELO")
    assert caps.xforward[-1] == "SOURCE"
    assert caps.rrvs and caps.futurerelease and caps.requiretls and caps.binarymime
    # RFC 2852: no min-by-time means no fixed minimum; RFC 6710: no policy means MIXER.
    bare = Capabilities.from_ehlo(["mx.test", "DELIVERBY", "MT-PRIORITY"])
    assert bare.deliverby == 0 and bare.mt_priority == "MIXER"
    assert Capabilities.from_ehlo(["mx.test", "MT-PRIORITY nsep"]).mt_priority == "NSEP"


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("", None),
        ("   ", None),
        ("-DASH-FIRST", None),
        ("UNDER_SCORE", None),
        ("ÜTF8", None),
        ("=PLAIN", None),
        ("X-FOO ok ba\x7fd", ("X-FOO", ("ok",))),
        ("X-BAR caf\u00e9 fine", ("X-BAR", ("fine",))),
    ],
)
def test_malformed_lines_are_recorded(line: str, kept: tuple[str, tuple[str, ...]] | None) -> None:
    # RFC 5321 §4.1.1.1: ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"),
    # ehlo-param = 1*(%d33-126). A client keeps going, and keeps the line for diagnostics.
    caps = Capabilities.from_ehlo(["mx.test", "PIPELINING", line, "DSN"])
    assert caps.malformed == (line,)
    assert caps.pipelining and caps.dsn
    extra = {k: v for k, v in caps.keywords.items() if k not in {"PIPELINING", "DSN"}}
    assert extra == ({} if kept is None else {kept[0]: kept[1]})


def test_liberal_spacing() -> None:
    caps = Capabilities.from_ehlo(["mx.test  Hi there ", "SIZE\t1000 ", "AUTH  PLAIN   LOGIN"])
    assert caps.size == 1000
    assert caps.params("AUTH") == ("PLAIN", "LOGIN")
    assert caps.greeting == " Hi there "
    assert caps.malformed == ()


def test_bad_domain_line_is_recorded() -> None:
    caps = Capabilities.from_ehlo([" greeting without a domain", "DSN"])
    assert caps.malformed == (" greeting without a domain",)
    assert caps.dsn


def test_from_ehlo_rejects_misuse() -> None:
    with pytest.raises(LocalProtocolError):
        Capabilities.from_ehlo([])
    with pytest.raises(LocalProtocolError):
        Capabilities.from_ehlo("mx.test")
    with pytest.raises(LocalProtocolError):
        Capabilities.from_ehlo(["mx.test", b"DSN"])  # type: ignore[list-item]


def test_value_is_immutable_and_hashable() -> None:
    caps = Capabilities.from_ehlo(POSTFIX)
    with pytest.raises(dataclasses.FrozenInstanceError):
        caps.domain = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        caps.keywords["AUTH"] = ("PLAIN",)  # type: ignore[index]
    assert {caps, Capabilities.from_ehlo(list(POSTFIX))} == {caps}
    assert caps != Capabilities.from_ehlo(POSTFIX[:-1])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"domain": "mx.test", "keywords": {"BAD_KEY": ()}},
        {"domain": "mx.test", "keywords": {"AUTH": ("PLAIN LOGIN",)}},
        {"domain": "mx.test", "keywords": {"AUTH": "PLAIN"}},
        {"domain": "mx.test", "keywords": {"SIZE": ("",)}},
        {"domain": "mx.test", "keywords": {"auth": (), "AUTH": ()}},
        {"domain": "mx.test\r\n250 DSN"},
        {"domain": ""},
        {"domain": "mx.test", "greeting": "hi\r\n250 DSN"},
        {"domain": 42},
        {"domain": "mx.test", "keywords": [("SIZE", ())]},
    ],
)
def test_constructor_checks_grammar(kwargs: dict[str, object]) -> None:
    with pytest.raises(LocalProtocolError):
        Capabilities(**kwargs)  # type: ignore[arg-type]


def test_build_enforces_server_rules() -> None:
    # RFC 6531 §3.2: a server offering SMTPUTF8 also offers 8BITMIME.
    with pytest.raises(LocalProtocolError, match="8BITMIME"):
        Capabilities.build(domain="mx.test", smtputf8=True)
    # RFC 3030 §3: BODY=BINARYMIME goes with BDAT only.
    with pytest.raises(LocalProtocolError, match="CHUNKING"):
        Capabilities.build(domain="mx.test", binarymime=True)
    for bad in (
        {"size": -1},
        {"size": True},
        {"deliverby": -5},
        {"auth": "PLAIN"},
        {"limits": {"RCPT MAX": 1}},
        {"limits": {"RCPTMAX": -1}},
        {"mt_priority": "two words"},
        {"extra": {"PIPELINING": ()}, "pipelining": True},
        {"extra": {"X-FOO": "bar"}},
    ):
        with pytest.raises(LocalProtocolError):
            Capabilities.build(domain="mx.test", **bad)


def test_build_order_and_values() -> None:
    caps = Capabilities.build(
        domain="mx.test",
        greeting="ESMTP ready",
        help=True,
        auth=["plain", "login"],
        pipelining=True,
        limits={"RCPTMAX": 100, "mailmax": 5},
        futurerelease=(604800, "2030-01-01T00:00:00Z"),
        mt_priority="MIXER",
        extra={"x-foo": ["bar"]},
    )
    assert caps.to_ehlo_lines() == [
        "mx.test ESMTP ready",
        "PIPELINING",
        "AUTH PLAIN LOGIN",
        "MT-PRIORITY MIXER",
        "FUTURERELEASE 604800 2030-01-01T00:00:00Z",
        "LIMITS RCPTMAX=100 MAILMAX=5",
        "HELP",
        "X-FOO bar",
    ]
    assert dict(caps.limits) == {"RCPTMAX": 100, "MAILMAX": 5}


# -- MAIL / RCPT parameters -------------------------------------------------------------

FULL = Capabilities.from_ehlo(
    [
        *POSTFIX,
        "BINARYMIME",
        "AUTH PLAIN",
        "REQUIRETLS",
        "MT-PRIORITY",
        "DELIVERBY",
        "RRVS",
        "FUTURERELEASE 1 2030-01-01T00:00:00Z",
        "XYZZY",
    ]
)
BARE = Capabilities.from_ehlo(["mx.test"])

PARAMETER_CASES = [
    # (command, keyword, value, needs): allowed with FULL; allowed with BARE iff needs is None.
    ("MAIL", "SIZE", "1000", "SIZE"),  # RFC 1870
    ("MAIL", "size", "1000", "SIZE"),
    ("MAIL", "BODY", "8BITMIME", "8BITMIME"),  # RFC 6152
    ("MAIL", "BODY", "8bitmime", "8BITMIME"),
    ("MAIL", "BODY", "BINARYMIME", "BINARYMIME"),  # RFC 3030
    ("MAIL", "BODY", "7BIT", None),
    ("MAIL", "SMTPUTF8", None, "SMTPUTF8"),  # RFC 6531
    ("MAIL", "RET", "HDRS", "DSN"),  # RFC 3461 §4.3
    ("MAIL", "ENVID", "QQ314159", "DSN"),  # RFC 3461 §4.4
    ("RCPT", "NOTIFY", "SUCCESS,FAILURE", "DSN"),  # RFC 3461 §4.1
    ("RCPT", "ORCPT", "rfc822;a@b.test", "DSN"),  # RFC 3461 §4.2
    ("MAIL", "AUTH", "<>", "AUTH"),  # RFC 4954 §5
    ("MAIL", "REQUIRETLS", None, "REQUIRETLS"),  # RFC 8689
    ("MAIL", "MT-PRIORITY", "3", "MT-PRIORITY"),  # RFC 6710
    ("MAIL", "BY", "120;R", "DELIVERBY"),  # RFC 2852
    ("RCPT", "RRVS", "2014-04-03T23:01:00Z", "RRVS"),  # RFC 7293
    ("MAIL", "HOLDFOR", "90", "FUTURERELEASE"),  # RFC 4865
    ("MAIL", "HOLDUNTIL", "2030-01-01T00:00:00Z", "FUTURERELEASE"),
    ("MAIL", "XYZZY", None, "XYZZY"),  # unknown: same-named keyword advertised
    ("RCPT", "XYZZY", "1", "XYZZY"),
]


@pytest.mark.parametrize(("command", "keyword", "value", "needs"), PARAMETER_CASES)
def test_parameter_needs_its_extension(
    command: str, keyword: str, value: str | None, needs: str | None
) -> None:
    assert parameter_allowed(FULL, command, keyword, value)  # type: ignore[arg-type]
    assert parameter_allowed(BARE, command, keyword, value) is (needs is None)  # type: ignore[arg-type]
    if needs is not None:
        without = {k: v for k, v in FULL.keywords.items() if k != needs}
        less = Capabilities(domain="mx.test", keywords=without)
        assert not parameter_allowed(less, command, keyword, value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("command", "keyword", "value"),
    [
        ("MAIL", "BODY", None),  # BODY needs a value
        ("MAIL", "BODY", "9BIT"),
        ("RCPT", "SIZE", "10"),  # a MAIL parameter on RCPT
        ("RCPT", "BODY", "8BITMIME"),
        ("MAIL", "NOTIFY", "NEVER"),  # an RCPT parameter on MAIL
        ("MAIL", "ORCPT", "rfc822;a@b.test"),
        ("MAIL", "X-UNKNOWN", None),  # nobody advertised it
        ("MAIL", "BAD_KEYWORD", None),
        ("MAIL", "", None),
    ],
)
def test_parameter_never_allowed(command: str, keyword: str, value: str | None) -> None:
    assert not parameter_allowed(FULL, command, keyword, value)  # type: ignore[arg-type]


def test_parameter_tables() -> None:
    assert MAIL_PARAMETERS["RET"] == MAIL_PARAMETERS["ENVID"] == RCPT_PARAMETERS["NOTIFY"] == "DSN"
    assert set(MAIL_PARAMETERS).isdisjoint(RCPT_PARAMETERS)
    with pytest.raises(TypeError):
        MAIL_PARAMETERS["X"] = "Y"  # type: ignore[index]
    with pytest.raises(LocalProtocolError):
        parameter_allowed(FULL, "DATA", "SIZE", "1")  # type: ignore[arg-type]


# -- properties ---------------------------------------------------------------------------

_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_domains = st.lists(_label, min_size=1, max_size=4).map(".".join)
_keyword = st.from_regex(r"X-[A-Z0-9][A-Z0-9-]{0,12}", fullmatch=True)
_param = st.from_regex(r"[\x21-\x7e]{1,12}", fullmatch=True)
_mechs = st.lists(st.sampled_from(["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "SCRAM-SHA-256"]))
_names = st.lists(st.sampled_from(["NAME", "ADDR", "PROTO", "HELO", "PORT", "SOURCE"]))


@st.composite
def _built(draw: st.DrawFn) -> tuple[Capabilities, dict[str, object]]:
    eightbit, chunking = draw(st.booleans()), draw(st.booleans())
    kwargs: dict[str, object] = {
        "domain": draw(_domains),
        "greeting": draw(st.text(st.characters(blacklist_characters="\r\n"), max_size=20)),
        "pipelining": draw(st.booleans()),
        "size": draw(st.none() | st.integers(0, 10**12)),
        "vrfy": draw(st.booleans()),
        "starttls": draw(st.booleans()),
        "auth": draw(_mechs),
        "eightbitmime": eightbit,
        "smtputf8": eightbit and draw(st.booleans()),
        "chunking": chunking,
        "binarymime": chunking and draw(st.booleans()),
        "dsn": draw(st.booleans()),
        "deliverby": draw(st.none() | st.integers(0, 10**6)),
        "mt_priority": draw(st.none() | st.sampled_from(["MIXER", "STANAG4406", "NSEP"])),
        "limits": draw(
            st.dictionaries(
                st.sampled_from(["RCPTMAX", "MAILMAX", "RCPTDOMAINMAX"]), st.integers(1, 10**6)
            )
        ),
        "xclient": draw(_names),
        "extra": draw(st.dictionaries(_keyword, st.lists(_param, max_size=3), max_size=3)),
    }
    return Capabilities.build(**kwargs), kwargs  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(_built())
def test_build_round_trip(built: tuple[Capabilities, dict[str, object]]) -> None:
    caps, kwargs = built
    again = Capabilities.from_ehlo(caps.to_ehlo_lines())
    assert again == caps
    assert again.malformed == ()
    assert again.to_ehlo_lines() == caps.to_ehlo_lines()
    # The typed view of the parsed reply says what the server asked to advertise.
    assert again.domain == kwargs["domain"]
    assert again.size == kwargs["size"]
    assert again.pipelining is kwargs["pipelining"]
    assert again.smtputf8 is kwargs["smtputf8"]
    assert again.binarymime is kwargs["binarymime"]
    assert again.auth_mechanisms == set(kwargs["auth"])  # type: ignore[call-overload]
    assert again.deliverby == kwargs["deliverby"]
    assert again.mt_priority == kwargs["mt_priority"]
    assert dict(again.limits) == kwargs["limits"]
    assert again.xclient == tuple(kwargs["xclient"])  # type: ignore[arg-type]


_any_line = st.text(st.characters(blacklist_categories=["Cs"]), max_size=30)


@settings(max_examples=200, deadline=None)
@given(st.lists(_any_line, min_size=1, max_size=8))
def test_any_reply_parses_and_rewrites_stably(lines: list[str]) -> None:
    caps = Capabilities.from_ehlo(lines)  # total on lists of str: never raises
    assert len(caps.malformed) <= len(lines)
    again = Capabilities.from_ehlo(caps.to_ehlo_lines())
    assert (again.domain, again.greeting, again.keywords) == (
        caps.domain,
        caps.greeting,
        caps.keywords,
    )

"""The ``mx`` CLI piece without DNS: argument parsing, address literals, refused names."""

from __future__ import annotations

import argparse
import io
import json

import pytest

from smtpcore._cli_mx import EX_OK, EX_PERMANENT, add_parser, parse_nameserver, run


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="smtpcore")
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["mx", *argv])


def call(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = run(parse(*argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("::1", ("::1", 53)),
        ("2001:DB8::1", ("2001:db8::1", 53)),
        ("[::1]:5353", ("::1", 5353)),
        ("[::1]", ("::1", 53)),
    ],
)
def test_nameserver_forms(text: str, expected: tuple[str, int]) -> None:
    assert parse_nameserver(text) == expected


@pytest.mark.parametrize(
    "text", ["localhost", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "[::1", "[::1]x", "1.2.3"]
)
def test_bad_nameservers(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_nameserver(text)


def test_bad_nameserver_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse("example.org", "--nameserver", "not-an-ip")
    assert info.value.code == 2
    assert "IP[:PORT]" in capsys.readouterr().err


def test_options_parse() -> None:
    args = parse(
        "example.org",
        "--nameserver",
        "127.0.0.1:99",
        "--nameserver",
        "::1",
        "--tlsa",
        "--mta-sts",
        "--json",
    )
    assert args.nameserver == [("127.0.0.1", 99), ("::1", 53)]
    assert (args.domain, args.tlsa, args.mta_sts, args.json) == ("example.org", True, True, True)


def test_address_literal_needs_no_dns() -> None:
    # a nameserver that does not exist: never asked, the literal is the route
    status, out, _ = call(
        "[192.0.2.1]", "--nameserver", "127.0.0.1:9", "--json", "--tlsa", "--mta-sts"
    )
    assert status == EX_OK
    assert json.loads(out) == {
        "domain": "[192.0.2.1]",
        "ascii_domain": "[192.0.2.1]",
        "implicit": True,
        "groups": [[{"host": "[192.0.2.1]", "preference": 0, "addresses": ["192.0.2.1"]}]],
        "ttl": 0,
    }
    status, out, _ = call("[IPv6:2001:db8::1]", "--nameserver", "127.0.0.1:9")
    assert status == EX_OK
    assert "2001:db8::1" in out


@pytest.mark.parametrize("domain", ["bad..name", "x-.example", "[300.0.0.1]"])
def test_invalid_names_exit_1_without_a_query(domain: str) -> None:
    status, out, _ = call(domain, "--nameserver", "127.0.0.1:9", "--json")
    assert status == EX_PERMANENT
    assert json.loads(out)["error"]["kind"] == "permanent"
    status, out, err = call(domain, "--nameserver", "127.0.0.1:9")
    assert status == EX_PERMANENT
    assert out == ""
    assert err.startswith(f"{domain}: permanent error: ")

"""The MTA-STS policy fetch (RFC 8461 §3.3) against a local HTTPS server (trustme certificate)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smtpcore.mx import STSError, fetch_policy
from tests.interop.dns_fixtures import Page, PolicyServer, run_policy_server

PATH = "/.well-known/mta-sts.txt"
POLICY = b"version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmax_age: 86400\r\n"


@pytest.fixture
def server() -> Iterator[PolicyServer]:
    with run_policy_server(["mta-sts.example.test"]) as httpd:
        yield httpd


def fetch(server: PolicyServer, domain: str = "example.test") -> str:
    return fetch_policy(
        domain, context=server.client_context(), port=server.port, address="127.0.0.1", timeout=10
    )


def test_fetch_gets_the_policy_from_the_well_known_path(server: PolicyServer) -> None:
    server.pages[PATH] = Page(body=POLICY)
    assert fetch(server) == POLICY.decode()
    assert server.requests == [(f"mta-sts.example.test:{server.port}", PATH)]


def test_media_type_parameters_are_allowed(server: PolicyServer) -> None:
    server.pages[PATH] = Page(body=POLICY, content_type="text/plain; charset=utf-8")
    assert fetch(server) == POLICY.decode()


@pytest.mark.parametrize(
    ("page", "why"),
    [
        (Page(status=404, body=b"no"), "HTTP 404"),
        (Page(status=500, body=POLICY), "HTTP 500"),
        # RFC 8461 §3.3: "HTTP 3xx redirects MUST NOT be followed"
        (Page(status=301, headers=(("Location", "/elsewhere"),)), "HTTP 301"),
        (Page(body=POLICY, content_type="text/html"), "media type"),
        (Page(body=POLICY, content_type=""), "media type"),
        (Page(body=b"x" * (64 * 1024 + 1)), "larger"),
        (Page(body=b"version: STSv1\xff\n"), "failed"),
    ],
)
def test_fetch_failures(server: PolicyServer, page: Page, why: str) -> None:
    server.pages[PATH] = page
    server.pages["/elsewhere"] = Page(body=POLICY)
    with pytest.raises(STSError, match=why):
        fetch(server)


def test_certificate_must_name_the_policy_host(server: PolicyServer) -> None:
    server.pages[PATH] = Page(body=POLICY)
    with pytest.raises(STSError, match="failed"):
        fetch(server, "other.test")  # the certificate is for mta-sts.example.test only


def test_certificate_must_be_trusted(server: PolicyServer) -> None:
    import ssl

    server.pages[PATH] = Page(body=POLICY)
    with pytest.raises(STSError, match="CERTIFICATE_VERIFY_FAILED"):
        fetch_policy(
            "example.test",
            context=ssl.create_default_context(),
            port=server.port,
            address="127.0.0.1",
            timeout=10,
        )


def test_nothing_listening_is_a_fetch_error() -> None:
    with run_policy_server(["mta-sts.example.test"]) as httpd:
        port = httpd.port
    with pytest.raises(STSError, match="failed"):
        fetch_policy("example.test", port=port, address="127.0.0.1", timeout=5)

"""The dnspython drivers without a DNS server: literals, broken configuration, argument checks."""

from __future__ import annotations

import asyncio
import random

import dns.asyncresolver
import dns.resolver
import pytest

from smtpcore import MXError
from smtpcore.mx import (
    DEFAULT_CACHE,
    MXCache,
    lookup_mta_sts,
    lookup_tlsa,
    make_resolver,
    resolve_mx,
    resolve_mx_async,
)


@pytest.fixture
def no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> dns.resolver.Resolver:
        raise dns.resolver.NoResolverConfiguration("no nameservers")

    monkeypatch.setattr(dns.resolver, "get_default_resolver", refuse)
    monkeypatch.setattr(dns.asyncresolver, "get_default_resolver", refuse)


@pytest.mark.usefixtures("no_configuration")
def test_no_system_configuration_is_a_temporary_error() -> None:
    for call in (
        lambda: resolve_mx("example.test", cache=None),
        lambda: asyncio.run(resolve_mx_async("example.test", cache=None)),
        lambda: lookup_tlsa("mx.example.test"),
    ):
        with pytest.raises(MXError) as info:
            call()
        assert info.value.kind == "temporary"
        assert "configuration" in info.value.reason
    result = lookup_mta_sts("example.test", cache=None)
    assert result.policy is None
    assert "configuration" in result.reason


@pytest.mark.usefixtures("no_configuration")
def test_literals_and_bad_names_need_no_resolver() -> None:
    route = resolve_mx("[192.0.2.1]")
    assert list(route) == [("[192.0.2.1]", "192.0.2.1")]
    assert asyncio.run(resolve_mx_async("[IPv6:2001:db8::1]")).hosts[0].addresses == (
        "2001:db8::1",
    )
    with pytest.raises(MXError) as info:
        resolve_mx("bad..example")
    assert info.value.kind == "permanent"


def test_make_resolver_uses_the_given_servers() -> None:
    resolver = make_resolver([("127.0.0.1", 5353), ("::1", 53)], lifetime=1.5)
    assert [str(ns) for ns in resolver.nameservers] == ["127.0.0.1", "::1"]
    assert resolver.nameserver_ports == {"127.0.0.1": 5353, "::1": 53}
    assert resolver.lifetime == 1.5


def test_tlsa_arguments_are_checked() -> None:
    resolver = make_resolver([("127.0.0.1", 9)])
    for host, port in (("bad..host", 25), ("mx.example.test", 0), ("mx.example.test", 70000)):
        with pytest.raises(MXError) as info:
            lookup_tlsa(host, port, resolver=resolver)
        assert info.value.kind == "permanent"


def test_default_cache_and_rng_types() -> None:
    assert isinstance(DEFAULT_CACHE, MXCache)
    route = resolve_mx("[192.0.2.1]", cache=None, rng=random.Random(1), prefer="ipv4-only")
    assert route.ttl == 0

"""smtpcore.mx against a real nsd on 127.0.0.1 (and a validating dnsmasq for DANE).

Every rule of RFC 5321 §5.1 and RFC 7505 the planner tests cover with fake answers, here with
real DNS messages: both drivers (dns.resolver and dns.asyncresolver), a 64-record MX set that
only TCP returns whole, SERVFAIL, REFUSED and timeouts, an IDN zone, the cache, and TLSA
lookups whose secure / insecure / bogus status comes from dnsmasq's own DNSSEC validation.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import io
import json
import random
import socket
from collections.abc import Callable, Iterator
from typing import Any

import dns.flags
import dns.message
import dns.query
import dns.resolver
import pytest

from smtpcore import MXError
from smtpcore._cli_mx import add_parser, run
from smtpcore._mx_cache import TTLCache
from smtpcore.mx import (
    MTASTSPolicy,
    MTASTSResult,
    MXCache,
    MXRoute,
    PolicyFetcher,
    STSError,
    fetch_policy,
    lookup_mta_sts,
    lookup_mta_sts_async,
    lookup_tlsa,
    lookup_tlsa_async,
    resolve_mx,
    resolve_mx_async,
)

from .dns_fixtures import (
    DNSServer,
    Page,
    PolicyServer,
    ad_flag,
    make_key,
    run_dnsmasq,
    run_nsd,
    run_policy_server,
    sign_zone,
    trust_anchor,
)

pytestmark = pytest.mark.interop

SOA = "@ SOA ns.{o}. hostmaster.{o}. 1 3600 600 86400 {neg}\n@ NS ns.{o}.\nns A 127.0.0.1\n"


def zone(origin: str, body: str, *, ttl: int = 300, negative: int = 60) -> str:
    return f"$ORIGIN {origin}.\n$TTL {ttl}\n" + SOA.format(o=origin, neg=negative) + body


BIG_HOSTS = 64
MX_TEST = zone(
    "mx.test",
    # preference as numbers: 9 < 10 < 100
    "pref MX 10 ten.pref\npref MX 100 hundred.pref\npref MX 9 nine.pref\n"
    "ten.pref A 192.0.2.10\nhundred.pref A 192.0.2.100\nnine.pref A 192.0.2.9\n"
    # equal preference
    + "".join(f"equal MX 5 {h}.equal\n{h}.equal A 192.0.2.{i + 1}\n" for i, h in enumerate("abc"))
    # A and AAAA, TTLs
    + "dual MX 10 host.dual\nhost.dual 120 A 192.0.2.20\nhost.dual 120 A 192.0.2.21\n"
    "host.dual 45 AAAA 2001:db8::20\n"
    # an exchange that is an alias (RFC 5321 forbids it, clients cope)
    "cname MX 10 alias.cname\nalias.cname CNAME real.cname\nreal.cname A 192.0.2.30\n"
    # hosts without addresses are skipped
    "noaddr MX 10 gone.noaddr\nnoaddr MX 20 bare.noaddr\nnoaddr MX 30 ok.noaddr\n"
    'bare.noaddr TXT "no address here"\nok.noaddr AAAA 2001:db8::31\n'
    "allgone MX 10 gone.allgone\n"
    # an exchange that looks like an IPv4 address is still a name (zone "1." below)
    "ipname MX 10 192.0.2.1.\n"
    # the implicit MX, directly and through an alias
    "implicit A 192.0.2.40\nimplicit AAAA 2001:db8::40\n"
    "implicit-alias CNAME implicit\n"
    # no MX, no address
    'bare TXT "nothing to deliver to"\n'
    # RFC 7505 null MX, with an A record that must not be used
    "null MX 0 .\nnull A 192.0.2.50\n"
    # a temporary failure below: a host in the broken zone
    "half MX 10 mx.broken.test.\nhalf MX 20 ok.half\nok.half A 192.0.2.60\n"
    # MTA-STS (RFC 8461 §3.1): a record, split strings, two records, one among others
     + '_mta-sts.sts TXT "v=STSv1; id=one"\nsts MX 10 mx1.sts\nsts MX 20 backup.elsewhere\n'
    "mx1.sts A 192.0.2.90\nbackup.elsewhere A 192.0.2.91\n"
    '_mta-sts.split TXT "v=STSv1; " "id=splitid"\nsplit MX 10 mx1.sts\n'
    '_mta-sts.multi TXT "v=STSv1; id=a"\n_mta-sts.multi TXT "v=STSv1; id=b"\n'
    "multi MX 10 mx1.sts\n"
    '_mta-sts.mixed TXT "v=spf1 -all"\n_mta-sts.mixed TXT "v=STSv1; id=mixed1"\n'
    "mixed MX 10 mx1.sts\n"
    # 64 MX records with long names: about 5 kB, truncated over UDP
    + "".join(
        f"big MX {i} mail-exchanger-number-{i:02d}-with-a-rather-long-label.big\n"
        f"mail-exchanger-number-{i:02d}-with-a-rather-long-label.big A 192.0.2.{100 + i}\n"
        for i in range(BIG_HOSTS)
    ),
)
ONE_ZONE = zone("1", "192.0.2.1. A 198.51.100.7\n")
IDN_ZONE = zone("xn--bcher-kva.test", "@ MX 10 mail\nmail A 192.0.2.70\n")


@pytest.fixture(scope="module")
def nsd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DNSServer]:
    zones = {
        "mx.test": MX_TEST,
        "1": ONE_ZONE,
        "xn--bcher-kva.test": IDN_ZONE,
        "broken.test": None,  # declared, no zone file: nsd answers SERVFAIL
    }
    with run_nsd(tmp_path_factory.mktemp("nsd"), zones) as server:
        yield server


Resolve = Callable[..., MXRoute]


def resolve_async(domain: str, **kwargs: Any) -> MXRoute:
    return asyncio.run(resolve_mx_async(domain, **kwargs))


@pytest.fixture(params=["sync", "async"])
def resolve(request: pytest.FixtureRequest, nsd: DNSServer) -> Resolve:
    driver = resolve_mx if request.param == "sync" else resolve_async

    def run(domain: str, **kwargs: Any) -> MXRoute:
        kwargs.setdefault("resolver", nsd.resolver())
        kwargs.setdefault("cache", None)
        return driver(domain, **kwargs)

    return run


def error(resolve: Resolve, domain: str, **kwargs: Any) -> MXError:
    with pytest.raises(MXError) as info:
        resolve(domain, **kwargs)
    return info.value


def test_preference_order_is_numeric(resolve: Resolve) -> None:
    route = resolve("pref.mx.test")
    assert [h.host for h in route.hosts] == [
        "nine.pref.mx.test",
        "ten.pref.mx.test",
        "hundred.pref.mx.test",
    ]
    assert [h.preference for h in route.hosts] == [9, 10, 100]
    assert route.hosts[0].addresses == ("192.0.2.9",)
    assert route.implicit is False


def test_equal_preference_is_shuffled_with_the_given_rng(resolve: Resolve) -> None:
    orders = {
        tuple(h.host[0] for h in resolve("equal.mx.test", rng=random.Random(seed)).groups[0])
        for seed in range(40)
    }
    assert len(orders) > 3  # six orders exist; 40 seeds find most of them
    # the same seed gives the same order (the source is injected, nothing else is random)
    first = resolve("equal.mx.test", rng=random.Random(7)).groups
    assert resolve("equal.mx.test", rng=random.Random(7)).groups == first


def test_a_and_aaaa_with_preference_and_ttl(resolve: Resolve) -> None:
    route = resolve("dual.mx.test")
    assert route.hosts[0].addresses == ("2001:db8::20", "192.0.2.20", "192.0.2.21")
    assert route.ttl == 45
    v4 = resolve("dual.mx.test", prefer="ipv4")
    assert v4.hosts[0].addresses == ("192.0.2.20", "192.0.2.21", "2001:db8::20")
    assert resolve("dual.mx.test", prefer="ipv4-only").hosts[0].addresses == (
        "192.0.2.20",
        "192.0.2.21",
    )


def test_cname_exchange_is_followed(resolve: Resolve) -> None:
    route = resolve("cname.mx.test")
    assert route.hosts[0].host == "alias.cname.mx.test"
    assert route.hosts[0].addresses == ("192.0.2.30",)


def test_hosts_without_addresses_are_skipped(resolve: Resolve) -> None:
    route = resolve("noaddr.mx.test")
    assert [h.host for h in route.hosts] == ["ok.noaddr.mx.test"]
    assert error(resolve, "allgone.mx.test").kind == "no-route"


def test_ip_looking_exchange_is_resolved_as_a_name(resolve: Resolve) -> None:
    route = resolve("ipname.mx.test")
    assert route.hosts[0].host == "192.0.2.1"
    assert route.hosts[0].addresses == ("198.51.100.7",)  # its A record, not the name itself


def test_implicit_mx(resolve: Resolve) -> None:
    route = resolve("implicit.mx.test")
    assert route.implicit is True
    assert route.hosts[0].preference == 0
    assert route.hosts[0].addresses == ("2001:db8::40", "192.0.2.40")
    assert 0 < route.ttl <= 60  # bounded by the negative TTL of the MX answer (SOA minimum)


def test_implicit_mx_through_cname(resolve: Resolve) -> None:
    route = resolve("implicit-alias.mx.test")
    assert route.implicit is True
    assert route.hosts[0].host == "implicit.mx.test"
    assert route.hosts[0].addresses == ("2001:db8::40", "192.0.2.40")


def test_no_mx_no_address_is_no_route(resolve: Resolve) -> None:
    err = error(resolve, "bare.mx.test")
    assert err.kind == "no-route"


def test_null_mx(resolve: Resolve) -> None:
    err = error(resolve, "null.mx.test")
    assert err.kind == "null-mx"


def test_nxdomain_is_permanent(resolve: Resolve) -> None:
    err = error(resolve, "nope.mx.test")
    assert err.kind == "permanent"


def test_servfail_is_temporary(resolve: Resolve) -> None:
    err = error(resolve, "anything.broken.test")
    assert err.kind == "temporary"
    assert "SERVFAIL" in err.reason


def test_refused_is_temporary(resolve: Resolve) -> None:
    err = error(resolve, "example.org")  # not a zone this nsd serves
    assert err.kind == "temporary"
    assert "REFUSED" in err.reason


def test_host_in_a_failing_zone_leaves_the_others(resolve: Resolve) -> None:
    route = resolve("half.mx.test")
    assert [h.host for h in route.hosts] == ["ok.half.mx.test"]


def test_timeout_is_temporary(resolve: Resolve) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # takes queries, never answers
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = silent.getsockname()[1]
        resolver.timeout = resolver.lifetime = 0.3
        err = error(resolve, "pref.mx.test", resolver=resolver)
    assert err.kind == "temporary"
    assert "timeout" in err.reason


def test_big_mx_set_needs_tcp_and_gets_it(resolve: Resolve, nsd: DNSServer) -> None:
    # the UDP answer is truncated (TC set, records missing) ...
    query = dns.message.make_query("big.mx.test", "MX")
    udp = dns.query.udp(query, "127.0.0.1", port=nsd.port, timeout=2)
    assert udp.flags & dns.flags.TC
    assert sum(len(rrset) for rrset in udp.answer) < BIG_HOSTS
    # ... and the resolver's TCP retry brings all 64
    route = resolve("big.mx.test")
    assert len(route.hosts) == BIG_HOSTS
    assert [h.preference for h in route.hosts] == list(range(BIG_HOSTS))
    assert route.hosts[63].addresses == ("192.0.2.163",)


def test_idn_domain(resolve: Resolve) -> None:
    route = resolve("Bücher.TEST.")
    assert route.domain == "Bücher.TEST."
    assert route.ascii_domain == "xn--bcher-kva.test"
    assert route.hosts[0].host == "mail.xn--bcher-kva.test"
    assert route.hosts[0].addresses == ("192.0.2.70",)


def test_invalid_name_never_reaches_the_server(resolve: Resolve) -> None:
    class NoQueries(dns.resolver.Resolver):
        def resolve(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("queried")

    err = error(resolve, "bad_label..mx.test", resolver=NoQueries(configure=False))
    assert err.kind == "permanent"


def test_address_literal_needs_no_dns(resolve: Resolve) -> None:
    route = resolve("[IPv6:2001:db8::1]", resolver=dns.resolver.Resolver(configure=False))
    assert list(route) == [("[IPv6:2001:db8::1]", "2001:db8::1")]


class Counting(dns.resolver.Resolver):
    """A resolver that counts the questions it is asked."""

    def __init__(self, port: int) -> None:
        super().__init__(configure=False)
        self.nameservers = ["127.0.0.1"]
        self.port = port
        self.cache = None
        self.asked = 0

    def resolve(self, *args: Any, **kwargs: Any) -> dns.resolver.Answer:
        self.asked += 1
        return super().resolve(*args, **kwargs)


def test_cache_respects_ttl_and_can_be_switched_off(nsd: DNSServer) -> None:
    now = [1000.0]
    cache = MXCache(clock=lambda: now[0])
    resolver = Counting(nsd.port)
    first = resolve_mx("dual.mx.test", resolver=resolver, cache=cache)
    asked = resolver.asked
    assert asked == 3  # MX, AAAA, A
    second = resolve_mx("dual.mx.test", resolver=resolver, cache=cache)
    assert resolver.asked == asked
    assert second.hosts == first.hosts
    now[0] += 30
    assert resolve_mx("dual.mx.test", resolver=resolver, cache=cache).ttl == 15  # 45 - 30
    now[0] += 20  # the AAAA record (TTL 45) has expired, the rest has not
    resolve_mx("dual.mx.test", resolver=resolver, cache=cache)
    assert resolver.asked == asked + 1
    resolve_mx("dual.mx.test", resolver=resolver, cache=None)
    assert resolver.asked == asked + 4


def test_cache_keeps_negative_answers_but_not_failures(nsd: DNSServer) -> None:
    cache = MXCache()
    resolver = Counting(nsd.port)
    for _ in range(2):
        with pytest.raises(MXError):
            resolve_mx("nope.mx.test", resolver=resolver, cache=cache)
    assert resolver.asked == 1  # NXDOMAIN kept for the SOA minimum (60 s)
    for _ in range(2):
        with pytest.raises(MXError):
            resolve_mx("x.broken.test", resolver=resolver, cache=cache)
    assert resolver.asked == 3  # SERVFAIL asked again each time


def test_cache_is_per_nameserver(nsd: DNSServer) -> None:
    cache = MXCache()
    resolve_mx("pref.mx.test", resolver=nsd.resolver(), cache=cache)
    other = dns.resolver.Resolver(configure=False)
    other.nameservers = ["127.0.0.1"]
    other.port = nsd.port + 1 if nsd.port < 65535 else nsd.port - 1
    other.timeout = other.lifetime = 0.3
    with pytest.raises(MXError) as info:
        resolve_mx("pref.mx.test", resolver=other, cache=cache)
    assert info.value.kind == "temporary"


def test_async_driver_takes_a_sync_resolver_and_the_reverse(nsd: DNSServer) -> None:
    import dns.asyncresolver

    aresolver = dns.asyncresolver.Resolver(configure=False)
    aresolver.nameservers = ["127.0.0.1"]
    aresolver.port = nsd.port
    sync_route = resolve_mx("pref.mx.test", resolver=aresolver, cache=None)
    async_route = asyncio.run(resolve_mx_async("pref.mx.test", resolver=nsd.resolver(), cache=None))
    assert sync_route == async_route


# -- DANE: a signed root, an insecure and a bogus delegation, dnsmasq validating ----------------

TLSA_DATA = "a1" * 32


@pytest.fixture(scope="module")
def validating(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DNSServer]:
    work = tmp_path_factory.mktemp("dnssec")
    work.chmod(0o755)  # dnsmasq may drop privileges before it writes its log
    root_key = make_key(work, ".")
    bogus_key = make_key(
        work, "bogus.dane.test"
    )  # its DS goes in the root; the zone stays unsigned
    root = (
        "$ORIGIN .\n$TTL 300\n"
        "@ SOA ns.dane.test. hostmaster.dane.test. 1 3600 600 86400 60\n@ NS ns.dane.test.\n"
        "ns.dane.test. A 127.0.0.1\n"
        "dane.test. MX 10 mx.dane.test.\n"
        f"mx.dane.test. A 192.0.2.80\n_25._tcp.mx.dane.test. TLSA 3 1 1 {TLSA_DATA}\n"
        f"_25._tcp.mx.dane.test. TLSA 1 0 1 {TLSA_DATA}\n"
        "plain.dane.test. A 192.0.2.81\n"
        "insecure.dane.test. NS ns.insecure.dane.test.\nns.insecure.dane.test. A 127.0.0.1\n"
        "bogus.dane.test. NS ns.bogus.dane.test.\nns.bogus.dane.test. A 127.0.0.1\n"
        f"{bogus_key.ds}\n"
    )
    child = f"mx A 192.0.2.82\n_25._tcp.mx TLSA 3 1 1 {TLSA_DATA}\n"
    zones: dict[str, str | None] = {
        ".": sign_zone(work, ".", root, root_key),
        "insecure.dane.test": zone("insecure.dane.test", child),
        "bogus.dane.test": zone("bogus.dane.test", child),
    }
    with (
        run_nsd(work / "nsd", zones) as nsd,
        run_dnsmasq(work / "dnsmasq", nsd.port, trust_anchor(root_key), ".") as dnsmasq,
    ):
        yield dnsmasq


Lookup = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def tlsa(request: pytest.FixtureRequest, validating: DNSServer) -> Lookup:
    def run(host: str, port: int = 25) -> Any:
        resolver = validating.resolver()
        if request.param == "sync":
            return lookup_tlsa(host, port, resolver=resolver)
        return asyncio.run(lookup_tlsa_async(host, port, resolver=resolver))

    return run


def test_secure_tlsa(tlsa: Lookup) -> None:
    result = tlsa("mx.dane.test")
    assert result.secure is True
    assert result.name == "_25._tcp.mx.dane.test"
    assert sorted((r.usage, r.selector, r.mtype) for r in result.records) == [(1, 0, 1), (3, 1, 1)]
    assert all(r.data == bytes.fromhex(TLSA_DATA) for r in result.records)
    # RFC 7672 §3.1.3: PKIX-EE(1) is unusable for SMTP
    assert [(r.usage, r.selector, r.mtype) for r in result.usable_records] == [(3, 1, 1)]
    assert result.dane is True


def test_secure_absence_of_tlsa(tlsa: Lookup) -> None:
    result = tlsa("plain.dane.test")
    assert result.secure is True
    assert result.records == ()
    assert 0 < result.ttl <= 60  # the negative TTL of the signed NXDOMAIN
    assert result.dane is False


def test_insecure_tlsa_is_no_dane(tlsa: Lookup) -> None:
    result = tlsa("mx.insecure.dane.test")
    assert result.secure is False
    assert result.records == ()  # RFC 7672 §2.1.1: insecure records are ignored
    assert result.dane is False


def test_bogus_tlsa_is_temporary(tlsa: Lookup) -> None:
    with pytest.raises(MXError) as info:
        tlsa("mx.bogus.dane.test")
    assert info.value.kind == "temporary"


def test_tlsa_other_port(tlsa: Lookup) -> None:
    result = tlsa("mx.dane.test", 587)
    assert result.name == "_587._tcp.mx.dane.test"
    assert result.records == ()


def test_ad_bit_needs_asking(validating: DNSServer) -> None:
    # why lookup_tlsa sets the flag: without it the validator does not report "secure"
    assert ad_flag(validating, "_25._tcp.mx.dane.test", "TLSA", ask=False) is False
    assert ad_flag(validating, "_25._tcp.mx.dane.test", "TLSA", ask=True) is True


def test_lookup_tlsa_leaves_the_callers_resolver_alone(validating: DNSServer) -> None:
    resolver = validating.resolver()
    lookup_tlsa("mx.dane.test", resolver=resolver)
    assert resolver.flags is None
    assert resolver.edns == -1 or not resolver.ednsflags & dns.flags.DO


def test_tlsa_bad_host_is_permanent(validating: DNSServer) -> None:
    with pytest.raises(MXError) as info:
        lookup_tlsa("bad..host", resolver=validating.resolver())
    assert info.value.kind == "permanent"


# -- MTA-STS: TXT records from nsd, the policy from a loopback HTTPS server -------------------

STS_POLICY = b"version: STSv1\nmode: enforce\nmx: *.sts.mx.test\nmax_age: 86400\n"
STS_PATH = "/.well-known/mta-sts.txt"


@pytest.fixture(scope="module")
def policy_server() -> Iterator[PolicyServer]:
    names = [f"mta-sts.{d}.mx.test" for d in ("sts", "split", "multi", "mixed", "bare")]
    with run_policy_server(names) as server:
        server.pages[STS_PATH] = Page(body=STS_POLICY)
        yield server


def fetcher(server: PolicyServer) -> PolicyFetcher:
    return functools.partial(
        fetch_policy,
        context=server.client_context(),
        port=server.port,
        address="127.0.0.1",
        timeout=10,
    )


@pytest.fixture(params=["sync", "async"])
def sts(request: pytest.FixtureRequest, nsd: DNSServer, policy_server: PolicyServer) -> Lookup:
    def run(domain: str, **kwargs: Any) -> MTASTSResult:
        kwargs.setdefault("resolver", nsd.resolver())
        kwargs.setdefault("cache", None)
        kwargs.setdefault("fetch", fetcher(policy_server))
        if request.param == "sync":
            return lookup_mta_sts(domain, **kwargs)
        return asyncio.run(lookup_mta_sts_async(domain, **kwargs))

    return run


def test_mta_sts_policy_and_matching(sts: Lookup, resolve: Resolve) -> None:
    result = sts("STS.mx.test")
    assert result.record_id == "one"
    assert result.policy == MTASTSPolicy(
        id="one", mode="enforce", mx=("*.sts.mx.test",), max_age=86400
    )
    assert result.from_cache is False
    route = resolve("sts.mx.test")
    allowed = {h.host: result.policy.matches(h.host) for h in route.hosts}
    assert allowed == {"mx1.sts.mx.test": True, "backup.elsewhere.mx.test": False}


@pytest.mark.parametrize(
    ("domain", "record_id"), [("split.mx.test", "splitid"), ("mixed.mx.test", "mixed1")]
)
def test_mta_sts_record_rules(sts: Lookup, domain: str, record_id: str) -> None:
    result = sts(domain)
    assert result.record_id == record_id
    assert result.policy is not None
    assert result.policy.id == record_id


@pytest.mark.parametrize("domain", ["multi.mx.test", "bare.mx.test", "nope.mx.test"])
def test_no_usable_record_is_no_mta_sts(sts: Lookup, domain: str) -> None:
    result = sts(domain)
    assert result.policy is None
    assert result.record_id is None
    assert "no valid" in result.reason


def test_txt_failure_is_no_policy_without_cache(sts: Lookup) -> None:
    result = sts("x.broken.test")
    assert result.policy is None
    assert "TXT lookup failed" in result.reason


def test_policy_cache_by_id(sts: Lookup, policy_server: PolicyServer) -> None:
    now = [0.0]
    cache: TTLCache[str, MTASTSPolicy] = TTLCache(clock=lambda: now[0])
    before = len(policy_server.requests)
    first = sts("sts.mx.test", cache=cache)
    assert len(policy_server.requests) == before + 1
    second = sts("sts.mx.test", cache=cache)  # same id: no refetch (RFC 8461 §3.3)
    assert len(policy_server.requests) == before + 1
    assert second.from_cache is True
    assert second.policy == first.policy
    # a cached policy of another id is replaced by a fetch
    stale = MTASTSPolicy(id="old", mode="testing", mx=("x.test",), max_age=100)
    cache.put("sts.mx.test", stale, 100)
    third = sts("sts.mx.test", cache=cache)
    assert len(policy_server.requests) == before + 2
    assert third.policy == first.policy
    # after max_age the policy is gone from the cache and fetched again
    now[0] += 86400
    assert sts("sts.mx.test", cache=cache).from_cache is False
    assert len(policy_server.requests) == before + 3


def test_cached_policy_survives_fetch_and_record_failures(sts: Lookup) -> None:
    cache: TTLCache[str, MTASTSPolicy] = TTLCache(clock=lambda: 0.0)
    kept = MTASTSPolicy(id="old", mode="enforce", mx=("*.sts.mx.test",), max_age=100)

    def failing(domain: str) -> str:
        raise STSError("no route to the policy host")

    # RFC 8461 §3.3: no policy fetched and none cached: as though no MTA-STS
    assert sts("sts.mx.test", cache=cache, fetch=failing).policy is None
    # ... but a cached one is kept and used
    cache.put("sts.mx.test", kept, 100)
    result = sts("sts.mx.test", cache=cache, fetch=failing)
    assert (result.policy, result.from_cache) == (kept, True)
    assert "no route" in result.reason
    # the TXT record gone (an attacker can strip it): the cached policy still holds
    cache.put("bare.mx.test", kept, 100)
    assert sts("bare.mx.test", cache=cache).policy == kept


def test_invalid_policy_is_no_policy(sts: Lookup) -> None:
    result = sts("sts.mx.test", fetch=lambda domain: "version: STSv1\nmode: sometimes\n")
    assert result.policy is None
    assert "mode" in result.reason


# -- the CLI piece, run() called directly -------------------------------------------------------


def cli(*argv: str, fetch: PolicyFetcher | None = None) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="smtpcore")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["mx", *argv])
    out, err = io.StringIO(), io.StringIO()
    kwargs: dict[str, Any] = {} if fetch is None else {"fetch": fetch}
    status = run(args, out=out, err=err, **kwargs)
    return status, out.getvalue(), err.getvalue()


def test_cli_json(nsd: DNSServer) -> None:
    status, out, _ = cli("pref.mx.test", "--nameserver", f"127.0.0.1:{nsd.port}", "--json")
    assert status == 0
    data = json.loads(out)
    assert data["domain"] == data["ascii_domain"] == "pref.mx.test"
    assert data["implicit"] is False
    assert data["groups"] == [
        [{"host": "nine.pref.mx.test", "preference": 9, "addresses": ["192.0.2.9"]}],
        [{"host": "ten.pref.mx.test", "preference": 10, "addresses": ["192.0.2.10"]}],
        [{"host": "hundred.pref.mx.test", "preference": 100, "addresses": ["192.0.2.100"]}],
    ]


def test_cli_table(nsd: DNSServer) -> None:
    status, out, _ = cli("Bücher.test", "--nameserver", f"127.0.0.1:{nsd.port}")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("Bücher.test (xn--bcher-kva.test): MX, TTL ")
    assert lines[2].split() == ["10", "mail.xn--bcher-kva.test", "192.0.2.70"]


@pytest.mark.parametrize(
    ("domain", "status", "kind"),
    [
        ("nope.mx.test", 1, "permanent"),
        ("null.mx.test", 1, "null-mx"),
        ("bare.mx.test", 1, "no-route"),
        ("x.broken.test", 75, "temporary"),
    ],
)
def test_cli_errors(nsd: DNSServer, domain: str, status: int, kind: str) -> None:
    got, out, _ = cli(domain, "--nameserver", f"127.0.0.1:{nsd.port}", "--json")
    assert got == status
    data = json.loads(out)
    assert data["domain"] == domain
    assert data["error"]["kind"] == kind
    assert domain in data["error"]["message"]
    got, out, err = cli(domain, "--nameserver", f"127.0.0.1:{nsd.port}")
    assert got == status
    assert out == ""
    assert f"{kind} error" in err


def test_cli_mta_sts(nsd: DNSServer, policy_server: PolicyServer) -> None:
    argv = ["sts.mx.test", "--nameserver", f"127.0.0.1:{nsd.port}", "--mta-sts"]
    status, out, _ = cli(*argv, "--json", fetch=fetcher(policy_server))
    assert status == 0
    data = json.loads(out)
    assert data["mta_sts"]["policy"] == {
        "id": "one",
        "mode": "enforce",
        "mx": ["*.sts.mx.test"],
        "max_age": 86400,
    }
    matches = {h["host"]: h["mta_sts_match"] for g in data["groups"] for h in g}
    assert matches == {"mx1.sts.mx.test": True, "backup.elsewhere.mx.test": False}
    status, out, _ = cli(*argv, fetch=fetcher(policy_server))
    assert "MTA-STS: mode enforce" in out
    assert "not allowed by the MTA-STS policy" in out


def test_cli_tlsa(validating: DNSServer) -> None:
    status, out, _ = cli(
        "dane.test", "--nameserver", f"127.0.0.1:{validating.port}", "--tlsa", "--json"
    )
    assert status == 0
    host = json.loads(out)["groups"][0][0]
    assert host["host"] == "mx.dane.test"
    assert host["tlsa"]["secure"] is True
    assert {"usage": 3, "selector": 1, "mtype": 1, "data": TLSA_DATA} in host["tlsa"]["records"]
    status, out, _ = cli("dane.test", "--nameserver", f"127.0.0.1:{validating.port}", "--tlsa")
    assert "TLSA (secure): " in out

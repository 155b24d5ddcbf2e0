"""The sans-I/O MX plan against fake DNS answers: RFC 5321 §5.1 and RFC 7505, rule by rule."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import given, settings, strategies as st

from smtpcore import MXError
from smtpcore._mx import DNSAnswer, MXHost, MXPlan, MXRecord, MXRoute, Query

# A fake DNS: (name, type) -> what the server says. Missing names are NXDOMAIN.
Zone = dict[tuple[str, str], dict[str, object]]


def keep_order(hosts: list[MXHost]) -> None:
    pass


def answer_for(zone: Zone, query: Query) -> DNSAnswer:
    data = zone.get((query.name, query.rdtype))
    if data is None:
        if any(name == query.name for name, _ in zone):
            return DNSAnswer(query=query, outcome="nodata", ttl=60)
        return DNSAnswer(query=query, outcome="nxdomain", ttl=60)
    return DNSAnswer(query=query, **data)  # type: ignore[arg-type]


def mx(*records: tuple[int, str], ttl: int = 300) -> dict[str, object]:
    return {
        "outcome": "answer",
        "mx": tuple(MXRecord(preference=p, exchange=e) for p, e in records),
        "ttl": ttl,
    }


def addr(*addresses: str, ttl: int = 300, canonical: str = "") -> dict[str, object]:
    return {"outcome": "answer", "addresses": addresses, "ttl": ttl, "canonical_name": canonical}


def run(
    domain: str,
    zone: Zone,
    *,
    shuffle: Callable[[list[MXHost]], None] = keep_order,
    prefer: str = "ipv6",
    asked: list[Query] | None = None,
) -> MXRoute:
    plan = MXPlan(domain, shuffle=shuffle, prefer=prefer)  # type: ignore[arg-type]
    for _ in range(100):  # bounded: a plan needs a handful of rounds
        queries = plan.pending()
        if not queries:
            break
        for query in queries:
            if asked is not None:
                asked.append(query)
            plan.receive(answer_for(zone, query))
    else:
        pytest.fail("the plan never finished")
    return plan.route()


def error_of(domain: str, zone: Zone, **kwargs: object) -> MXError:
    with pytest.raises(MXError) as info:
        run(domain, zone, **kwargs)  # type: ignore[arg-type]
    return info.value


def test_preferences_sort_as_numbers() -> None:
    # RFC 5321 §5.1: "ordered by preference, with the lowest-numbered records being most
    # preferred". As strings "10" < "100" < "9"; as numbers 9 < 10 < 100.
    zone: Zone = {
        ("example.org", "MX"): mx(
            (10, "ten.example.org"), (100, "hundred.example.org"), (9, "nine.example.org")
        ),
        ("ten.example.org", "A"): addr("192.0.2.10"),
        ("hundred.example.org", "A"): addr("192.0.2.100"),
        ("nine.example.org", "A"): addr("192.0.2.9"),
    }
    route = run("example.org", zone)
    assert [[h.host for h in g] for g in route.groups] == [
        ["nine.example.org"],
        ["ten.example.org"],
        ["hundred.example.org"],
    ]
    assert [h.preference for h in route.hosts] == [9, 10, 100]
    assert route.implicit is False
    assert route.domain == route.ascii_domain == "example.org"


EQUAL: Zone = {
    ("example.org", "MX"): mx(
        (5, "a.example.org"), (5, "b.example.org"), (5, "c.example.org"), (7, "z.example.org")
    ),
    ("a.example.org", "A"): addr("192.0.2.1"),
    ("b.example.org", "A"): addr("192.0.2.2"),
    ("c.example.org", "A"): addr("192.0.2.3"),
    ("z.example.org", "A"): addr("192.0.2.26"),
}


def test_equal_preference_goes_through_the_injected_shuffle() -> None:
    calls: list[list[str]] = []

    def reverse(hosts: list[MXHost]) -> None:
        calls.append([h.host for h in hosts])
        hosts.reverse()

    route = run("example.org", EQUAL, shuffle=reverse)
    # one call, for the group of three; a group of one needs no shuffle
    assert calls == [["a.example.org", "b.example.org", "c.example.org"]]
    assert [h.host for h in route.groups[0]] == ["c.example.org", "b.example.org", "a.example.org"]
    assert [h.host for h in route.groups[1]] == ["z.example.org"]


def test_equal_preference_shuffle_is_uniform_ish() -> None:
    # RFC 5321 §5.1: equal-preference hosts "MUST" be randomized. 6 orders of 3 hosts, 6000
    # runs with a seeded generator; chi-square with 5 degrees of freedom, bound at p = 0.001.
    rng = random.Random(20261129)
    runs = 6000
    counts = Counter(
        tuple(h.host[0] for h in run("example.org", EQUAL, shuffle=rng.shuffle).groups[0])
        for _ in range(runs)
    )
    assert set(counts) == {tuple(p) for p in itertools.permutations("abc")}
    expected = runs / 6
    chi2 = sum((seen - expected) ** 2 / expected for seen in counts.values())
    assert chi2 < 20.52, counts
    # and the first position alone: each host first about a third of the time
    first = Counter(order[0] for order in counts.elements())
    assert all(abs(n - runs / 3) < 0.05 * runs for n in first.values()), first


def test_every_host_gets_a_and_aaaa_in_the_preferred_order() -> None:
    zone: Zone = {
        ("example.org", "MX"): mx((10, "mx.example.org")),
        ("mx.example.org", "A"): addr("192.0.2.1", "192.0.2.2"),
        ("mx.example.org", "AAAA"): addr("2001:db8::1"),
    }
    six = run("example.org", zone)
    assert six.hosts[0].addresses == ("2001:db8::1", "192.0.2.1", "192.0.2.2")
    four = run("example.org", zone, prefer="ipv4")
    assert four.hosts[0].addresses == ("192.0.2.1", "192.0.2.2", "2001:db8::1")
    asked: list[Query] = []
    only4 = run("example.org", zone, prefer="ipv4-only", asked=asked)
    assert only4.hosts[0].addresses == ("192.0.2.1", "192.0.2.2")
    assert Query(name="mx.example.org", rdtype="AAAA") not in asked
    assert run("example.org", zone, prefer="ipv6-only").hosts[0].addresses == ("2001:db8::1",)
    with pytest.raises(ValueError, match="prefer"):
        MXPlan("example.org", shuffle=keep_order, prefer="ipv5")  # type: ignore[arg-type]


def test_addresses_keep_the_order_presented_without_duplicates() -> None:
    # RFC 5321 §5.1: the addresses of a multihomed host are tried "in the order presented".
    zone: Zone = {
        ("example.org", "MX"): mx((10, "mx.example.org")),
        ("mx.example.org", "A"): addr("192.0.2.9", "192.0.2.1", "192.0.2.9"),
    }
    assert run("example.org", zone).hosts[0].addresses == ("192.0.2.9", "192.0.2.1")


def test_cname_in_the_answer_is_followed() -> None:
    # the resolver already chased the alias: the answer carries the target's addresses
    zone: Zone = {
        ("example.org", "MX"): mx((10, "alias.example.org")),
        ("alias.example.org", "A"): addr("192.0.2.7", canonical="real.example.net"),
    }
    route = run("example.org", zone)
    assert route.hosts[0].host == "alias.example.org"
    assert route.hosts[0].addresses == ("192.0.2.7",)


def test_dangling_cname_is_chased_by_the_plan() -> None:
    # an authoritative-only answer: the alias, but not the target's records
    zone: Zone = {
        ("example.org", "MX"): mx((10, "alias.example.org")),
        ("alias.example.org", "A"): {"outcome": "nodata", "canonical_name": "real.example.net"},
        ("real.example.net", "A"): addr("192.0.2.8"),
    }
    asked: list[Query] = []
    route = run("example.org", zone, asked=asked)
    assert Query(name="real.example.net", rdtype="A") in asked
    assert route.hosts[0].host == "alias.example.org"
    assert route.hosts[0].addresses == ("192.0.2.8",)


def test_cname_loop_ends() -> None:
    zone: Zone = {
        ("example.org", "MX"): mx((10, "a.example.org"), (20, "ok.example.org")),
        ("a.example.org", "A"): {"outcome": "nodata", "canonical_name": "b.example.org"},
        ("b.example.org", "A"): {"outcome": "nodata", "canonical_name": "a.example.org"},
        ("ok.example.org", "A"): addr("192.0.2.5"),
    }
    route = run("example.org", zone, prefer="ipv4-only")
    assert [h.host for h in route.hosts] == ["ok.example.org"]


def test_hosts_without_addresses_are_skipped() -> None:
    zone: Zone = {
        ("example.org", "MX"): mx(
            (10, "gone.example.org"), (20, "empty.example.org"), (30, "ok.example.org")
        ),
        ("empty.example.org", "TXT"): {"outcome": "answer"},  # exists, no A/AAAA
        ("ok.example.org", "AAAA"): addr("2001:db8::5"),
    }
    route = run("example.org", zone)
    assert [h.host for h in route.hosts] == ["ok.example.org"]
    assert [len(g) for g in route.groups] == [1]


def test_mx_hosts_none_usable_is_no_route() -> None:
    # RFC 5321 §5.1: "If MX records are present, but none of them are usable ... error"
    zone: Zone = {("example.org", "MX"): mx((10, "gone.example.org"))}
    err = error_of("example.org", zone)
    assert err.kind == "no-route"
    assert err.domain == "example.org"


def test_ip_looking_exchange_is_a_name_not_an_address() -> None:
    zone: Zone = {("example.org", "MX"): mx((10, "192.0.2.1"))}
    asked: list[Query] = []
    with pytest.raises(MXError) as info:
        run("example.org", zone, asked=asked)
    assert info.value.kind == "no-route"
    assert Query(name="192.0.2.1", rdtype="A") in asked
    # and when such a name does resolve, its A record is what counts
    zone[("192.0.2.1", "A")] = addr("198.51.100.4")
    assert run("example.org", zone).hosts[0].addresses == ("198.51.100.4",)


def test_no_mx_means_the_implicit_mx() -> None:
    # RFC 5321 §5.1: "treated as if it was associated with an implicit MX RR, with a
    # preference of 0, pointing to that host"
    zone: Zone = {
        ("example.org", "A"): addr("192.0.2.30", ttl=120),
        ("example.org", "AAAA"): addr("2001:db8::30", ttl=600),
    }
    route = run("Example.ORG.", zone)
    assert route.implicit is True
    assert route.domain == "Example.ORG."
    assert route.ascii_domain == "example.org"
    assert route.hosts == (
        MXHost(host="example.org", preference=0, addresses=("2001:db8::30", "192.0.2.30")),
    )
    assert route.ttl == 60  # the negative MX answer (ttl 60) bounds it


def test_implicit_mx_through_a_cname() -> None:
    zone: Zone = {
        ("alias.example.org", "MX"): {"outcome": "nodata", "canonical_name": "host.example.net"},
        ("host.example.net", "A"): addr("192.0.2.44"),
    }
    route = run("alias.example.org", zone)
    assert route.implicit is True
    assert route.hosts[0].host == "host.example.net"
    assert route.hosts[0].addresses == ("192.0.2.44",)


def test_no_mx_and_no_address_is_no_route() -> None:
    zone: Zone = {("example.org", "TXT"): {"outcome": "answer"}}
    err = error_of("example.org", zone)
    assert err.kind == "no-route"
    assert not err.is_temporary


def test_null_mx_is_its_own_permanent_error_without_fallback() -> None:
    # RFC 7505 §3/§4.1: "0 ." alone: no mail, and no A/AAAA fallback
    zone: Zone = {
        ("example.org", "MX"): mx((0, "")),
        ("example.org", "A"): addr("192.0.2.1"),
    }
    asked: list[Query] = []
    err = error_of("example.org", zone, asked=asked)
    assert err.kind == "null-mx"
    assert asked == [Query(name="example.org", rdtype="MX")]


def test_root_exchange_among_real_ones_is_skipped() -> None:
    zone: Zone = {
        ("example.org", "MX"): mx((0, ""), (10, "mx.example.org")),
        ("mx.example.org", "A"): addr("192.0.2.3"),
    }
    assert [h.host for h in run("example.org", zone).hosts] == ["mx.example.org"]
    # a lone root exchange with another preference is no null MX, but still no host
    assert error_of("example.org", {("example.org", "MX"): mx((10, ""))}).kind == "no-route"


def test_nxdomain_is_permanent() -> None:
    asked: list[Query] = []
    err = error_of("nowhere.example", {}, asked=asked)
    assert err.kind == "permanent"
    assert "NXDOMAIN" in err.reason
    assert asked == [Query(name="nowhere.example", rdtype="MX")]


@pytest.mark.parametrize("reason", ["SERVFAIL", "timeout", "REFUSED"])
def test_temporary_mx_failure_never_falls_back_to_a(reason: str) -> None:
    # RFC 5321 §5.1: "If a temporary error is returned, the message MUST be queued"
    zone: Zone = {
        ("example.org", "MX"): {"outcome": "temporary", "reason": reason},
        ("example.org", "A"): addr("192.0.2.1"),
    }
    asked: list[Query] = []
    err = error_of("example.org", zone, asked=asked)
    assert err.kind == "temporary"
    assert err.is_temporary
    assert reason in err.reason
    assert asked == [Query(name="example.org", rdtype="MX")]


def test_temporary_address_failures() -> None:
    zone: Zone = {
        ("example.org", "MX"): mx((10, "a.example.org"), (20, "b.example.org")),
        ("a.example.org", "A"): {"outcome": "temporary", "reason": "SERVFAIL"},
        ("a.example.org", "AAAA"): {"outcome": "temporary", "reason": "SERVFAIL"},
        ("b.example.org", "A"): addr("192.0.2.2"),
    }
    # one host failing for now: the other is still a route
    assert [h.host for h in run("example.org", zone).hosts] == ["b.example.org"]
    # every host failing for now: temporary, not "no route"
    zone[("b.example.org", "A")] = {"outcome": "temporary", "reason": "timeout"}
    err = error_of("example.org", zone)
    assert err.kind == "temporary"
    # a temporary AAAA beside a good A still gives the A
    zone[("b.example.org", "A")] = addr("192.0.2.2")
    zone[("b.example.org", "AAAA")] = {"outcome": "temporary", "reason": "timeout"}
    assert run("example.org", zone).hosts[0].addresses == ("192.0.2.2",)


@pytest.mark.parametrize(
    ("literal", "address"),
    [
        ("[192.0.2.1]", "192.0.2.1"),
        ("[192.000.002.001]", "192.0.2.1"),
        ("[IPv6:2001:db8::1]", "2001:db8::1"),
        ("[ipv6:2001:DB8:0:0:0:0:0:1]", "2001:db8::1"),
        ("[IPv6:::ffff:192.0.2.1]", "::ffff:c000:201"),
    ],
)
def test_address_literals_bypass_dns(literal: str, address: str) -> None:
    plan = MXPlan(literal, shuffle=keep_order)
    assert plan.pending() == ()
    route = plan.route()
    assert route.hosts == (MXHost(host=literal, preference=0, addresses=(address,)),)
    assert list(route) == [(literal, address)]


@pytest.mark.parametrize(
    "literal",
    [
        "[256.0.0.1]",
        "[192.0.2]",
        "[1.2.3.4.5]",
        "[IPv6:2001:db8::g]",
        "[IPv6:fe80::1%eth0]",
        "[2001:db8::1]",
        "[]",
        "[x400:foo]",
    ],
)
def test_bad_address_literals_are_permanent(literal: str) -> None:
    with pytest.raises(MXError) as info:
        MXPlan(literal, shuffle=keep_order)
    assert info.value.kind == "permanent"


def test_idna_names_are_asked_in_a_labels() -> None:
    zone: Zone = {
        ("xn--bcher-kva.example", "MX"): mx((10, "xn--mx-yka.xn--bcher-kva.example")),
        ("xn--mx-yka.xn--bcher-kva.example", "A"): addr("192.0.2.99"),
    }
    route = run("Bücher.EXAMPLE.", zone)
    assert route.domain == "Bücher.EXAMPLE."
    assert route.ascii_domain == "xn--bcher-kva.example"
    assert route.hosts[0].host == "xn--mx-yka.xn--bcher-kva.example"


@pytest.mark.parametrize(
    "domain",
    [
        "",
        ".",
        "a..example",
        "-bad.example",
        "x" * 64 + ".example",
        ("a" * 60 + ".") * 5 + "example",
        "exa mple.org",
        "ex\u2665mple.org",
        "under_score.example",
    ],
)
def test_invalid_names_are_refused_before_any_query(domain: str) -> None:
    with pytest.raises(MXError) as info:
        MXPlan(domain, shuffle=keep_order)
    assert info.value.kind == "permanent"


def test_ttl_is_the_smallest_of_the_answers_used() -> None:
    zone: Zone = {
        ("example.org", "MX"): mx((10, "a.example.org"), (20, "b.example.org"), ttl=900),
        ("a.example.org", "A"): addr("192.0.2.1", ttl=300),
        ("b.example.org", "AAAA"): addr("2001:db8::2", ttl=45),
    }
    assert run("example.org", zone).ttl == 45


def test_targets_in_delivery_order_each_address_once() -> None:
    zone: Zone = {
        ("example.org", "MX"): mx((10, "a.example.org"), (20, "b.example.org")),
        ("a.example.org", "A"): addr("192.0.2.1"),
        ("a.example.org", "AAAA"): addr("2001:db8::1"),
        ("b.example.org", "A"): addr("192.0.2.1", "192.0.2.2"),
    }
    assert list(run("example.org", zone).targets()) == [
        ("a.example.org", "2001:db8::1"),
        ("a.example.org", "192.0.2.1"),
        ("b.example.org", "192.0.2.2"),
    ]


def test_plan_protocol_errors() -> None:
    plan = MXPlan("example.org", shuffle=keep_order)
    with pytest.raises(RuntimeError, match="not finished"):
        plan.route()
    with pytest.raises(ValueError, match="no pending query"):
        plan.receive(DNSAnswer(query=Query(name="other.org", rdtype="MX"), outcome="nodata"))
    assert not plan.done


def test_duplicate_exchange_keeps_its_best_preference() -> None:
    zone: Zone = {
        ("example.org", "MX"): mx((30, "mx.example.org"), (10, "mx.example.org")),
        ("mx.example.org", "A"): addr("192.0.2.1"),
    }
    assert [(h.host, h.preference) for h in run("example.org", zone).hosts] == [
        ("mx.example.org", 10)
    ]


@settings(max_examples=150, deadline=None)
@given(
    records=st.lists(
        st.tuples(st.integers(0, 65535), st.sampled_from("abcdefgh")), min_size=1, max_size=12
    ),
    seed=st.integers(0, 2**32),
)
def test_groups_are_increasing_and_complete(records: list[tuple[int, str]], seed: int) -> None:
    zone: Zone = {("example.org", "MX"): mx(*((p, f"{h}.example.org") for p, h in records))}
    for _, h in records:
        zone[(f"{h}.example.org", "A")] = addr(f"192.0.2.{ord(h)}")
    route = run("example.org", zone, shuffle=random.Random(seed).shuffle)
    prefs = [g[0].preference for g in route.groups]
    assert prefs == sorted(set(prefs))
    assert all(len({h.preference for h in g}) == 1 for g in route.groups)
    best = {}
    for p, h in records:
        best[f"{h}.example.org"] = min(p, best.get(f"{h}.example.org", 65536))
    assert {h.host: h.preference for h in route.hosts} == best


def test_with_mx_records_the_domains_own_addresses_are_not_used() -> None:
    # RFC 5321 §5.1: "If one or more MX RRs are found for a given name, SMTP systems MUST NOT
    # utilize any address RRs associated with that name unless they are located using the MX
    # RRs"
    zone: Zone = {
        ("example.org", "MX"): mx((10, "mx.example.org")),
        ("example.org", "A"): addr("192.0.2.200"),
        ("mx.example.org", "A"): addr("192.0.2.1"),
    }
    asked: list[Query] = []
    route = run("example.org", zone, asked=asked)
    assert {q.name for q in asked} == {"example.org", "mx.example.org"}
    assert Query(name="example.org", rdtype="A") not in asked
    assert [a for _, a in route.targets()] == ["192.0.2.1"]


def test_mx_records_reached_through_a_cname() -> None:
    # "If a CNAME record is found, the resulting name is processed as if it were the initial
    # name" (§5.1): the resolver's answer carries the target's MX records
    zone: Zone = {
        ("alias.example.org", "MX"): {
            **mx((10, "mx.example.net")),
            "canonical_name": "example.net",
        },
        ("mx.example.net", "A"): addr("192.0.2.11"),
    }
    route = run("alias.example.org", zone)
    assert route.implicit is False
    assert route.ascii_domain == "alias.example.org"
    assert [h.host for h in route.hosts] == ["mx.example.net"]

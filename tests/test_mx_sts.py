"""MTA-STS texts (RFC 8461 §3.1, §3.2, §4.1) and the TTL cache, without any I/O."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from smtpcore import MXError
from smtpcore._mx_cache import TTLCache
from smtpcore._mx_sts import (
    MAX_AGE_LIMIT,
    MTASTSPolicy,
    STSError,
    STSLookup,
    parse_policy,
    policy_matches,
    select_sts_record,
)

# -- the TXT record (§3.1) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        (["v=STSv1; id=20160831085700Z;"], "20160831085700Z"),  # the RFC's example
        (["v=STSv1;id=abc"], "abc"),
        (["v=STSv1;\tid=abc ; ext_1=value "], "abc"),
        (["v=STSv1; id=abc", "v=spf1 -all", "something else"], "abc"),  # others discarded
        (["v=STSv1; id=abc", "v=STSv1; id=def"], None),  # not exactly one
        ([], None),
        (["v=STSv1"], None),  # does not begin with "v=STSv1;"
        (["v=STSv1 ; id=abc"], None),
        (["V=STSv1; id=abc"], None),  # %s"v=STSv1" is case-sensitive
        (["v=STSv1; id=" + "a" * 33], None),  # 1*32(ALPHA / DIGIT)
        (["v=STSv1; id=ab-c"], None),
        (["v=STSv1; ext=1"], None),  # the id is required
        (["v=STSv1; id=abc; bad field"], None),
        (["v=STSv1; id=abc;; ext=1"], None),
        (["v=STSv1; id=abc; ext=a=b"], None),  # "=" is not in sts-ext-value
    ],
)
def test_sts_record(records: list[str], expected: str | None) -> None:
    assert select_sts_record(records) == expected


# -- the policy (§3.2) ------------------------------------------------------------------------

RFC_EXAMPLE = (
    "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\n"
    "mx: backupmx.example.com\r\nmax_age: 604800\r\n"
)


def test_the_rfc_example_policy() -> None:
    policy = parse_policy(RFC_EXAMPLE, policy_id="20160831085700Z")
    assert policy.id == "20160831085700Z"
    assert policy.mode == "enforce"
    assert policy.mx == ("mail.example.com", "*.example.net", "backupmx.example.com")
    assert policy.max_age == 604800


def test_lf_line_ends_unknown_fields_and_repeats() -> None:
    text = (
        "version: STSv1\nmode: testing\nfuture_field: whatever\nmode: enforce\n"
        "mx: MX.Example.COM\nmax_age:86400"
    )
    policy = parse_policy(text)
    assert policy.mode == "testing"  # the first of a repeated field
    assert policy.mx == ("mx.example.com",)
    assert policy.max_age == 86400


def test_mode_none_needs_no_mx() -> None:
    assert parse_policy("version: STSv1\nmode: none\nmax_age: 0\n").mx == ()


def test_max_age_is_capped() -> None:
    policy = parse_policy("version: STSv1\nmode: none\nmax_age: 9999999999\n")
    assert policy.max_age == MAX_AGE_LIMIT


def test_idn_mx_patterns_become_a_labels() -> None:
    policy = parse_policy("version: STSv1\nmode: enforce\nmx: *.bücher.example\nmax_age: 1\n")
    assert policy.mx == ("*.xn--bcher-kva.example",)
    assert policy.matches("mx1.xn--bcher-kva.example")
    assert policy.matches("MX1.Bücher.example.")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "mode: enforce\nmx: a.example\nmax_age: 1\n",  # no version
        "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",
        "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n",  # %s"enforce"
        "version: STSv1\nmode: block\nmx: a.example\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmax_age: 1\n",  # enforce without mx
        "version: STSv1\nmode: testing\nmx: a.example\n",  # no max_age
        "version: STSv1\nmode: testing\nmx: a.example\nmax_age: -1\n",
        "version: STSv1\nmode: testing\nmx: a.example\nmax_age: 12345678901\n",  # 11 digits
        "version: STSv1\nmode: testing\nmx: a.*.example\nmax_age: 1\n",
        "version: STSv1\nmode: testing\nmx: *.\nmax_age: 1\n",
        "version: STSv1\nmode: testing\nmx: bad..example\nmax_age: 1\n",
        "version: STSv1\nmode: testing\nthis line has no colon\nmx: a.example\nmax_age: 1\n",
        "version: STSv1\n\nmode: testing\nmx: a.example\nmax_age: 1\n",  # an empty line
    ],
)
def test_invalid_policies(text: str) -> None:
    with pytest.raises(STSError):
        parse_policy(text)


# -- matching MX hosts (§4.1) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("mail.example.com", True),
        ("MAIL.EXAMPLE.COM.", True),
        ("mx1.example.net", True),  # "*.example.net" covers one label
        ("example.net", False),  # ... not the domain itself
        ("a.b.example.net", False),  # ... and not two labels
        ("mail.example.com.evil.test", False),
        ("backupmx.example.com", True),
        ("other.example.com", False),
        ("bad..name", False),
    ],
)
def test_mx_matching(host: str, allowed: bool) -> None:
    policy = parse_policy(RFC_EXAMPLE)
    assert policy.matches(host) is allowed


label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)


@settings(max_examples=200, deadline=None)
@given(labels=st.lists(label, min_size=1, max_size=4), extra=st.lists(label, max_size=3))
def test_wildcard_covers_exactly_one_label(labels: list[str], extra: list[str]) -> None:
    base = ".".join(labels)
    host = ".".join([*extra, base]) if extra else base
    assert policy_matches([f"*.{base}"], host) is (len(extra) == 1)
    assert policy_matches([base], host) is (not extra)


# -- the TTL cache -----------------------------------------------------------------------------


def test_ttl_cache_expires_with_the_injected_clock() -> None:
    now = [100.0]
    cache: TTLCache[str, int] = TTLCache(clock=lambda: now[0])
    cache.put("a", 1, 30)
    assert cache.get("a") == (1, 30.0)
    now[0] += 29.5
    assert cache.get("a") == (1, 0.5)
    now[0] += 0.5
    assert cache.get("a") is None
    assert len(cache) == 0


def test_ttl_cache_zero_ttl_keeps_nothing_and_replaces() -> None:
    cache: TTLCache[str, int] = TTLCache(clock=lambda: 0.0)
    cache.put("a", 1, 10)
    cache.put("a", 2, 0)
    assert cache.get("a") is None
    cache.put("b", 3, 10)
    cache.clear()
    assert cache.get("b") is None


def test_ttl_cache_is_bounded_expired_first_then_oldest() -> None:
    now = [0.0]
    cache: TTLCache[int, int] = TTLCache(clock=lambda: now[0], max_entries=3)
    cache.put(1, 1, 5)
    cache.put(2, 2, 100)
    cache.put(3, 3, 100)
    now[0] = 10  # 1 has expired
    cache.put(4, 4, 100)
    assert [k for k in (1, 2, 3, 4) if cache.get(k)] == [2, 3, 4]
    cache.put(5, 5, 100)  # full of live entries: the oldest goes
    assert [k for k in (2, 3, 4, 5) if cache.get(k)] == [3, 4, 5]
    assert len(cache) == 3
    with pytest.raises(ValueError, match="max_entries"):
        TTLCache(clock=lambda: 0.0, max_entries=0)


# -- the lookup decisions (RFC 8461 §3.3, §5.1), between the TXT lookup and the fetch ---------

GOOD = "version: STSv1\nmode: enforce\nmx: mx.example.test\nmax_age: 600\n"


def test_lookup_fetches_for_a_new_id_and_caches_for_max_age() -> None:
    now = [0.0]
    cache: TTLCache[str, MTASTSPolicy] = TTLCache(clock=lambda: now[0])
    first = STSLookup("Example.TEST", cache)
    assert first.txt_name == "_mta-sts.example.test."
    assert first.after_txt(["v=STSv1; id=1"]) is None  # go and fetch
    result = first.after_fetch(GOOD)
    assert result.policy is not None
    assert (result.record_id, result.policy.id, result.from_cache) == ("1", "1", False)
    again = STSLookup("example.test", cache)
    same = again.after_txt(["v=STSv1; id=1"])
    assert same is not None
    assert same.from_cache
    assert same.policy == result.policy
    assert STSLookup("example.test", cache).after_txt(["v=STSv1; id=2"]) is None  # new id
    now[0] = 600.0
    assert STSLookup("example.test", cache).after_txt(["v=STSv1; id=1"]) is None  # expired


def test_lookup_falls_back_to_the_cached_policy_or_to_none() -> None:
    cache: TTLCache[str, MTASTSPolicy] = TTLCache(clock=lambda: 0.0)
    for records, fetched in ((None, None), ([], None), (["v=STSv1; id=9"], "bad policy")):
        plain = STSLookup("example.test", cache)
        done = plain.after_txt(records, "SERVFAIL")
        if done is None:
            done = plain.after_fetch(fetched, "refused")
        assert done.policy is None
        assert done.reason
    kept = MTASTSPolicy(id="1", mode="enforce", mx=("mx.example.test",), max_age=600)
    cache.put("example.test", kept, 600)
    failed_txt = STSLookup("example.test", cache).after_txt(None, "SERVFAIL")
    assert failed_txt is not None
    assert (failed_txt.policy, failed_txt.from_cache) == (kept, True)
    assert "SERVFAIL" in failed_txt.reason
    lookup = STSLookup("example.test", cache)
    assert lookup.after_txt(["v=STSv1; id=2"]) is None
    assert lookup.after_fetch(None, "connection refused").policy == kept
    assert STSLookup("example.test", None).after_txt([]) is not None


def test_lookup_refuses_invalid_domains() -> None:
    with pytest.raises(MXError) as info:
        STSLookup("bad..example", None)
    assert info.value.kind == "permanent"

"""MX resolution and secure-delivery policy lookups on dnspython, sync and asyncio.

The decisions live in the sans-I/O :class:`smtpcore._mx.MXPlan`; this module only asks
dnspython the questions the plan has and hands back the answers, once with
``dns.resolver`` and once with ``dns.asyncresolver`` (the pattern of dnspython's own
``_Resolution``). It is the only smtpcore module that imports ``dns``.

* :func:`resolve_mx` / :func:`resolve_mx_async`: RFC 5321 §5.1 and RFC 7505, to a :class:`MXRoute`.
* :func:`lookup_tlsa` / :func:`lookup_tlsa_async`: DANE TLSA records and whether they are
  DNSSEC-secure (RFC 7672); :func:`check_tlsa` matches a peer certificate against them.
* :func:`lookup_mta_sts` / :func:`lookup_mta_sts_async`: the MTA-STS record and policy (RFC 8461).
"""

from __future__ import annotations

import asyncio
import copy
import http.client
import random
import socket
import ssl
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import replace
from typing import Any, Protocol

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.resolver

from ._addresses import AddressError, domain_to_ascii
from ._errors import MXError
from ._mx import DNSAnswer, MXHost, MXPlan, MXRecord, MXRoute, Prefer, Query
from ._mx_cache import TTLCache
from ._mx_dane import TLSARecord, TLSAResult, check_tlsa
from ._mx_sts import MTASTSPolicy, MTASTSResult, STSError, STSLookup, policy_matches

__all__ = [
    "DEFAULT_CACHE",
    "MTASTSPolicy",
    "MTASTSResult",
    "MXCache",
    "MXError",
    "MXHost",
    "MXRoute",
    "POLICY_CACHE",
    "PolicyFetcher",
    "STSError",
    "TLSARecord",
    "TLSAResult",
    "check_tlsa",
    "fetch_policy",
    "lookup_mta_sts",
    "lookup_mta_sts_async",
    "lookup_tlsa",
    "lookup_tlsa_async",
    "make_resolver",
    "policy_matches",
    "resolve_mx",
    "resolve_mx_async",
]

AnyResolver = dns.resolver.BaseResolver
CacheKey = tuple[Hashable, Query]

# How many address queries the asyncio driver has in flight at once.
_ASYNC_BATCH = 16


class Shuffler(Protocol):
    """Anything with ``random.Random``'s ``shuffle``."""

    def shuffle(self, x: list[Any]) -> None: ...


class MXCache(TTLCache[CacheKey, DNSAnswer]):
    """A TTL cache of DNS answers that resolutions can share (``cache=`` argument).

    Answers are kept for their TTL (negative ones for their negative TTL, RFC 2308 §5);
    temporary failures are never kept. Keys include the resolver's nameservers, so resolvers
    pointed at different servers do not see each other's answers.
    """

    def __init__(
        self, *, max_entries: int = 4096, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(clock=clock, max_entries=max_entries)


DEFAULT_CACHE = MXCache()
_RNG = random.Random()  # load spreading, not security (RFC 5321 §5.1)


# -- dnspython to the plan's terms -------------------------------------------------------------


def _text(name: dns.name.Name) -> str:
    """A dnspython name as the plan spells names: lower case, no final dot, root as ""."""
    if name == dns.name.root:
        return ""
    return name.to_text(omit_final_dot=True).lower()


def _from_result(query: Query, result: dns.resolver.Answer) -> DNSAnswer:
    chain = result.chaining_result
    canonical = _text(result.canonical_name)
    rrset = result.rrset
    ttl = int(chain.minimum_ttl)
    if rrset is None or len(rrset) == 0:
        return DNSAnswer(query=query, outcome="nodata", canonical_name=canonical, ttl=ttl)
    if query.rdtype == "MX":
        records = tuple(
            MXRecord(preference=int(rd.preference), exchange=_text(rd.exchange)) for rd in rrset
        )
        return DNSAnswer(
            query=query, outcome="answer", canonical_name=canonical, mx=records, ttl=ttl
        )
    addresses = tuple(str(rd.address) for rd in rrset)
    return DNSAnswer(
        query=query, outcome="answer", canonical_name=canonical, addresses=addresses, ttl=ttl
    )


def _responses(exc: dns.resolver.NXDOMAIN) -> list[dns.message.QueryMessage]:
    responses: dict[dns.name.Name, dns.message.QueryMessage] = exc.kwargs.get("responses") or {}
    return list(responses.values())


def _negative_ttl(exc: dns.resolver.NXDOMAIN) -> int:
    for response in _responses(exc):
        try:
            return int(response.resolve_chaining().minimum_ttl)
        except dns.exception.DNSException:
            continue
    return 0


def _from_error(query: Query, exc: Exception) -> DNSAnswer:
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return DNSAnswer(query=query, outcome="nxdomain", ttl=_negative_ttl(exc), reason=str(exc))
    if isinstance(exc, dns.resolver.YXDOMAIN):
        return DNSAnswer(query=query, outcome="nxdomain", reason=str(exc))
    # SERVFAIL, REFUSED and the like (NoNameservers), timeouts (LifetimeTimeout), and
    # anything else that went wrong: RFC 5321 §5.1 "temporary error ... retried later".
    if isinstance(exc, dns.resolver.LifetimeTimeout):
        reason = "timeout"
    else:
        reason = str(exc) or type(exc).__name__
    return DNSAnswer(query=query, outcome="temporary", reason=reason)


def _view(resolver: AnyResolver) -> Hashable:
    """What makes two resolvers' answers comparable: where they send their queries."""
    servers = tuple(str(ns) for ns in resolver.nameservers)
    return (servers, resolver.port, tuple(sorted(resolver.nameserver_ports.items())))


def _cached(cache: MXCache | None, key: CacheKey) -> DNSAnswer | None:
    if cache is None:
        return None
    hit = cache.get(key)
    if hit is None:
        return None
    answer, left = hit
    return replace(answer, ttl=max(0, int(left)))


def _store(cache: MXCache | None, key: CacheKey, answer: DNSAnswer) -> None:
    if cache is not None and answer.outcome != "temporary":
        cache.put(key, answer, answer.ttl)


def _no_configuration(domain: str, exc: Exception) -> MXError:
    return MXError(domain, "temporary", f"no DNS resolver configuration: {exc}")


def _sync_resolver(resolver: AnyResolver | None, domain: str) -> dns.resolver.Resolver:
    if resolver is None:
        try:
            return dns.resolver.get_default_resolver()
        except dns.exception.DNSException as exc:  # e.g. no /etc/resolv.conf
            raise _no_configuration(domain, exc) from exc
    if isinstance(resolver, dns.resolver.Resolver):
        return resolver
    clone = dns.resolver.Resolver(configure=False)
    clone.__dict__.update(resolver.__dict__)
    return clone


def _async_resolver(resolver: AnyResolver | None, domain: str) -> dns.asyncresolver.Resolver:
    if resolver is None:
        try:
            return dns.asyncresolver.get_default_resolver()
        except dns.exception.DNSException as exc:
            raise _no_configuration(domain, exc) from exc
    if isinstance(resolver, dns.asyncresolver.Resolver):
        return resolver
    clone = dns.asyncresolver.Resolver(configure=False)
    clone.__dict__.update(resolver.__dict__)
    return clone


def make_resolver(
    nameservers: Sequence[tuple[str, int]] = (), *, lifetime: float | None = None
) -> dns.resolver.Resolver:
    """A resolver asking ``nameservers`` ((address, port) pairs), or the system's when empty.

    Raises :class:`MXError` (temporary) when there is no system configuration to read.
    """
    try:
        resolver = dns.resolver.Resolver(configure=not nameservers)
    except dns.exception.DNSException as exc:
        raise MXError("(resolver)", "temporary", f"no DNS configuration: {exc}") from exc
    if nameservers:
        resolver.nameservers = [address for address, _port in nameservers]
        resolver.nameserver_ports = dict(nameservers)
    if lifetime is not None:
        resolver.lifetime = lifetime
    return resolver


def _qname(query: Query) -> dns.name.Name:
    return dns.name.from_text(query.name + ".")


# -- the two drivers ----------------------------------------------------------------------------


def _ask_sync(resolver: dns.resolver.Resolver, cache: MXCache | None, query: Query) -> DNSAnswer:
    key = (_view(resolver), query)
    answer = _cached(cache, key)
    if answer is not None:
        return answer
    try:
        # tcp=False: dnspython retries a truncated UDP answer over TCP itself (RFC 7766 §5).
        result = resolver.resolve(
            _qname(query), query.rdtype, tcp=False, raise_on_no_answer=False, search=False
        )
    except dns.exception.DNSException as exc:
        answer = _from_error(query, exc)
    else:
        answer = _from_result(query, result)
    _store(cache, key, answer)
    return answer


async def _ask_async(
    resolver: dns.asyncresolver.Resolver, cache: MXCache | None, query: Query
) -> DNSAnswer:
    key = (_view(resolver), query)
    answer = _cached(cache, key)
    if answer is not None:
        return answer
    try:
        result = await resolver.resolve(
            _qname(query), query.rdtype, tcp=False, raise_on_no_answer=False, search=False
        )
    except dns.exception.DNSException as exc:
        answer = _from_error(query, exc)
    else:
        answer = _from_result(query, result)
    _store(cache, key, answer)
    return answer


def resolve_mx(
    domain: str,
    *,
    resolver: AnyResolver | None = None,
    cache: MXCache | None = DEFAULT_CACHE,
    rng: Shuffler | None = None,
    prefer: Prefer = "ipv6",
) -> MXRoute:
    """Where to deliver mail for ``domain`` (RFC 5321 §5.1).

    ``domain`` may be U-labels or A-labels, any case, with or without a final dot, or an
    address literal (``[192.0.2.1]``, ``[IPv6:2001:db8::1]``), which needs no DNS.
    ``resolver`` is used for every query (default: dnspython's default resolver);
    ``cache=None`` switches caching off; ``rng`` orders hosts of equal preference
    (anything with ``random.Random``'s ``shuffle``); ``prefer`` orders each host's
    addresses ("ipv6", "ipv4") or asks for one family only ("ipv6-only", "ipv4-only").

    Raises :class:`~smtpcore.MXError` with ``kind`` "permanent" (invalid name, NXDOMAIN),
    "null-mx" (RFC 7505), "no-route" (no usable host) or "temporary" (retry later).
    """
    plan = MXPlan(domain, shuffle=(rng or _RNG).shuffle, prefer=prefer)
    if plan.pending():  # an address literal needs no resolver at all
        sync = _sync_resolver(resolver, domain)
        while queries := plan.pending():
            plan.receive(_ask_sync(sync, cache, queries[0]))
    return plan.route()


async def resolve_mx_async(
    domain: str,
    *,
    resolver: AnyResolver | None = None,
    cache: MXCache | None = DEFAULT_CACHE,
    rng: Shuffler | None = None,
    prefer: Prefer = "ipv6",
) -> MXRoute:
    """:func:`resolve_mx` on ``dns.asyncresolver``: the same arguments and the same rules.

    The address queries of all hosts run concurrently (at most 16 at a time).
    """
    plan = MXPlan(domain, shuffle=(rng or _RNG).shuffle, prefer=prefer)
    if plan.pending():
        aresolver = _async_resolver(resolver, domain)
        while queries := plan.pending():
            batch = queries[:_ASYNC_BATCH]
            answers = await asyncio.gather(*(_ask_async(aresolver, cache, q) for q in batch))
            for answer in answers:
                plan.receive(answer)
    return plan.route()


# -- DANE: TLSA lookups (RFC 7672) ---------------------------------------------------------------


def _tlsa_name(host: str, port: int) -> str:
    try:
        ascii_host = domain_to_ascii(host)
    except AddressError as exc:
        raise MXError(host, "permanent", exc.message) from None
    if not 0 < port < 65536:
        raise MXError(host, "permanent", f"invalid port {port}")
    # RFC 6698 §3: the TLSA owner name is _port._protocol.host.
    return f"_{port}._tcp.{ascii_host}"


def _with_dnssec(resolver: AnyResolver) -> Any:
    """A copy of ``resolver`` that asks for DNSSEC status and keeps no cache of its own.

    Without the AD or DO flag in the query a validating resolver never reports an answer as
    authenticated (RFC 6840 §5.7, RFC 4035 §3.2.3); the caller's resolver is left untouched.
    """
    clone = copy.copy(resolver)
    clone.cache = None
    clone.use_edns(0, dns.flags.DO, max(resolver.payload, 1232))
    clone.flags = dns.flags.RD | dns.flags.AD
    return clone


def _secure(response: dns.message.Message | None) -> bool:
    return response is not None and bool(response.flags & dns.flags.AD)


def _tlsa_from_result(name: str, result: dns.resolver.Answer) -> TLSAResult:
    secure = _secure(result.response)
    records: tuple[TLSARecord, ...] = ()
    if secure and result.rrset is not None:
        records = tuple(
            TLSARecord(
                usage=int(rd.usage), selector=int(rd.selector), mtype=int(rd.mtype), data=rd.cert
            )
            for rd in result.rrset
        )
    # RFC 7672 §2.1.1: records of an insecure answer are ignored ("no DANE").
    return TLSAResult(
        name=name, records=records, secure=secure, ttl=int(result.chaining_result.minimum_ttl)
    )


def _tlsa_from_error(host: str, name: str, exc: Exception) -> TLSAResult:
    if isinstance(exc, dns.resolver.NXDOMAIN):
        secure = any(_secure(response) for response in _responses(exc))
        return TLSAResult(name=name, records=(), secure=secure, ttl=_negative_ttl(exc))
    # RFC 7672 §2.1.1: a bogus answer shows as SERVFAIL from a validating resolver; like any
    # lookup failure it means "try again later", never "no DANE".
    raise MXError(host, "temporary", f"TLSA lookup for {name} failed: {exc}") from exc


def lookup_tlsa(host: str, port: int = 25, *, resolver: AnyResolver | None = None) -> TLSAResult:
    """The DANE TLSA records of the SMTP server ``host`` (``_25._tcp.host``), RFC 7672 §2.2.

    Point ``resolver`` at a validating resolver: the records are kept only when it marks the
    answer authenticated (``secure``); an insecure answer gives no records ("no DANE"). A
    failure (a bogus answer is a SERVFAIL) raises :class:`MXError` of kind "temporary".
    """
    name = _tlsa_name(host, port)
    validating = _with_dnssec(_sync_resolver(resolver, host))
    try:
        result = validating.resolve(name + ".", "TLSA", raise_on_no_answer=False, search=False)
    except dns.exception.DNSException as exc:
        return _tlsa_from_error(host, name, exc)
    return _tlsa_from_result(name, result)


async def lookup_tlsa_async(
    host: str, port: int = 25, *, resolver: AnyResolver | None = None
) -> TLSAResult:
    """:func:`lookup_tlsa` on ``dns.asyncresolver``."""
    name = _tlsa_name(host, port)
    validating = _with_dnssec(_async_resolver(resolver, host))
    try:
        result = await validating.resolve(
            name + ".", "TLSA", raise_on_no_answer=False, search=False
        )
    except dns.exception.DNSException as exc:
        return _tlsa_from_error(host, name, exc)
    return _tlsa_from_result(name, result)


# -- MTA-STS (RFC 8461) -----------------------------------------------------------------------

PolicyFetcher = Callable[[str], str]
"""Fetches the policy text of an A-label policy domain; raises :class:`STSError` on failure."""

POLICY_CACHE: TTLCache[str, MTASTSPolicy] = TTLCache(clock=time.monotonic)
# RFC 8461 §3.3: "senders SHOULD impose a limit on the maximum size of the response body" (64 KB)
_MAX_POLICY_BYTES = 64 * 1024


def fetch_policy(
    domain: str,
    *,
    timeout: float = 60.0,
    context: ssl.SSLContext | None = None,
    port: int = 443,
    address: str | None = None,
) -> str:
    """Fetch ``https://mta-sts.<domain>/.well-known/mta-sts.txt`` (RFC 8461 §3.3), blocking.

    The certificate must be valid for ``mta-sts.<domain>`` (``context`` defaults to the system
    trust store). No redirects are followed, only a 200 answer with media type text/plain and
    at most 64 KiB counts. ``port`` and ``address`` (connect there instead of resolving the
    host name; the TLS name checked is still ``mta-sts.<domain>``) exist for tests.
    """
    host = f"mta-sts.{domain}"
    ctx = context if context is not None else ssl.create_default_context()
    conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ctx)
    if address is not None:

        def connect_to(_where: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
            return socket.create_connection((address, port), *args, **kwargs)

        conn._create_connection = connect_to  # type: ignore[attr-defined]
    try:
        conn.request("GET", "/.well-known/mta-sts.txt", headers={"Accept": "text/plain"})
        response = conn.getresponse()
        body = response.read(_MAX_POLICY_BYTES + 1)
        # RFC 8461 §3.3: "HTTP 3xx redirects MUST NOT be followed"; only 200 is a policy.
        if response.status != 200:
            raise STSError(f"policy fetch from {host}: HTTP {response.status}")
        media_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
        # RFC 8461 §3.2: the policy is served as "text/plain".
        if media_type != "text/plain":
            raise STSError(f"policy fetch from {host}: media type {media_type or 'missing'!r}")
        if len(body) > _MAX_POLICY_BYTES:
            raise STSError(f"policy from {host} is larger than {_MAX_POLICY_BYTES} octets")
        return body.decode("utf-8")
    except (OSError, http.client.HTTPException, UnicodeDecodeError) as exc:
        raise STSError(f"policy fetch from {host} failed: {exc}") from exc
    finally:
        conn.close()


def _sts_records(result: dns.resolver.Answer) -> list[str]:
    if result.rrset is None:
        return []
    # RFC 8461 §3.1: the strings of one TXT record are concatenated.
    return [b"".join(rd.strings).decode("utf-8", "replace") for rd in result.rrset]


def _txt_failure(exc: dns.exception.DNSException) -> list[str] | None:
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return []
    return None


def lookup_mta_sts(
    domain: str,
    *,
    resolver: AnyResolver | None = None,
    cache: TTLCache[str, MTASTSPolicy] | None = POLICY_CACHE,
    fetch: PolicyFetcher = fetch_policy,
) -> MTASTSResult:
    """The MTA-STS policy of ``domain`` (RFC 8461): TXT record, HTTPS fetch, cache by id.

    ``fetch`` gets the A-label policy domain and returns the policy text (default
    :func:`fetch_policy`; pass ``functools.partial(fetch_policy, context=..., port=...)`` to
    change how it connects). Never raises for a missing or broken policy: the result's
    ``policy`` is None and ``reason`` says why.
    """
    state = STSLookup(domain, cache)
    try:
        answer = _sync_resolver(resolver, domain).resolve(
            state.txt_name, "TXT", raise_on_no_answer=False, search=False
        )
    except MXError as exc:
        done = state.after_txt(None, exc.reason)
    except dns.exception.DNSException as exc:
        done = state.after_txt(_txt_failure(exc), str(exc))
    else:
        done = state.after_txt(_sts_records(answer))
    if done is not None:
        return done
    try:
        text = fetch(state.ascii_domain)
    except STSError as exc:
        return state.after_fetch(None, exc.args[0])
    return state.after_fetch(text)


async def lookup_mta_sts_async(
    domain: str,
    *,
    resolver: AnyResolver | None = None,
    cache: TTLCache[str, MTASTSPolicy] | None = POLICY_CACHE,
    fetch: PolicyFetcher = fetch_policy,
) -> MTASTSResult:
    """:func:`lookup_mta_sts` on ``dns.asyncresolver``; the fetch runs in a worker thread."""
    state = STSLookup(domain, cache)
    try:
        answer = await _async_resolver(resolver, domain).resolve(
            state.txt_name, "TXT", raise_on_no_answer=False, search=False
        )
    except MXError as exc:
        done = state.after_txt(None, exc.reason)
    except dns.exception.DNSException as exc:
        done = state.after_txt(_txt_failure(exc), str(exc))
    else:
        done = state.after_txt(_sts_records(answer))
    if done is not None:
        return done
    try:
        text = await asyncio.to_thread(fetch, state.ascii_domain)
    except STSError as exc:
        return state.after_fetch(None, exc.args[0])
    return state.after_fetch(text)

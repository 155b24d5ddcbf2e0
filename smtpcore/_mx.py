"""The MX plan: DNS answers in, a delivery route out (RFC 5321 §5.1, RFC 7505). Sans-I/O.

:class:`MXPlan` works like dnspython's ``_Resolution``: it says which queries it needs
(:meth:`MXPlan.pending`), takes their outcomes back as plain :class:`DNSAnswer` values
(:meth:`MXPlan.receive`), and finally gives a :class:`MXRoute` or raises :class:`MXError`
(:meth:`MXPlan.route`). It reads no clock, rolls no dice (the equal-preference shuffle is
injected) and imports no DNS library; ``smtpcore.mx`` drives it with dnspython, sync and asyncio.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Literal, TypeVar

from ._addresses import AddressError, domain_to_ascii
from ._errors import MXError, MXErrorKind

__all__ = [
    "MAX_CNAME_CHAIN",
    "DNSAnswer",
    "MXHost",
    "MXPlan",
    "MXRecord",
    "MXRoute",
    "Prefer",
    "Query",
    "RRType",
    "parse_address_literal",
]

T = TypeVar("T")
RRType = Literal["MX", "A", "AAAA"]
Outcome = Literal["answer", "nodata", "nxdomain", "temporary"]
Prefer = Literal["ipv6", "ipv4", "ipv6-only", "ipv4-only"]
PREFER_VALUES: tuple[Prefer, ...] = ("ipv6", "ipv4", "ipv6-only", "ipv4-only")

# How many dangling CNAMEs (an answer that ends in an alias without the data asked for) the
# plan chases itself before giving up. dnspython's own chaining limit is 16 per answer.
MAX_CNAME_CHAIN = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class Query:
    """One DNS question the plan needs: an absolute A-label name (no trailing dot) and a type."""

    name: str
    rdtype: RRType


@dataclass(frozen=True, slots=True, kw_only=True)
class MXRecord:
    """One MX record: ``exchange`` is an A-label name without the trailing dot ("" is the root)."""

    preference: int
    exchange: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DNSAnswer:
    """The outcome of one :class:`Query`, in terms the plan understands.

    ``outcome``: "answer" (records of the type asked), "nodata" (the name exists but has none),
    "nxdomain", or "temporary" (SERVFAIL, REFUSED, timeout: try again later).
    ``canonical_name`` is where the CNAMEs in the answer led (the query name when there were
    none). ``ttl`` is the smallest TTL of the answer's chain (negative TTL for negative answers).
    """

    query: Query
    outcome: Outcome
    canonical_name: str = ""
    mx: tuple[MXRecord, ...] = ()
    addresses: tuple[str, ...] = ()
    ttl: int = 0
    reason: str = ""

    def __post_init__(self) -> None:
        if not self.canonical_name:
            object.__setattr__(self, "canonical_name", self.query.name)


@dataclass(frozen=True, slots=True, kw_only=True)
class MXHost:
    """A mail exchanger with its addresses in the order to try them."""

    host: str
    preference: int
    addresses: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class MXRoute:
    """Where to deliver mail for a domain.

    ``groups`` are the usable hosts in preference order, one tuple per preference value, hosts
    of equal preference already in random order. ``implicit`` is true when the domain has no MX
    records and its own address records are used (RFC 5321 §5.1), and for address literals.
    ``ttl`` is the smallest TTL of the answers the route was built from (0 for literals).
    """

    domain: str
    ascii_domain: str
    implicit: bool
    groups: tuple[tuple[MXHost, ...], ...]
    ttl: int

    @property
    def hosts(self) -> tuple[MXHost, ...]:
        """Every usable host, in delivery order."""
        return tuple(host for group in self.groups for host in group)

    def targets(self) -> Iterator[tuple[str, str]]:
        """(host name, address) pairs in delivery order, each address once.

        RFC 5321 §5.1: the hosts in preference order, and each host's addresses in the order
        presented. An address reached through a more preferred host is not tried again.
        """
        seen: set[str] = set()
        for host in self.hosts:
            for address in host.addresses:
                if address not in seen:
                    seen.add(address)
                    yield host.host, address

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return self.targets()

    def without_self(self, own_names: Iterable[str]) -> MXRoute:
        """The route for a relay that is itself one of the MX hosts (RFC 5321 §5.1).

        "If the SMTP client ... determines that it is one of the MX hosts, it MUST discard
        all MX RRs with a preference equal to or greater than its own": only hosts strictly
        more preferred than our best entry stay. Names compare case-insensitively, without a
        final dot. The route comes back unchanged when we are not among the hosts; it may come
        back empty (the domain's mail would loop back to us).
        """
        names = {n.rstrip(".").lower() for n in own_names}
        mine = [h.preference for h in self.hosts if h.host.rstrip(".").lower() in names]
        if not mine or self.implicit:
            return self
        best = min(mine)
        groups = tuple(g for g in self.groups if g and g[0].preference < best)
        return replace(self, groups=groups)


# RFC 5321 §4.1.3:
#   address-literal  = "[" ( IPv4-address-literal / IPv6-address-literal /
#                      General-address-literal ) "]"
#   IPv4-address-literal  = Snum 3("."  Snum)
#   IPv6-address-literal  = "IPv6:" IPv6-addr
#   Snum           = 1*3DIGIT   ; representing a decimal integer value in the range 0 through 255
_IPV4_LITERAL = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
_IPV6_TAG = re.compile(r"IPv6:", re.IGNORECASE)  # ABNF strings are case-insensitive (RFC 5234)


def parse_address_literal(literal: str) -> str:
    """The address inside an RFC 5321 address literal, normalised; :class:`MXError` if invalid."""
    inner = literal[1:-1]
    if _IPV4_LITERAL.fullmatch(inner):
        octets = [int(part) for part in inner.split(".")]
        if all(octet <= 255 for octet in octets):
            return ".".join(str(octet) for octet in octets)
    elif _IPV6_TAG.match(inner):
        text = inner[5:]
        if "%" not in text:  # zone identifiers are not part of IPv6-addr
            try:
                return str(ipaddress.IPv6Address(text))
            except ValueError:
                pass
    else:
        tag = inner.partition(":")[0]
        if inner.count(":") and tag:
            raise MXError(literal, "permanent", f"unsupported address literal tag {tag!r}")
    raise MXError(literal, "permanent", f"invalid address literal {literal!r}")


def _families(prefer: Prefer) -> tuple[RRType, ...]:
    table: dict[Prefer, tuple[RRType, ...]] = {
        "ipv6": ("AAAA", "A"),
        "ipv4": ("A", "AAAA"),
        "ipv6-only": ("AAAA",),
        "ipv4-only": ("A",),
    }
    return table[prefer]


@dataclass(slots=True)
class _Lookup:
    """The address lookups of one host: the addresses found per family, and what failed."""

    host: str
    preference: int
    addresses: dict[str, tuple[str, ...]] = field(default_factory=dict)
    temporary: list[str] = field(default_factory=list)


class MXPlan:
    """The sans-I/O MX resolution of one domain (RFC 5321 §5.1).

    ``shuffle`` puts a list in random order in place (``random.Random().shuffle``); it is
    called once per group of equal-preference hosts. ``prefer`` orders each host's addresses:
    "ipv6" (AAAA first), "ipv4" (A first), or "ipv6-only" / "ipv4-only" to ask for one family.

    Usage::

        plan = MXPlan("example.org", shuffle=rng.shuffle)
        while queries := plan.pending():
            for query in queries:
                plan.receive(answer_for(query))
        route = plan.route()  # or MXError
    """

    def __init__(
        self,
        domain: str,
        *,
        shuffle: Callable[[list[MXHost]], None],
        prefer: Prefer = "ipv6",
    ) -> None:
        if prefer not in PREFER_VALUES:
            raise ValueError(f"prefer must be one of {PREFER_VALUES}, not {prefer!r}")
        self.domain = domain
        self._shuffle = shuffle
        self._families = _families(prefer)
        # query -> the hosts waiting for it, with the CNAME budget each has left
        self._pending: dict[Query, list[tuple[str, int]]] = {}
        self._lookups: dict[str, _Lookup] = {}
        self._ttls: list[int] = []
        self._implicit = False
        self._error: MXError | None = None
        self._route: MXRoute | None = None
        if domain.startswith("[") and domain.endswith("]"):
            # RFC 5321 §5.1: an address literal names the host directly; no DNS at all.
            address = parse_address_literal(domain)
            host = MXHost(host=domain, preference=0, addresses=(address,))
            self.ascii_domain = domain
            self._route = MXRoute(
                domain=domain, ascii_domain=domain, implicit=True, groups=((host,),), ttl=0
            )
            return
        try:
            # RFC 5321 §2.3.5 and RFC 5890: the name goes to the DNS in A-label form.
            self.ascii_domain = domain_to_ascii(domain)
        except AddressError as exc:
            raise MXError(domain, "permanent", exc.message) from None
        self._ask(Query(name=self.ascii_domain, rdtype="MX"), self.ascii_domain, MAX_CNAME_CHAIN)

    # -- the driver's side -------------------------------------------------------------------

    def pending(self) -> tuple[Query, ...]:
        """The queries still waiting for an answer (empty once the plan is done)."""
        if self._error is not None or self._route is not None:
            return ()
        return tuple(self._pending)

    def receive(self, answer: DNSAnswer) -> None:
        """Take the outcome of one pending query (ignored once the plan is done)."""
        query = answer.query
        if self.done:
            return
        if query not in self._pending:
            raise ValueError(f"no pending query {query}")
        for host, budget in self._pending.pop(query):
            if query.rdtype == "MX":
                self._receive_mx(answer, budget)
            else:
                self._receive_address(answer, host, budget)
        if not self._pending and self._error is None and self._route is None:
            self._finish()

    @property
    def done(self) -> bool:
        return self._error is not None or self._route is not None

    def route(self) -> MXRoute:
        """The route, or the :class:`MXError` that ended the plan."""
        if self._error is not None:
            raise self._error
        if self._route is None:
            raise RuntimeError("the MX plan is not finished: answer its pending queries first")
        return self._route

    # -- the rules ---------------------------------------------------------------------------

    def _ask(self, query: Query, host: str, budget: int) -> None:
        self._pending.setdefault(query, []).append((host, budget))

    def _fail(self, kind: MXErrorKind, why: str) -> None:
        self._error = MXError(self.domain, kind, why)
        self._pending.clear()

    def _receive_mx(self, answer: DNSAnswer, budget: int) -> None:
        name = answer.query.name
        if answer.outcome == "temporary":
            # RFC 5321 §5.1: "If a temporary error is returned, the message MUST be queued and
            # retried later." Never fall back to the address records here.
            self._fail("temporary", f"MX lookup for {name} failed: {answer.reason or 'temporary'}")
            return
        if answer.outcome == "nxdomain":
            # RFC 5321 §5.1: "If a non-existent domain error is returned, this situation MUST be
            # reported as an error."
            self._fail("permanent", f"domain {name} does not exist (NXDOMAIN)")
            return
        self._ttls.append(answer.ttl)
        if answer.outcome == "nodata" or not answer.mx:
            if answer.canonical_name != name:
                # An alias whose target the answer did not include: "If a CNAME record is found,
                # the resulting name is processed as if it were the initial name" (§5.1).
                self._follow(answer, name, budget)
                return
            # RFC 5321 §5.1: "If an empty list of MXs is returned, the address is treated as if
            # it was associated with an implicit MX RR, with a preference of 0, pointing to
            # that host."
            self._implicit = True
            self._add_host(answer.canonical_name, 0)
            return
        records = answer.mx
        # RFC 7505 §3: a null MX is a single MX record with preference 0 and the root as
        # exchange; §4.1: a client MUST NOT deliver to it, and MUST NOT fall back to A/AAAA.
        if len(records) == 1 and records[0].exchange == "" and records[0].preference == 0:
            self._fail("null-mx", f"{name} accepts no mail (null MX, RFC 7505)")
            return
        best: dict[str, int] = {}
        for record in records:
            if record.exchange == "":
                continue  # the root is no host; RFC 7505 §3 forbids mixing it with others
            # RFC 5321 §5.1: "MX records ... ordered by preference" (as numbers, 0-65535).
            best[record.exchange] = min(record.preference, best.get(record.exchange, 65536))
        if not best:
            self._fail("no-route", f"{name} has MX records but none names a host")
            return
        for host, preference in best.items():
            self._add_host(host, preference)

    def _add_host(self, host: str, preference: int) -> None:
        # The exchange is a domain name even when it looks like an address ("192.0.2.1."):
        # it is resolved with A/AAAA queries like any other (RFC 5321 §5.1, RFC 1035 §3.3.9).
        self._lookups[host] = _Lookup(host=host, preference=preference)
        for rdtype in self._families:
            self._ask(Query(name=host, rdtype=rdtype), host, MAX_CNAME_CHAIN)

    def _follow(self, answer: DNSAnswer, host: str, budget: int) -> None:
        """Ask again for the target of a CNAME the answer ended in (``host`` waits for it)."""
        if budget <= 0:
            reason = f"CNAME chain from {answer.query.name} too long"
            if answer.query.rdtype == "MX":
                self._fail("permanent", reason)
            else:
                self._lookups[host].temporary.append(reason)
            return
        self._ask(Query(name=answer.canonical_name, rdtype=answer.query.rdtype), host, budget - 1)

    def _receive_address(self, answer: DNSAnswer, host: str, budget: int) -> None:
        lookup = self._lookups[host]
        rdtype = answer.query.rdtype
        if answer.outcome == "temporary":
            lookup.temporary.append(f"{rdtype} lookup for {answer.query.name}: {answer.reason}")
            return
        if answer.outcome == "answer" and answer.addresses:
            self._ttls.append(answer.ttl)
            unique = tuple(dict.fromkeys(answer.addresses))
            lookup.addresses[rdtype] = unique
            return
        if answer.outcome == "nodata" and answer.canonical_name != answer.query.name:
            self._follow(answer, host, budget)
            return
        # nodata or nxdomain: this host has no addresses of this family; §5.1 skips it.

    def _finish(self) -> None:
        by_preference: dict[int, list[MXHost]] = {}
        temporary: list[str] = []
        for lookup in self._lookups.values():
            addresses = tuple(
                address for rdtype in self._families for address in lookup.addresses.get(rdtype, ())
            )
            if not addresses:
                temporary.extend(lookup.temporary)
                continue  # "hosts with no addresses skipped"
            mx_host = MXHost(host=lookup.host, preference=lookup.preference, addresses=addresses)
            by_preference.setdefault(lookup.preference, []).append(mx_host)
        if not by_preference:
            if temporary:
                self._fail("temporary", "no usable host yet: " + "; ".join(temporary))
            elif self._implicit:
                # RFC 5321 §5.1: no MX and no address: the implicit MX is unusable.
                self._fail("no-route", f"{self.ascii_domain} has no MX and no address records")
            else:
                # RFC 5321 §5.1: "If MX records are present, but none of them are usable ...
                # this situation MUST be reported as an error."
                self._fail("no-route", f"no MX host of {self.ascii_domain} has an address")
            return
        groups = []
        for preference in sorted(by_preference):
            hosts = by_preference[preference]
            # RFC 5321 §5.1: hosts of the same preference "MUST" be tried in random order.
            if len(hosts) > 1:
                self._shuffle(hosts)
            groups.append(tuple(hosts))
        self._route = MXRoute(
            domain=self.domain,
            ascii_domain=self.ascii_domain,
            implicit=self._implicit,
            groups=tuple(groups),
            ttl=max(0, min(self._ttls)) if self._ttls else 0,
        )

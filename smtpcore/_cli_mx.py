"""``python -m smtpcore mx DOMAIN``: show where mail for a domain goes.

Options: ``--nameserver IP[:PORT]`` (repeatable; ``[IPv6]:PORT`` with a port), ``--tlsa`` (the
DANE records of every host, RFC 7672), ``--mta-sts`` (the domain's MTA-STS policy, RFC 8461),
``--json``. Exit status: 0, 1 for a permanent error, 75 (EX_TEMPFAIL) for a temporary one.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from typing import Any, TextIO

from ._errors import MXError
from .mx import (
    MTASTSResult,
    MXRoute,
    PolicyFetcher,
    TLSAResult,
    fetch_policy,
    lookup_mta_sts,
    lookup_tlsa,
    make_resolver,
    resolve_mx,
)

__all__ = ["EX_OK", "EX_PERMANENT", "EX_TEMPFAIL", "add_parser", "parse_nameserver", "run"]

EX_OK = 0
EX_PERMANENT = 1
EX_TEMPFAIL = 75  # sysexits.h


def parse_nameserver(text: str) -> tuple[str, int]:
    """``IP``, ``IPv4:PORT``, ``IPv6`` or ``[IPv6]:PORT`` to (address, port); port 53 by default."""
    host, port_text = text, "53"
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise argparse.ArgumentTypeError(f"bad nameserver {text!r}")
        port_text = rest[1:] or "53"
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    try:
        address = str(ipaddress.ip_address(host))
        port = int(port_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad nameserver {text!r}: want IP[:PORT]") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"bad nameserver port in {text!r}")
    return address, port


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``mx`` command to an ``argparse`` subparsers object."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "mx",
        help="show the MX route of a domain",
        description="Resolve a domain's mail exchangers as an SMTP client would (RFC 5321 §5.1).",
    )
    parser.add_argument("domain", help="domain name (U-labels allowed) or address literal")
    parser.add_argument(
        "--nameserver",
        metavar="IP[:PORT]",
        action="append",
        type=parse_nameserver,
        default=[],
        help="ask this DNS server (repeatable); default: the system's",
    )
    parser.add_argument("--tlsa", action="store_true", help="look up DANE TLSA records per host")
    parser.add_argument("--mta-sts", action="store_true", help="look up the MTA-STS policy")
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _error_json(err: MXError) -> dict[str, str]:
    return {"kind": err.kind, "message": str(err)}


def _tlsa_json(result: TLSAResult | MXError) -> dict[str, Any]:
    if isinstance(result, MXError):
        return {"error": _error_json(result)}
    return {
        "name": result.name,
        "secure": result.secure,
        "records": [
            {"usage": r.usage, "selector": r.selector, "mtype": r.mtype, "data": r.data.hex()}
            for r in result.records
        ],
    }


def _sts_json(result: MTASTSResult) -> dict[str, Any]:
    policy = result.policy
    return {
        "record_id": result.record_id,
        "policy": None
        if policy is None
        else {
            "id": policy.id,
            "mode": policy.mode,
            "mx": list(policy.mx),
            "max_age": policy.max_age,
        },
        "from_cache": result.from_cache,
        "reason": result.reason,
    }


def _route_json(
    route: MXRoute,
    tlsa: dict[str, TLSAResult | MXError],
    sts: MTASTSResult | None,
) -> dict[str, Any]:
    groups = []
    for group in route.groups:
        hosts = []
        for host in group:
            item: dict[str, Any] = {
                "host": host.host,
                "preference": host.preference,
                "addresses": list(host.addresses),
            }
            if host.host in tlsa:
                item["tlsa"] = _tlsa_json(tlsa[host.host])
            if sts is not None and sts.policy is not None:
                item["mta_sts_match"] = sts.policy.matches(host.host)
            hosts.append(item)
        groups.append(hosts)
    data: dict[str, Any] = {
        "domain": route.domain,
        "ascii_domain": route.ascii_domain,
        "implicit": route.implicit,
        "groups": groups,
        "ttl": route.ttl,
    }
    if sts is not None:
        data["mta_sts"] = _sts_json(sts)
    return data


def _tlsa_text(result: TLSAResult | MXError) -> str:
    if isinstance(result, MXError):
        return f"TLSA: {result.kind} error: {result.reason}"
    if not result.secure:
        return "TLSA: none (insecure answer: no DANE)"
    if not result.records:
        return "TLSA: none (secure)"
    return "TLSA (secure): " + ", ".join(str(r) for r in result.records)


def _sts_text(sts: MTASTSResult) -> str:
    policy = sts.policy
    if policy is None:
        return f"MTA-STS: none ({sts.reason})"
    cached = ", cached" if sts.from_cache else ""
    return (
        f"MTA-STS: mode {policy.mode}, max_age {policy.max_age}, id {policy.id}{cached}; "
        f"mx {', '.join(policy.mx) or '-'}"
    )


def _write_table(
    out: TextIO,
    route: MXRoute,
    tlsa: dict[str, TLSAResult | MXError],
    sts: MTASTSResult | None,
) -> None:
    kind = "implicit MX" if route.implicit else "MX"
    name = (
        route.domain
        if route.domain == route.ascii_domain
        else f"{route.domain} ({route.ascii_domain})"
    )
    out.write(f"{name}: {kind}, TTL {route.ttl}\n")
    width = max(len(h.host) for h in route.hosts)
    out.write(f"  {'pref':>5}  {'host':<{width}}  addresses\n")
    for host in route.hosts:
        out.write(f"  {host.preference:>5}  {host.host:<{width}}  {', '.join(host.addresses)}\n")
        if host.host in tlsa:
            out.write(f"  {'':>5}  {'':<{width}}  {_tlsa_text(tlsa[host.host])}\n")
        if sts is not None and sts.policy is not None and not sts.policy.matches(host.host):
            out.write(f"  {'':>5}  {'':<{width}}  not allowed by the MTA-STS policy\n")
    if sts is not None:
        out.write(_sts_text(sts) + "\n")


def run(
    args: argparse.Namespace,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    fetch: PolicyFetcher = fetch_policy,
) -> int:
    """Run ``mx`` with parsed ``args``; returns the exit status (0, 1 or 75)."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        resolver = make_resolver(args.nameserver)
        route = resolve_mx(args.domain, resolver=resolver)
    except MXError as exc:
        if args.json:
            out.write(json.dumps({"domain": args.domain, "error": _error_json(exc)}) + "\n")
        else:
            err.write(f"{args.domain}: {exc.kind} error: {exc.reason}\n")
        return EX_TEMPFAIL if exc.is_temporary else EX_PERMANENT
    status = EX_OK
    tlsa: dict[str, TLSAResult | MXError] = {}
    if args.tlsa:
        for host in route.hosts:
            if host.host.startswith("["):
                continue  # an address literal has no name to look up
            try:
                tlsa[host.host] = lookup_tlsa(host.host, resolver=resolver)
            except MXError as exc:
                tlsa[host.host] = exc
                status = EX_TEMPFAIL if exc.is_temporary else max(status, EX_PERMANENT)
    sts = None
    if args.mta_sts and not route.ascii_domain.startswith("["):
        sts = lookup_mta_sts(route.ascii_domain, resolver=resolver, fetch=fetch)
    if args.json:
        out.write(json.dumps(_route_json(route, tlsa, sts), ensure_ascii=False) + "\n")
    else:
        _write_table(out, route, tlsa, sts)
    return status

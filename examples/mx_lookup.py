"""Where does mail for a domain go? MX lookup (RFC 5321 §5.1), and optionally DANE and MTA-STS.

    python examples/mx_lookup.py DOMAIN [DOMAIN ...] [--nameserver ADDR:PORT] [--tlsa] [--sts]

Uses the system's resolver unless --nameserver names one (any port). Address literals such as
``[192.0.2.1]`` need no DNS. Exits 1 when any domain cannot receive mail now.
"""

from __future__ import annotations

import argparse

from smtpcore import MXError
from smtpcore.mx import lookup_mta_sts, lookup_tlsa, make_resolver, resolve_mx


def nameserver(text: str) -> tuple[str, int]:
    address, _, port = text.rpartition(":")
    return (address, int(port)) if address else (text, 53)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("domains", nargs="+")
    parser.add_argument("--nameserver", type=nameserver, action="append", default=[])
    parser.add_argument("--tlsa", action="store_true", help="look up DANE TLSA records too")
    parser.add_argument("--sts", action="store_true", help="look up the MTA-STS policy too")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args(argv)
    # None: dnspython's default resolver (the system's configuration), made on first use.
    resolver = make_resolver(args.nameserver, lifetime=args.timeout) if args.nameserver else None
    status = 0
    for domain in args.domains:
        try:
            route = resolve_mx(domain, resolver=resolver)
        except MXError as exc:
            # kind: "permanent", "null-mx" (RFC 7505), "no-route" or "temporary"
            print(f"{domain}: cannot deliver ({exc.kind}): {exc.reason}")
            status = 1
            continue
        how = "no MX records: the domain's own address" if route.implicit else "MX"
        print(f"{route.domain} ({route.ascii_domain}), {how}, TTL {route.ttl}s")
        for host in route.hosts:
            print(f"  {host.preference:5d} {host.host}: {', '.join(host.addresses)}")
            if args.tlsa:
                try:
                    tlsa = lookup_tlsa(host.host, resolver=resolver)
                except MXError as exc:
                    print(f"        TLSA lookup failed: {exc.reason}")
                else:
                    state = "secure" if tlsa.secure else "insecure (no DANE)"
                    print(f"        TLSA {tlsa.name}: {len(tlsa.records)} records, {state}")
        if args.sts:
            sts = lookup_mta_sts(domain, resolver=resolver)
            if sts.policy is None:
                print(f"  MTA-STS: none ({sts.reason})")
            else:
                print(f"  MTA-STS: mode {sts.policy.mode}, mx {', '.join(sts.policy.mx)}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())

"""A tiny authoritative DNS server on 127.0.0.1 for the documentation's doctests.

The MX and relay how-tos resolve real names against it, so their samples run anywhere
without the network. ``serve(zone)`` is a context manager yielding the port; ``zone`` maps
(name, type) to a list of record texts; names not in it get NXDOMAIN. UDP only, one thread,
stopped on exit.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

Zone = Mapping[tuple[str, str], Sequence[str]]


def _answer(zone: Zone, wire: bytes) -> bytes:
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    question = query.question[0]
    name = question.name.to_text().lower()
    rdtype = dns.rdatatype.to_text(question.rdtype)
    if name not in {n for n, _ in zone}:
        response.set_rcode(dns.rcode.NXDOMAIN)
    elif (name, rdtype) in zone:
        response.answer.append(
            dns.rrset.from_text_list(name, 300, "IN", rdtype, zone[name, rdtype])
        )
    return response.to_wire()


@contextlib.contextmanager
def serve(zone: Zone) -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.05)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            sock.sendto(_answer(zone, wire), peer)

    thread = threading.Thread(target=loop, name="docs-dns", daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        sock.close()

"""Real DNS servers on 127.0.0.1 for the MX interop tests: nsd, and dnsmasq validating DNSSEC.

``run_nsd(workdir, zones)`` starts an authoritative nsd on a free loopback port serving the
given zone texts (a zone whose text is None is declared without a file, so nsd answers
SERVFAIL for it), waits until it answers, and stops it on exit. ``signed_root(workdir, ...)``
builds a DNSSEC-signed root zone with ldns-keygen / ldns-signzone and returns its text and the
trust anchor; ``run_dnsmasq(workdir, upstream_port, trust_anchor)`` starts a validating
dnsmasq in front of nsd. ``run_policy_server(hostnames)`` is an HTTPS server on 127.0.0.1 with
a trustme certificate, for MTA-STS policy fetches.
"""

from __future__ import annotations

import contextlib
import http.server
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.resolver
import trustme

from ._require import require_program

START_DEADLINE = 15.0  # seconds for a server to answer its first query
STOP_DEADLINE = 10.0


@dataclass(frozen=True)
class DNSServer:
    """A DNS server listening on 127.0.0.1:port (UDP and TCP)."""

    port: int
    log: Path

    def resolver(self, *, lifetime: float = 5.0) -> dns.resolver.Resolver:
        """A dnspython resolver that asks this server only, with no cache of its own."""
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = self.port
        resolver.timeout = min(2.0, lifetime)
        resolver.lifetime = lifetime
        resolver.cache = None
        return resolver


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (bounded number of tries)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port on 127.0.0.1")


def _answers(port: int, qname: str) -> bool:
    query = dns.message.make_query(qname, "SOA")
    try:
        response = dns.query.udp(query, "127.0.0.1", port=port, timeout=0.2)
    except (dns.exception.Timeout, OSError):
        return False
    return response.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN)


def _wait_ready(proc: subprocess.Popen[bytes], port: int, qname: str, log: Path) -> None:
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"DNS server exited with {proc.returncode}:\n{text}")
        if _answers(port, qname):
            return
    raise RuntimeError(f"DNS server on port {port} did not answer within {START_DEADLINE}s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_DEADLINE)


@contextlib.contextmanager
def _spawn(argv: list[str], out: Path, port: int, probe: str) -> Iterator[None]:
    with out.open("wb") as sink:
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT)
    try:
        _wait_ready(proc, port, probe, out)
        yield
    finally:
        _stop(proc)


def _nsd_conf(workdir: Path, port: int, zones: dict[str, str | None]) -> str:
    lines = [
        "server:",
        f"  ip-address: 127.0.0.1@{port}",
        f'  zonesdir: "{workdir}"',
        '  database: ""',
        f'  pidfile: "{workdir}/nsd.pid"',
        f'  logfile: "{workdir}/nsd.log"',
        f'  xfrdfile: "{workdir}/xfrd.state"',
        f'  zonelistfile: "{workdir}/zone.list"',
        f'  xfrdir: "{workdir}"',
        '  username: ""',  # stay the user we are (nsd would switch to "nsd" when root)
        '  chroot: ""',
        "  server-count: 1",
        "  verbosity: 1",
        "  rrl-ratelimit: 0",  # rate limiting drops answers to repeated test queries
        "  minimal-responses: no",
        "remote-control:",
        "  control-enable: no",
    ]
    for index, (name, text) in enumerate(zones.items()):
        filename = f"zone{index}.zone"
        if text is not None:
            (workdir / filename).write_text(text)
        else:
            filename = f"missing{index}.zone"  # never written: nsd answers SERVFAIL
        lines += ["zone:", f'  name: "{name}"', f"  zonefile: {filename}"]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def run_nsd(workdir: Path, zones: dict[str, str | None]) -> Iterator[DNSServer]:
    """nsd serving ``zones`` (name -> zone text) on 127.0.0.1, stopped on exit."""
    nsd = require_program("nsd")
    workdir.mkdir(parents=True, exist_ok=True)
    probe = next(name for name, text in zones.items() if text is not None)
    port = free_port()
    conf = workdir / "nsd.conf"
    conf.write_text(_nsd_conf(workdir, port, zones))
    log = workdir / "nsd.out"
    with _spawn([nsd, "-d", "-c", str(conf)], log, port, probe):
        yield DNSServer(port=port, log=workdir / "nsd.log")


def _run(argv: list[str], cwd: Path) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {done.stderr}")
    return done.stdout.strip()


@dataclass(frozen=True)
class KeyPair:
    base: str  # ldns key base name, e.g. K.+013+12345
    ds: str  # the DS record text


def make_key(workdir: Path, zone: str) -> KeyPair:
    """A fresh ECDSA P-256 key-signing key for ``zone`` (ldns-keygen) and its DS record."""
    keygen = require_program("ldns-keygen")
    key2ds = require_program("ldns-key2ds")
    base = _run([keygen, "-a", "ECDSAP256SHA256", "-k", zone], workdir)
    ds = _run([key2ds, "-n", "-2", f"{base}.key"], workdir)
    return KeyPair(base=base, ds=ds)


def sign_zone(workdir: Path, origin: str, text: str, key: KeyPair) -> str:
    """The zone text signed with ``key`` (ldns-signzone, NSEC, valid from now on)."""
    signzone = require_program("ldns-signzone")
    source = workdir / f"unsigned-{origin.strip('.') or 'root'}.zone"
    source.write_text(text)
    target = source.with_suffix(".signed")
    _run([signzone, "-o", origin, "-f", str(target), str(source), key.base], workdir)
    return target.read_text()


def trust_anchor(key: KeyPair) -> str:
    """dnsmasq's --trust-anchor value for a DS record: name,keytag,algorithm,type,digest."""
    owner, _ttl, _class, _type, keytag, algorithm, digest_type, digest = key.ds.split()
    name = owner if owner == "." else owner.rstrip(".")
    return f"{name},{keytag},{algorithm},{digest_type},{digest}"


@contextlib.contextmanager
def run_dnsmasq(workdir: Path, upstream: int, anchor: str, probe: str) -> Iterator[DNSServer]:
    """A DNSSEC-validating dnsmasq on 127.0.0.1 forwarding everything to 127.0.0.1#upstream."""
    dnsmasq = require_program("dnsmasq")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = workdir / "dnsmasq.log"
    argv = [
        dnsmasq,
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--no-poll",
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        f"--port={port}",
        f"--server=127.0.0.1#{upstream}",
        "--dnssec",
        f"--trust-anchor={anchor}",
        f"--pid-file={workdir}/dnsmasq.pid",
        f"--log-facility={log}",
        "--log-queries",
    ]
    with _spawn(argv, workdir / "dnsmasq.out", port, probe):
        yield DNSServer(port=port, log=log)


def ad_flag(server: DNSServer, qname: str, rdtype: str, *, ask: bool) -> bool:
    """Whether ``server`` sets AD on its answer, with or without the AD flag in the query."""
    query = dns.message.make_query(qname, rdtype)
    if ask:
        query.flags |= dns.flags.AD
    response = dns.query.udp(query, "127.0.0.1", port=server.port, timeout=2.0)
    return bool(response.flags & dns.flags.AD)


# -- an HTTPS server for MTA-STS policies -----------------------------------------------------


@dataclass(frozen=True)
class Page:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"
    headers: tuple[tuple[str, str], ...] = ()


class _PolicyHandler(http.server.BaseHTTPRequestHandler):
    server: _PolicyHTTPServer

    def do_GET(self) -> None:
        self.server.requests.append((self.headers.get("Host", ""), self.path))
        page = self.server.pages.get(self.path, Page(status=404, body=b"not found"))
        self.send_response(page.status)
        if page.content_type:
            self.send_header("Content-Type", page.content_type)
        for name, value in page.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(page.body)))
        self.end_headers()
        self.wfile.write(page.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _PolicyHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    pages: dict[str, Page]
    requests: list[tuple[str, str]]

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client refusing our certificate is part of the tests


@dataclass
class PolicyServer:
    """An HTTPS server on 127.0.0.1; ``pages`` maps a path to what it answers."""

    port: int
    pages: dict[str, Page]
    requests: list[tuple[str, str]]
    ca: trustme.CA

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx


@contextlib.contextmanager
def run_policy_server(hostnames: list[str]) -> Iterator[PolicyServer]:
    """An HTTPS server with a trustme certificate for ``hostnames``, stopped on exit."""
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*hostnames).configure_cert(server_ctx)
    httpd = _PolicyHTTPServer(("127.0.0.1", 0), _PolicyHandler)
    httpd.pages = {}
    httpd.requests = []
    httpd.socket = server_ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield PolicyServer(
            port=int(httpd.server_address[1]), pages=httpd.pages, requests=httpd.requests, ca=ca
        )
    finally:
        httpd.shutdown()
        thread.join(timeout=STOP_DEADLINE)
        httpd.server_close()

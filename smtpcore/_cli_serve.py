"""``python -m smtpcore serve``: a local SMTP server that stores mail in Maildirs and relays.

With no options it listens on 127.0.0.1:8025 and stores every message in the Maildir ./mail,
printing one line per message. With ``--domain`` it is a small MTA: local domains are
delivered into a Maildir per recipient (./mail/<address>/), other domains are relayed by MX
for authenticated clients (``--auth-file``) or clients from ``--relay-net``, through a spool
that survives restarts; failures bounce to the sender.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import mailbox
import signal
import socket
import ssl
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from ._addresses import Address
from ._cli_auth import FileCredentials
from ._cli_queue import QueueRunner, params_to_text
from ._cli_spool import Spool, SpoolEntry
from ._config import Limits, ServerConfig
from ._events import Rcpt, Reply
from ._listen import peer_ip
from .aio import AsyncHandler, AsyncSMTPServer, Envelope, Session

__all__ = ["add_parser", "run"]

_RELAY_DENIED = Reply.of(554, "Relay access denied", "5.7.1")


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("serve", help="run an SMTP server that stores mail in a Maildir")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=8025, help="port to listen on (8025)")
    p.add_argument("--maildir", default="mail", help="Maildir root (./mail)")
    p.add_argument("--hostname", default=socket.getfqdn() or "localhost", help="our host name")
    p.add_argument("--domain", action="append", default=[], help="a local domain (repeatable)")
    p.add_argument("--relay-net", action="append", default=[], help="a network allowed to relay")
    p.add_argument("--auth-file", type=Path, help="users allowed to authenticate and relay")
    p.add_argument("--tls-cert", type=Path, help="certificate (PEM) for STARTTLS")
    p.add_argument("--tls-key", type=Path, help="private key (PEM) for STARTTLS")
    p.add_argument("--implicit-tls", action="store_true", help="TLS from the first byte (465)")
    p.add_argument("--allow-plaintext-auth", action="store_true", help="AUTH without TLS")
    p.add_argument("--lmtp", action="store_true", help="speak LMTP (RFC 2033)")
    p.add_argument("--max-size", type=int, default=32 * 1024 * 1024, help="octets per message")
    p.add_argument("--max-recipients", type=int, default=1000, help="recipients per message")
    p.add_argument("--spool", default="spool", help="folder for messages waiting to be relayed")
    p.add_argument("--retry-interval", type=float, default=300.0, help="first retry (seconds)")
    p.add_argument("--max-age", type=float, default=5 * 86400.0, help="give up after (seconds)")
    p.add_argument("--route", action="append", default=[], help="DOMAIN=HOST[:PORT] (or *=...)")
    p.add_argument("--relay-port", type=int, default=25, help="port of remote MX hosts (25)")
    p.add_argument("--nameserver", help="DNS server IP[:PORT] for MX lookups")


class ServeHandler(AsyncHandler):
    """Local delivery into Maildirs, relaying into the spool."""

    def __init__(
        self,
        *,
        maildir: Path,
        domains: set[str],
        relay_nets: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
        spool: Spool,
        queue: QueueRunner | None,
        hostname: str,
        out: TextIO,
    ) -> None:
        self.maildir = maildir
        self.domains = domains
        self.relay_nets = list(relay_nets)
        self.spool = spool
        self.queue = queue
        self.hostname = hostname
        self.out = out

    def is_local(self, address: Address) -> bool:
        return not self.domains or address.normalized_domain in self.domains or not address.domain

    def may_relay(self, session: Session) -> bool:
        if session.authenticated_as is not None:
            return True
        peer = peer_ip(session.peer)
        try:
            ip = ipaddress.ip_address(peer) if peer else None
        except ValueError:
            return False
        return ip is not None and any(ip in net for net in self.relay_nets)

    async def handle_rcpt(self, session: Session, envelope: Envelope, rcpt: Rcpt) -> Reply | None:
        if self.is_local(rcpt.forward_path) or self.may_relay(session):
            return None
        return _RELAY_DENIED

    def store_local(self, data: bytes, envelope: Envelope, recipients: Sequence[Address]) -> None:
        sender = "<>" if envelope.mail_from is None else f"<{envelope.mail_from}>"
        head = f"Return-Path: {sender}\r\n".encode()
        if not self.domains:
            self.maildir.parent.mkdir(parents=True, exist_ok=True)
            mailbox.Maildir(str(self.maildir), create=True).add(head + data)
            return
        self.maildir.mkdir(parents=True, exist_ok=True)
        for rcpt in recipients:
            folder = self.maildir / str(rcpt).lower()
            delivered_to = f"Delivered-To: {rcpt}\r\n".encode()
            mailbox.Maildir(str(folder), create=True).add(head + delivered_to + data)

    async def handle_message(self, session: Session, envelope: Envelope, data: bytes) -> Any:
        received = (
            f"Received: from {session.helo_name or 'unknown'} ({_peer(session)})\r\n"
            f"\tby {self.hostname} (smtpcore) with {'LMTP' if session.lmtp else 'ESMTP'}"
            f"{'S' if session.tls else ''}{'A' if session.authenticated_as else ''};\r\n"
            f"\t{time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n"
        ).encode()
        data = received + data
        local = [r for r in envelope.recipients if self.is_local(r)]
        remote = [r for r in envelope.recipients if not self.is_local(r)]
        if local:
            await asyncio.to_thread(self.store_local, data, envelope, local)
        queued = ""
        if remote:
            params = dict(zip(envelope.recipients, envelope.rcpt_params, strict=True))
            now = time.time()
            entry = SpoolEntry(
                id=self.spool.new_id(now),
                mail_from=None if envelope.mail_from is None else str(envelope.mail_from),
                recipients=tuple(str(r) for r in remote),
                arrival=now,
                next_try=now,
                mail_params=params_to_text(envelope.mail_params),
                rcpt_params={str(r): params_to_text(params[r]) for r in remote},
            )
            await asyncio.to_thread(self.spool.add, data, entry)
            queued = f" queued={entry.id}"
            if self.queue is not None:
                self.queue.wake()
        print(
            f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {_peer(session)} "
            f"from=<{envelope.mail_from or ''}> "
            f"to={','.join(f'<{r}>' for r in envelope.recipients)} size={len(data)} "
            f"stored={len(local)}{queued}",
            file=self.out,
            flush=True,
        )
        return Reply.of(250, "OK: message accepted", "2.0.0")


def _peer(session: Session) -> str:
    peer = session.peer
    return f"[{peer[0]}]" if isinstance(peer, tuple) and peer else "unknown"


def _tls_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    if args.tls_cert is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(args.tls_cert), str(args.tls_key) if args.tls_key else None)
    return ctx


def _routes(values: Sequence[str]) -> dict[str, str]:
    routes = {}
    for value in values:
        domain, sep, target = value.partition("=")
        if not sep or not target:
            raise SystemExit(f"--route wants DOMAIN=HOST[:PORT], not {value!r}")
        routes[domain.lower()] = target
    return routes


async def _serve(args: argparse.Namespace, out: TextIO) -> int:
    from . import mx

    resolver = None
    if args.nameserver:
        host, _, port = (
            args.nameserver.rpartition(":")
            if ":" in args.nameserver
            else (
                args.nameserver,
                "",
                "53",
            )
        )
        resolver = mx.make_resolver([(host or args.nameserver, int(port or 53))])
    spool = Spool(Path(args.spool))
    domains = {Address("postmaster", d).normalized_domain for d in args.domain}
    relay_kw: dict[str, Any] = {
        "routes": _routes(args.route),
        "port": args.relay_port,
        "resolver": resolver,
        "local_hostname": args.hostname,
        "own_names": [args.hostname],  # RFC 5321 §5.1: never relay to ourselves
    }
    queue = QueueRunner(
        spool,
        relay_kw=relay_kw,
        hostname=args.hostname,
        retry_interval=args.retry_interval,
        max_age=args.max_age,
        out=out,
    )
    handler = ServeHandler(
        maildir=Path(args.maildir),
        domains=domains,
        relay_nets=[ipaddress.ip_network(n, strict=False) for n in args.relay_net],
        spool=spool,
        queue=queue,
        hostname=args.hostname,
        out=out,
    )
    queue.local = handler
    credentials = FileCredentials.load(args.auth_file) if args.auth_file else None
    server = AsyncSMTPServer(
        handler,
        args.host,
        args.port,
        hostname=args.hostname,
        config=ServerConfig(
            hostname=args.hostname,
            lmtp=args.lmtp,
            limits=Limits(message_size=args.max_size, recipients=args.max_recipients),
        ),
        tls_context=_tls_context(args),
        implicit_tls=args.implicit_tls,
        credentials=credentials,
        auth_mechanisms=("PLAIN", "LOGIN"),
        auth_requires_tls=not args.allow_plaintext_auth,
        lmtp=args.lmtp,
    )
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not on the main thread
            pass
    where = args.maildir if not domains else f"{args.maildir}/<recipient>"
    print(
        f"smtpcore: listening on {args.host}:{server.port}, storing mail in {where}",
        file=out,
        flush=True,
    )
    queue_task = loop.create_task(queue.run(stop))
    try:
        await stop.wait()
    finally:
        print("smtpcore: shutting down", file=out, flush=True)
        await server.close(grace=10.0)
        queue.wake()
        await asyncio.wait_for(queue_task, 60)
    return 0


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    return asyncio.run(_serve(args, out or sys.stdout))

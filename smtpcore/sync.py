"""Blocking clients and server.

``SMTPClient`` / ``LMTPClient`` send mail; ``SMTPServer`` accepts it, one thread per
connection behind a bounded pool, and hands each message to your :class:`Handler`::

    class Printer(Handler):
        def handle_message(self, session, envelope, data):
            print(envelope.mail_from, envelope.recipients, len(data))

    with SMTPServer(Printer(), "127.0.0.1", 8025) as server:
        server.serve_forever()
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ._backends.sync import SocketStream
from ._config import ServerConfig, Timeouts
from ._envelope import Envelope, Session
from ._events import Reply
from ._extensions import Capabilities
from ._listen import PeerCounts, ServerOptions, peer_ip
from ._sync.client import LMTPClient, SMTPClient, TLSPolicy
from ._sync.server import Handler, ServerSession
from ._transaction import RecipientOutcome, SendResult

__all__ = [
    "SMTPClient",
    "LMTPClient",
    "SMTPServer",
    "Handler",
    "Envelope",
    "Session",
    "SendResult",
    "RecipientOutcome",
    "TLSPolicy",
]

log = logging.getLogger("smtpcore.server")

_BUSY = Reply.of(421, "Too many connections, try again later", "4.7.0")
_BUSY_IP = Reply.of(421, "Too many connections from your address, try again later", "4.7.0")
_ACCEPT_POLL = 0.2  # seconds between checks of the stop flag while waiting in accept()


class SMTPServer:
    """A blocking SMTP (or LMTP) server: the same options as
    :class:`smtpcore.aio.AsyncSMTPServer`, with a :class:`Handler` of plain methods.

    Each session has a thread from a pool of ``max_connections``; a client turned away
    (beyond ``max_connections``, or ``max_connections_per_ip`` from one address) gets its 421
    greeting from the accepting thread without waiting for a free one (RFC 5321 §3.1).
    """

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 8025,
        *,
        sock: socket.socket | None = None,
        hostname: str | None = None,
        config: ServerConfig | None = None,
        timeouts: Timeouts | None = None,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        credentials: Any = None,
        auth_mechanisms: Sequence[str] = ("PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"),
        auth_requires_tls: bool = True,
        require_tls: bool = False,
        require_auth: bool = False,
        max_connections: int = 100,
        proxy_protocol: bool = False,
        max_connections_per_ip: int | None = None,
        lmtp: bool = False,
        capabilities: Capabilities | None = None,
    ) -> None:
        self.handler = handler
        self.host = host
        self._port = port
        self._listener = sock
        self.tls_context = tls_context
        self.implicit_tls = implicit_tls
        self.credentials = credentials
        self.options = ServerOptions.make(
            config=config,
            hostname=hostname,
            lmtp=lmtp,
            timeouts=timeouts,
            starttls=tls_context is not None and not implicit_tls,
            auth=credentials is not None,
            auth_mechanisms=auth_mechanisms,
            auth_requires_tls=auth_requires_tls,
            require_tls=require_tls,
            require_auth=require_auth,
            max_connections=max_connections,
            proxy_protocol=proxy_protocol,
            capabilities=capabilities,
        )
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._per_ip = PeerCounts(max_connections_per_ip)
        self.max_connections_per_ip = max_connections_per_ip
        self._active: set[socket.socket] = set()
        self.ready = threading.Event()

    @property
    def port(self) -> int:
        if self._listener is not None:
            return int(self._listener.getsockname()[1])
        return self._port

    def start(self) -> None:
        """Bind (unless a socket was given) and accept in a background thread."""
        if self._listener is None:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._port))
            sock.listen(128)
            self._listener = sock
        self._listener.settimeout(_ACCEPT_POLL)
        self._pool = ThreadPoolExecutor(
            max_workers=self.options.max_connections, thread_name_prefix="smtpcore-session"
        )
        self._thread = threading.Thread(
            target=self._accept_loop, name="smtpcore-accept", daemon=True
        )
        self._thread.start()
        self.ready.set()

    def _accept_loop(self) -> None:
        assert self._listener is not None and self._pool is not None
        while not self._stop.is_set():
            try:
                client, _addr = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            client.settimeout(None)
            if client.family in (socket.AF_INET, socket.AF_INET6):
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            ip = _peer_ip(client)
            with self._lock:
                busy: Reply | None = None
                if len(self._active) >= self.options.max_connections:
                    busy = _BUSY
                elif self._per_ip.full(ip):
                    busy = _BUSY_IP
                if busy is None:
                    self._active.add(client)
                    self._per_ip.add(ip)
            if busy is not None:
                # Every worker may be taken: answer here, never queue behind the sessions.
                self._turn_away(client, busy)
                continue
            try:
                self._pool.submit(self._serve, client, ip)
            except RuntimeError:  # the pool is shutting down
                self._forget(client, ip)
                client.close()
                return

    def _turn_away(self, client: socket.socket, reply: Reply) -> None:
        """Send the 421 greeting without blocking the accepting thread, then close. Under
        implicit TLS no greeting can be sent before a handshake: just close."""
        try:
            if not self.implicit_tls:
                client.setblocking(False)
                client.send(self.options.connection().send(reply))
        except OSError:
            pass
        finally:
            client.close()

    def _forget(self, client: socket.socket, ip: str | None) -> None:
        with self._lock:
            self._active.discard(client)
            self._per_ip.remove(ip)

    def _serve(self, client: socket.socket, ip: str | None) -> None:
        opts = self.options
        stream = SocketStream(client)
        try:
            if self.implicit_tls and self.tls_context is not None:
                stream = stream.start_tls(
                    self.tls_context, server_side=True, timeout=opts.timeouts.connect
                )
            ServerSession(
                stream,
                self.handler,
                opts.connection(tls=self.implicit_tls),
                tls_context=self.tls_context,
                credentials=self.credentials,
                idle_timeout=opts.timeouts.server_idle,
                data_timeout=opts.timeouts.data_block,
                proxy_protocol=opts.proxy_protocol,
            ).run()
        except Exception:
            log.exception("session failed")
            stream.close()
        finally:
            self._forget(client, ip)

    def serve_forever(self) -> None:
        """Serve until :meth:`close` is called from another thread (or a signal handler)."""
        if self._thread is None:
            self.start()
        self._stop.wait()

    def close(self, grace: float = 5.0) -> None:
        """Stop accepting; let sessions finish within ``grace`` seconds; cut the rest."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=_ACCEPT_POLL * 5)
        if self._listener is not None:
            self._listener.close()
        if self._pool is not None:
            done = threading.Event()

            def wait_pool() -> None:
                assert self._pool is not None
                self._pool.shutdown(wait=True)
                done.set()

            waiter = threading.Thread(target=wait_pool, daemon=True)
            waiter.start()
            if not done.wait(grace):
                with self._lock:
                    for client in list(self._active):
                        try:
                            client.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                done.wait(grace)
            waiter.join(timeout=1.0)

    def __enter__(self) -> SMTPServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _peer_ip(client: socket.socket) -> str | None:
    try:
        return peer_ip(client.getpeername())
    except OSError:
        return None

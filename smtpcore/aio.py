"""asyncio clients and server.

``AsyncSMTPClient`` / ``AsyncLMTPClient`` send mail; ``AsyncSMTPServer`` accepts it and hands
each message to your :class:`AsyncHandler`::

    class Handler(AsyncHandler):
        async def handle_message(self, session, envelope, data):
            print(envelope.mail_from, envelope.recipients, len(data))

    async with AsyncSMTPServer(Handler(), "127.0.0.1", 8025) as server:
        await server.serve_forever()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable, Sequence
from typing import Any

from ._aio_session import PushSession
from ._async.client import AsyncLMTPClient, AsyncSMTPClient, TLSPolicy
from ._async.server import AsyncHandler
from ._backends.aio import AsyncIOStream, StreamProtocol
from ._config import ServerConfig, Timeouts
from ._envelope import Envelope, Session
from ._events import Reply
from ._extensions import Capabilities
from ._listen import PeerCounts, ServerOptions, peer_ip
from ._transaction import RecipientOutcome, SendResult

__all__ = [
    "AsyncSMTPClient",
    "AsyncLMTPClient",
    "AsyncSMTPServer",
    "AsyncHandler",
    "Envelope",
    "Session",
    "SendResult",
    "RecipientOutcome",
    "TLSPolicy",
]

log = logging.getLogger("smtpcore.server")

_BUSY = Reply.of(421, "Too many connections, try again later", "4.7.0")
_BUSY_IP = Reply.of(421, "Too many connections from your address, try again later", "4.7.0")


class AsyncSMTPServer:
    """An asyncio SMTP (or LMTP) server.

    Listens on ``host``/``port`` (``port=0`` picks a free one: read :attr:`port`) or on
    ``sock``. ``tls_context`` enables STARTTLS (RFC 3207), or implicit TLS with
    ``implicit_tls=True`` (RFC 8314); ``credentials`` (a :class:`smtpcore.sasl.CredentialStore`)
    enables AUTH, offered only over TLS unless ``auth_requires_tls=False``. Beyond
    ``max_connections`` open connections, or ``max_connections_per_ip`` from one client
    address (None: no limit per address), clients get a 421 greeting (RFC 5321 §3.1) and are
    closed. ``proxy_protocol=True`` expects a PROXY protocol v1/v2 header from a trusted
    load balancer first and takes the client's address from it. :meth:`close` stops
    accepting, lets sessions in flight finish within ``grace`` seconds, then cuts the rest.
    """

    def __init__(
        self,
        handler: AsyncHandler,
        host: str | None = "127.0.0.1",
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
        max_connections: int = 1000,
        proxy_protocol: bool = False,
        max_connections_per_ip: int | None = None,
        lmtp: bool = False,
        capabilities: Capabilities | None = None,
    ) -> None:
        self.handler = handler
        self.host = host
        self._port = port
        self._sock = sock
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
        self._per_ip = PeerCounts(max_connections_per_ip)
        self.max_connections_per_ip = max_connections_per_ip
        self._server: asyncio.Server | None = None
        # Every open connection: what says it is over (a session's ``finished``, or the
        # task of an implicit TLS handshake), and how to cut it.
        self._open: dict[asyncio.Future[None], Callable[[], object]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def port(self) -> int:
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._server.sockets) if self._server is not None else ()

    async def start(self) -> None:
        self._loop = loop = asyncio.get_running_loop()
        if self._sock is not None:
            self._server = await loop.create_server(self._protocol, sock=self._sock)
        else:
            self._server = await loop.create_server(
                self._protocol, self.host, self._port, reuse_address=True
            )

    def _protocol(self) -> StreamProtocol:
        return _AcceptingProtocol(self)

    def _accept(self, proto: StreamProtocol) -> None:
        assert proto.transport is not None
        stream = AsyncIOStream(proto.transport, proto)
        ip = peer_ip(proto.transport.get_extra_info("peername"))
        # Every open connection counts, turned-away ones too, until it is closed.
        busy: Reply | None = None
        if len(self._open) >= self.options.max_connections:
            busy = _BUSY
        elif self._per_ip.full(ip):
            busy = _BUSY_IP
        self._per_ip.add(ip)
        if self.implicit_tls and self.tls_context is not None:
            task = proto.loop.create_task(self._handshake(stream, busy, ip))
            self._open[task] = task.cancel
            task.add_done_callback(self._open.pop)
        else:
            self._start(stream, busy, ip)

    def _start(self, stream: AsyncIOStream, busy: Reply | None, ip: str | None) -> None:
        """Serve a connection from its protocol (smtpcore._aio_session): no task until a
        handler must run."""
        opts = self.options
        session = PushSession(
            stream,
            self.handler,
            opts.connection(tls=self.implicit_tls),
            tls_context=self.tls_context,
            credentials=self.credentials,
            idle_timeout=opts.timeouts.server_idle,
            data_timeout=opts.timeouts.data_block,
            greeting=busy,
            proxy_protocol=opts.proxy_protocol,
            on_done=lambda s: self._done(s.finished, ip),
        )
        self._open[session.finished] = session.abort
        session.start()

    async def _handshake(self, stream: AsyncIOStream, busy: Reply | None, ip: str | None) -> None:
        """Implicit TLS (RFC 8314): the handshake, then the session."""
        context = self.tls_context
        assert context is not None
        try:
            stream = await stream.start_tls(
                context,
                server_side=True,
                timeout=self.options.timeouts.connect,
            )
        except Exception as exc:
            self._per_ip.remove(ip)
            log.debug("TLS handshake failed: %s", exc)
            await stream.aclose()
            return
        except BaseException:  # cancelled by close(): the slot is given back all the same
            self._per_ip.remove(ip)
            raise
        self._start(stream, busy, ip)

    def _done(self, finished: asyncio.Future[None], ip: str | None) -> None:
        self._open.pop(finished, None)
        self._per_ip.remove(ip)

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        with contextlib.suppress(asyncio.CancelledError):
            await self._server.serve_forever()

    async def close(self, grace: float = 5.0) -> None:
        """Stop accepting; let sessions finish within ``grace`` seconds; cancel the rest."""
        server = self._server
        if server is not None:
            server.close()  # no new connections from here
        if self._open:
            _done, pending = await asyncio.wait(set(self._open), timeout=grace)
            for fut in pending:
                cut = self._open.get(fut)
                if cut is not None:
                    cut()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        if server is not None:
            # Only now: from Python 3.12, wait_closed() also waits for every connection to
            # be gone, which would hold the grace period off for ever with an idle client.
            # (asyncio.TimeoutError: the builtin TimeoutError only from 3.11.)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 2.0)

    async def __aenter__(self) -> AsyncSMTPServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class _AcceptingProtocol(StreamProtocol):
    def __init__(self, server: AsyncSMTPServer) -> None:
        super().__init__(server._loop)
        self._owner = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self._owner.implicit_tls:
            # Nothing may be read as plaintext before the TLS layer takes over: the
            # ClientHello must reach it, not our buffer (loop.start_tls resumes reading).
            # The transport starts reading in a callback queued after this one (and Python
            # 3.10 does so even if paused here), so the pause is queued behind it, before the
            # handshake task's first step and before any read.
            assert isinstance(transport, asyncio.Transport)
            self.loop.call_soon(transport.pause_reading)
        # TCP_NODELAY: asyncio's socket transport sets it on every TCP socket already.
        self._owner._accept(self)

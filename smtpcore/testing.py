"""Helpers for testing code that uses smtpcore, without sockets.

* :class:`MockStream` / :class:`AsyncMockStream`: scripted streams (each ``read`` returns the
  next prepared chunk, ``b""`` after the last) that record what was written.
* :class:`ConnectionPair`: a :class:`ClientConnection` and a :class:`ServerConnection` joined in
  memory; ``client_send(command)`` returns the events the server saw, ``server_send(reply)``
  the events the client saw.
* :func:`run_session` / :func:`run_session_async`: run your server :class:`Handler` on a
  scripted client conversation and get the server's reply bytes back::

      out = run_session(MyHandler(), b"EHLO t\\r\\nMAIL FROM:<a@b.example>\\r\\nQUIT\\r\\n")
      assert b"250 2.1.0" in out
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

from ._async.server import AsyncHandler, AsyncServerSession
from ._backends.base import AsyncStream, SyncStream
from ._client import ClientConnection
from ._errors import TLSError
from ._events import NEED_DATA, PAUSED, ConnectionClosed, Event
from ._listen import ServerOptions
from ._server import ServerConnection
from ._sync.server import Handler, ServerSession

__all__ = [
    "MockStream",
    "AsyncMockStream",
    "ConnectionPair",
    "run_session",
    "run_session_async",
    "drain",
]


class MockStream(SyncStream):
    """A scripted blocking stream: reads come from ``chunks``, writes go to ``written``."""

    def __init__(self, chunks: Iterable[bytes] = (), *, peer: Any = ("127.0.0.1", 40000)) -> None:
        self._chunks = list(chunks)
        self.written = bytearray()
        self.closed = False
        self._peer = peer

    def read(self, max_bytes: int, timeout: float | None) -> bytes:
        if not self._chunks:
            return b""
        chunk = self._chunks.pop(0)
        if len(chunk) > max_bytes:
            self._chunks.insert(0, chunk[max_bytes:])
            chunk = chunk[:max_bytes]
        return chunk

    def write(self, data: bytes, timeout: float | None) -> None:
        self.written += data

    def start_tls(
        self,
        context: ssl.SSLContext,
        *,
        server_hostname: str | None = None,
        server_side: bool = False,
        timeout: float | None = None,
    ) -> SyncStream:
        raise TLSError("MockStream does not do TLS")

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> Any:
        return self._peer if name == "peername" else None


class AsyncMockStream(AsyncStream):
    """A scripted asyncio stream; the same behaviour as :class:`MockStream`."""

    def __init__(self, chunks: Iterable[bytes] = (), *, peer: Any = ("127.0.0.1", 40000)) -> None:
        self._sync = MockStream(chunks, peer=peer)

    @property
    def written(self) -> bytearray:
        return self._sync.written

    @property
    def closed(self) -> bool:
        return self._sync.closed

    async def read(self, max_bytes: int, timeout: float | None) -> bytes:
        return self._sync.read(max_bytes, timeout)

    async def write(self, data: bytes, timeout: float | None) -> None:
        self._sync.write(data, timeout)

    async def start_tls(
        self,
        context: ssl.SSLContext,
        *,
        server_hostname: str | None = None,
        server_side: bool = False,
        timeout: float | None = None,
    ) -> AsyncStream:
        raise TLSError("AsyncMockStream does not do TLS")

    async def aclose(self) -> None:
        self._sync.close()

    def get_extra_info(self, name: str) -> Any:
        return self._sync.get_extra_info(name)


def drain(conn: ClientConnection | ServerConnection, limit: int = 100_000) -> list[Event]:
    """Every event ``conn`` has ready, up to ``NEED_DATA`` or ``PAUSED`` (at most ``limit``)."""
    out: list[Event] = []
    for _ in range(limit):
        event = conn.next_event()
        if event is NEED_DATA or event is PAUSED:
            return out
        assert isinstance(event, Event)
        out.append(event)
        if isinstance(event, ConnectionClosed):
            return out
    raise RuntimeError("next_event() never asked for data")


class ConnectionPair:
    """A client and a server engine joined by an in-memory link."""

    def __init__(
        self, client: ClientConnection | None = None, server: ServerConnection | None = None
    ) -> None:
        self.client = client or ClientConnection()
        self.server = server or ServerConnection()
        self.to_server = bytearray()
        self.to_client = bytearray()

    def client_send(self, *events: Event) -> list[Event]:
        """Send from the client; return what the server saw."""
        for event in events:
            data = self.client.send(event)
            self.to_server += data
            if data:  # b"" would mean end of file
                self.server.receive_data(data)
        return drain(self.server)

    def server_send(self, *replies: Any) -> list[Event]:
        """Send replies from the server; return what the client saw."""
        for reply in replies:
            data = self.server.send(reply)
            self.to_client += data
            if data:
                self.client.receive_data(data)
        return drain(self.client)


def _as_client_writes(script: bytes) -> list[bytes]:
    """One read per line: a script has no timing, and a real client sends nothing behind
    DATA before it has read the 354 (RFC 2920 §3.1), so lines must not arrive together."""
    return script.splitlines(keepends=True)


def run_session(
    handler: Handler, client_bytes: bytes, *, options: ServerOptions | None = None
) -> bytes:
    """Serve one scripted client conversation with ``handler``; return the server's bytes."""
    opts = options or ServerOptions()
    stream = MockStream(_as_client_writes(client_bytes))
    ServerSession(stream, handler, opts.connection()).run()
    return bytes(stream.written)


async def run_session_async(
    handler: AsyncHandler, client_bytes: bytes, *, options: ServerOptions | None = None
) -> bytes:
    """:func:`run_session` for an :class:`AsyncHandler`."""
    opts = options or ServerOptions()
    stream = AsyncMockStream(_as_client_writes(client_bytes))
    await AsyncServerSession(stream, handler, opts.connection()).run()
    return bytes(stream.written)

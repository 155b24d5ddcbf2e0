"""asyncio streams on a plain :class:`asyncio.BufferedProtocol` (no StreamReader/StreamWriter).

A Protocol keeps the chunks that arrived and wakes one waiter: cheaper per connection and
per read than asyncio's streams, and ``loop.start_tls`` swaps the transport in place on
every supported Python (StreamWriter.start_tls only exists from 3.11).

Why *Buffered*: for a plain Protocol, asyncio's selector transport calls
``sock.recv(256 KiB)`` on every read. An allocation that large is above glibc's mmap
threshold, so each read of a 30-octet SMTP command costs mmap + mremap + munmap besides the
recv: measured here, that is 60 % of a minimal asyncio SMTP server's CPU time (about 125 µs
per message against 47 µs with recv_into, benchmarks/README.md). A BufferedProtocol is
handed one receive buffer per thread, shared by all its connections (get_buffer and
buffer_updated run back to back in the same callback, so no two reads interleave), and only
the octets that arrived are copied out.
"""

from __future__ import annotations

import asyncio
import heapq
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn

from .._errors import TLSError
from .base import AsyncStream, map_errors

__all__ = ["StreamProtocol", "AsyncIOStream", "connect_tcp"]

_HIGH_WATER = 256 * 1024  # pause reading beyond this much unread data
_RECV_SIZE = 256 * 1024  # what asyncio's own transports read at once


class _RecvBuffer(threading.local):
    """The receive buffer of this thread's event loop, shared by its connections."""

    def __init__(self) -> None:
        self.view = memoryview(bytearray(_RECV_SIZE))


_recv_buffer = _RecvBuffer()

# How late a read deadline may fire, at most: RFC 5321 §4.5.3.2's timeouts are minutes.
_TICK = 0.05


class _Deadlines:
    """The read deadlines of one event loop's connections, kept with one timer.

    A timer handle per connection costs a Python-level heap push and a cancel per
    connection, and a loop heap full of cancelled handles that asyncio sifts with a Python
    comparison: for a server taking a new connection per message, 17k of the 1,088k
    instructions a connection cost (benchmarks/README.md). Here a deadline is put in a slot
    of ``_TICK`` seconds (a timer wheel), a dict insert, and taken out with a dict pop; one
    loop timer fires at the earliest slot's end, and each connection in it then says
    whether its deadline has passed or moved (it goes into a later slot). A deadline is
    never seen early and at most ``_TICK`` late.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.clock = _clock_of(loop)
        self._slots: dict[int, dict[StreamProtocol, None]] = {}
        self._due: list[int] = []  # a heap of the slots' numbers
        self._timer: asyncio.TimerHandle | None = None
        self._timer_slot = 0
        # The first slot still to come: past slots were fired, so a deadline that falls in
        # one (it has passed) goes here, and a firing always moves on.
        self._next_slot = 0

    def add(self, proto: StreamProtocol, when: float) -> int:
        """Put ``proto`` in the slot that ends at or after ``when``; that slot's number."""
        key = max(int(when / _TICK) + 1, self._next_slot)  # it ends at key * _TICK >= when
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = {}
            heapq.heappush(self._due, key)
            if self._timer is None or key < self._timer_slot:
                self._set_timer(key)
        slot[proto] = None
        return key

    def remove(self, proto: StreamProtocol, key: int) -> None:
        slot = self._slots.get(key)
        if slot is not None:
            slot.pop(proto, None)  # an emptied slot goes when its time comes

    def _set_timer(self, key: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_slot = key
        self._timer = self.loop.call_at(key * _TICK, self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self.clock()
        due, slots = self._due, self._slots
        while due and due[0] * _TICK <= now:
            key = heapq.heappop(due)
            self._next_slot = key + 1
            for proto in list(slots.pop(key, ())):
                try:
                    proto._slot_due(self, now)
                except Exception as exc:  # one connection's failure is not the others'
                    self.loop.call_exception_handler(
                        {"message": "read deadline callback failed", "exception": exc}
                    )
        if due:
            self._set_timer(due[0])


class _DeadlinesOfThread(threading.local):
    """The deadline keeper of the event loop this thread ran last (a loop runs in one
    thread; a connection keeps the keeper it was put in)."""

    keeper: _Deadlines | None = None

    def of(self, loop: asyncio.AbstractEventLoop) -> _Deadlines:
        keeper = self.keeper
        if keeper is None or keeper.loop is not loop:
            keeper = self.keeper = _Deadlines(loop)
        return keeper


_deadlines = _DeadlinesOfThread()


def _clock_of(loop: asyncio.AbstractEventLoop) -> Callable[[], float]:
    """``loop.time``; ``time.monotonic`` itself where that is what it calls (asyncio's own
    loops), a C call instead of a Python one after every command."""
    if type(loop).time is asyncio.BaseEventLoop.time:
        return time.monotonic
    return loop.time


class StreamProtocol(asyncio.BufferedProtocol):
    """Buffers what arrives and lets one reader wait for it.

    What arrives is kept as the transport's own ``bytes`` objects, so that a read which takes
    everything (the usual case) hands the very object over without copying it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.transport: asyncio.Transport | None = None
        self._view = _recv_buffer.view
        self._loop = loop
        self._clock: Callable[[], float] = time.monotonic  # the loop's, once it is known
        self._chunks: list[bytes] = []
        self._size = 0
        self.eof = False
        self.exc: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        # The transport's write buffer is above its high-water mark (the peer is slow):
        # read it, never set it (an attribute, not a property: the server reads it per event).
        self.write_paused = False
        self._read_paused = False
        # The read deadline, kept in a slot of the loop's _Deadlines (0: in none), moved to
        # a later slot only when its slot comes first: a read moves the deadline, not the slot.
        self._deadline: float | None = None
        self._keeper: _Deadlines | None = None
        self._slot = 0
        self._slot_start = 0.0  # deadlines from here on fit the slot
        if loop is not None:
            self._known_loop(loop)
        # When set, every arrival goes to it as it comes (b"" at end of file) instead of
        # being buffered for read(): the asyncio server answers from there.
        self.sink: Callable[[bytes], None] | None = None
        # With nobody in wait(): what the deadline calls (see expire), and what
        # connection_lost calls.
        self._expiry: Callable[[], None] | None = None
        self.on_lost: Callable[[], None] | None = None
        self.lost = False

    @property
    def buffered(self) -> int:
        """How many octets arrived and were not taken yet."""
        return self._size

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop of this connection."""
        return self._loop or asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        # Kept: asyncio.get_running_loop() is a getpid() system call per call on 3.11 (a
        # server's protocols are given their loop when they are made).
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._known_loop(self._loop)

    def _known_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self._keeper = _deadlines.of(loop)
        self._clock = self._keeper.clock

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        sink = self.sink
        if sink is not None:  # the asyncio server's sessions: straight to the engine
            sink(bytes(self._view[:nbytes]))
        else:
            self.data_received(bytes(self._view[:nbytes]))

    def data_received(self, data: bytes) -> None:
        if self.sink is not None:
            self.sink(data)
            return
        self._chunks.append(data)
        self._size += len(data)
        self.wake()
        if self._size > _HIGH_WATER and not self._read_paused and self.transport:
            self._read_paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self.eof = True
        self.wake()
        if self.sink is not None:
            self.sink(b"")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.sink is not None and not self.eof:
            self.sink(b"")
        self.eof = True
        self.exc = exc
        self.wake()
        self._disarm()
        self._expiry = None
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        if self.on_lost is not None:
            self.on_lost()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    async def wait_readable(self, timeout: float | None) -> None:
        """Until data or EOF is there (at once when it already is); TimeoutError after
        ``timeout`` seconds."""
        if self._size or self.eof:
            return
        await self.wait(timeout)

    @property
    def waiting(self) -> bool:
        """A reader is parked in :meth:`wait` and not woken yet."""
        return self._waiter is not None and not self._waiter.done()

    def wake(self, exc: BaseException | None = None) -> None:
        """Resume the parked reader (raising ``exc`` in it, if given)."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)

    def extend(self, seconds: float) -> None:
        """Move the deadline (of the parked reader, or of :meth:`expire`) to ``seconds`` from
        now."""
        if self._deadline is not None:
            self._deadline = self._clock() + seconds

    def expire(self, seconds: float | None, callback: Callable[[], None] | None = None) -> None:
        """With nobody in :meth:`wait`: call ``callback`` ``seconds`` from now (or when
        :meth:`extend` says), unless this is called again first (None: no deadline)."""
        if seconds is None or callback is None:
            self._deadline = self._expiry = None
            return
        self._expiry = callback
        self._set_deadline(seconds)

    async def wait(self, timeout: float | None) -> None:
        """Until woken (by data or EOF; with a ``sink``, by :meth:`wake`); TimeoutError at
        the deadline, ``timeout`` seconds from now unless :meth:`extend` moved it."""
        loop = self.loop
        self._waiter = fut = loop.create_future()
        self._expiry = self._deadline = None  # a reader waits now: expire() no longer applies
        if timeout is not None:
            self._set_deadline(timeout)
        try:
            await fut
        finally:
            self._waiter = None
            self._deadline = None

    def _set_deadline(self, seconds: float) -> None:
        """The deadline ``seconds`` from now, in a slot that comes no later than it (the slot
        it is in already, unless the deadline came earlier than that slot)."""
        if self._keeper is None:  # before connection_made: the loop is known now
            self._known_loop(self.loop)
        keeper = self._keeper
        assert keeper is not None
        self._deadline = deadline = self._clock() + seconds
        if self._slot and deadline >= self._slot_start:
            return
        if self._slot:
            keeper.remove(self, self._slot)
        self._slot = keeper.add(self, deadline)
        self._slot_start = (self._slot - 1) * _TICK

    def _disarm(self) -> None:
        if self._slot and self._keeper is not None:
            self._keeper.remove(self, self._slot)
            self._slot = 0

    def _slot_due(self, keeper: _Deadlines, now: float) -> None:
        """The end of this connection's slot: the deadline has passed, moved, or gone."""
        self._slot = 0
        fut, deadline = self._waiter, self._deadline
        if deadline is None or (fut is not None and fut.done()):
            return  # no deadline now: the next wait (or expire) puts it in a slot again
        if now < deadline:
            self._slot = keeper.add(self, deadline)
            self._slot_start = (self._slot - 1) * _TICK
        elif fut is not None:
            fut.set_exception(TimeoutError())
        elif self._expiry is not None:
            callback, self._expiry, self._deadline = self._expiry, None, None
            callback()

    async def drain(self, timeout: float | None) -> None:
        if not self.write_paused or self.eof:
            return
        self._drain = fut = self.loop.create_future()
        try:
            await _wait(fut, timeout)
        finally:
            self._drain = None

    def take(self, max_bytes: int) -> bytes:
        chunks = self._chunks
        if self._size <= max_bytes:
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            chunks.clear()
        else:
            joined = b"".join(chunks)
            data = joined[:max_bytes]
            chunks[:] = [joined[max_bytes:]]
        self._size -= len(data)
        if self._read_paused and self._size < _HIGH_WATER // 2 and self.transport:
            self._read_paused = False
            self.transport.resume_reading()
        return data

    def discard(self) -> None:
        self._chunks.clear()
        self._size = 0


def _reraise(kind: str, exc: OSError) -> NoReturn:
    """Raise ``exc`` as smtpcore's error (map_errors, entered only on the error path)."""
    with map_errors(kind):
        raise exc
    raise AssertionError("unreachable")  # pragma: no cover - map_errors always raises


def _expire(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())


async def _wait(fut: asyncio.Future[None], timeout: float | None) -> None:
    """Await ``fut``, failing with TimeoutError after ``timeout`` seconds: one timer handle,
    where ``asyncio.wait_for`` would also create a task per call."""
    if timeout is None:
        await fut
        return
    handle = asyncio.get_running_loop().call_later(timeout, _expire, fut)
    try:
        await fut
    finally:
        handle.cancel()


class AsyncIOStream(AsyncStream):
    def __init__(self, transport: asyncio.Transport, protocol: StreamProtocol) -> None:
        self._transport = transport
        self._protocol = protocol

    @property
    def protocol(self) -> StreamProtocol:
        return self._protocol

    async def read(self, max_bytes: int, timeout: float | None) -> bytes:
        proto = self._protocol
        if not proto._size and not proto.eof:
            try:
                await proto.wait(timeout)
            except OSError as exc:  # TimeoutError and ssl.SSLError too
                _reraise("read", exc)
        if proto._size:
            return proto.take(max_bytes)
        if proto.exc is not None:
            with map_errors("read"):
                raise proto.exc
        return b""

    async def write(self, data: bytes, timeout: float | None) -> None:
        if not data:
            return
        try:
            if self._transport.is_closing():
                raise ConnectionResetError("connection closed")
            self._transport.write(data)
            if self._protocol.write_paused:  # else drain() would return at once
                await self._protocol.drain(timeout)
        except OSError as exc:  # TimeoutError and ssl.SSLError too
            _reraise("write", exc)

    async def start_tls(
        self,
        context: ssl.SSLContext,
        *,
        server_hostname: str | None = None,
        server_side: bool = False,
        timeout: float | None = None,
    ) -> AsyncIOStream:
        proto = self._protocol
        if proto.buffered:
            # Bytes that arrived in plaintext after STARTTLS: never processed as if they had
            # come over TLS (CVE-2011-0411 on servers; response injection on clients).
            if not server_side:
                raise TLSError("the server sent plaintext data behind its 220 to STARTTLS")
            proto.discard()
        loop = asyncio.get_running_loop()
        with map_errors("tls"):
            transport = await loop.start_tls(
                self._transport,
                proto,
                context,
                server_side=server_side,
                server_hostname=None if server_side else server_hostname,
                ssl_handshake_timeout=timeout,
            )
        if transport is None:
            raise TLSError("the TLS handshake did not complete")
        assert isinstance(transport, asyncio.Transport)
        proto.transport = transport
        return AsyncIOStream(transport, proto)

    def pause_reading(self) -> None:
        if not self._transport.is_closing():
            self._transport.pause_reading()

    async def aclose(self) -> None:
        transport = self._transport
        if not transport.is_closing():
            transport.close()
        # Wait (bounded) for connection_lost so nothing is left open behind us.
        proto = self._protocol
        for _ in range(3):
            if proto.eof and transport.is_closing():
                break
            proto.discard()  # unread data is of no use now; wait for what comes next
            try:
                await proto.wait_readable(0.5)
            except TimeoutError:
                break
        if not proto.eof:
            transport.abort()

    def get_extra_info(self, name: str) -> Any:
        return self._transport.get_extra_info(name)


async def connect_tcp(
    host: str,
    port: int,
    *,
    timeout: float | None,
    source_address: tuple[str, int] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> AsyncIOStream:
    """Open a TCP connection (and, with ``ssl_context``, implicit TLS) as a stream."""
    loop = asyncio.get_running_loop()
    with map_errors("connect"):
        transport, protocol = await asyncio.wait_for(
            loop.create_connection(
                StreamProtocol,
                host,
                port,
                local_addr=source_address,
                ssl=ssl_context,
                server_hostname=server_hostname if ssl_context is not None else None,
            ),
            timeout,
        )
    # TCP_NODELAY: asyncio's socket transport sets it on every TCP socket already.
    assert isinstance(transport, asyncio.Transport)
    return AsyncIOStream(transport, protocol)


async def wrap_socket(sock: socket.socket, *, timeout: float | None = None) -> AsyncIOStream:
    """A stream over a socket the user connected (a UNIX socket, a SOCKS proxy, ...)."""
    loop = asyncio.get_running_loop()
    with map_errors("connect"):
        transport, protocol = await asyncio.wait_for(
            loop.create_connection(StreamProtocol, sock=sock), timeout
        )
    assert isinstance(transport, asyncio.Transport)
    return AsyncIOStream(transport, protocol)

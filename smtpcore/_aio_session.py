"""The asyncio server session, driven from its protocol as data arrives.

:class:`AsyncServerSession` pulls: its task reads, feeds the engine and answers. Under
asyncio that costs a wake-up of the task per command: a future resolved, a loop iteration
and a trip through every coroutine frame. Here the protocol hands each arrival to the session
at once (``StreamProtocol.sink``), which feeds the engine and answers on the spot whatever
needs no handler call (``_handle_now``: MAIL, RCPT, DATA and message data with the default
hooks, RSET, NOOP, refusals). Only an event that does (the end of a message, EHLO, QUIT,
STARTTLS, AUTH, a handler's own hooks) wakes the task, which takes it from ``_held``.
Measured with smtp-source: one wake-up per message instead of four, and none for the
octets of a large message.

Everything else (timeouts, the order of replies, backpressure, TLS) keeps the pull
session's rules:
- the wait for a whole command is bounded (slowloris), each data block by its own timeout;
- replies leave in order: the task flushes what the protocol answered before its own;
- while the task is busy, arrivals only fill the engine's buffer; past a high-water mark
  reading is paused until the task waits again;
- while the transport's write buffer is full, nothing is answered here: the task drains it;
- plaintext that follows STARTTLS goes into the engine, which throws it away
  (``tls_established``), never executed inside TLS.
"""

from __future__ import annotations

from typing import Any

from ._async.server import AsyncServerSession
from ._backends.aio import AsyncIOStream, StreamProtocol
from ._events import NEED_DATA, ConnectionClosed, Event
from ._state import State

__all__ = ["PushSession"]

_HIGH_WATER = 256 * 1024  # unread octets in the engine before reading is paused
_BOUND = 100_000  # events answered per arrival, at most (an arrival is at most 256 KiB)


class PushSession(AsyncServerSession):
    """An :class:`AsyncServerSession` over an asyncio stream, answered from its protocol."""

    def __init__(self, stream: AsyncIOStream, *args: Any, **kwargs: Any) -> None:
        super().__init__(stream, *args, **kwargs)
        self._proto: StreamProtocol = stream.protocol
        self._error: BaseException | None = None
        self._paused = False

    async def _run(self) -> None:
        try:
            await super()._run()
        finally:
            self._proto.sink = None

    async def _start_tls(self) -> None:
        # Until the engine is told TLS is up, arrivals wait in the stream: fed to the engine
        # now, the client's first command over TLS would be thrown away as plaintext.
        self._proto.sink = None
        await super()._start_tls()

    async def _receive(self, timeout: float) -> None:
        proto = self._proto
        if proto.sink is None:
            # The first wait (after the greeting and any PROXY header), or the first after
            # STARTTLS: what arrived was buffered by the stream; from now on it comes here.
            proto.sink = self._on_data
            if proto.buffered or proto.eof:
                self.conn.receive_data(proto.take(proto.buffered) if proto.buffered else b"")
                return
        if self._error is not None:
            raise self._error
        if self._paused and proto.transport is not None:
            self._paused = False
            proto.transport.resume_reading()
        await proto.wait(timeout)  # woken by _answer; the stream's timer keeps the deadline

    def _on_data(self, data: bytes) -> None:
        """An arrival (b"" at end of file), straight from the protocol."""
        try:
            self.conn.receive_data(data)
            if not self._proto.waiting:
                # The task is busy (a handler, a drain) or about to run (woken, or timed
                # out): it takes the events itself.
                if self.conn.buffered > _HIGH_WATER and not self._paused:
                    self._paused = True
                    transport = self._proto.transport
                    if transport is not None and not transport.is_closing():
                        transport.pause_reading()
                return
            self._answer()
        except Exception as exc:  # the task raises it (SystemExit and the like go to the loop)
            self._error = exc
            self._proto.wake(exc)

    def _answer(self) -> None:
        conn, proto = self.conn, self._proto
        answered = False
        wake_task = True
        for _ in range(_BOUND):
            if proto.write_paused:
                break  # the peer is not reading our replies: the task drains first
            event = conn.next_event()
            if event is NEED_DATA:
                wake_task = False
                break
            if (
                isinstance(event, Event)
                and not isinstance(event, ConnectionClosed)
                and conn.state is not State.AUTH  # the task's AUTH exchange takes its lines
                and self._handle_now(event)
            ):
                answered = True
                if conn.state is State.CLOSED or conn.state is State.ERROR:
                    break  # e.g. a 421 for too many errors: the task ends the session
                continue
            self._held = event
            break
        # (past _BOUND events the task goes on with the rest: wake_task stays True)
        if self._out and proto.transport is not None and not proto.transport.is_closing():
            proto.transport.write(bytes(self._out))
            self._out.clear()
        if wake_task or proto.write_paused:
            proto.wake()
            return
        # Still waiting: RFC 5321 §4.5.3.2 timeouts, as AsyncServerSession._run sets them.
        if conn.state is State.DATA:
            proto.extend(self.data_timeout)  # per data block
        elif answered:
            proto.extend(self.idle_timeout)  # a new command's wait

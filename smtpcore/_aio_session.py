"""The asyncio server session, driven from its protocol as data arrives.

:class:`AsyncServerSession` pulls: its task reads, feeds the engine and answers. Under
asyncio that costs a wake-up of the task per command: a future resolved, a loop iteration
and a trip through every coroutine frame. Here the protocol hands each arrival to the session
at once (``StreamProtocol.sink``), which feeds the engine and answers on the spot whatever
needs no handler call (``_handle_now``: MAIL, RCPT, DATA and message data with the default
hooks, RSET, NOOP, QUIT, refusals).

A task exists only while the session needs one: :meth:`PushSession.start` sends the greeting
from ``connection_made``, and an event that needs a handler call (the end of a message, a
hook the handler overrides, STARTTLS, AUTH) starts a task that takes it from ``_held``. When
that task is done and the engine needs more data, it hands the connection back to the
protocol and ends (it "parks", ``_receive``). A session that ends from the protocol (QUIT,
end of file, a timeout) is closed there, with no task at all. Measured with smtp-source, a
connection with one message costs one task instead of one task woken four times, and a
persistent session one task per message.

Everything else (timeouts, the order of replies, backpressure, TLS) keeps the pull
session's rules:
- the wait for a whole command is bounded (slowloris), each data block by its own timeout:
  the protocol's deadline (``StreamProtocol.expire``) answers 421 and closes when no task
  is waiting;
- replies leave in order: the task flushes what the protocol answered before its own;
- while the task is busy, arrivals only fill the engine's buffer; past a high-water mark
  reading is paused until the task is done;
- while the transport's write buffer is full, nothing is answered here: a task drains it;
- plaintext that follows STARTTLS goes into the engine, which throws it away
  (``tls_established``), never executed inside TLS.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final

from ._async.server import AsyncServerSession
from ._backends.aio import AsyncIOStream, StreamProtocol
from ._errors import SMTPCoreError
from ._events import NEED_DATA, ConnectionClosed, Reply
from ._state import AUTH, CLOSED, DATA, ERROR
from ._status import TIMEOUT

__all__ = ["PushSession"]

if sys.version_info >= (3, 12):

    def _task(
        coro: Coroutine[Any, Any, None], loop: asyncio.AbstractEventLoop
    ) -> asyncio.Task[None]:
        return asyncio.Task(coro, loop=loop, eager_start=True)

else:

    def _task(
        coro: Coroutine[Any, Any, None], loop: asyncio.AbstractEventLoop
    ) -> asyncio.Task[None]:
        return loop.create_task(coro)


log = logging.getLogger("smtpcore.server")

_HIGH_WATER = 256 * 1024  # unread octets in the engine before reading is paused
_BOUND = 100_000  # events answered per arrival, at most (an arrival is at most 256 KiB)
_CLOSE_GRACE = 1.5  # seconds a closed connection may take to send our last reply


_ENDED: Final = frozenset({CLOSED, ERROR})


class PushSession(AsyncServerSession):
    """An :class:`AsyncServerSession` over an asyncio stream, answered from its protocol.

    :meth:`start` serves it; ``finished`` is resolved once the connection is closed and no
    task of the session runs; ``on_done`` (if given) is called then, once.
    """

    def __init__(
        self,
        stream: AsyncIOStream,
        *args: Any,
        on_done: Callable[[PushSession], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(stream, *args, **kwargs)
        self._proto: StreamProtocol = stream.protocol
        self._error: BaseException | None = None
        self._paused = False
        self._task: asyncio.Task[None] | None = None
        # Arrivals fed to the engine while the task was busy, not looked at yet.
        self._fed = False
        self._on_done = on_done
        self.finished: asyncio.Future[None] = self._proto.loop.create_future()

    # -- starting, parking, ending ---------------------------------------------------------

    def start(self) -> None:
        """Serve the connection (called from the protocol's ``connection_made``, or once an
        implicit TLS handshake is done)."""
        try:
            if self.proxy_protocol or (self.greeting is None and self._hook_connect):
                self._spawn(self._run)  # the PROXY header, or the handler's greeting, first
            elif self._greet(self.greeting):
                self._park(self.idle_timeout)
            else:
                self._close_now()
        except Exception:  # a bug: the connection is cut, and counted as closed
            log.exception("session failed")
            self.abort()
            self._end()

    def abort(self) -> None:
        """Cut the connection now (the server's close() after its grace period)."""
        if self._task is not None:
            self._task.cancel()
        transport = self._proto.transport
        if transport is not None:
            transport.abort()

    def _spawn(self, body: Callable[[], Awaitable[bool]]) -> None:
        """Start a task that runs ``body`` (True: it parked) and ends the session if not.

        From Python 3.12 the task starts eagerly: its first step runs here, as a task (with
        ``asyncio.current_task()``, its own context), so a handler that needs no I/O
        answers before this returns, and no loop turn is spent on scheduling it."""
        self._proto.expire(None)  # the task keeps its own deadlines
        task = _task(self._drive(body), self._proto.loop)
        if not task.done():  # an eager task may have run to its end, parked or not
            self._task = task

    async def _drive(self, body: Callable[[], Awaitable[bool]]) -> None:
        parked = False
        try:
            if self._error is not None:
                raise self._error
            parked = await body()
        except SMTPCoreError as exc:
            log.debug("session ended: %s", exc)
        except Exception:
            log.exception("session failed")
        finally:
            self._task = None
            if not parked:
                self._proto.sink = None
                try:
                    await self._close()
                finally:
                    self._end()

    def _park(self, timeout: float) -> None:
        """Hand the connection to the protocol until the next event that needs a task;
        ``timeout`` seconds until 421 unless an answered command moves the deadline."""
        proto = self._proto
        proto.sink = self._on_data
        self._write_out()
        if self._paused and proto.transport is not None:
            self._paused = False
            proto.transport.resume_reading()
        proto.expire(timeout, self._on_expiry)

    def _on_expiry(self) -> None:
        # RFC 5321 §4.5.3.2.7 (a command) and §4.5.3.2.5 (a data block): 421 and close.
        self._reply(Reply.from_hint(TIMEOUT))
        if self._streaming:
            self._spawn(self._stop)  # handle_abort must run
        else:
            self._close_now()

    async def _stop(self) -> bool:
        return False

    def _close_now(self) -> None:
        """End the session from the protocol: write what is owed, close the transport."""
        proto = self._proto
        proto.sink = None
        self._write_out()
        transport = proto.transport
        if transport is not None and not transport.is_closing():
            # Even when the connection is already lost: a TLS transport is only marked
            # closed by close() (Python 3.10 warns of an unclosed transport otherwise).
            transport.close()
        if proto.lost or transport is None:
            self._end()
            return
        proto.on_lost = self._end
        if transport.get_write_buffer_size():
            # A peer that never reads our last reply keeps the transport open: cut it. (With
            # nothing left to write, close() has already scheduled connection_lost.)
            proto.expire(_CLOSE_GRACE, transport.abort)
        else:
            proto.expire(None)

    def _end(self) -> None:
        self._proto.on_lost = None
        if self.finished.done():
            return
        self.finished.set_result(None)
        if self._on_done is not None:
            self._on_done(self)

    def _write_out(self) -> None:
        transport = self._proto.transport
        if self._out and transport is not None and not transport.is_closing():
            transport.write(bytes(self._out))
            self._out.clear()

    # -- the task's side -------------------------------------------------------------------

    async def _start_tls(self) -> None:
        # Until the engine is told TLS is up, arrivals wait in the stream: fed to the engine
        # now, the client's first command over TLS would be thrown away as plaintext.
        self._proto.sink = None
        await super()._start_tls()

    async def _receive(self, timeout: float, park: bool = False) -> bool:
        proto = self._proto
        if proto.sink is None:
            # The first wait after a PROXY header or STARTTLS: what arrived was buffered by
            # the stream; from now on it comes to _on_data.
            proto.sink = self._on_data
            if proto.buffered or proto.eof:
                self.conn.receive_data(proto.take(proto.buffered) if proto.buffered else b"")
                return True
        if self._error is not None:
            raise self._error
        if self._fed:
            self._fed = False
            return True  # the engine has arrivals the task has not asked for yet
        if park:
            self._park(timeout)
            return False
        if self._paused and proto.transport is not None:
            self._paused = False
            proto.transport.resume_reading()
        await proto.wait(timeout)  # woken by _answer; the stream's timer keeps the deadline
        return True

    # -- the protocol's side ---------------------------------------------------------------

    def _on_data(self, data: bytes) -> None:
        """An arrival (b"" at end of file), straight from the protocol."""
        try:
            self.conn.receive_data(data)
            if self._task is not None and not self._proto.waiting:
                # The task is busy (a handler, a drain): it takes the events itself.
                self._fed = True
                if self.conn.buffered > _HIGH_WATER and not self._paused:
                    self._paused = True
                    transport = self._proto.transport
                    if transport is not None and not transport.is_closing():
                        transport.pause_reading()
                return
            self._answer()
        except Exception as exc:  # the task raises it (SystemExit and the like go to the loop)
            self._error = exc
            if self._task is None:
                self._spawn(self._stop)
            else:
                self._proto.wake(exc)

    def _answer(self) -> None:
        conn, proto = self.conn, self._proto
        answered = False
        need_task = True
        for _ in range(_BOUND):
            if proto.write_paused:
                break  # the peer is not reading our replies: a task drains first
            event = conn.next_event()
            if event is NEED_DATA:
                need_task = False
                break
            # What needs the task goes to it: a handler call, PAUSED, ConnectionClosed, and
            # every line of an AUTH exchange (the task reads them itself).
            if conn.state is AUTH or not self._handle_now(event):
                self._held = event
                break
            answered = True
            if conn.state in _ENDED:
                break  # QUIT, or a 421 for too many errors: the session ends
        # (past _BOUND events a task goes on with the rest: need_task stays True)
        if (
            self._task is None
            and not self._streaming
            and not proto.write_paused
            and (conn.state in _ENDED or isinstance(self._held, ConnectionClosed))
        ):
            self._held = None
            self._close_now()
            return
        self._write_out()
        if need_task or proto.write_paused:
            if self._task is None:
                self._spawn(self._serve_events)
            else:
                proto.wake()
            return
        # Still waiting: RFC 5321 §4.5.3.2 timeouts, as AsyncServerSession._run sets them.
        if conn.state is DATA:
            proto.extend(self.data_timeout)  # per data block
        elif answered:
            proto.extend(self.idle_timeout)  # a new command's wait

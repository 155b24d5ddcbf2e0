"""The asyncio server answers the everyday commands from its protocol (smtpcore._aio_session).

What must hold, over real sockets on 127.0.0.1: the fast path is really taken (the task is
woken once per message, not per command), replies stay in order when the task is busy with a
slow handler, a client pipelining far more than the high-water mark while the handler is slow
loses nothing, and handler hooks that are overridden are still called.
"""

from __future__ import annotations

import asyncio
import contextvars
import socket
import sys
import threading
import time
from typing import Any

from smtpcore import Reply, Timeouts
from smtpcore._aio_session import PushSession
from smtpcore._async.server import AsyncServerSession
from smtpcore.aio import AsyncHandler, AsyncSMTPServer
from tests.servers import async_server_thread


def _read_replies(sock: socket.socket, count: int, timeout: float = 10.0) -> list[bytes]:
    """``count`` final reply lines (multi-line replies collapsed to their last line)."""
    sock.settimeout(timeout)
    buf = b""
    finals: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(finals) < count and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
        *lines, buf = buf.split(b"\r\n")
        finals += [ln for ln in lines if len(ln) >= 4 and ln[3:4] == b" "]
    return finals


def _hello(sock: socket.socket) -> None:
    """Read the 220 greeting, send EHLO and read its 250."""
    assert _read_replies(sock, 1)[0].startswith(b"220")
    sock.sendall(b"EHLO client.example\r\n")
    assert _read_replies(sock, 1)[0].startswith(b"250")


class SlowHandler(AsyncHandler):
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.messages: list[bytes] = []

    async def handle_message(self, session: Any, envelope: Any, data: bytes) -> Reply:
        await asyncio.sleep(self.delay)
        self.messages.append(data)
        return Reply.of(250, f"queued {len(self.messages)}", "2.0.0")


# RFC 2920 §3.1: DATA ends a pipelined group; the message follows its 354 (the server
# refuses a DATA with octets already behind it: ServerConfig.strict_pipelining).
ENVELOPE = b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"
MESSAGE = b"Subject: x\r\n\r\nbody\r\n.\r\n"


def test_one_task_wake_up_per_message(monkeypatch: Any) -> None:
    dispatched: list[str] = []
    original = AsyncServerSession._dispatch_event

    async def counting(self: AsyncServerSession, event: Any) -> None:
        dispatched.append(type(event).__name__)
        await original(self, event)

    monkeypatch.setattr(AsyncServerSession, "_dispatch_event", counting)
    with (
        async_server_thread(handler=SlowHandler(0)) as (server, _rec),
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        _hello(sock)
        for i in range(3):  # one command at a time, as smtp-source sends them
            for line in ENVELOPE.split(b"\r\n")[:3]:
                sock.sendall(line + b"\r\n")
                assert _read_replies(sock, 1)[0][:3] in (b"250", b"354")
            sock.sendall(b"Subject: x\r\n\r\nbody\r\n.\r\n")
            assert _read_replies(sock, 1)[0] == f"250 2.0.0 queued {i + 1}".encode()
        sock.sendall(b"QUIT\r\n")
        assert _read_replies(sock, 1)[0].startswith(b"221")
    # EHLO, MAIL, RCPT, DATA, the message octets and QUIT were answered from the protocol.
    assert dispatched == ["EndOfMessage", "EndOfMessage", "EndOfMessage"]


def test_replies_stay_in_order_behind_a_slow_handler() -> None:
    handler = SlowHandler(0.3)
    with (
        async_server_thread(handler=handler) as (server, _rec),
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        _hello(sock)
        sock.sendall(ENVELOPE)
        assert [f[:3] for f in _read_replies(sock, 3)] == [b"250", b"250", b"354"]
        # The next envelope arrives while the first message is in the handler.
        sock.sendall(MESSAGE + ENVELOPE)
        finals = _read_replies(sock, 4)
        assert finals[0] == b"250 2.0.0 queued 1"
        assert [f[:3] for f in finals[1:]] == [b"250", b"250", b"354"]
        sock.sendall(MESSAGE + b"NOOP\r\n")
        finals = _read_replies(sock, 2)
    assert finals[0] == b"250 2.0.0 queued 2" and finals[1].startswith(b"250")
    assert len(handler.messages) == 2


def test_a_flood_pipelined_behind_a_slow_handler_is_answered_whole() -> None:
    # 1.5 MiB of NOOPs (far past the 256 KiB high-water mark) while the handler sleeps:
    # reading pauses and resumes; every NOOP is answered, in order, after the message.
    handler = SlowHandler(0.5)
    count = 100_000
    with (
        async_server_thread(handler=handler) as (server, _rec),
        socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock,
    ):
        _hello(sock)
        sock.sendall(ENVELOPE)
        assert [f[:3] for f in _read_replies(sock, 3)] == [b"250", b"250", b"354"]
        got: list[list[bytes]] = []
        reader = threading.Thread(target=lambda: got.append(_read_replies(sock, 1 + count, 30)))
        reader.start()
        sock.sendall(MESSAGE + b"NOOP\r\n" * count)
        reader.join(40)
    finals = got[0]
    assert len(finals) == 1 + count
    assert finals[0] == b"250 2.0.0 queued 1"
    assert all(f.startswith(b"250") for f in finals[1:])


class HookHandler(AsyncHandler):
    async def handle_mail(self, session: Any, mail: Any) -> Reply | None:
        return Reply.of(550, "no mail from you", "5.7.1")


def test_overridden_hooks_are_called() -> None:
    with (
        async_server_thread(handler=HookHandler()) as (server, _rec),
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        assert _read_replies(sock, 1)[0].startswith(b"220")
        sock.sendall(b"EHLO client.example\r\nMAIL FROM:<a@example.org>\r\n")
        finals = _read_replies(sock, 2)
    assert finals[1] == b"550 5.7.1 no mail from you"


def test_more_events_than_one_pass_answers_go_on_in_the_task(monkeypatch: Any) -> None:
    # Past _BOUND events from one arrival, the protocol hands over to the task, which
    # answers the rest: nothing is left unanswered in the engine's buffer.
    import smtpcore._aio_session as push

    monkeypatch.setattr(push, "_BOUND", 5)
    with (
        async_server_thread(handler=SlowHandler(0)) as (server, _rec),
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        assert _read_replies(sock, 1)[0].startswith(b"220")
        sock.sendall(b"EHLO client.example\r\n" + b"NOOP\r\n" * 40)
        finals = _read_replies(sock, 41)
    assert len(finals) == 41 and all(f.startswith(b"250") for f in finals)


def _count_tasks(monkeypatch: Any) -> list[str]:
    """The name of every body a session starts a task for."""
    spawned: list[str] = []
    original = PushSession._spawn

    def counting(self: PushSession, body: Any) -> None:
        spawned.append(body.__name__)
        original(self, body)

    monkeypatch.setattr(PushSession, "_spawn", counting)
    return spawned


def _wait_closed(server: AsyncSMTPServer, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while server._open and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_session_that_needs_no_handler_has_no_task(monkeypatch: Any) -> None:
    spawned = _count_tasks(monkeypatch)
    with (
        async_server_thread(handler=SlowHandler(0)) as (server, _rec),
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        assert _read_replies(sock, 1)[0].startswith(b"220")
        sock.sendall(b"EHLO client.example\r\nNOOP\r\n" + ENVELOPE[:-6] + b"RSET\r\nQUIT\r\n")
        finals = _read_replies(sock, 6)
        assert [f[:3] for f in finals] == [b"250", b"250", b"250", b"250", b"250", b"221"]
        assert sock.recv(10) == b""  # closed from the protocol after the 221
        _wait_closed(server)
        assert not server._open  # the session is over, and counted as such
    assert spawned == []


def test_a_connection_with_one_message_starts_one_task(monkeypatch: Any) -> None:
    spawned = _count_tasks(monkeypatch)
    handler = SlowHandler(0)
    with (
        async_server_thread(handler=handler) as (server, _rec),
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        assert _read_replies(sock, 1)[0].startswith(b"220")
        sock.sendall(b"EHLO client.example\r\n" + ENVELOPE)
        assert [f[:3] for f in _read_replies(sock, 4)] == [b"250", b"250", b"250", b"354"]
        sock.sendall(MESSAGE)
        assert _read_replies(sock, 1) == [b"250 2.0.0 queued 1"]
        sock.sendall(b"QUIT\r\n")
        assert _read_replies(sock, 1)[0].startswith(b"221")
        assert sock.recv(10) == b""
        _wait_closed(server)
        assert not server._open
    # The end of data needed handle_message; everything else was answered from the protocol.
    assert spawned == ["_serve_events"]
    assert handler.messages == [b"Subject: x\r\n\r\nbody\r\n"]


def test_end_of_file_without_quit_ends_the_session(monkeypatch: Any) -> None:
    spawned = _count_tasks(monkeypatch)
    with async_server_thread(handler=SlowHandler(0)) as (server, _rec):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            assert _read_replies(sock, 1)[0].startswith(b"220")
            sock.sendall(b"EHLO client.example\r\nMAIL FROM:<a@example.org>\r\n")
            assert len(_read_replies(sock, 2)) == 2
        _wait_closed(server)
        assert not server._open
    assert spawned == []


class StreamingHandler(AsyncHandler):
    streaming = True

    def __init__(self) -> None:
        self.pieces: list[bytes] = []
        self.aborted = 0

    async def handle_data(self, session: Any, envelope: Any, chunk: bytes) -> None:
        self.pieces.append(chunk)

    async def handle_abort(self, session: Any, envelope: Any) -> None:
        self.aborted += 1


def test_a_stalled_data_block_gets_421_and_the_streaming_handler_its_abort() -> None:
    # RFC 5321 §4.5.3.2.5: the wait for each data block is bounded. The timeout comes from
    # the protocol's deadline (no task waits), and a streamed message that was not whole is
    # aborted (handle_abort runs in a task started for it).
    handler = StreamingHandler()
    timeouts = Timeouts(server_idle=5.0, data_block=0.4)
    with (
        async_server_thread(handler=handler, timeouts=timeouts) as (server, _rec),
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        assert _read_replies(sock, 1)[0].startswith(b"220")
        sock.sendall(b"EHLO client.example\r\n" + ENVELOPE)
        assert [f[:3] for f in _read_replies(sock, 4)] == [b"250", b"250", b"250", b"354"]
        started = time.monotonic()
        sock.sendall(b"Subject: x\r\n\r\npart of a body\r\n")
        finals = _read_replies(sock, 1)
        waited = time.monotonic() - started
        assert finals and finals[0].startswith(b"421")
        assert sock.recv(10) == b""
        _wait_closed(server)
        assert not server._open
    assert 0.3 < waited < 4.0
    assert handler.aborted == 1
    # (the decoder keeps a final CRLF back until it knows no "." follows it)
    assert b"".join(handler.pieces) == b"Subject: x\r\n\r\npart of a body"


def test_close_cuts_an_idle_session_after_the_grace_period() -> None:
    async def main() -> float:
        server = AsyncSMTPServer(SlowHandler(0), "127.0.0.1", 0)
        await server.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            assert (await reader.readline()).startswith(b"220")
            started = time.monotonic()
            await server.close(grace=0.3)
            took = time.monotonic() - started
            assert await asyncio.wait_for(reader.read(), 5) == b""  # cut, without a reply
            assert not server._open
            return took
        finally:
            writer.close()

    took = asyncio.run(main())
    assert 0.25 < took < 3.0


_SEEN: contextvars.ContextVar[int] = contextvars.ContextVar("_SEEN")


class TaskMindedHandler(AsyncHandler):
    """A handler that needs to run as a task: asyncio.timeout() and current_task() need one,
    and a context variable it sets must not leak into the next message's handler."""

    def __init__(self) -> None:
        self.seen: list[tuple[bool, int | None]] = []

    async def handle_message(self, session: Any, envelope: Any, data: bytes) -> Reply:
        if sys.version_info >= (3, 11):
            async with asyncio.timeout(5):  # RuntimeError outside a task
                await asyncio.sleep(0)
        self.seen.append((asyncio.current_task() is not None, _SEEN.get(None)))
        _SEEN.set(len(self.seen))
        return Reply.of(250, f"queued {len(self.seen)}", "2.0.0")


def test_a_handler_runs_as_a_task_with_its_own_context() -> None:
    # The handler's task is started from the protocol callback (eagerly from Python 3.12):
    # it must still be a task, and each message's handler starts from a clean context.
    handler = TaskMindedHandler()
    with (
        async_server_thread(handler=handler) as (server, _rec),
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        _hello(sock)
        for i in range(2):
            sock.sendall(ENVELOPE)
            assert [f[:3] for f in _read_replies(sock, 3)] == [b"250", b"250", b"354"]
            sock.sendall(MESSAGE)
            assert _read_replies(sock, 1) == [f"250 2.0.0 queued {i + 1}".encode()]
    assert handler.seen == [(True, None), (True, None)]

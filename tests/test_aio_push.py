"""The asyncio server answers the everyday commands from its protocol (smtpcore._aio_session).

What must hold, over real sockets on 127.0.0.1: the fast path is really taken (the task is
woken once per message, not per command), replies stay in order when the task is busy with a
slow handler, a client pipelining far more than the high-water mark while the handler is slow
loses nothing, and handler hooks that are overridden are still called.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

from smtpcore import Reply
from smtpcore._async.server import AsyncServerSession
from smtpcore.aio import AsyncHandler
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
        assert _read_replies(sock, 1)[0].startswith(b"220")
        sock.sendall(b"EHLO client.example\r\n")
        assert _read_replies(sock, 1)[0].startswith(b"250")
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
        assert _read_replies(sock, 1)[0].startswith(b"220")
        sock.sendall(b"EHLO client.example\r\n")
        assert _read_replies(sock, 1)[0].startswith(b"250")
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
        assert _read_replies(sock, 1)[0].startswith(b"220")
        sock.sendall(b"EHLO client.example\r\n")
        assert _read_replies(sock, 1)[0].startswith(b"250")
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

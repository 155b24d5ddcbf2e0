"""asyncio floors for benchmarks/run.py: what a Python asyncio program costs when it does the
same socket work as an SMTP server or client and nothing else.

Neither is an SMTP implementation. They parse nothing they do not need to, check nothing and
answer with canned replies; they exist to show how much of a contender's time is asyncio and
the kernel (accept, recv, send, close, event-loop turns) and how much is its own Python.
Both use an ``asyncio.BufferedProtocol``, as smtpcore does.

- ``FloorServerProtocol`` (server kind ``asyncio-floor``): 220 on connect, the usual final
  replies to EHLO, MAIL, RCPT, DATA, the end of data and QUIT, written once per arrival.
- ``run_floor_client`` (client kinds ``asyncio-floor`` and ``asyncio-floor-batch``): the
  bytes smtpcore's ``send_message`` writes, with its two round trips per message (MAIL, RCPT
  and DATA in one write; the message and its end in the next), or those of
  ``send_messages`` (one round trip: the end of a message and the next envelope together).
  It waits for the replies it needs by counting final reply lines, and looks at nothing else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

_RECV = memoryview(bytearray(256 * 1024))
_EHLO = b"250-floor\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
_REPLIES = {b"EHLO": _EHLO, b"HELO": b"250 floor\r\n", b"MAIL": b"250 2.1.0 Ok\r\n"}
_REPLIES |= {b"RCPT": b"250 2.1.5 Ok\r\n", b"RSET": b"250 2.0.0 Ok\r\n"}
_REPLIES |= {b"NOOP": b"250 2.0.0 Ok\r\n"}


class FloorServerProtocol(asyncio.BufferedProtocol):
    """Canned replies; counts messages through ``on_message(size)``."""

    def __init__(self, on_message: Callable[[int], None]) -> None:
        self.on_message = on_message
        self.buf = b""
        self.in_data = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"220 floor ESMTP\r\n")

    def get_buffer(self, sizehint: int) -> memoryview:
        return _RECV

    def buffer_updated(self, nbytes: int) -> None:
        self.buf += bytes(_RECV[:nbytes])
        out = []
        for _ in range(10_000):  # the lines of one arrival
            if self.in_data:
                end = self.buf.find(b"\r\n.\r\n")
                if end < 0:
                    break
                self.on_message(end + 2)
                self.buf = self.buf[end + 5 :]
                self.in_data = False
                out.append(b"250 2.0.0 Ok: queued\r\n")
                continue
            end = self.buf.find(b"\r\n")
            if end < 0:
                break
            verb = self.buf[:4].upper()
            self.buf = self.buf[end + 2 :]
            if verb == b"DATA":
                self.in_data = True
                self.buf = b"\r\n" + self.buf  # the CRLF that ended DATA starts the terminator
                out.append(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            elif verb == b"QUIT":
                out.append(b"221 2.0.0 Bye\r\n")
                assert self.transport is not None
                self.transport.write(b"".join(out))
                self.transport.close()
                return
            else:
                out.append(_REPLIES.get(verb, b"500 5.5.2 Unknown command\r\n"))
        if out and self.transport is not None:
            self.transport.write(b"".join(out))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


class _FloorClientProtocol(asyncio.BufferedProtocol):
    def __init__(self) -> None:
        self.finals = 0  # final reply lines not consumed yet
        self.partial = b""
        self.need = 0
        self.waiter: asyncio.Future[None] | None = None

    def get_buffer(self, sizehint: int) -> memoryview:
        return _RECV

    def buffer_updated(self, nbytes: int) -> None:
        data = self.partial + bytes(_RECV[:nbytes])
        lines = data.split(b"\r\n")
        self.partial = lines.pop()
        self.finals += sum(1 for line in lines if line[3:4] != b"-")
        if self.waiter is not None and self.finals >= self.need and not self.waiter.done():
            self.waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("closed"))

    async def replies(self, count: int) -> None:
        if self.finals < count:
            self.need = count
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter  # bounded: connection_lost fails it, run.py's timeout the rest
        self.finals -= count


async def run_floor_client(
    port: int, count: int, message: bytes, conns: int, *, batch: bool, sender: str, rcpt: str
) -> None:
    envelope = f"MAIL FROM:<{sender}>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode()
    data = message + b".\r\n"  # the benchmark's message ends with CRLF, has no "." lines

    async def worker(n: int) -> None:
        loop = asyncio.get_running_loop()
        transport, proto = await loop.create_connection(_FloorClientProtocol, "127.0.0.1", port)
        await proto.replies(1)
        transport.write(b"EHLO floor.example\r\n")
        await proto.replies(1)
        if batch:
            transport.write(envelope)
            await proto.replies(3)
            for _ in range(n - 1):
                transport.write(data + envelope)
                await proto.replies(4)
            transport.write(data)
            await proto.replies(1)
        else:
            for _ in range(n):
                transport.write(envelope)
                await proto.replies(3)
                transport.write(data)
                await proto.replies(1)
        transport.write(b"QUIT\r\n")
        await proto.replies(1)
        transport.close()

    shares = [count // conns + (1 if i < count % conns else 0) for i in range(conns)]
    await asyncio.gather(*(worker(n) for n in shares if n))

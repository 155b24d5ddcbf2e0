"""A transport of your own: the sans-I/O ClientConnection driven over asyncio streams.

    python examples/custom_transport.py [HOST [PORT]]

No smtpcore transport is used: ``asyncio.open_connection`` moves the bytes and
:class:`smtpcore.ClientConnection` does all the protocol. Swap the two stream calls in
:class:`Transport` for trio's or anyio's and nothing else changes. Sends one message to
HOST:PORT ($SMTP_HOST / $SMTP_PORT, then 127.0.0.1 and 8025), pipelined when offered.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from smtpcore import (
    NEED_DATA,
    Address,
    ClientConnection,
    ConnectionClosed,
    Data,
    Ehlo,
    EndOfMessage,
    Event,
    Mail,
    MessageData,
    Quit,
    Rcpt,
    RemoteProtocolError,
    Reply,
)


class Transport:
    """Moves bytes between a ClientConnection and a pair of asyncio streams."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.conn = ClientConnection()

    async def send(self, *events: Event) -> None:
        """Write events in one go (several commands: a PIPELINING group)."""
        self.writer.write(b"".join(self.conn.send(event) for event in events))
        await self.writer.drain()

    async def reply(self, timeout: float = 60.0) -> Reply:
        """The next reply: read and feed until the engine has one."""
        while True:
            event = self.conn.next_event()
            if isinstance(event, Reply):
                return event
            if isinstance(event, ConnectionClosed):
                raise RemoteProtocolError("the server closed the connection")
            if event is not NEED_DATA:
                raise RemoteProtocolError(f"unexpected {event!r}")
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            self.conn.receive_data(data)  # b"" at EOF: the engine reports ConnectionClosed

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def deliver(host: str, port: int, sender: str, recipients: list[str], body: bytes) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    t = Transport(reader, writer)
    try:
        print("S:", await t.reply())
        await t.send(Ehlo(hostname="client.localhost"))
        print("S:", await t.reply())
        envelope = [
            Mail(reverse_path=Address.parse(sender)),
            *(Rcpt(forward_path=Address.parse(r)) for r in recipients),
            Data(),
        ]
        if t.conn.can_pipeline:  # RFC 2920: the whole envelope in one write
            await t.send(*envelope)
            replies = [await t.reply() for _ in envelope]
        else:
            replies = []
            for command in envelope:
                await t.send(command)
                replies.append(await t.reply())
                if not replies[-1].is_positive:
                    break
        for reply in replies:
            print(f"S: ({reply.command}) {reply}")
        if replies[-1].code == 354:
            await t.send(MessageData(data=body), EndOfMessage())
            print("S: (end of data)", await t.reply())
        await t.send(Quit())
        print("S:", await t.reply())
    finally:
        await t.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host", nargs="?", default=os.environ.get("SMTP_HOST", "127.0.0.1"))
    parser.add_argument(
        "port", nargs="?", type=int, default=int(os.environ.get("SMTP_PORT", "8025"))
    )
    parser.add_argument("--from", dest="sender", default="alice@example.org")
    parser.add_argument("--to", action="append", default=None)
    args = parser.parse_args(argv)
    body = b"Subject: custom transport\r\n\r\n.a line starting with a dot\r\n"
    asyncio.run(deliver(args.host, args.port, args.sender, args.to or ["bob@example.net"], body))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The server half of a transport of your own: ServerConnection over asyncio streams.

    python examples/custom_server_transport.py [HOST [PORT]] [--count N]

``asyncio.start_server`` moves the bytes; :class:`smtpcore.ServerConnection` parses the
commands, keeps the transaction and enforces the RFCs; this file only decides policy (which
recipients to take) and what to do with a message (print it). Prints ``listening on
HOST:PORT``; stops after --count messages. HOST and PORT default to $SMTP_HOST /
$SMTP_PORT, then 127.0.0.1 and 8025.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from smtpcore import (
    NEED_DATA,
    PAUSED,
    ConnectionClosed,
    Data,
    Ehlo,
    EndOfMessage,
    Helo,
    InvalidCommand,
    Mail,
    MessageData,
    Quit,
    Rcpt,
    Reply,
    Rset,
    ServerConfig,
    ServerConnection,
    State,
)

LOCAL_DOMAIN = "example.net"


class Session:
    """One client connection: read, feed the engine, answer each event it hands out."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.conn = ServerConnection(config=ServerConfig(hostname="mx.localhost"))
        self.body = bytearray()
        self.messages = 0

    def reply_to(self, event: object) -> Reply | None:
        """The policy: our answer to each event (None: no answer due yet)."""
        conn = self.conn
        if isinstance(event, InvalidCommand):
            return Reply.from_hint(event.hint)  # the engine decided already
        if isinstance(event, Ehlo):
            return conn.ehlo_reply()
        if isinstance(event, Helo):
            return Reply.of(250, conn.config.hostname)
        if isinstance(event, Mail):
            return Reply.of(250, "OK", "2.1.0")
        if isinstance(event, Rcpt):
            if event.forward_path.domain.lower() != LOCAL_DOMAIN:
                return Reply.of(550, "Relaying denied", "5.7.1")
            return Reply.of(250, "OK", "2.1.5")
        if isinstance(event, Data):
            self.body.clear()
            return Reply.of(354, "End data with <CR><LF>.<CR><LF>")
        if isinstance(event, MessageData):
            self.body += event.data
            return None
        if isinstance(event, EndOfMessage):
            if conn.refusal is not None:  # too big, bare line endings: the engine insists
                return Reply.from_hint(conn.refusal)
            rcpts = ", ".join(str(r.forward_path) for r in conn.recipients)
            print(f"message from <{conn.mail.reverse_path if conn.mail else ''}> to {rcpts}:")
            print(bytes(self.body).decode("utf-8", "replace"), flush=True)
            self.messages += 1
            return Reply.of(250, "OK: delivered to the terminal", "2.0.0")
        if isinstance(event, Rset):
            return Reply.of(250, "OK", "2.0.0")
        if isinstance(event, Quit):
            return Reply.of(221, "Bye", "2.0.0")
        return Reply.of(502, "Command not implemented", "5.5.1")  # VRFY, STARTTLS, AUTH, ...

    async def run(self, idle_timeout: float = 300.0) -> None:
        conn = self.conn
        self.writer.write(conn.send(conn.greeting()))
        while conn.state not in (State.CLOSED, State.ERROR):
            event = conn.next_event()
            if event is NEED_DATA:
                await self.writer.drain()
                try:
                    data = await asyncio.wait_for(self.reader.read(65536), idle_timeout)
                except asyncio.TimeoutError:
                    self.writer.write(conn.send(Reply.of(421, "Idle too long", "4.4.2")))
                    break
                conn.receive_data(data)  # b"" at EOF: the engine reports ConnectionClosed
            elif event is PAUSED:
                break  # STARTTLS is not offered here, so only a reply we owe could pause
            elif isinstance(event, ConnectionClosed):
                break
            else:
                reply = self.reply_to(event)
                if reply is not None:
                    self.writer.write(conn.send(reply))
        await self.writer.drain()
        self.writer.close()
        await self.writer.wait_closed()


async def serve(host: str, port: int, count: int | None) -> None:
    done = asyncio.Event()
    received = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal received
        session = Session(reader, writer)
        await session.run()
        received += session.messages
        if count is not None and received >= count:
            done.set()

    server = await asyncio.start_server(handle, host, port)
    async with server:
        print(f"listening on {host}:{server.sockets[0].getsockname()[1]}", flush=True)
        await done.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host", nargs="?", default=os.environ.get("SMTP_HOST", "127.0.0.1"))
    parser.add_argument(
        "port", nargs="?", type=int, default=int(os.environ.get("SMTP_PORT", "8025"))
    )
    parser.add_argument("--count", type=int)
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.host, args.port, args.count))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A sink: an asyncio SMTP server that accepts every message and prints a summary.

    python examples/sink_server.py [HOST [PORT]] [--count N] [--save DIR]

Listens on 127.0.0.1:8025 by default ($SMTP_HOST / $SMTP_PORT; port 0 picks a free one).
It prints ``listening on HOST:PORT`` once it accepts connections, then one line per
message. --count stops it after N messages; --save writes each message to DIR as a .eml.
Stop it with Ctrl-C otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from smtpcore.aio import AsyncHandler, AsyncSMTPServer, Envelope, Session


class Sink(AsyncHandler):
    def __init__(self, count: int | None, save: Path | None) -> None:
        self.count = count
        self.save = save
        self.received = 0
        self.done = asyncio.Event()

    async def handle_message(self, session: Session, envelope: Envelope, data: bytes) -> None:
        self.received += 1
        rcpts = ", ".join(str(r) for r in envelope.recipients)
        print(
            f"message {self.received}: from <{envelope.mail_from or ''}> to {rcpts}, "
            f"{len(data)} octets, client {session.helo_name}",
            flush=True,
        )
        if self.save is not None:
            (self.save / f"{self.received:04d}.eml").write_bytes(data)
        if self.count is not None and self.received >= self.count:
            self.done.set()
        # returning None gives the default reply, "250 2.0.0 OK: queued"


async def serve(host: str, port: int, count: int | None, save: Path | None) -> None:
    sink = Sink(count, save)
    async with AsyncSMTPServer(sink, host, port, hostname="sink.localhost") as server:
        print(f"listening on {host}:{server.port}", flush=True)
        await sink.done.wait()  # forever, unless --count
    print(f"stopped after {sink.received} messages", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host", nargs="?", default=os.environ.get("SMTP_HOST", "127.0.0.1"))
    parser.add_argument(
        "port", nargs="?", type=int, default=int(os.environ.get("SMTP_PORT", "8025"))
    )
    parser.add_argument("--count", type=int)
    parser.add_argument("--save", type=Path)
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.host, args.port, args.count, args.save))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

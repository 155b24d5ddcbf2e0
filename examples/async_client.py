"""Send messages with the asyncio client: one session, several messages.

    python examples/async_client.py [HOST [PORT]] [--count N]

HOST and PORT default to $SMTP_HOST / $SMTP_PORT, then 127.0.0.1 and 8025.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from smtpcore.aio import AsyncSMTPClient


async def send(host: str, port: int, count: int) -> int:
    delivered = 0
    async with AsyncSMTPClient(host, port) as client:
        caps = client.capabilities
        print("server offers:", ", ".join(sorted(caps.keywords)) if caps else "nothing")
        for n in range(count):
            body = f"Subject: message {n + 1} of {count}\r\n\r\nHello.\r\n".encode()
            result = await client.send_message(
                body, "alice@example.org", ["bob@example.net", "carol@example.net"]
            )
            for outcome in result.recipients:
                print(f"message {n + 1}: {outcome.address}: {outcome.status}")
            delivered += len(result.delivered)
    return delivered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host", nargs="?", default=os.environ.get("SMTP_HOST", "127.0.0.1"))
    parser.add_argument(
        "port", nargs="?", type=int, default=int(os.environ.get("SMTP_PORT", "8025"))
    )
    parser.add_argument("--count", type=int, default=2)
    args = parser.parse_args(argv)
    delivered = asyncio.run(send(args.host, args.port, args.count))
    print(f"{delivered} deliveries")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Deliver one message over LMTP (RFC 2033) and print the reply for each recipient.

    python examples/lmtp_delivery.py [HOST [PORT]] --to ADDR [--to ADDR ...] [FILE]

LMTP is what an MTA speaks to a mailbox store (Dovecot, Cyrus): unlike SMTP the server
answers the message once *per recipient*, so one mailbox can be full while another takes
it. HOST and PORT default to $LMTP_HOST / $LMTP_PORT, then 127.0.0.1 and 24. FILE (default:
a short test message) is sent as it is.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from smtpcore.sync import LMTPClient


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host", nargs="?", default=os.environ.get("LMTP_HOST", "127.0.0.1"))
    parser.add_argument("port", nargs="?", type=int, default=int(os.environ.get("LMTP_PORT", "24")))
    parser.add_argument("--to", action="append", required=True)
    parser.add_argument("--from", dest="sender", default="mailer-daemon@example.org")
    parser.add_argument("--file", type=Path)
    args = parser.parse_args(argv)
    data = (
        args.file.read_bytes()
        if args.file
        else b"Subject: LMTP test\r\n\r\nDelivered by examples/lmtp_delivery.py.\r\n"
    )
    with LMTPClient(args.host, args.port, tls_policy="none") as client:
        result = client.send_message(data, args.sender, args.to, raise_on_failure=False)
    failed = 0
    for outcome in result.recipients:
        reply = outcome.reply
        print(f"{outcome.address}: {outcome.status}: {reply}")
        failed += outcome.status != "delivered"
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Send one message with the blocking client.

    python examples/sync_client.py [HOST [PORT]] [--from ADDR] [--to ADDR ...]

HOST and PORT default to $SMTP_HOST / $SMTP_PORT, then 127.0.0.1 and 8025 (where
``examples/sink_server.py`` listens). STARTTLS is used when the server offers it; give
--user and --password to log in (only over TLS, unless --plaintext-auth).
"""

from __future__ import annotations

import argparse
import os
from email.message import EmailMessage

from smtpcore import PermanentReplyError, TransientReplyError
from smtpcore.sync import SMTPClient


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host", nargs="?", default=os.environ.get("SMTP_HOST", "127.0.0.1"))
    parser.add_argument(
        "port", nargs="?", type=int, default=int(os.environ.get("SMTP_PORT", "8025"))
    )
    parser.add_argument("--from", dest="sender", default="alice@example.org")
    parser.add_argument("--to", action="append", default=None)
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--plaintext-auth", action="store_true")
    args = parser.parse_args(argv)

    msg = EmailMessage()
    msg["From"] = args.sender
    msg["To"] = ", ".join(args.to or ["bob@example.net"])
    msg["Subject"] = "Hello from smtpcore"
    msg.set_content("This message was sent by examples/sync_client.py.\n")

    client = SMTPClient(
        args.host,
        args.port,
        username=args.user,
        password=args.password,
        allow_plaintext_auth=args.plaintext_auth,
    )
    try:
        with client:
            print("connected:", client.greeting)
            result = client.send_message(msg)
    except (PermanentReplyError, TransientReplyError) as exc:
        print("not delivered:", exc)
        return 1
    for outcome in result.recipients:
        print(f"{outcome.address}: {outcome.status} ({outcome.reply})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

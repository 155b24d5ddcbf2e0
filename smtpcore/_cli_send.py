"""``python -m smtpcore send``: submit a message through a server, or straight to the MX.

Exit status: 0 when every recipient accepted the message, 1 when any failed permanently,
75 (EX_TEMPFAIL) when any was deferred.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, TextIO

from . import relay
from ._errors import ReplyError, SMTPCoreError
from ._transaction import SendResult
from .sync import SMTPClient, TLSPolicy

__all__ = ["add_parser", "run"]

EX_TEMPFAIL = 75


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("send", help="send a message through a server or by MX")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--server", help="HOST[:PORT] to submit to (default localhost:25)")
    where.add_argument("--mx", action="store_true", help="deliver to the recipients' MX")
    p.add_argument("--from", dest="mail_from", required=True, help="envelope sender")
    p.add_argument("--to", action="append", required=True, help="a recipient (repeatable)")
    p.add_argument("--subject", default="", help="Subject (with --body)")
    p.add_argument("--body", help="the message text (else FILE, or - for standard input)")
    p.add_argument("file", nargs="?", help="a message file (RFC 5322), or - for standard input")
    tls = p.add_mutually_exclusive_group()
    tls.add_argument("--starttls", action="store_true", help="require STARTTLS")
    tls.add_argument("--tls", action="store_true", help="implicit TLS (port 465)")
    tls.add_argument("--no-tls", action="store_true", help="never use TLS")
    p.add_argument("--cafile", type=Path, help="CA certificates to verify the server with")
    p.add_argument("--user", help="AUTH user name")
    p.add_argument("--password-env", help="name of the environment variable with the password")
    p.add_argument("--nameserver", help="DNS server IP[:PORT] for --mx")
    p.add_argument("--port", type=int, help="port of the MX hosts for --mx (25)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def _message(args: argparse.Namespace) -> bytes:
    if args.body is not None:
        msg = EmailMessage()
        msg["From"] = args.mail_from
        msg["To"] = ", ".join(args.to)
        msg["Subject"] = args.subject
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid()
        msg.set_content(args.body)
        return msg.as_bytes()
    if args.file in (None, "-"):
        return sys.stdin.buffer.read()
    return Path(args.file).read_bytes()


def _rows_from_send(result: SendResult) -> list[dict[str, Any]]:
    return [
        {
            "recipient": str(o.address),
            "status": o.status,
            "reply": None if o.reply is None else str(o.reply),
        }
        for o in result.recipients
    ]


def _rows_from_relay(report: relay.RelayReport) -> list[dict[str, Any]]:
    return [
        {
            "recipient": str(r.recipient),
            "status": r.status,
            "reply": None if r.reply is None else str(r.reply),
            "host": r.host,
        }
        for r in report.results
    ]


def _exit(rows: list[dict[str, Any]]) -> int:
    statuses = {row["status"] for row in rows}
    if "failed" in statuses:
        return 1
    return EX_TEMPFAIL if "deferred" in statuses else 0


def _server(value: str | None, implicit: bool) -> tuple[str, int]:
    default_port = 465 if implicit else 25
    if not value:
        return "localhost", default_port
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        return value.strip("[]"), default_port
    return host.strip("[]"), int(port)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    data = _message(args)
    try:
        if args.mx:
            kw: dict[str, Any] = {"port": args.port or 25}
            if args.nameserver:
                from . import mx

                host, _, port = args.nameserver.partition(":")
                kw["resolver"] = mx.make_resolver([(host, int(port or 53))])
            rows = _rows_from_relay(relay.deliver(data, args.mail_from, args.to, **kw))
        else:
            host, port = _server(args.server, args.tls)
            ctx = ssl.create_default_context(cafile=str(args.cafile) if args.cafile else None)
            password = os.environ.get(args.password_env, "") if args.password_env else None
            policy: TLSPolicy = (
                "none" if args.no_tls else "required" if args.starttls else "opportunistic"
            )
            with SMTPClient(
                host,
                port,
                implicit_tls=args.tls,
                tls_policy=policy,
                ssl_context=ctx,
                username=args.user,
                password=password,
            ) as client:
                result = client.send_message(data, args.mail_from, args.to, raise_on_failure=False)
            rows = _rows_from_send(result)
    except ReplyError as exc:
        print(f"smtpcore send: {exc}", file=err)
        return EX_TEMPFAIL if exc.reply.is_transient else 1
    except (SMTPCoreError, OSError) as exc:
        print(f"smtpcore send: {exc}", file=err)
        return EX_TEMPFAIL
    if args.json:
        print(json.dumps({"recipients": rows}, indent=2), file=out)
    else:
        for row in rows:
            print(f"{row['status']:9} {row['recipient']}  {row['reply'] or ''}", file=out)
    return _exit(rows)

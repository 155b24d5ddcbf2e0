"""``python -m smtpcore serve|send|mx|dsn|passwd`` (also installed as ``smtpcore``)."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence

from . import __version__, _cli_dsn, _cli_mx, _cli_send, _cli_serve
from ._cli_auth import hash_password

__all__ = ["main", "parser"]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="smtpcore", description="SMTP tools on smtpcore")
    p.add_argument("--version", action="version", version=f"smtpcore {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    _cli_serve.add_parser(sub)
    _cli_send.add_parser(sub)
    _cli_mx.add_parser(sub)
    _cli_dsn.add_parser(sub)
    pw = sub.add_parser("passwd", help="print an --auth-file line for a user")
    pw.add_argument("username")
    pw.add_argument("--password-env", help="read the password from this environment variable")
    return p


def _passwd(args: argparse.Namespace) -> int:
    import os

    if args.password_env:
        password = os.environ.get(args.password_env, "")
    else:
        password = getpass.getpass(f"password for {args.username}: ")
    if not password:
        print("smtpcore passwd: empty password", file=sys.stderr)
        return 1
    print(f"{args.username}:{hash_password(password)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "serve":
        try:
            return _cli_serve.run(args)
        except KeyboardInterrupt:  # pragma: no cover - the signal handler normally wins
            return 0
    if args.command == "send":
        return _cli_send.run(args)
    if args.command == "mx":
        return _cli_mx.run(args)
    if args.command == "dsn":
        return _cli_dsn.run(args)
    return _passwd(args)

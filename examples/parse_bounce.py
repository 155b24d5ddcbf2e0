"""Read bounce messages: who bounced, why, and whether to stop mailing them.

    python examples/parse_bounce.py FILE [FILE ...]      (or - for standard input)

Reads RFC 3464 delivery status notifications, the plain-text notices of MTAs that do not
write one, RFC 5965 feedback (abuse) reports and RFC 3834 auto-replies, and prints one line
per recipient: address, action, status code and the classified reason. A "hard" bounce
means the address should not be mailed again. Exit status 2 when a file is not a report.
"""

from __future__ import annotations

import argparse
import sys

from smtpcore import dsn


def describe(name: str, raw: bytes) -> bool:
    report = dsn.parse(raw)
    if report is None:
        print(f"{name}: not a delivery report")
        return False
    what = "bounce" if report.is_bounce else "not a bounce"
    print(f"{name}: {report.kind} ({what}), reported by {report.reporting_mta or 'unknown'}")
    if report.returned_headers is not None and report.returned_headers.message_id:
        print(f"  about message {report.returned_headers.message_id}")
    for recipient in report.recipients:
        verdict = dsn.classify(recipient, report)
        status = recipient.status or "-"
        kind = "hard" if verdict.hard else "soft"
        print(
            f"  {recipient.address}: {recipient.action or '-'} {status} "
            f"-> {verdict.reason} ({kind})"
        )
        if recipient.diagnostic_code is not None:
            print(f"    diagnostic: {recipient.diagnostic_code.text}")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    ok = True
    for name in args.files:
        if name == "-":
            raw = sys.stdin.buffer.read()
        else:
            with open(name, "rb") as f:
                raw = f.read()
        ok = describe(name, raw) and ok
    return 0 if ok else 2


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m smtpcore dsn FILE... [--json]``: read bounces and say what they report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from . import dsn

__all__ = ["add_parser", "run", "summarise"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``dsn`` sub-command on an ``argparse`` subparsers object."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "dsn",
        help="parse bounce messages and classify each recipient",
        description=(
            "Read each FILE (one message: RFC 3464 DSN, plain-text bounce, feedback report or "
            "auto-reply) and print whether it is a bounce, its kind and, per recipient, the "
            "address, action, status, reply code, diagnostic, remote MTA, reason and hard/soft."
        ),
    )
    parser.add_argument("files", nargs="+", metavar="FILE", type=Path)
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    return parser


def summarise(report: dsn.Report | None) -> dict[str, Any]:
    """A report as plain data (what ``--json`` prints for one file)."""
    if report is None:
        return {"bounce": False, "kind": None, "recipients": []}
    rows = []
    for rcpt in report.recipients:
        cls = dsn.classify(rcpt, report)
        rows.append(
            {
                "address": rcpt.address,
                "action": rcpt.action,
                "status": None if rcpt.status is None else str(rcpt.status),
                "reply_code": rcpt.reply_code,
                "diagnostic": rcpt.diagnostic_code.text if rcpt.diagnostic_code else None,
                "remote_mta": rcpt.remote_mta,
                "reason": cls.reason,
                "hard": cls.hard,
            }
        )
    out: dict[str, Any] = {"bounce": report.is_bounce, "kind": report.kind, "recipients": rows}
    if report.feedback_type is not None:
        out["feedback_type"] = report.feedback_type
    return out


def _text(name: str, summary: dict[str, Any]) -> list[str]:
    if "error" in summary:
        return [f"{name}: error: {summary['error']}"]
    if summary["kind"] is None:
        return [f"{name}: not a bounce"]
    head = "bounce" if summary["bounce"] else "not a bounce"
    extra = f", feedback type {summary['feedback_type']}" if "feedback_type" in summary else ""
    lines = [f"{name}: {head} ({summary['kind']}{extra})"]
    for row in summary["recipients"]:
        fields = [
            row["address"] or "?",
            row["action"] or "-",
            row["status"] or "-",
            str(row["reply_code"] or "-"),
            row["reason"],
            "hard" if row["hard"] else "soft",
        ]
        if row["remote_mta"]:
            fields.append(f"via {row['remote_mta']}")
        lines.append("  " + "  ".join(fields))
        if row["diagnostic"]:
            lines.append(f"      {row['diagnostic']}")
    return lines


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Print one result per file; 0 when every file could be read, 1 otherwise."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    status = 0
    results: list[dict[str, Any]] = []
    for path in args.files:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            results.append({"file": str(path), "error": exc.strerror or str(exc)})
            status = 1
            continue
        results.append({"file": str(path), **summarise(dsn.parse(data))})
    if args.json:
        json.dump(results, out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        for result in results:
            stream = err if "error" in result else out
            for line in _text(result["file"], result):
                stream.write(line + "\n")
    return status

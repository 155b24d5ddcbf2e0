"""The ``dsn`` sub-command, called through its run() function."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

from smtpcore import _cli_dsn

DATA = Path(__file__).parent / "data" / "dsn"


def parse_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="smtpcore")
    _cli_dsn.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["dsn", *argv])


def test_json_output_per_file_and_recipient(tmp_path: Path) -> None:
    plain = tmp_path / "plain.eml"
    plain.write_bytes(b"From: a@example.org\nSubject: hi\n\nhello\n")
    out, err = io.StringIO(), io.StringIO()
    args = parse_args(
        str(DATA / "rfc3464-two-recipients.eml"),
        str(DATA / "arf-abuse.eml"),
        str(plain),
        "--json",
    )
    assert _cli_dsn.run(args, out=out, err=err) == 0
    dsn_file, arf, not_bounce = json.loads(out.getvalue())
    assert dsn_file["bounce"] is True
    assert dsn_file["kind"] == "dsn"
    assert dsn_file["recipients"][0] == {
        "address": "bob@example.com",
        "action": "failed",
        "status": "5.1.1",
        "reply_code": 550,
        "diagnostic": "550 5.1.1 <bob@example.com>: Recipient address rejected: "
        "User unknown in virtual mailbox table",
        "remote_mta": "mail.example.com",
        "reason": "userunknown",
        "hard": True,
    }
    assert dsn_file["recipients"][1]["reason"] == "mailboxfull"
    assert dsn_file["recipients"][1]["hard"] is False
    assert (arf["bounce"], arf["kind"], arf["feedback_type"]) == (
        False,
        "feedback-report",
        "abuse",
    )
    assert not_bounce == {"file": str(plain), "bounce": False, "kind": None, "recipients": []}
    assert err.getvalue() == ""


def test_text_output_and_missing_file(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    missing = tmp_path / "missing.eml"
    args = parse_args(str(DATA / "exim-text.eml"), str(missing))
    assert _cli_dsn.run(args, out=out, err=err) == 1
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("exim-text.eml: bounce (text-bounce)")
    assert lines[1].split() == ["bob@example.com", "failed", "5.1.1", "550", "userunknown", "hard"]
    assert "carol@example.com" in lines[3]
    assert str(missing) in err.getvalue()

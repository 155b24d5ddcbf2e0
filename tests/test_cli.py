"""``python -m smtpcore`` end to end: serve stores mail, send submits it, the relay path with
AUTH over STARTTLS, MX from nsd, fallback to the next MX, bounces, and the spool across a
restart. Every process started here is stopped here."""

from __future__ import annotations

import contextlib
import mailbox
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtpcore import Reply, dsn
from smtpcore._cli import main
from smtpcore._cli_auth import FileCredentials, hash_password
from tests.servers import Recorder, async_server_thread

PY = sys.executable


@contextlib.contextmanager
def serve(cwd: Path, *args: str) -> Iterator[tuple[int, Path]]:
    """``smtpcore serve`` in ``cwd`` on a free port; yields (port, log file)."""
    log = cwd / f"serve-{time.monotonic_ns()}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [PY, "-m", "smtpcore", "serve", "--port", "0", *args],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )
    try:
        port = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            for line in log.read_text().splitlines():
                if "listening on" in line:
                    port = int(line.split("listening on ")[1].split(",")[0].rsplit(":", 1)[1])
            if port:
                break
            time.sleep(0.05)  # polling the log inside a bounded loop, not a synchronisation
        assert port, f"serve did not start: {log.read_text()}"
        yield port, log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def wait_for(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def maildir_messages(path: Path) -> list[bytes]:
    if not path.exists():
        return []
    box = mailbox.Maildir(str(path), create=False)
    return [bytes(box.get_bytes(key)) for key in box.iterkeys()]


def test_readme_main_job_stores_mail_in_the_maildir(tmp_path: Path) -> None:
    with serve(tmp_path) as (port, log):
        rc = main(
            [
                "send",
                "--server",
                f"127.0.0.1:{port}",
                "--no-tls",
                "--from",
                "dev@example.org",
                "--to",
                "app@example.net",
                "--subject",
                "hello",
                "--body",
                "it works",
            ]
        )
        assert rc == 0
        assert wait_for(lambda: len(maildir_messages(tmp_path / "mail")) == 1)
        assert wait_for(lambda: "to=<app@example.net>" in log.read_text())
    [msg] = maildir_messages(tmp_path / "mail")
    assert b"Subject: hello" in msg and b"it works" in msg
    assert msg.startswith(b"Return-Path: <dev@example.org>")
    assert "shutting down" in log.read_text()


def test_send_exit_codes_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rec = Recorder(
        refuse={
            "bad@example.net": Reply.of(550, "no", "5.1.1"),
            "later@example.net": Reply.of(450, "later", "4.2.1"),
        }
    )
    with async_server_thread(recorder=rec) as (server, _):
        base = ["send", "--server", f"127.0.0.1:{server.port}", "--no-tls", "--from", "a@x.org"]
        body = ["--body", "x"]
        assert main([*base, "--to", "ok@example.net", *body]) == 0
        assert main([*base, "--to", "ok@example.net", "--to", "later@example.net", *body]) == 75
        capsys.readouterr()
        assert main([*base, "--to", "bad@example.net", "--json", *body]) == 1
        out = capsys.readouterr().out
        assert '"status": "failed"' in out and "bad@example.net" in out


def test_auth_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text(f"# users\nalice:{hash_password('wonderland')}\n")
    creds = FileCredentials.load(path)
    assert creds.verify_password("alice", "wonderland")
    assert not creds.verify_password("alice", "wrong")
    assert not creds.verify_password("bob", "wonderland")


def _zone(origin: str, body: str) -> str:
    return (
        f"$ORIGIN {origin}.\n$TTL 300\n"
        f"@ SOA ns.{origin}. hostmaster.{origin}. 1 3600 600 86400 60\n@ NS ns.{origin}.\n"
        f"ns A 127.0.0.1\n{body}"
    )


@pytest.mark.interop
def test_relay_end_to_end(tmp_path: Path) -> None:
    """issue 6: submit with AUTH over STARTTLS; MX from nsd; the first MX says 4xx, the
    second takes it; a refused recipient bounces into the local sender's Maildir."""
    import trustme

    from tests.interop.dns_fixtures import run_nsd

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    users = tmp_path / "users"
    users.write_text(f"alice:{hash_password('pw')}\n")
    zones: dict[str, str | None] = {
        "far.test": _zone(
            "far.test",
            "@ MX 10 mx1.far.test.\n@ MX 20 mx2.far.test.\nmx1 A 127.0.0.1\nmx2 A 127.0.0.2\n",
        )
    }
    busy = Recorder(refuse={"*": Reply.of(451, "busy", "4.3.0")})
    good = Recorder(refuse={"nobody@far.test": Reply.of(550, "no such user", "5.1.1")})
    with (
        run_nsd(tmp_path / "nsd", zones) as dns_server,
        async_server_thread(recorder=busy, host="127.0.0.1") as (mx1, _),
        async_server_thread(recorder=good, host="127.0.0.2", port=mx1.port),
        serve(
            tmp_path,
            "--domain",
            "home.test",
            "--auth-file",
            str(users),
            "--tls-cert",
            str(tmp_path / "server.pem"),
            "--nameserver",
            f"127.0.0.1:{dns_server.port}",
            "--relay-port",
            str(mx1.port),
            "--hostname",
            "mta.home.test",
        ) as (port, log),
    ):
        os.environ["SMTPCORE_TEST_PW"] = "pw"
        try:
            # relaying without AUTH is refused
            rc = main(
                [
                    "send",
                    "--server",
                    f"127.0.0.1:{port}",
                    "--no-tls",
                    "--from",
                    "alice@home.test",
                    "--to",
                    "x@far.test",
                    "--body",
                    "no",
                ]
            )
            assert rc == 1
            rc = main(
                [
                    "send",
                    "--server",
                    f"127.0.0.1:{port}",
                    "--starttls",
                    "--cafile",
                    str(tmp_path / "ca.pem"),
                    "--user",
                    "alice",
                    "--password-env",
                    "SMTPCORE_TEST_PW",
                    "--from",
                    "alice@home.test",
                    "--to",
                    "friend@far.test",
                    "--to",
                    "nobody@far.test",
                    "--to",
                    "bob@home.test",
                    "--subject",
                    "relay me",
                    "--body",
                    "across the world",
                ]
            )
        finally:
            del os.environ["SMTPCORE_TEST_PW"]
        assert rc == 0
        assert wait_for(lambda: len(good.messages) == 1)
        bounce_box = tmp_path / "mail" / "alice@home.test"
        assert wait_for(lambda: len(maildir_messages(bounce_box)) == 1)
    assert not busy.messages
    assert good.messages[0].envelope.recipients[0].local_part == "friend"
    assert b"across the world" in good.messages[0].data
    [local] = maildir_messages(tmp_path / "mail" / "bob@home.test")
    assert b"relay me" in local
    [notice] = maildir_messages(bounce_box)
    report = dsn.parse(notice)
    assert report is not None and report.is_bounce
    [r] = report.recipients
    assert r.final_recipient is not None and r.final_recipient.address == "nobody@far.test"
    assert str(r.status) == "5.1.1"
    text = log.read_text()
    assert "status=delivered host=mx2.far.test" in text


def test_spool_survives_a_restart(tmp_path: Path) -> None:
    """A deferred message stays in the spool across a restart and goes once the peer is up."""
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    dead_port = holder.getsockname()[1]
    holder.close()
    args = [
        "--domain",
        "home.test",
        "--relay-net",
        "127.0.0.0/8",
        "--route",
        f"*=127.0.0.1:{dead_port}",
        "--retry-interval",
        "0.2",
    ]
    with serve(tmp_path, *args) as (port, log):
        rc = main(
            [
                "send",
                "--server",
                f"127.0.0.1:{port}",
                "--no-tls",
                "--from",
                "a@home.test",
                "--to",
                "x@far.test",
                "--body",
                "keep me",
            ]
        )
        assert rc == 0
        assert wait_for(lambda: "status=deferred" in log.read_text())
    assert list((tmp_path / "spool").glob("*.json")), "the deferred message left the spool"
    rec = Recorder()
    with async_server_thread(recorder=rec, port=dead_port), serve(tmp_path, *args):
        assert wait_for(lambda: len(rec.messages) == 1, 30)
        assert wait_for(lambda: not list((tmp_path / "spool").glob("*.json")))
    assert b"keep me" in rec.messages[0].data

"""Every script in examples/ runs, as a user would run it, against our own servers on 127.0.0.1.

Client examples run as subprocesses against an in-process server on port 0; server examples
run as subprocesses on port 0 (they print ``listening on HOST:PORT``) and our clients talk
to them. Every subprocess is bounded in time and killed if it outlives its test.
"""

from __future__ import annotations

import contextlib
import os
import queue
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from smtpcore import Address, Reply, dsn
from smtpcore.sync import SMTPClient
from tests.servers import Recorder, async_server_thread, sync_server

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DATA = Path(__file__).resolve().parent / "data" / "dsn"
TIMEOUT = 60  # seconds for any one example run
A = Address.parse


def run(
    name: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run examples/NAME with ARGS to completion (bounded), capturing its output."""
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        check=False,
    )


class Running:
    """A server example running as a subprocess; ``lines`` gets its stdout line by line."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, prefix: str, timeout: float = TIMEOUT) -> str:
        """The first output line starting with ``prefix`` (fails at EOF or after ``timeout``)."""
        for _ in range(1000):
            line = self.lines.get(timeout=timeout)
            if line is None:
                raise AssertionError(f"exited before {prefix!r}: {''.join(self.output)}")
            self.output.append(line)
            if line.startswith(prefix):
                return line.strip()
        raise AssertionError(f"no {prefix!r} line")

    def port(self) -> int:
        return int(self.wait_for("listening on ").rsplit(":", 1)[1])

    def finish(self, timeout: float = TIMEOUT) -> str:
        """Wait for the process to exit on its own; return the rest of its output."""
        self.proc.wait(timeout)
        self._reader.join(timeout)
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.output.append(line)
        return "".join(self.output)


@contextlib.contextmanager
def start(name: str, *args: str) -> Iterator[Running]:
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / name), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    running = Running(proc)
    try:
        yield running
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(TIMEOUT)
        running._reader.join(TIMEOUT)
        assert proc.stdout is not None
        proc.stdout.close()


def test_every_example_has_a_test() -> None:
    source = Path(__file__).read_text()
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert scripts, "no examples found"
    untested = [name for name in scripts if f'"{name}"' not in source]
    assert untested == []


# --- clients ----------------------------------------------------------------------------------


def test_sync_client_sends_an_email_message() -> None:
    with sync_server() as (server, rec):
        # host and port from the environment, as the script's help says
        done = run(
            "sync_client.py",
            "--to",
            "bob@example.net",
            "--to",
            "carol@example.net",
            env={"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(server.port)},
        )
        assert done.returncode == 0, done.stderr
        assert "bob@example.net: delivered" in done.stdout
        [got] = rec.messages
        assert got.envelope.mail_from == A("alice@example.org")
        assert got.envelope.recipients == (A("bob@example.net"), A("carol@example.net"))
        assert b"Subject: Hello from smtpcore" in got.data


def test_sync_client_reports_a_refusal() -> None:
    refuse = {"bob@example.net": Reply.of(550, "No such user", "5.1.1")}
    with sync_server(recorder=Recorder(refuse=refuse)) as (server, rec):
        done = run("sync_client.py", "127.0.0.1", str(server.port))
        assert done.returncode == 1
        assert "not delivered" in done.stdout and "550" in done.stdout
        assert rec.messages == []


def test_async_client_sends_several_messages_in_one_session() -> None:
    with async_server_thread() as (server, rec):
        done = run("async_client.py", "127.0.0.1", str(server.port), "--count", "3")
        assert done.returncode == 0, done.stderr
        assert "6 deliveries" in done.stdout
        assert len(rec.messages) == 3
        assert len({m.session.peer for m in rec.messages}) == 1  # one connection


def test_custom_transport_delivers_with_dot_stuffing() -> None:
    with sync_server() as (server, rec):
        done = run("custom_transport.py", "127.0.0.1", str(server.port), "--to", "x@example.net")
        assert done.returncode == 0, done.stderr
        assert "S: (RCPT) 250" in done.stdout and "S: 221" in done.stdout
        [got] = rec.messages
        assert got.envelope.recipients == (A("x@example.net"),)
        # RFC 5321 §4.5.2: the leading dot was doubled on the wire and undone by the server
        assert got.data == b"Subject: custom transport\r\n\r\n.a line starting with a dot\r\n"


def test_lmtp_delivery_prints_one_reply_per_recipient() -> None:
    replies = [Reply.of(250, "Delivered", "2.0.0"), Reply.of(452, "Mailbox full", "4.2.2")]
    with sync_server(lmtp=True, recorder=Recorder(message_reply=replies)) as (server, rec):
        done = run(
            "lmtp_delivery.py",
            "127.0.0.1",
            str(server.port),
            "--to",
            "one@example.net",
            "--to",
            "two@example.net",
        )
        assert done.returncode == 1  # one recipient was not delivered
        assert "one@example.net: delivered: 250 2.0.0 Delivered" in done.stdout
        assert "two@example.net: deferred: 452 4.2.2 Mailbox full" in done.stdout
        assert len(rec.messages) == 1


# --- servers ----------------------------------------------------------------------------------


def test_sink_server_prints_and_saves_each_message(tmp_path: Path) -> None:
    body = b"Subject: to the sink\r\n\r\nHello.\r\n"
    with start("sink_server.py", "127.0.0.1", "0", "--count", "2", "--save", str(tmp_path)) as s:
        port = s.port()
        with SMTPClient("127.0.0.1", port) as client:
            client.send_message(body, "a@example.org", ["b@example.net"])
            client.send_message(body, "<>", ["c@example.net", "d@example.net"])
        out = s.finish()
    assert s.proc.returncode == 0, out
    assert "message 1: from <a@example.org> to b@example.net" in out
    assert "message 2: from <> to c@example.net, d@example.net" in out
    assert "stopped after 2 messages" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0001.eml", "0002.eml"]
    assert (tmp_path / "0001.eml").read_bytes() == body


def test_submission_server_needs_tls_and_auth(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    with start(
        "submission_server.py", "127.0.0.1", "0", "--count", "1", "--ca-file", str(ca_file)
    ) as s:
        port = s.port()
        ctx = ssl.create_default_context(cafile=str(ca_file))
        # Without credentials the server refuses MAIL (530 5.7.0, RFC 4954 §6).
        with SMTPClient("127.0.0.1", port, ssl_context=ctx, server_hostname="localhost") as anon:
            assert anon.tls is not None
            refused = anon.send_message(
                b"x\r\n", "a@example.org", ["b@example.net"], raise_on_failure=False
            )
            assert refused.mail_reply is not None and refused.mail_reply.code == 530
        with SMTPClient(
            "127.0.0.1",
            port,
            ssl_context=ctx,
            server_hostname="localhost",
            tls_policy="required",
            username="alice",
            password="wonderland",
        ) as client:
            assert client.connection.authenticated
            result = client.send_message(
                b"Subject: s\r\n\r\nbody\r\n", "alice@example.org", ["b@example.net"]
            )
            assert result.recipients[0].reply is not None
            assert result.recipients[0].reply.message == "Accepted message 1"
        out = s.finish()
    assert s.proc.returncode == 0, out
    assert "message 1 from alice: to b@example.net" in out


# --- MX lookup: a small authoritative DNS server on 127.0.0.1 -----------------------------------

ZONE = {
    ("example.test.", "MX"): ["10 mx1.example.test.", "20 mx2.example.test."],
    ("mx1.example.test.", "A"): ["127.0.0.1"],
    ("mx2.example.test.", "A"): ["127.0.0.2"],
    ("nullmx.test.", "MX"): ["0 ."],
    ("bare.test.", "A"): ["127.0.0.3"],
}
NAMES = {name for name, _ in ZONE}


def dns_server() -> contextlib.AbstractContextManager[int]:
    """ZONE served on 127.0.0.1 by the docs' DNS fixture (docs/_ext/docs_dns.py); the port."""
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    try:
        import docs_dns
    finally:
        sys.path.remove(str(ROOT / "docs" / "_ext"))
    return docs_dns.serve(ZONE)


def test_mx_lookup_against_a_loopback_dns_server() -> None:
    with dns_server() as port:
        done = run(
            "mx_lookup.py",
            "example.test",
            "bare.test",
            "--nameserver",
            f"127.0.0.1:{port}",
            "--timeout",
            "5",
        )
        assert done.returncode == 0, done.stdout + done.stderr
        lines = done.stdout.splitlines()
        assert lines[0].startswith("example.test (example.test), MX")
        assert lines[1].split() == ["10", "mx1.example.test:", "127.0.0.1"]
        assert lines[2].split() == ["20", "mx2.example.test:", "127.0.0.2"]
        # RFC 5321 §5.1: no MX records, so the domain's own address is the route
        assert "bare.test (bare.test), no MX records" in done.stdout
        assert "bare.test: 127.0.0.3" in done.stdout

        null = run(
            "mx_lookup.py", "nullmx.test", "nowhere.test", "--nameserver", f"127.0.0.1:{port}"
        )
        assert null.returncode == 1
        assert "nullmx.test: cannot deliver (null-mx)" in null.stdout  # RFC 7505
        assert "nowhere.test: cannot deliver (permanent)" in null.stdout


def test_mx_lookup_of_an_address_literal_needs_no_dns() -> None:
    done = run("mx_lookup.py", "[127.0.0.1]", "--nameserver", "127.0.0.1:9")
    assert done.returncode == 0, done.stderr
    assert "0 [127.0.0.1]: 127.0.0.1" in done.stdout


# --- bounces ------------------------------------------------------------------------------------


def test_parse_bounce_reads_text_bounces_and_feedback_reports() -> None:
    done = run("parse_bounce.py", str(DATA / "exim-text.eml"), str(DATA / "arf-abuse.eml"))
    assert done.returncode == 0, done.stderr
    assert "exim-text.eml: text-bounce (bounce)" in done.stdout
    assert "bob@example.com: failed 5.1.1 -> userunknown (hard)" in done.stdout
    assert "arf-abuse.eml: feedback-report (not a bounce)" in done.stdout


def test_parse_bounce_reads_a_dsn_we_built(tmp_path: Path) -> None:
    report = dsn.build(
        reporting_mta="relay.example.net",
        recipients=[
            dsn.RecipientResult(
                recipient="gone@example.com",
                action="failed",
                status="5.1.1",
                diagnostic="550 5.1.1 User unknown",
                remote_mta="mx.example.com",
            )
        ],
        date=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        original=b"Message-ID: <m1@example.org>\r\nSubject: s\r\n\r\nbody\r\n",
    )
    path = tmp_path / "bounce.eml"
    path.write_bytes(report.as_bytes())
    done = run("parse_bounce.py", str(path))
    assert done.returncode == 0, done.stderr
    assert "dsn (bounce), reported by relay.example.net" in done.stdout
    assert "gone@example.com: failed 5.1.1 -> userunknown (hard)" in done.stdout


def test_parse_bounce_says_when_a_message_is_no_report(tmp_path: Path) -> None:
    path = tmp_path / "plain.eml"
    path.write_bytes(b"From: a@example.org\r\nSubject: lunch?\r\n\r\nNoon?\r\n")
    done = run("parse_bounce.py", str(path))
    assert done.returncode == 2
    assert "not a delivery report" in done.stdout


def test_custom_server_transport_answers_with_the_engine() -> None:
    import smtplib

    with start("custom_server_transport.py", "127.0.0.1", "0", "--count", "1") as s:
        port = s.port()
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as raw:
            # the engine's own refusals come through the same loop (RFC 5321 §4.1.4: 503)
            assert raw.docmd("RCPT", "TO:<d@example.net>")[0] == 503
            assert raw.ehlo("test.example")[0] == 250
            assert raw.docmd("MAIL", "FROM:<a@example.org> FOO=1")[0] == 555  # §4.1.1.11
        with SMTPClient("127.0.0.1", port) as client:
            result = client.send_message(
                b"Subject: hi\r\n\r\n.dotted line\r\n",
                "a@example.org",
                ["b@example.net", "c@elsewhere.example"],
            )
        out = s.finish()
    assert s.proc.returncode == 0, out
    assert [str(a) for a in result.delivered] == ["b@example.net"]
    assert result.refused[A("c@elsewhere.example")].code == 550
    assert "message from <a@example.org> to b@example.net:" in out
    assert "\n.dotted line\n" in out.replace("\r\n", "\n")  # dot-stuffing undone

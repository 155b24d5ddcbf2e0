"""Postfix's load tools against us: smtp-source feeds our servers, our clients feed smtp-sink.

smtp-source speaks HELO (not EHLO) and, as its manual says, has no PIPELINING; it runs many
sessions in parallel and several messages per session. smtp-sink offers PIPELINING and
writes every transaction it takes to a dump file, which we compare with what we sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtpcore import Address
from smtpcore.aio import AsyncSMTPClient
from smtpcore.sync import SMTPClient
from tests.servers import Recorder

from ._require import require_program
from .conftest import ServerFactory, program_version
from .postfix import TraceProxy, free_port, poll

pytestmark = pytest.mark.interop

A = Address.parse
RUN_DEADLINE = 120.0


def listening(port: int) -> bool:
    """True once something listens on 127.0.0.1:port (read from /proc, no connection made:
    smtp-sink counts every connection as a session)."""
    needle = f"0100007F:{port:04X} 00000000:0000 0A"
    return any(needle in line for line in Path("/proc/net/tcp").read_text().splitlines())


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a program started in its own session, then kill its group if it lingers."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@contextlib.contextmanager
def smtp_sink(*options: str) -> Iterator[tuple[int, subprocess.Popen[bytes], Path]]:
    """smtp-sink on a free loopback port, dumping every transaction to the returned file."""
    program = require_program("smtp-sink")
    workdir = Path(tempfile.mkdtemp(prefix="smtpcore-sink-"))
    proc = None
    try:
        # smtp-sink refuses to run as root without dropping to another user
        as_root = os.geteuid() == 0
        if as_root:
            shutil.chown(workdir, user="nobody")
        user = ["-u", "nobody"] if as_root else []
        dump = workdir / "dump"
        port = free_port()
        proc = subprocess.Popen(
            [program, *user, "-D", str(dump), *options, f"127.0.0.1:{port}", "64"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        running = proc
        poll(lambda: listening(port) or running.poll() is not None, 10.0, "smtp-sink")
        assert proc.poll() is None, proc.communicate()
        yield port, proc, dump
    finally:
        if proc is not None:
            stop(proc)
            assert proc.stdout is not None and proc.stderr is not None
            proc.stdout.close()
            proc.stderr.close()
        shutil.rmtree(workdir, ignore_errors=True)


def sink_dump(dump: Path) -> list[tuple[dict[str, list[str]], bytes]]:
    """The transactions in an smtp-sink dump: (its X- records, the message with CRLF lines)."""
    out = []
    for chunk in dump.read_bytes().split(b"X-Client-Addr: ")[1:]:
        head, _, rest = chunk.partition(b" (smtp-sink) with ")
        head = head.rpartition(b"\n\tby ")[0]
        records: dict[str, list[str]] = {}
        for line in (b"X-Client-Addr: " + head).decode().splitlines():
            name, _, value = line.partition(": ")
            records.setdefault(name, []).append(value)
        parts = rest.split(b"\n", 2)  # the message follows the Received header's last line
        if len(parts) < 3 or not parts[2].endswith(b"\n\n"):
            break  # still being written (smtp-sink ends each record with an empty line)
        message = parts[2]
        out.append((records, message[:-1].replace(b"\n", b"\r\n")))
    return out


COUNT = 300


def numbered(i: int) -> bytes:
    return (
        f"From: a@client.test\r\nTo: b@sink.test\r\nSubject: message {i}\r\n\r\n"
        f".dot at the start of line {i}\r\n..two dots\r\n{'w' * (i % 200)}\r\n.\r\n"
    ).encode()


@pytest.mark.parametrize("flavour", ["aio", "sync"])
def test_many_messages_over_one_connection_to_smtp_sink(flavour: str) -> None:
    require_program("smtp-sink")
    program_version(
        [require_program("postconf"), "-d", "-h", "mail_version"], "smtp-sink (postfix)"
    )
    recipients = ["b@sink.test", "c@sink.test"]
    with smtp_sink("-h", "sink.test") as (sink_port, _proc, dump):
        port = free_port()
        proxy = TraceProxy(port, sink_port)  # counts the connections, records the bytes
        try:

            async def go_async() -> None:
                async with AsyncSMTPClient("127.0.0.1", port, tls_policy="none") as client:
                    assert client.capabilities is not None and client.capabilities.pipelining
                    # smtp-sink ends its EHLO reply with an empty "250 " line: no keyword,
                    # which RFC 5321 §4.1.1.1 requires; kept aside as malformed, ignored.
                    assert client.capabilities.malformed == ("",)
                    for i in range(COUNT):
                        sent = await client.send_message(numbered(i), "a@client.test", recipients)
                        assert len(sent.delivered) == 2

            def go_sync() -> None:
                with SMTPClient("127.0.0.1", port, tls_policy="none") as client:
                    assert client.capabilities is not None and client.capabilities.pipelining
                    assert client.capabilities.malformed == ("",)
                    for i in range(COUNT):
                        sent = client.send_message(numbered(i), "a@client.test", recipients)
                        assert len(sent.delivered) == 2

            started = time.monotonic()
            if flavour == "aio":
                asyncio.run(go_async())
            else:
                go_sync()
            elapsed = time.monotonic() - started
        finally:
            proxy.close()

        def complete() -> list[tuple[dict[str, list[str]], bytes]]:
            found = sink_dump(dump)
            return found if len(found) >= COUNT else []

        transactions = poll(complete, 10.0, "the dump")
    print(f"{COUNT} messages over one connection in {elapsed:.2f}s")
    assert proxy.connections == 1
    # RFC 2920: MAIL, both RCPTs and DATA in one group each time
    assert proxy.server_bytes().startswith(b"220 sink.test ESMTP\r\n250-sink.test\r\n")
    assert b"\r\n250-DSN\r\n250 \r\n" in proxy.server_bytes()
    sent = proxy.client_bytes()
    group = (
        b"MAIL FROM:<a@client.test>\r\nRCPT TO:<b@sink.test>\r\nRCPT TO:<c@sink.test>\r\nDATA\r\n"
    )
    assert sent.count(group) == COUNT
    assert len(transactions) == COUNT
    for i, (records, message) in enumerate(transactions):
        assert records["X-Client-Proto"] == ["ESMTP"]
        assert records["X-Helo-Args"] == ["localhost"]
        assert records["X-Mail-Args"] == ["<a@client.test>"]
        assert records["X-Rcpt-Args"] == ["<b@sink.test>", "<c@sink.test>"]
        assert message == numbered(i)


FORMATTED = b".one dot\n..two dots\nplain line\n.\nFrom nobody\nlast line\n"


@pytest.mark.parametrize("lmtp", [False, True], ids=["SMTP", "LMTP"])
def test_smtp_source_many_sessions(lmtp: bool, server_flavour: ServerFactory) -> None:
    program = require_program("smtp-source")
    sessions, messages, rcpts = 8, 240, 3
    workdir = Path(tempfile.mkdtemp(prefix="smtpcore-source-"))
    try:
        message_file = workdir / "message"
        message_file.write_bytes(b"Subject: formatted\n\n" + FORMATTED)
        with server_flavour(lmtp=lmtp) as (server, rec):
            argv = [
                program,
                *(["-L"] if lmtp else []),
                "-s", str(sessions),
                "-m", str(messages),
                "-r", str(rcpts),
                "-d",  # several messages per connection
                "-f", "sender@source.test",
                "-t", "rcpt@dest.test",
                "-M", "source.test",
                "-F", str(message_file),
                f"127.0.0.1:{server.port}",
            ]  # fmt: skip
            proc = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
            )
            try:
                _out, err = proc.communicate(timeout=RUN_DEADLINE)
            finally:
                stop(proc)
            assert proc.returncode == 0, err
            assert isinstance(rec, Recorder)
            got = list(rec.messages)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    assert len(got) == messages
    # smtp-source adds '.' before lines that start with one and CRLF after each line; we
    # take the dot back off (RFC 5321 §4.5.2): the file arrives as it was, with CRLF, plus
    # one empty line: smtp-source always ends the data with CRLF CRLF "." CRLF.
    expected = (b"Subject: formatted\n\n" + FORMATTED).replace(b"\n", b"\r\n") + b"\r\n"
    # smtp-source numbers the recipients down, the last one without a number
    want_rcpts = (A("3rcpt@dest.test"), A("2rcpt@dest.test"), A("rcpt@dest.test"))
    for m in got:
        assert m.data == expected
        assert m.envelope.mail_from == A("sender@source.test")
        assert m.envelope.recipients == want_rcpts
        assert m.session.helo_name == "source.test"
        assert m.session.esmtp == lmtp  # smtp-source says HELO, or LHLO for LMTP
    # several messages came over each connection, over several connections
    peers = {m.session.peer for m in got}
    assert 1 < len(peers) < messages

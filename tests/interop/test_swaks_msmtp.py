"""swaks and msmtp, real command-line clients, against our servers (asyncio and blocking).

swaks: plain SMTP, STARTTLS, implicit TLS (RFC 8314), AUTH PLAIN / LOGIN / CRAM-MD5,
PIPELINING and a large body. msmtp: the way a mail client submits, STARTTLS (or implicit
TLS) then AUTH, from a config file of its own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from smtpcore import Address
from smtpcore.sasl import DictCredentials
from tests.servers import Recorder

from ._require import require_program
from .conftest import ServerFactory, program_version
from .postfix import TraceProxy, free_port

pytestmark = pytest.mark.interop

A = Address.parse
RUN_DEADLINE = 60.0
PKI = tuple[trustme.CA, trustme.LeafCert]
USER, PASSWORD = "user@client.test", "s3cret pass"


@pytest.fixture
def workdir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="smtpcore-clients-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def pki() -> PKI:
    ca = trustme.CA()
    return ca, ca.issue_cert("localhost", "127.0.0.1")


def server_context(pki: PKI) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    pki[1].configure_cert(ctx)
    return ctx


def ca_file(pki: PKI, workdir: Path) -> Path:
    path = workdir / "ca.pem"
    pki[0].cert_pem.write_to_path(str(path))
    return path


def run(argv: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run a client to completion in its own session; kill its group if it overruns."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(stdin, timeout=RUN_DEADLINE)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{argv[0]} did not finish: {out.decode()}{err.decode()}")
    result = subprocess.CompletedProcess(argv, proc.returncode, out, err)
    assert result.returncode == 0, (out + err).decode(errors="replace")
    return result


# --- swaks -------------------------------------------------------------------------------


def swaks(port: int, data_file: Path, *options: str) -> str:
    program = require_program("swaks")
    program_version([program, "--version"], "swaks")
    return run(
        [
            program,
            "--server",
            "127.0.0.1",
            "--port",
            str(port),
            "--helo",
            "swaks.test",
            "--from",
            "alice@client.test",
            "--to",
            "bob@server.test,carol@server.test",
            "--data",
            str(data_file),
            "--timeout",
            "30",
            *options,
        ]
    ).stdout.decode(errors="replace")


def swaks_message(workdir: Path, body_lines: int = 3) -> tuple[Path, bytes]:
    """A message file with LF line ends, and the bytes we must receive (CRLF, unstuffed).

    swaks ends the data with CRLF "." CRLF whatever the file's end, so a file ending with a
    newline arrives with one more empty line: the file here has no final newline."""
    text = (
        b"From: alice@client.test\nTo: bob@server.test\nSubject: from swaks\n\n"
        b".leading dot\n..two\n.\n"
        + b"".join(
            (b"." if i % 1000 == 0 else b"") + b"line %07d " % i + b"s" * 60 + b"\n"
            for i in range(body_lines)
        )
        + b"last line"
    )
    path = workdir / "message"
    path.write_bytes(text)
    return path, text.replace(b"\n", b"\r\n") + b"\r\n"


def check_swaks_delivery(rec: Recorder, expected: bytes) -> None:
    [got] = rec.messages
    assert got.data == expected
    assert got.envelope.mail_from == A("alice@client.test")
    assert got.envelope.recipients == (A("bob@server.test"), A("carol@server.test"))
    assert got.session.helo_name == "swaks.test" and got.session.esmtp


def test_swaks_plain(server_flavour: ServerFactory, workdir: Path) -> None:
    data, expected = swaks_message(workdir)
    with server_flavour() as (server, rec):
        out = swaks(server.port, data)
    assert "<-  221" in out
    check_swaks_delivery(rec, expected)
    assert rec.messages[0].session.tls is None


def test_swaks_starttls(server_flavour: ServerFactory, workdir: Path, pki: PKI) -> None:
    data, expected = swaks_message(workdir)
    ca = ca_file(pki, workdir)
    with server_flavour(tls_context=server_context(pki)) as (server, rec):
        out = swaks(server.port, data, "--tls", "--tls-verify", "--tls-ca-path", str(ca))
    assert "TLS started with cipher" in out
    check_swaks_delivery(rec, expected)
    assert rec.messages[0].session.tls is not None


def test_swaks_implicit_tls(server_flavour: ServerFactory, workdir: Path, pki: PKI) -> None:
    # RFC 8314 §3.3: TLS from the first byte, then the greeting.
    data, expected = swaks_message(workdir)
    ca = ca_file(pki, workdir)
    with server_flavour(tls_context=server_context(pki), implicit_tls=True) as (server, rec):
        out = swaks(server.port, data, "--tlsc", "--tls-verify", "--tls-ca-path", str(ca))
    assert "TLS started with cipher" in out
    check_swaks_delivery(rec, expected)
    assert rec.messages[0].session.tls is not None


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_swaks_auth(server_flavour: ServerFactory, workdir: Path, pki: PKI, mechanism: str) -> None:
    # RFC 4954 over STARTTLS (we offer AUTH only under TLS).
    data, expected = swaks_message(workdir)
    ca = ca_file(pki, workdir)
    creds = DictCredentials({USER: PASSWORD})
    with server_flavour(tls_context=server_context(pki), credentials=creds) as (server, rec):
        out = swaks(
            server.port,
            data,
            "--tls",
            "--tls-ca-path",
            str(ca),
            "--tls-verify",
            "--auth",
            mechanism,
            "--auth-user",
            USER,
            "--auth-password",
            PASSWORD,
        )
    assert "<~  235 " in out
    check_swaks_delivery(rec, expected)
    assert rec.messages[0].session.authenticated_as == USER


def test_swaks_auth_wrong_password(server_flavour: ServerFactory, workdir: Path, pki: PKI) -> None:
    data, _ = swaks_message(workdir)
    ca = ca_file(pki, workdir)
    creds = DictCredentials({USER: PASSWORD})
    program = require_program("swaks")
    with server_flavour(tls_context=server_context(pki), credentials=creds) as (server, rec):
        proc = subprocess.run(
            [
                program,
                "--server",
                "127.0.0.1",
                "--port",
                str(server.port),
                "--from",
                "alice@client.test",
                "--to",
                "bob@server.test",
                "--data",
                str(data),
                "--tls",
                "--tls-ca-path",
                str(ca),
                "--timeout",
                "30",
                "--auth",
                "PLAIN",
                "--auth-user",
                USER,
                "--auth-password",
                "wrong",
            ],
            capture_output=True,
            timeout=RUN_DEADLINE,
            check=False,
        )
    assert proc.returncode != 0
    assert "<~* 535 5.7.8" in proc.stdout.decode()
    assert rec.messages == []


def test_swaks_pipelining(server_flavour: ServerFactory, workdir: Path) -> None:
    # RFC 2920: swaks --pipeline sends MAIL, the RCPTs and DATA in one write.
    data, expected = swaks_message(workdir)
    port = free_port()
    with server_flavour() as (server, rec):
        proxy = TraceProxy(port, server.port)
        try:
            out = swaks(port, data, "--pipeline")
        finally:
            proxy.close()
    assert "<-  354" in out
    check_swaks_delivery(rec, expected)
    assert (
        b"MAIL FROM:<alice@client.test>\r\nRCPT TO:<bob@server.test>\r\n"
        b"RCPT TO:<carol@server.test>\r\nDATA\r\n"
    ) in proxy.client_reads


def test_swaks_large_body(server_flavour: ServerFactory, workdir: Path) -> None:
    # About 6 MB, every line starting with a dot on every 1000th line.
    data, expected = swaks_message(workdir, body_lines=80_000)
    with server_flavour() as (server, rec):
        swaks(server.port, data, "--silent", "2")
    check_swaks_delivery(rec, expected)
    assert len(expected) > 5_000_000


# --- msmtp -------------------------------------------------------------------------------

MSMTP_MESSAGE = (
    b"From: alice@client.test\nTo: bob@server.test\nSubject: from msmtp\n"
    b"Date: Sun, 29 Nov 2026 00:00:00 +0000\nMessage-ID: <msmtp-1@client.test>\n\n"
    b".a dot line\nGr\xc3\xbc\xc3\x9fe\n"
)


def msmtp_config(workdir: Path, port: int, ca: Path, *, auth: str, starttls: bool) -> Path:
    path = workdir / "msmtprc"
    path.write_text(
        "defaults\n"
        "tls on\n"
        f"tls_starttls {'on' if starttls else 'off'}\n"
        f"tls_trust_file {ca}\n"
        f"logfile {workdir / 'msmtp.log'}\n"
        "account test\n"
        "host 127.0.0.1\n"
        f"port {port}\n"
        "domain msmtp.test\n"
        "from alice@client.test\n"
        f"auth {auth}\n"
        f"user {USER}\n"
        f"password {PASSWORD}\n"
    )
    path.chmod(0o600)  # msmtp refuses a password file others can read
    return path


@pytest.mark.parametrize(
    ("auth", "starttls"),
    [
        ("on", True),  # msmtp picks PLAIN under TLS
        ("plain", True),
        ("cram-md5", True),
        # GNU SASL sends no initial response: the empty challenge must be "334 " with its
        # space (RFC 4954 §4; found here, fixed in 71fb05d)
        ("scram-sha-256", True),
        ("login", False),
    ],
    ids=["best-STARTTLS", "plain-STARTTLS", "cram-STARTTLS", "scram-STARTTLS", "login-implicit"],
)
def test_msmtp_submission(
    server_flavour: ServerFactory, workdir: Path, pki: PKI, auth: str, starttls: bool
) -> None:
    program = require_program("msmtp")
    program_version([program, "--version"], "msmtp")
    ca = ca_file(pki, workdir)
    creds = DictCredentials({USER: PASSWORD})
    with server_flavour(
        tls_context=server_context(pki), credentials=creds, implicit_tls=not starttls
    ) as (server, rec):
        config = msmtp_config(workdir, server.port, ca, auth=auth, starttls=starttls)
        run([program, "-C", str(config), "-a", "test", "bob@server.test"], MSMTP_MESSAGE)
    [got] = rec.messages
    assert got.data == MSMTP_MESSAGE.replace(b"\n", b"\r\n")
    assert got.envelope.mail_from == A("alice@client.test")
    assert got.envelope.recipients == (A("bob@server.test"),)
    assert got.session.helo_name == "msmtp.test"
    assert got.session.tls is not None
    assert got.session.authenticated_as == USER
    log = (workdir / "msmtp.log").read_text()
    assert "exitcode=EX_OK" in log

"""A private Postfix instance on 127.0.0.1 for the interop tests, and small peer helpers.

``run_postfix(relay_port=..., trace_port=...)`` builds a complete instance inside a fresh
temporary folder (its own main.cf and master.cf, queue, data folder and maillog), registers the
folder in ``alternate_config_directories`` of the default ``/etc/postfix/main.cf`` (Postfix
refuses any other config folder), starts it with ``postfix -c DIR start``, waits until its
smtpd answers, and on exit always stops it, kills whatever of it is left and undoes the
registration. Nothing binds anything but 127.0.0.1; every port is chosen at run time.

Routing inside the instance: ``relayhost = [127.0.0.1]:relay_port``, so everything not local
goes to the server under test on ``relay_port``; recipients in ``plain.test`` go there by a
transport that never tries STARTTLS, those in ``tls.test`` by one that insists on it, and
``trace.test`` goes to ``trace_port`` (a recording proxy in front of the server under test),
``lmtp.test`` by Postfix's LMTP client to ``relay_port``.
Local mail (``@postfix.test``, ``@localhost``) is discarded.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ._require import require_program

T = TypeVar("T")

DEFAULT_MAIN_CF = Path("/etc/postfix/main.cf")
_LOCK = Path(tempfile.gettempdir()) / "smtpcore-postfix-main-cf.lock"
START_DEADLINE = 30.0
STOP_DEADLINE = 15.0
HOSTNAME = "postfix.test"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, deadline: float) -> None:
    """Poll a TCP connect to 127.0.0.1:port until it succeeds or the deadline passes."""
    end = time.monotonic() + deadline
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > end:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.05)


def poll(
    predicate: Callable[[], T | None], deadline: float, what: str, interval: float = 0.05
) -> T:
    """Call ``predicate`` until it returns something truthy; fail after ``deadline`` s."""
    end = time.monotonic() + deadline
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(interval)


# --- the alternate_config_directories dance --------------------------------------------------


@contextlib.contextmanager
def _main_cf_lock() -> Iterator[None]:
    _LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(_LOCK, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


_ALT = re.compile(r"^alternate_config_directories\s*=.*\n?(?:[ \t].*\n?)*", re.M)
_MARK = "# written by smtpcore's interop tests (tests/interop/postfix.py), removed after them\n"


def _alt_dirs(text: str) -> list[str]:
    m = _ALT.search(text)
    return m.group(0).partition("=")[2].replace(",", " ").split() if m else []


def _with_alt_dirs(text: str, dirs: list[str]) -> str:
    line = f"alternate_config_directories = {' '.join(dirs)}\n" if dirs else ""
    if _ALT.search(text):
        return _ALT.sub(lambda _m: line, text, count=1)
    return text + ("" if not text or text.endswith("\n") else "\n") + line


@contextlib.contextmanager
def registered_config_dir(config_dir: Path) -> Iterator[None]:
    """List ``config_dir`` in the default main.cf's alternate_config_directories while inside.

    When there is no default main.cf (a fresh Debian install without configuration has
    none) one is written with a marker line, and removed by whoever takes the last folder
    out of it; folders listed by others (other test runs, the system's own) are left alone.
    A file lock serialises the edits of concurrent runs.
    """
    name = str(config_dir)
    with _main_cf_lock():
        text = DEFAULT_MAIN_CF.read_text() if DEFAULT_MAIN_CF.exists() else _MARK
        dirs = _alt_dirs(text)
        if name not in dirs:
            DEFAULT_MAIN_CF.write_text(_with_alt_dirs(text, [*dirs, name]))
    try:
        yield
    finally:
        with _main_cf_lock():
            text = DEFAULT_MAIN_CF.read_text() if DEFAULT_MAIN_CF.exists() else ""
            rest = _with_alt_dirs(text, [d for d in _alt_dirs(text) if d != name])
            if rest.startswith(_MARK) and not rest[len(_MARK) :].strip():
                DEFAULT_MAIN_CF.unlink(missing_ok=True)
            elif rest != text:
                DEFAULT_MAIN_CF.write_text(rest)


# --- the instance ----------------------------------------------------------------------------

_MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:{smtpd_port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
lmtp      unix  -       -       n       -       -       lmtp
plainsmtp unix  -       -       n       -       -       smtp
  -o smtp_tls_security_level=none
tlssmtp   unix  -       -       n       -       -       smtp
  -o smtp_tls_security_level=secure
  -o smtp_tls_secure_cert_match=nexthop
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


@dataclass
class Postfix:
    """A running private Postfix instance (see the module docstring)."""

    config_dir: Path
    smtpd_port: int
    relay_port: int
    trace_port: int
    ca_pem: Path
    cert_pem: Path
    key_pem: Path
    version: str
    _log_offset: int = field(default=0)

    @property
    def maillog(self) -> Path:
        return self.config_dir.parent / "maillog"

    def log_text(self) -> str:
        try:
            return self.maillog.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def mark_log(self) -> None:
        """Remember the log's current end: :meth:`new_log` returns only what follows it."""
        self._log_offset = len(self.log_text())

    def new_log(self) -> str:
        return self.log_text()[self._log_offset :]

    def wait_log(self, pattern: str, deadline: float = 20.0) -> re.Match[str]:
        """Poll the maillog (after the last mark) until ``pattern`` appears."""
        rx = re.compile(pattern, re.M)
        return poll(lambda: rx.search(self.new_log()), deadline, f"/{pattern}/ in the maillog")

    def cmd(
        self, program: str, *args: str, input: bytes | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        """Run a Postfix command-line tool against this instance (``-c DIR``)."""
        path = require_program(program)
        return subprocess.run(
            [path, "-c", str(self.config_dir), *args],
            input=input,
            capture_output=True,
            timeout=30,
            check=check,
        )

    def sendmail(self, sender: str, recipients: list[str], message: bytes, *opts: str) -> None:
        """Submit through Postfix's sendmail (pickup), the way local programs do."""
        path = require_program("sendmail")
        subprocess.run(
            [path, "-C", str(self.config_dir), "-i", "-f", sender, *opts, "--", *recipients],
            input=message,
            capture_output=True,
            timeout=30,
            check=True,
        )

    def server_tls_context(self) -> ssl.SSLContext:
        """A server context with the instance's certificate (localhost, 127.0.0.1), which
        Postfix's SMTP client verifies against its CA."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(self.cert_pem), str(self.key_pem))
        return ctx

    def queue_ids(self) -> list[str]:
        """Queue ids of every message still queued (``postqueue -j``)."""
        out = self.cmd("postqueue", "-j", check=False).stdout.decode()
        return re.findall(r'"queue_id":\s*"([0-9A-Za-z]+)"', out)

    def clear_queue(self) -> None:
        self.cmd("postsuper", "-d", "ALL", check=False)

    def flush(self) -> None:
        self.cmd("postqueue", "-f", check=False)


def _main_cf(
    d: Path, config_dir: Path, *, relay_port: int, trace_port: int, cert: Path, key: Path, ca: Path
) -> str:
    transports = (
        f"plain.test=plainsmtp:[127.0.0.1]:{relay_port}, "
        f"tls.test=tlssmtp:[localhost]:{relay_port}, "
        f"trace.test=plainsmtp:[127.0.0.1]:{trace_port}, "
        f"lmtp.test=lmtp:inet:127.0.0.1:{relay_port}"
    )
    return f"""\
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = {HOSTNAME}
mydomain = {HOSTNAME}
myorigin = $myhostname
mydestination = $myhostname, localhost
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
alias_maps =
alias_database =
local_transport = discard
relayhost = [127.0.0.1]:{relay_port}
transport_maps = inline:{{ {transports} }}
smtp_host_lookup = native
lmtp_host_lookup = native
smtp_connection_cache_on_demand = no
smtp_connect_timeout = 5s
smtpd_timeout = 30s
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
delay_warning_time = 1s
local_header_rewrite_clients =
smtputf8_enable = yes
message_size_limit = 10240000
biff = no
append_dot_mydomain = no
smtpd_banner = $myhostname ESMTP
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = may
smtp_tls_security_level = may
smtp_tls_CAfile = {ca}
smtp_tls_loglevel = 1
smtpd_tls_loglevel = 1
"""


def _instance_pids(config_dir: Path) -> list[int]:
    """Processes of this instance: Postfix passes MAIL_CONFIG=DIR to every daemon."""
    marker = f"MAIL_CONFIG={config_dir}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in env.split(b"\0"):
            pids.append(int(entry.name))
    return pids


def _master_pid(queue: Path) -> int | None:
    try:
        return int((queue / "pid" / "master.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextlib.contextmanager
def run_postfix(*, relay_port: int, trace_port: int) -> Iterator[Postfix]:
    """Start a private Postfix in a folder of its own (module docstring); stop it on exit."""
    import trustme

    postfix = require_program("postfix")
    for program in ("postconf", "postqueue", "postsuper", "sendmail"):
        require_program(program)
    version = subprocess.run(
        [require_program("postconf"), "-d", "-h", "mail_version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.strip()
    # The daemons drop to the mail_owner user: every parent folder must be traversable,
    # which pytest's private tmp folders are not, so the instance gets a folder of its own
    # under the system temp folder, removed again on exit.
    d = Path(tempfile.mkdtemp(prefix="smtpcore-postfix-")).resolve()
    d.chmod(0o755)
    etc = d / "etc"
    for sub in (etc, d / "queue", d / "data"):
        sub.mkdir()
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1", HOSTNAME)
    cert, key, ca_pem = etc / "cert.pem", etc / "key.pem", etc / "ca.pem"
    leaf.private_key_pem.write_to_path(str(key))
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    for extra in leaf.cert_chain_pems[1:]:
        with open(cert, "ab") as fh:
            fh.write(extra.bytes())
    ca.cert_pem.write_to_path(str(ca_pem))
    key.chmod(0o600)
    smtpd_port = free_port()
    (etc / "main.cf").write_text(
        _main_cf(
            d, etc, relay_port=relay_port, trace_port=trace_port, cert=cert, key=key, ca=ca_pem
        )
    )
    (etc / "master.cf").write_text(_MASTER_CF.format(smtpd_port=smtpd_port))
    (d / "maillog").touch()
    instance = Postfix(
        config_dir=etc,
        smtpd_port=smtpd_port,
        relay_port=relay_port,
        trace_port=trace_port,
        ca_pem=ca_pem,
        cert_pem=cert,
        key_pem=key,
        version=version,
    )
    with registered_config_dir(etc):
        try:
            subprocess.run(
                [postfix, "-c", str(etc), "set-permissions"],
                capture_output=True,
                timeout=60,
                check=True,
            )
            started = subprocess.run(
                [postfix, "-c", str(etc), "start"],
                check=False,
                capture_output=True,
                text=True,
                timeout=60,
            )
            if started.returncode != 0:
                raise RuntimeError(f"postfix start failed: {started.stderr}\n{instance.log_text()}")
            wait_for_port(smtpd_port, START_DEADLINE)
            yield instance
        finally:
            _stop(postfix, etc, d / "queue")
            shutil.rmtree(d, ignore_errors=True)


def _stop(postfix: str, d: Path, queue: Path) -> None:
    master = _master_pid(queue)
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        subprocess.run(
            [postfix, "-c", str(d), "stop"], check=False, capture_output=True, timeout=30
        )
    end = time.monotonic() + STOP_DEADLINE
    while time.monotonic() < end:
        if (master is None or not _alive(master)) and not _instance_pids(d):
            return
        time.sleep(0.05)
    for pid in {*_instance_pids(d), *([master] if master else [])}:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# --- a recording TCP proxy ------------------------------------------------------------------


class TraceProxy:
    """Forwards 127.0.0.1:port to 127.0.0.1:target and records every read, per direction.

    ``client_reads`` holds what the client sent, one entry per recv(), so a test can see
    that a group of commands came in one segment (PIPELINING).
    """

    def __init__(self, port: int, target: int) -> None:
        self.target = target
        self.client_reads: list[bytes] = []
        self.server_reads: list[bytes] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    def client_bytes(self) -> bytes:
        with self._lock:
            return b"".join(self.client_reads)

    def server_bytes(self) -> bytes:
        with self._lock:
            return b"".join(self.server_reads)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._socks += [client, upstream]
                self.connections += 1
            for src, dst, log in (
                (client, upstream, self.client_reads),
                (upstream, client, self.server_reads),
            ):
                t = threading.Thread(target=self._pump, args=(src, dst, log), daemon=True)
                self._threads.append(t)
                t.start()

    def _pump(self, src: socket.socket, dst: socket.socket, log: list[bytes]) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self._lock:
                    log.append(data)
                dst.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._stop.set()
        self._accepter.join(5)
        self._listener.close()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        for t in self._threads:
            t.join(5)
        for s in socks:
            s.close()

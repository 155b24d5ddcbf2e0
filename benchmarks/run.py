"""smtpcore against its anchors, side by side in one run (issue 8).

    .venv/bin/python benchmarks/run.py                 # every scenario, 5 repetitions
    .venv/bin/python benchmarks/run.py --reps 3 --only server-persistent,client-async-1k
    .venv/bin/python benchmarks/run.py --smoke         # tiny loads, one repetition (CI)

Every contender runs in its own subprocess on 127.0.0.1: the servers (smtpcore's
AsyncSMTPServer, aiosmtpd, Postfix's C ``smtp-sink``) under load from Postfix's C
``smtp-source``; the clients (smtpcore sync and asyncio, smtplib, aiosmtplib) against
``smtp-sink``. Within each repetition the contenders take turns (the order rotates from one
repetition to the next), so every ratio compares numbers taken moments apart; the table gives
the median over repetitions, the min-max, and the median of the per-repetition ratios
against each anchor, written so that above 1 means smtpcore is better.

Server CPU time and peak RSS come from the kernel's accounting of the server process
(``os.wait4`` when it exits) minus what it had used when it became ready; client figures
come from the client process's own ``getrusage`` around its sending loop.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

PYTHON = sys.executable
MiB = 1024 * 1024
PAGE_KIB = resource.getpagesize() // 1024
SOURCE_ARGS = ["-M", "bench.example", "-f", "bench@source.example", "-t", "sink@sink.example"]

Metrics = dict[str, float]


class BenchError(RuntimeError):
    pass


# --- processes -------------------------------------------------------------------------


def program(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    if path is None:
        raise BenchError(f"{name} not found (Debian package postfix)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE_KIB


def wait_listening(port: int, proc: subprocess.Popen[str]) -> None:
    for _ in range(500):  # bounded: 5 s
        if proc.poll() is not None:
            raise BenchError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.01)
    raise BenchError(f"nothing listens on port {port}")


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise BenchError("the server did not report readiness")
    line = proc.stdout.readline()
    if not line:
        raise BenchError("the server exited before it was ready")
    return line


@dataclass
class Server:
    """A server subprocess: its port, what it had used at readiness, and at exit."""

    kind: str
    proc: subprocess.Popen[str]
    port: int
    cpu0: float = 0.0
    rss0_kib: int = 0
    cpu: float = 0.0
    maxrss_kib: int = 0
    stats: dict[str, int] = field(default_factory=dict)

    def stop(self) -> None:
        proc = self.proc
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            for _ in range(200):  # bounded: 10 s, then SIGKILL
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                time.sleep(0.05)
            else:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            self.cpu = usage.ru_utime + usage.ru_stime - self.cpu0
            self.maxrss_kib = usage.ru_maxrss
        if proc.stdout is not None:
            rest = proc.stdout.read()
            proc.stdout.close()
            for line in rest.splitlines():
                with contextlib.suppress(ValueError):
                    self.stats = json.loads(line)


@contextlib.contextmanager
def server(kind: str) -> Iterator[Server]:
    if kind == "smtp-sink":
        port = free_port()
        # -u nobody: smtp-sink refuses to run as root; -m: connections it serves at once.
        cmd = [program("smtp-sink"), "-m", "5000", f"127.0.0.1:{port}", "1024"]
        if os.geteuid() == 0:
            cmd[1:1] = ["-u", "nobody"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        srv = Server(kind, proc, port)
        try:
            wait_listening(port, proc)
            srv.rss0_kib = rss_kib(proc.pid)
            yield srv
        finally:
            srv.stop()
        return
    proc = subprocess.Popen(
        [PYTHON, str(HERE / "_servers.py"), kind], stdout=subprocess.PIPE, text=True
    )
    srv = Server(kind, proc, 0)
    try:
        ready = json.loads(read_line(proc, 30.0))
        srv.port, srv.cpu0 = ready["port"], ready["cpu"]
        srv.rss0_kib = rss_kib(proc.pid)
        yield srv
    finally:
        srv.stop()


def smtp_source(port: int, *args: str, timeout: float) -> float:
    """Run smtp-source against the port; its wall time in seconds."""
    cmd = [program("smtp-source"), *SOURCE_ARGS, *args, f"127.0.0.1:{port}"]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0 or done.stderr.strip():
        raise BenchError(f"smtp-source failed ({done.returncode}): {done.stderr.strip()[:300]}")
    return wall


# --- scenarios -------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    key: str
    unit: str
    higher_is_better: bool


@dataclass
class Scenario:
    name: str
    title: str
    contenders: list[str]
    anchors: list[str]
    metrics: list[Metric]
    measure: Callable[[str], Metrics]
    target: str
    results: dict[str, list[Metrics]] = field(default_factory=dict)


MSG_S = Metric("msg/s", "msg/s", True)
CPU_US = Metric("CPU us/msg", "us", False)
MB_S = Metric("MB/s", "MB/s", True)
RSS_X = Metric("peak RSS/msg", "x", False)
CPU_MS_MIB = Metric("CPU ms/MiB", "ms", False)
KIB_CONN = Metric("KiB/conn", "KiB", False)
RSS_MIB = Metric("RSS+ MiB", "MiB", False)  # peak RSS over the RSS at readiness


def server_load(kind: str, count: int, sessions: int, *, persistent: bool, size: int) -> Metrics:
    args = ["-s", str(sessions), "-m", str(count), "-l", str(size)]
    if persistent:
        args.insert(0, "-d")
    with server(kind) as srv:
        wall = smtp_source(srv.port, *args, timeout=300)
    got = srv.stats.get("messages")
    if got is not None and got != count:
        raise BenchError(f"{kind} took {got} of {count} messages")
    octets = srv.stats.get("octets", count * size)
    return {
        "msg/s": count / wall,
        "CPU us/msg": srv.cpu / count * 1e6,
        "MB/s": octets / wall / 1e6,
        "peak RSS/msg": (srv.maxrss_kib - srv.rss0_kib) * 1024 / (octets / count),
        "RSS+ MiB": (srv.maxrss_kib - srv.rss0_kib) / 1024,
    }


def idle_connections(kind: str, count: int) -> Metrics:
    with server(kind) as srv:
        socks: list[socket.socket] = []
        try:
            # In batches below the listen backlog (100 in asyncio), so that no SYN is dropped
            # and retried a second later; a session is set up once its greeting arrived.
            for start in range(0, count, 50):
                for _ in range(min(50, count - start)):
                    socks.append(socket.create_connection(("127.0.0.1", srv.port), timeout=10))
                for sock in socks[start:]:
                    if not sock.recv(512).startswith(b"220"):
                        raise BenchError(f"{kind}: no greeting")
            after = rss_kib(srv.proc.pid)
        finally:
            for sock in socks:
                sock.close()
    return {"KiB/conn": (after - srv.rss0_kib) / count}


def client_load(kind: str, count: int, size: int, conns: int, target: str = "smtp-sink") -> Metrics:
    with server(target) as sink:
        cmd = [PYTHON, str(HERE / "_clients.py"), kind, "--port", str(sink.port)]
        cmd += ["--count", str(count), "--size", str(size), "--conns", str(conns)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise BenchError(f"{kind} client failed: {done.stderr.strip()[-500:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    total = count * out["octets"]
    return {
        "msg/s": count / out["wall"],
        "CPU us/msg": out["cpu"] / count * 1e6,
        "MB/s": total / out["wall"] / 1e6,
        "CPU ms/MiB": out["cpu"] / (total / MiB) * 1e3,
    }


class Codec:
    """The DATA codec in memory, from benchmarks/bench_codec.py (same message, same checks)."""

    def __init__(self, size: int) -> None:
        import bench_codec as bc

        self.bc = bc
        message = bc.make_message(size, dot_every=None)
        self.stream = b"".join(bc.encode(bc.chunked(message)))
        self.stream_chunks = bc.chunked(self.stream)
        self.message_chunks = bc.chunked(message)
        pieces, _rest = bc.decode(self.stream_chunks)
        if b"".join(pieces) != bc.normalize_line_endings(message, final_crlf=True):
            raise BenchError("the decoder does not round-trip")
        self.aiosmtpd = bc.aiosmtpd_decode(self.stream)

    def measure(self, kind: str) -> Metrics:
        bc, stream = self.bc, self.stream
        funcs: dict[str, Callable[[], object]] = {
            "smtpcore-decode": lambda: bc.decode(self.stream_chunks),
            "smtpcore-encode": lambda: bc.encode(self.message_chunks),
            "bytes.find": lambda: stream.find(b"\r\n.\r\n"),
        }
        if self.aiosmtpd is not None:
            funcs["aiosmtpd"] = self.aiosmtpd
        func = funcs[kind]
        func()  # first-touch page faults are not the codec's speed
        return {"MB/s": len(stream) / bc.timed(func) / 1e6}


def scenarios(smoke: bool) -> list[Scenario]:
    s = 0.02 if smoke else 1.0
    n_persist, n_newconn = int(10000 * s), int(3000 * s)
    big = [1] if smoke else [20, 100]
    n_1k, n_big = max(int(5000 * s), 20), (1 if smoke else 3)
    n_idle = 20 if smoke else 1000
    aio_servers = ["smtpcore", "aiosmtpd", "smtp-sink"]
    # asyncio-floor: canned replies over the same socket work (benchmarks/_floors.py), to show
    # how much of the time is asyncio and the kernel; not an anchor.
    floored = [*aio_servers, "asyncio-floor"]
    out = [
        Scenario(
            "server-persistent",
            f"asyncio server, 1 KiB, 8 persistent smtp-source sessions, {n_persist} msgs",
            floored,
            ["aiosmtpd", "smtp-sink"],
            [MSG_S, CPU_US],
            lambda k: server_load(k, n_persist, 8, persistent=True, size=1024),
            ">= 2.5x aiosmtpd msg/s, <= 130 us CPU/msg",
        ),
        Scenario(
            "server-newconn",
            f"asyncio server, 1 KiB, a new connection per message (8 at once), {n_newconn} msgs",
            floored,
            ["aiosmtpd", "smtp-sink"],
            [MSG_S, CPU_US],
            lambda k: server_load(k, n_newconn, 8, persistent=False, size=1024),
            ">= 2.5x aiosmtpd",
        ),
    ]
    for mib in big:
        out.append(
            Scenario(
                f"server-{mib}MiB",
                f"server, one {mib} MiB message (whole, or streamed by smtpcore-stream)",
                ["smtpcore", "smtpcore-stream", "aiosmtpd", "smtp-sink"],
                ["aiosmtpd", "smtp-sink"],
                [MB_S, RSS_X, RSS_MIB],
                lambda k, mib=mib: server_load(k, 1, 1, persistent=True, size=mib * MiB),
                ">= 4.5x aiosmtpd MB/s; peak RSS over idle <= 1.5x the message (whole), "
                "a few MiB (streamed)",
            )
        )
    client_floors = ["asyncio-floor", "asyncio-floor-batch"]
    out += [
        Scenario(
            "client-sync-1k",
            f"sync client, 1 KiB, one connection to smtp-sink, {n_1k} msgs",
            ["smtpcore-sync", "smtpcore-sync-batch", "smtplib"],
            ["smtplib"],
            [MSG_S, CPU_US],
            lambda k: client_load(k, n_1k, 1024, 1),
            ">= 1.5x smtplib msg/s",
        ),
        Scenario(
            "client-async-1k",
            f"asyncio client, 1 KiB, one connection to smtp-sink, {n_1k} msgs",
            ["smtpcore-async", "smtpcore-async-batch", "aiosmtplib", *client_floors],
            ["aiosmtplib"],
            [MSG_S, CPU_US],
            lambda k: client_load(k, n_1k, 1024, 1),
            ">= 3x aiosmtplib msg/s",
        ),
        Scenario(
            "client-async-1k-8",
            f"asyncio client, 1 KiB, 8 connections to smtp-sink, {n_1k} msgs",
            ["smtpcore-async", "smtpcore-async-batch", "aiosmtplib", *client_floors],
            ["aiosmtplib"],
            [MSG_S, CPU_US],
            lambda k: client_load(k, n_1k, 1024, 8),
            ">= 3x aiosmtplib msg/s",
        ),
        Scenario(
            "client-big",
            f"client, {big[0]} MiB messages to smtp-sink, {n_big} msgs",
            ["smtpcore-sync", "smtpcore-async", "smtplib", "aiosmtplib"],
            ["smtplib", "aiosmtplib"],
            [CPU_MS_MIB, MB_S],
            lambda k: client_load(k, n_big, big[0] * MiB, 1),
            "<= 2.5 ms CPU per MiB",
        ),
        # Not in issue 8's table: the round trips CHUNKING saves. smtp-sink offers no CHUNKING,
        # so the server is smtpcore's own asyncio server (CHUNKING, PIPELINING). smtpcore sends
        # a small message as BDAT LAST behind its envelope (one round trip); -data is the same
        # client with use_bdat=False (two); aiosmtplib and smtplib make four.
        *(
            Scenario(
                f"client-{flavour}-chunking",
                f"{flavour} client, 1 KiB, one connection to smtpcore's asyncio server "
                f"(CHUNKING), {n_1k} msgs",
                [f"smtpcore-{flavour}", f"smtpcore-{flavour}-data", anchor],
                [anchor],
                [MSG_S, CPU_US],
                lambda k: client_load(k, n_1k, 1024, 1, target="smtpcore"),
                "(not in the issue) one round trip per message instead of two",
            )
            for flavour, anchor in (("async", "aiosmtplib"), ("sync", "smtplib"))
        ),
    ]
    codec: list[Codec] = []

    def codec_measure(kind: str) -> Metrics:
        if not codec:
            codec.append(Codec(MiB if smoke else 20 * MiB))
        return codec[0].measure(kind)

    out += [
        Scenario(
            "codec",
            f"data codec in memory, {1 if smoke else 20} MiB realistic message",
            ["smtpcore-decode", "smtpcore-encode", "aiosmtpd", "bytes.find"],
            ["aiosmtpd", "bytes.find"],
            [MB_S],
            codec_measure,
            "decode >= 400 MB/s, encode >= 1000 MB/s",
        ),
        Scenario(
            "server-idle",
            f"asyncio server, {n_idle} idle connections (after the greeting)",
            aio_servers,
            ["aiosmtpd", "smtp-sink"],
            [KIB_CONN],
            lambda k: idle_connections(k, n_idle),
            "less memory per connection than aiosmtpd",
        ),
    ]
    return out


# --- running and reporting -------------------------------------------------------------


def run_scenario(sc: Scenario, reps: int, log: Callable[[str], None]) -> None:
    sc.results = {c: [] for c in sc.contenders}
    for rep in range(reps):
        shift = rep % len(sc.contenders)
        order = sc.contenders[shift:] + sc.contenders[:shift]
        for contender in order:
            start = time.perf_counter()
            sc.results[contender].append(sc.measure(contender))
            log(f"  {sc.name} rep {rep + 1}/{reps} {contender}: {time.perf_counter() - start:.1f}s")


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def gain(sc: Scenario, ours: str, anchor: str, metric: Metric) -> float | None:
    ratios = []
    for mine, theirs in zip(sc.results[ours], sc.results[anchor], strict=True):
        a, b = mine.get(metric.key), theirs.get(metric.key)
        if a is None or b is None or a <= 0 or b <= 0:
            return None
        ratios.append(a / b if metric.higher_is_better else b / a)
    return statistics.median(ratios) if ratios else None


def report(done: list[Scenario], reps: int) -> str:
    lines = [
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {reps} repetition(s); "
        "gain = median per-repetition ratio, > 1 means smtpcore is better",
        "",
        "| scenario | contender | metric | median | min-max | gain vs anchors |",
        "|---|---|---|---|---|---|",
    ]
    for sc in done:
        lines.append(f"| **{sc.name}** | {sc.title} | | | | target: {sc.target} |")
        for contender in sc.contenders:
            for metric in sc.metrics:
                values = [r[metric.key] for r in sc.results[contender] if metric.key in r]
                if not values:
                    continue
                gains = []
                if contender not in sc.anchors:
                    for anchor in sc.anchors:
                        g = gain(sc, contender, anchor, metric)
                        if g is not None:
                            gains.append(f"{g:.2f}x vs {anchor}")
                lines.append(
                    f"| | {contender} | {metric.key} | {fmt(statistics.median(values))} | "
                    f"{fmt(min(values))}-{fmt(max(values))} | {'; '.join(gains)} |"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny loads, one repetition (CI)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    reps = 1 if args.smoke else args.reps
    chosen = scenarios(args.smoke)
    if args.only:
        names = set(args.only.split(","))
        unknown = names - {sc.name for sc in chosen}
        if unknown:
            parser.error(f"unknown scenarios: {sorted(unknown)}")
        chosen = [sc for sc in chosen if sc.name in names]

    def log(text: str) -> None:
        if not args.quiet:
            print(text, file=sys.stderr, flush=True)

    sys.path.insert(0, str(HERE))
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for sc in chosen:
        run_scenario(sc, reps, log)
    print(report(chosen, reps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
